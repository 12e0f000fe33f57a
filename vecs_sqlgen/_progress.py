"""Progress of long work: ``progress=True`` draws a tqdm bar on stderr when it is a terminal (nothing
otherwise); a callable is called with the running count; None or False reports nothing."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, Optional, Union

import psycopg

from .exc import ArgError

logger = logging.getLogger(__name__)

Progress = Union[bool, Callable[[int], None], None]


class IndexBuildProgress(NamedTuple):
    """An index build's progress as ``pg_stat_progress_create_index`` reports it (``phase`` "done" at the end)."""

    phase: str
    tuples_done: int
    tuples_total: int


IndexProgress = Union[bool, Callable[[IndexBuildProgress], None], None]

# the build of one backend; the reporting is the server's own (PostgreSQL 12+)
_PROGRESS_SQL = (
    "select phase, coalesce(tuples_done, 0), coalesce(tuples_total, 0)"
    " from pg_catalog.pg_stat_progress_create_index where pid = %s"
)


@contextmanager
def reporter(
    progress: Progress, *, total: Optional[int] = None, desc: str = "", unit: str = "it", force: bool = False
) -> Iterator[Optional[Callable[[int], None]]]:
    """The callable to report a running count to, for the duration of the work (None: no reporting).
    ``force``: draw the bar of ``progress=True`` even when stderr is not a terminal (the CLI's
    ``--progress``)."""
    if progress is None or progress is False:
        yield None
    elif progress is True:
        stream = sys.stderr
        if not force and not _is_terminal(stream):
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


@contextmanager
def index_reporter(
    progress: IndexProgress, *, desc: str, force: bool = False
) -> Iterator[Optional[Callable[[IndexBuildProgress], None]]]:
    """The callable to report an index build's progress to, for the duration of the build: one that
    draws a bar for ``progress=True`` (on stderr when it is a terminal, or anywhere with ``force``),
    the callable given, or None (no reporting)."""
    if progress is None or progress is False or (progress is True and not force and not _is_terminal(sys.stderr)):
        yield None
        return
    if progress is not True:
        if not callable(progress):
            raise ArgError(f"progress must be True, False, None or a callable, got {type(progress).__name__}")
        yield progress
        return
    from tqdm import tqdm

    bar = tqdm(total=None, desc=desc, unit="tuples", file=sys.stderr, dynamic_ncols=True, leave=True)

    def report(p: IndexBuildProgress) -> None:
        if p.tuples_total and bar.total != p.tuples_total:
            bar.total = p.tuples_total
        bar.set_description(f"{desc} ({p.phase})", refresh=False)
        bar.update(p.tuples_done - bar.n)

    try:
        yield report
    finally:
        bar.close()


@contextmanager
def index_build(progress: IndexProgress, *, dsn: str, pid: int, desc: str, interval: float = 0.2) -> Iterator[None]:
    """While the body builds an index in backend ``pid``, poll its progress from a second connection
    every ``interval`` seconds and report each change: to a bar (``progress=True`` on a terminal)
    or to the callable, which is called from the polling thread; a last report has phase "done"."""
    with index_reporter(progress, desc=desc) as report:
        if report is None:
            yield
            return
        stop = threading.Event()
        last = IndexBuildProgress("", 0, 0)

        def poll() -> None:
            nonlocal last
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    while not stop.is_set():
                        row = conn.execute(_PROGRESS_SQL, (pid,)).fetchone()
                        if (
                            row is not None
                            and (now := IndexBuildProgress(str(row[0]), int(row[1]), int(row[2]))) != last
                        ):
                            last = now
                            report(now)
                        stop.wait(interval)
            except psycopg.Error as e:  # progress is best effort: the build goes on without it
                logger.debug("index build progress unavailable: %s", e)

        thread = threading.Thread(target=poll, name="vecs-index-progress", daemon=True)
        thread.start()
        built = False
        try:
            yield
            built = True
        finally:
            stop.set()
            thread.join()
            if built:
                total = last.tuples_total or last.tuples_done
                report(IndexBuildProgress("done", total, total))


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False
