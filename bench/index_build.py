"""``create_index()`` (HNSW, defaults) timed for vecs-sqlgen and vecs 0.4.5, with the server's notices
(pgvector's "hnsw graph no longer fits into maintenance_work_mem" among them) and Python warnings."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

from sqlalchemy import event

FITS_NOTICE = "no longer fits"


@dataclass
class Build:
    method: str
    seconds: list[float] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # server notices during the builds
    warnings: list[str] = field(default_factory=list)  # Python warnings the client raised

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def graph_did_not_fit(self) -> bool:
        return any(FITS_NOTICE in n for n in self.notices)

    @property
    def warned(self) -> bool:
        return any(FITS_NOTICE in w for w in self.warnings)


def _time_builds(out: Build, collection, reps: int) -> None:
    """Time ``reps`` create_index() calls into ``out``, keeping the Python warnings they raise."""
    for _ in range(reps):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            collection.create_index()
            out.seconds.append(time.perf_counter() - t0)
        out.warnings += [str(w.message) for w in caught]


def build_ours(client, collection, reps: int) -> Build:
    """``Collection.create_index()``; a repeat replaces the index (the new one is built first)."""
    out = Build("vecs-sqlgen create_index()")
    handler = lambda diag: out.notices.append(diag.message_primary or "")  # noqa: E731
    # the pool's one connection, which the builds (one thread) take next: its notices are theirs
    with client.session.connection() as conn:
        conn.add_notice_handler(handler)
    try:
        _time_builds(out, collection, reps)
    finally:
        conn.remove_notice_handler(handler)
    return out


def build_vecs(client, collection, reps: int) -> Build:
    """vecs 0.4.5 ``Collection.create_index()``; a repeat drops the index, then builds it again."""
    out = Build("vecs 0.4.5 create_index()")

    def collect(conn, cursor, statement, parameters, context, executemany):
        notices = cursor.connection.notices  # psycopg2 keeps them on the DBAPI connection
        out.notices += [_primary(n) for n in notices]
        del notices[:]

    event.listen(client.engine, "after_cursor_execute", collect)
    try:
        _time_builds(out, collection, reps)
    finally:
        event.remove(client.engine, "after_cursor_execute", collect)
    return out


def _primary(notice: str) -> str:
    """psycopg2's "NOTICE:  message\nDETAIL: …" as the primary message, like psycopg 3's."""
    first = notice.strip().splitlines()[0] if notice.strip() else ""
    return first.split(":", 1)[1].strip() if first.startswith(("NOTICE:", "WARNING:", "INFO:")) else first
