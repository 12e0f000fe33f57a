"""Progress of long work: ``progress=True`` draws a tqdm bar on stderr when it is a terminal (nothing
otherwise); a callable is called with the running count; None or False reports nothing."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Optional, Union

from .exc import ArgError

Progress = Union[bool, Callable[[int], None], None]


@contextmanager
def reporter(
    progress: Progress, *, total: Optional[int] = None, desc: str = "", unit: str = "it"
) -> Iterator[Optional[Callable[[int], None]]]:
    """The callable to report a running count to, for the duration of the work (None: no reporting)."""
    if progress is None or progress is False:
        yield None
    elif progress is True:
        stream = sys.stderr
        if not _is_terminal(stream):
            yield None
            return
        from tqdm import tqdm

        bar = tqdm(total=total, desc=desc, unit=unit, file=stream, dynamic_ncols=True, leave=True)

        def update(done: int) -> None:
            bar.update(done - bar.n)

        try:
            yield update
        finally:
            bar.close()
    elif callable(progress):
        yield progress
    else:
        raise ArgError(f"progress must be True, False, None or a callable, got {type(progress).__name__}")


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False
