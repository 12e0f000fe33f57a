"""NoOp: the default adapter step, passing records through unchanged."""

from __future__ import annotations

from typing import Any, Dict, Generator, Iterable, Optional, Tuple

from .base import AdapterContext, AdapterStep, Record


class NoOp(AdapterStep):
    """Passes records through; declares the collection's dimension."""

    def __init__(self, dimension: int):
        self._dimension = dimension

    @property
    def exported_dimension(self) -> Optional[int]:
        """The dimension given at construction."""
        return self._dimension

    def __call__(
        self,
        records: Iterable[Record],
        adapter_context: AdapterContext,
    ) -> Generator[Tuple[str, Any, Dict[str, Any]], None, None]:
        """Yield each record unchanged, with metadata defaulting to ``{}``."""
        for id, media, metadata in records:
            yield (id, media, metadata or {})
