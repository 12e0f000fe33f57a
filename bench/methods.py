"""The ways to run one k-NN query, each a callable ``search(vector) -> [ids]``, and the timer.

- ``ours``: ``vecs_sqlgen`` ``Collection.query`` (Python client, one call of ``vecs.query``);
- ``sql``: ``select * from vecs.query(…)`` as a prepared, binary psycopg statement;
- ``raw``: the plain pgvector statement, prepared and binary, on the same table and HNSW index
  (``hnsw.ef_search`` set for the session to the same value);
- ``raw_exact``: the same with the ORDER BY made unindexable (``(vec <=> q) + 0``): exact search;
- ``vecs``: vecs 0.4.5 ``Collection.query`` (SQLAlchemy + psycopg2) on its own collection.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import psycopg
from psycopg import sql as S
from psycopg.types.json import Jsonb

from .data import K

Search = Callable[[np.ndarray], list]
WARMUP = 20  # untimed queries before each timed block


def ours(collection, filters: dict | None = None, ef_search: int | None = None) -> Search:
    def search(q):
        return collection.query(data=q, limit=K, filters=filters, ef_search=ef_search)

    return search


def sql(conn: psycopg.Connection, name: str, filters: dict | None = None, ef_search: int | None = None) -> Search:
    stmt = (
        "select * from vecs.query(%b::text, %b::vector, %b::int4, filters => %b::jsonb, ef_search => %b::int4)"
    )
    jfilter = Jsonb(filters) if filters else None

    def search(q):
        rows = conn.execute(stmt, (name, q, K, jfilter, ef_search), prepare=True, binary=True).fetchall()
        return [r[0] for r in rows]

    return search


def raw_clause(filters: dict | None) -> tuple[str, tuple]:
    """The WHERE clause a pgvector user writes for our section filters (GIN-indexable), and its params."""
    if not filters:
        return "true", ()
    (op, value), = filters["section"].items()
    if op == "$eq":
        return "metadata @> %b::jsonb", (Jsonb({"section": value}),)
    return "metadata @> any(%b::jsonb[])", ([Jsonb({"section": v}) for v in value],)


def raw(conn: psycopg.Connection, table: S.Identifier, filters: dict | None = None, *, exact: bool = False) -> Search:
    """The plain statement on ``table``; ``hnsw.ef_search`` is whatever the session has."""
    where, params = raw_clause(filters)
    order = "(vec <=> %b) + 0" if exact else "vec <=> %b"
    stmt = S.SQL("select id from {} where {} order by {} limit %b").format(table, S.SQL(where), S.SQL(order))

    def search(q):
        return [r[0] for r in conn.execute(stmt, (*params, q, K), prepare=True, binary=True).fetchall()]

    return search


def vecs045(collection, filters: dict | None = None, ef_search: int | None = None) -> Search:
    def search(q):
        return collection.query(data=q, limit=K, filters=filters, ef_search=ef_search)

    return search


# ---------------------------------------------------------------------- timing


@dataclass
class Timing:
    times_ms: list[float] = field(default_factory=list)
    results: list[list] = field(default_factory=list)  # the first timed round's ids, per query

    @property
    def p50(self) -> float:
        return float(np.percentile(self.times_ms, 50))

    @property
    def p95(self) -> float:
        return float(np.percentile(self.times_ms, 95))

    def paired_ratio(self, other: Timing) -> float | None:
        """Median of this method's time ÷ ``other``'s on the same query in the same round: robust to
        drift, as the two ran back to back. Only for methods timed in the same group."""
        if len(self.times_ms) != len(other.times_ms):
            return None
        return float(np.median(np.asarray(self.times_ms) / np.asarray(other.times_ms)))


def measure(methods: dict[str, Search], queries: np.ndarray, rounds: int = 2, groups: list[list[str]] | None = None) -> dict[str, Timing]:
    """Time every method on every query.

    Methods in one group (those on the same table and index) are interleaved query by query, their
    order rotating, so that drift on a shared machine hits them alike; groups run one after the
    other within each round, each block after an untimed warm-up, so that a group on another table
    does not evict this one's pages between its queries (the tables and indexes together outgrow
    shared_buffers).
    """
    groups = groups or [list(methods)]
    out = {name: Timing() for name in methods}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(rounds):
            for names in groups:
                for q in queries[:WARMUP]:
                    for name in names:
                        methods[name](q)
                for i, q in enumerate(queries):
                    shift = (i + r) % len(names)
                    for name in names[shift:] + names[:shift]:
                        t0 = time.perf_counter_ns()
                        ids = methods[name](q)
                        out[name].times_ms.append((time.perf_counter_ns() - t0) / 1e6)
                        if r == 0:
                            out[name].results.append(ids)
    return out
