"""Helpers of the SQL-level tests (importable as ``from .helpers import …``)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Sequence

import psycopg
import pytest
from psycopg.types.json import Jsonb


class ErrorInfo:
    """What a failed statement reported (filled in when the ``raises`` block exits)."""

    sqlstate: str | None = None
    message: str | None = None
    error: psycopg.Error | None = None


@contextlib.contextmanager
def raises(sqlstate: str, message: str | None = None, *, match: str | None = None) -> Iterator[ErrorInfo]:
    """Expect a server error with exactly ``sqlstate``; optionally exactly ``message`` or a ``match`` regex.

    The connection used inside must be in autocommit mode (or the caller handles the aborted
    transaction itself).
    """
    info = ErrorInfo()
    with pytest.raises(psycopg.Error) as excinfo:
        yield info
    err = excinfo.value
    info.error = err
    info.sqlstate = err.sqlstate
    info.message = err.diag.message_primary
    assert info.sqlstate == sqlstate, f"expected SQLSTATE {sqlstate}, got {info.sqlstate}: {info.message}"
    if message is not None:
        assert info.message == message
    if match is not None:
        assert re.search(match, info.message or ""), f"{info.message!r} does not match {match!r}"


def vec(values: Iterable[float]) -> str:
    """pgvector's text form of a vector: '[1,2,3]'."""
    return "[" + ",".join(repr(float(v)) if not float(v).is_integer() else str(int(v)) for v in values) + "]"


def parse_vec(text: str | None) -> list[float] | None:
    return None if text is None else [float(x) for x in text.strip("[]").split(",")]


def upsert_json(conn: psycopg.Connection, collection: str, records: Sequence) -> int:
    return conn.execute("select vecs.upsert(%s, %s)", (collection, Jsonb(list(records)))).fetchone()[0]


def all_ids(conn: psycopg.Connection, collection: str) -> list[str]:
    """Every id in a collection, sorted, read straight from its table."""
    return [r[0] for r in conn.execute(f"select id from {table(conn, collection)} order by id")]


def table(conn: psycopg.Connection, collection: str, schema: str = "vecs") -> str:
    """The collection's table as a quoted SQL name (the server quotes it)."""
    return conn.execute("select format('%%I.%%I', %s::text, %s::text)", (schema, collection)).fetchone()[0]


def rows(conn: psycopg.Connection, collection: str) -> dict[str, tuple[list[float], dict]]:
    """id → (vector, metadata) of every record, read straight from the table."""
    return {
        r[0]: (parse_vec(r[1]), r[2])
        for r in conn.execute(f"select id, vec::text, metadata from {table(conn, collection)} order by id")
    }


def drop_collections(conn: psycopg.Connection, names: Iterable[str]) -> None:
    for name in names:
        conn.execute("select vecs.drop_collection(%s)", (name,))


@contextlib.contextmanager
def query_reports(conn: psycopg.Connection) -> Iterator[list[str]]:
    """What vecs.query reports it chose (its DEBUG messages, without the "vecs.query: " prefix)."""
    seen: list[str] = []

    def keep(d: psycopg.errors.Diagnostic) -> None:
        text = d.message_primary or ""
        if text.startswith("vecs.query: "):
            seen.append(text[len("vecs.query: "):])

    conn.execute("set client_min_messages = debug1")
    conn.add_notice_handler(keep)
    try:
        yield seen
    finally:
        conn.remove_notice_handler(keep)
        conn.execute("reset client_min_messages")
