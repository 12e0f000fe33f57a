"""The adapter pipeline: a sequence of steps, each mapping ``(id, media, metadata)`` records to new records."""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum
from itertools import islice
from typing import Any, Dict, Generator, Iterable, Iterator, List, Optional, Tuple, TypeVar

from ..exc import ArgError

T = TypeVar("T")

Record = Tuple[str, Any, Optional[Dict[str, Any]]]


class AdapterContext(str, Enum):
    """The Collection method a pipeline runs for."""

    upsert = "upsert"
    query = "query"


class AdapterStep(ABC):
    """One step of a pipeline; it yields ``(id, media, metadata)`` with metadata defaulting to ``{}``."""

    @property
    def exported_dimension(self) -> Optional[int]:
        """The dimension of the vectors this step produces, or None if it does not produce vectors."""
        return None

    @abstractmethod
    def __call__(
        self,
        records: Iterable[Record],
        adapter_context: AdapterContext,
    ) -> Generator[Tuple[str, Any, Dict[str, Any]], None, None]:
        """Adapt each record."""


class Adapter:
    """A pipeline of AdapterSteps, applied in order."""

    def __init__(self, steps: List[AdapterStep]):
        """Raises ArgError when ``steps`` is empty."""
        self.steps = steps
        if len(steps) < 1:
            raise ArgError("Adapter must contain at least 1 step")

    @property
    def exported_dimension(self) -> Optional[int]:
        """The exported dimension of the last step that declares one."""
        for step in reversed(self.steps):
            step_dim = step.exported_dimension
            if step_dim is not None:
                return step_dim
        return None

    def __call__(
        self,
        records: Iterable[Record],
        adapter_context: AdapterContext,
    ) -> Generator[Tuple[str, Any, Dict[str, Any]], None, None]:
        """Run the records through every step, lazily."""
        pipeline = records
        for step in self.steps:
            pipeline = step(pipeline, adapter_context)
        yield from pipeline  # type: ignore[misc]


def chunked(items: Iterable[T], size: int) -> Iterator[List[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter), as ``flupy``'s ``chunk``."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
