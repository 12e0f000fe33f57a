"""Ingest throughput: ``Collection.upsert`` against a raw binary COPY into an equivalent table.

"Equivalent table": the DDL the collection gets from ``vecs.create_collection`` —
``(id text primary key, vec vector(d) not null, metadata jsonb not null default '{}')`` plus a GIN
``jsonb_path_ops`` index on metadata. vecs 0.4.5 collections are vecs's own DDL (``id varchar``
primary key, no GIN index: ``get_or_create_collection`` makes none). Every timing includes the commit.

Scenarios (each on fresh tables):
- ``insert``: N new rows into an empty table;
- ``update50``: N rows into a table already holding N rows, half of them existing ids (new values);
  raw references: COPY of the same N rows into an empty table (the target's denominator), and the
  raw-SQL upsert (COPY into a temp table + ``INSERT … ON CONFLICT DO UPDATE``);
- ``hnsw``: M new rows into a table holding N rows and an HNSW index (m 16, ef_construction 64).
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql as S
from psycopg.types.json import Jsonb

from .data import Dataset
from .env import Server, log

RAW_SCHEMA = "raw"


@dataclass
class Ingest:
    scenario: str
    method: str
    rows: int
    seconds: list[float] = field(default_factory=list)  # wall time of each run
    cpu_seconds: list[float] = field(default_factory=list)  # the client process's CPU time
    merge_seconds: list[float] = field(default_factory=list)  # vecs-sqlgen: from the last record streamed to the end

    @property
    def rows_per_s(self) -> float:
        return self.rows / statistics.median(self.seconds)


# ---------------------------------------------------------------------- tables


def raw_table(conn: psycopg.Connection, name: str, dimension: int) -> S.Identifier:
    """A fresh table with the collection DDL (PK + GIN), in schema raw; returns its qualified name."""
    conn.execute(S.SQL("create schema if not exists {}").format(S.Identifier(RAW_SCHEMA)))
    table = S.Identifier(RAW_SCHEMA, name)
    conn.execute(S.SQL("drop table if exists {}").format(table))
    conn.execute(
        S.SQL(
            "create table {} (id text primary key, vec vector({}) not null, "
            "metadata jsonb not null default '{{}}'::jsonb)"
        ).format(table, S.Literal(dimension))
    )
    conn.execute(S.SQL("create index on {} using gin (metadata jsonb_path_ops)").format(table))
    return table


def copy_rows(conn: psycopg.Connection, table: S.Identifier, records: list[tuple]) -> None:
    """Binary COPY of ``(id, vector, metadata dict)`` rows, in one transaction."""
    with conn.transaction(), conn.cursor().copy(S.SQL("copy {} (id, vec, metadata) from stdin with (format binary)").format(table)) as cp:
        cp.set_types(["text", "vector", "jsonb"])
        for id_, vec, meta in records:
            cp.write_row((id_, vec, Jsonb(meta)))


def raw_upsert(conn: psycopg.Connection, table: S.Identifier, records: list[tuple], dimension: int) -> None:
    """What raw SQL does for an upsert: COPY into a temp table, then one INSERT … ON CONFLICT."""
    with conn.transaction():
        conn.execute(S.SQL("create temp table stage (id text, vec vector({}), metadata jsonb) on commit drop").format(S.Literal(dimension)))
        with conn.cursor().copy("copy stage (id, vec, metadata) from stdin with (format binary)") as cp:
            cp.set_types(["text", "vector", "jsonb"])
            for id_, vec, meta in records:
                cp.write_row((id_, vec, Jsonb(meta)))
        conn.execute(
            S.SQL(
                "insert into {} (id, vec, metadata) select id, vec, metadata from stage "
                "on conflict (id) do update set vec = excluded.vec, metadata = excluded.metadata"
            ).format(table)
        )


def hnsw_index(conn: psycopg.Connection, table: S.Identifier) -> None:
    with conn.transaction():
        conn.execute("set local maintenance_work_mem = '512MB'")
        conn.execute(S.SQL("create index on {} using hnsw (vec vector_cosine_ops) with (m = 16, ef_construction = 64)").format(table))


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    merge_seconds: float | None = None


def timed(fn: Callable[[], object]) -> Run:
    """Wall and client CPU (process) time of one call."""
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return Run(time.perf_counter() - t0, time.process_time() - c0)


# ---------------------------------------------------------------------- scenarios


class IngestBench:
    """Fresh tables per repetition; names carry a counter so that nothing is reused."""

    def __init__(self, server: Server, data: Dataset, ours_client, vecs_client):
        self.server, self.data = server, data
        self.ours, self.vecs = ours_client, vecs_client
        self.conn = server.connect()
        self.n = 0

    def _name(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}_{self.n}"

    def _ours_collection(self, prefix: str):
        return self.ours.get_or_create_collection(self._name(prefix), dimension=self.data.dimension)

    def _vecs_collection(self, prefix: str):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.vecs.get_or_create_collection(self._name(prefix), dimension=self.data.dimension)

    def _drop(self, table: S.Identifier) -> None:
        self.conn.execute(S.SQL("drop table if exists {}").format(table))

    # -- one run of each method

    def raw_copy(self, records, prefill=(), hnsw=False) -> float:
        table = raw_table(self.conn, self._name("copy"), self.data.dimension)
        self._prefill(table, prefill, hnsw)
        run = timed(lambda: copy_rows(self.conn, table, records))
        self._drop(table)
        return run

    def raw_upsert(self, records, prefill=()) -> float:
        table = raw_table(self.conn, self._name("upsert"), self.data.dimension)
        self._prefill(table, prefill, False)
        run = timed(lambda: raw_upsert(self.conn, table, records, self.data.dimension))
        self._drop(table)
        return run

    def ours_upsert(self, records, prefill=(), hnsw=False) -> float:
        coll = self._ours_collection("ours")
        table = S.Identifier("vecs", coll.name)
        self._prefill(table, prefill, False)
        if hnsw:
            coll.create_index()
            self.conn.execute(S.SQL("vacuum analyze {}").format(table))
        streamed: list[float] = []  # when each batch has been sent; the merge follows the last
        run = timed(lambda: coll.upsert(records, progress=lambda sent: streamed.append(time.perf_counter())))
        run.merge_seconds = time.perf_counter() - streamed[-1] if streamed else None
        self.ours.delete_collection(coll.name)
        return run

    def vecs_upsert(self, records, prefill=(), hnsw=False) -> float:
        coll = self._vecs_collection("vecs")
        table = S.Identifier("vecs", coll.name)
        self._prefill(table, prefill, False)
        if hnsw:
            coll.create_index()
            self.conn.execute(S.SQL("vacuum analyze {}").format(table))
        run = timed(lambda: coll.upsert(records))
        self._drop(table)
        return run

    def _prefill(self, table: S.Identifier, prefill, hnsw: bool) -> None:
        if prefill:
            copy_rows(self.conn, table, prefill)
        if hnsw:
            hnsw_index(self.conn, table)
        if prefill or hnsw:
            self.conn.execute(S.SQL("vacuum analyze {}").format(table))


def run(bench: IngestBench, n: int, n_hnsw: int, reps: int, vecs_reps: int) -> list[Ingest]:
    """All ingest scenarios; the methods alternate within each repetition."""
    data = bench.data
    fresh = data.records(0, n)
    # 50 % updates: rows n/2 .. n (new metadata) and n .. 3n/2 (new ids) onto a table holding 0 .. n
    half = n // 2
    updates = [(i, v, {**m, "rev": 2}) for i, v, m in data.records(half, n)] + data.records(n, n + half)
    hnsw_new = data.records(n, n + n_hnsw)

    results: dict[tuple[str, str], Ingest] = {}

    def record(scenario: str, method: str, rows: int, run: Run) -> None:
        entry = results.setdefault((scenario, method), Ingest(scenario, method, rows))
        entry.seconds.append(run.seconds)
        entry.cpu_seconds.append(run.cpu_seconds)
        if run.merge_seconds is not None:
            entry.merge_seconds.append(run.merge_seconds)
        merge = f", merge {run.merge_seconds:.2f} s" if run.merge_seconds is not None else ""
        log(f"  ingest {scenario:8} {method:32} {rows / run.seconds:10,.0f} rows/s "
            f"({run.seconds:.2f} s, client CPU {run.cpu_seconds:.2f} s{merge})")

    for r in range(reps):
        record("insert", "raw COPY", n, bench.raw_copy(fresh))
        record("insert", "ours upsert", n, bench.ours_upsert(fresh))
        if r < vecs_reps:
            record("insert", "vecs 0.4.5 upsert", n, bench.vecs_upsert(fresh))
        record("update50", "raw COPY (into empty table)", len(updates), bench.raw_copy(updates))
        record("update50", "raw COPY + INSERT ON CONFLICT", len(updates), bench.raw_upsert(updates, fresh))
        record("update50", "ours upsert", len(updates), bench.ours_upsert(updates, fresh))
        if r < vecs_reps:
            record("update50", "vecs 0.4.5 upsert", len(updates), bench.vecs_upsert(updates, fresh))
    record("hnsw", "raw COPY", n_hnsw, bench.raw_copy(hnsw_new, fresh, hnsw=True))
    record("hnsw", "ours upsert", n_hnsw, bench.ours_upsert(hnsw_new, fresh, hnsw=True))
    record("hnsw", "vecs 0.4.5 upsert", n_hnsw, bench.vecs_upsert(hnsw_new, fresh, hnsw=True))
    return list(results.values())
