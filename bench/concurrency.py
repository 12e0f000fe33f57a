"""``make bench``'s concurrency section (issue 14): 1, 4, 16 and 64 concurrent clients (threads for
the sync clients, tasks for the async ones) running unfiltered and filtered queries for a fixed time
on the shared data, on one fresh embedded server; QPS and p50/p99 per client:

- ``ours sync``: ``vecs_sqlgen.create_client(pool_size=n)``, threads calling ``Collection.query``;
- ``ours async``: ``vecs_sqlgen.create_async_client(pool_size=n)``, tasks awaiting ``query``;
- ``vecs 0.4.5``: ``vecs.create_client`` (its SQLAlchemy pool at its defaults), threads;
- ``raw psycopg pool``: a psycopg_pool of n connections, threads running the plain pgvector statement;
- ``raw asyncpg``: an asyncpg pool of n connections, tasks running the same statement.

The raw statements run at the ef_search vecs.query uses by default (as in bench/query.py); the
filtered raw statement is the planner's choice (it may return fewer than k rows: the mean rows per
call is reported). Every run counts the server's client backends before the client connects and
after it disconnects: they must be equal (no connection leaked). Writes bench/concurrency.md and
bench/concurrency.json.

    bench/.venv/bin/python -m bench.concurrency [--quick] [--seconds S] [--rows N] [--levels 1,4,16,64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql as S

from .data import FILTERS, K, load
from .env import Server, describe, elapsed, log, start_server
from .methods import raw_clause
from .query import default_ef

HERE = Path(__file__).resolve().parent
COLLECTION, VECS_COLLECTION = "conc", "conc_vecs"
LEVELS = (1, 4, 16, 64)
FILTER_LABEL = "python"  # ~7 % of the rows: the iterative index scan's range
KINDS = {"unfiltered": None, "filtered": dict(FILTERS)[FILTER_LABEL]}
METHODS = ("ours sync", "ours async", "vecs 0.4.5", "raw psycopg pool", "raw asyncpg", "raw exact")
# the complete raw statement: the filtered one made exact ((vec <=> q) + 0), which always returns
# min(k, matches) rows as vecs.query does; unfiltered, raw psycopg pool is the complete baseline
ONLY = {"raw exact": "filtered"}


@dataclass
class Run:
    method: str
    kind: str
    clients: int
    seconds: float
    calls: int
    errors: int
    qps: float
    p50_ms: float
    p99_ms: float
    rows_per_call: float
    backends_before: int
    backends_after: int
    first_error: str = ""


@dataclass
class Load:
    """What the workers of one run report."""

    latencies: list[float] = field(default_factory=list)
    rows: int = 0
    errors: int = 0
    first_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, ms: float, rows: int) -> None:
        with self.lock:
            self.latencies.append(ms)
            self.rows += rows

    def fail(self, e: BaseException) -> None:
        with self.lock:
            self.errors += 1
            self.first_error = self.first_error or f"{type(e).__name__}: {e}"[:300]


def backends(monitor: psycopg.Connection) -> int:
    """Client backends of the benchmark database, other than the monitor's own."""
    return monitor.execute(
        "select count(*) from pg_stat_activity where backend_type = 'client backend'"
        " and datname = current_database() and pid <> pg_backend_pid()"
    ).fetchone()[0]


def settled(monitor: psycopg.Connection, want: int, seconds: float = 5.0) -> int:
    """The backend count once it is back to ``want`` (a closed connection's backend exits soon after), or as it is then."""
    deadline = time.monotonic() + seconds
    while (n := backends(monitor)) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    return n


def threads(n: int, call: Callable[[np.ndarray], list], queries: np.ndarray, seconds: float, warmup: float) -> tuple[Load, float]:
    load = Load()
    start = threading.Barrier(n + 1)
    timing = {"begin": 0.0, "end": 0.0}

    def work(offset: int) -> None:
        start.wait()
        i = offset
        warm_until = timing["begin"]
        while time.perf_counter() < timing["end"]:
            q = queries[i % len(queries)]
            i += n
            t0 = time.perf_counter()
            try:
                rows = len(call(q))
            except Exception as e:  # noqa: BLE001 - counted
                load.fail(e)
                continue
            if t0 >= warm_until:
                load.add((time.perf_counter() - t0) * 1000, rows)

    workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(n)]
    for w in workers:
        w.start()
    timing["begin"] = time.perf_counter() + warmup
    timing["end"] = timing["begin"] + seconds
    start.wait()
    for w in workers:
        w.join()
    return load, seconds


async def tasks(n: int, call: Callable[[np.ndarray], Awaitable[list]], queries: np.ndarray, seconds: float, warmup: float) -> tuple[Load, float]:
    load = Load()
    begin = time.perf_counter() + warmup
    end = begin + seconds

    async def work(offset: int) -> None:
        i = offset
        while time.perf_counter() < end:
            q = queries[i % len(queries)]
            i += n
            t0 = time.perf_counter()
            try:
                rows = len(await call(q))
            except Exception as e:  # noqa: BLE001 - counted
                load.fail(e)
                continue
            if t0 >= begin:
                load.add((time.perf_counter() - t0) * 1000, rows)

    await asyncio.gather(*(work(i) for i in range(n)))
    return load, seconds


def summarize(method: str, kind: str, n: int, load: Load, seconds: float, before: int, after: int) -> Run:
    lat = np.asarray(load.latencies) if load.latencies else np.asarray([float("nan")])
    calls = len(load.latencies)
    return Run(method, kind, n, seconds, calls, load.errors, calls / seconds, float(np.percentile(lat, 50)),
               float(np.percentile(lat, 99)), load.rows / max(calls, 1), before, after, load.first_error)  # fmt: skip


# ---------------------------------------------------------------------- the clients


def run_one(server: Server, method: str, kind: str, n: int, queries: np.ndarray, seconds: float, warmup: float) -> Run:
    filters = KINDS[kind]
    with psycopg.connect(server.dsn, autocommit=True) as monitor:
        before = backends(monitor)
        if method == "ours sync":
            import vecs_sqlgen

            vx = vecs_sqlgen.create_client(server.dsn, pool_size=n)
            coll = vx.get_or_create_collection(COLLECTION, dimension=queries.shape[1])
            load, secs = threads(n, lambda q: coll.query(data=q, limit=K, filters=filters), queries, seconds, warmup)
            vx.disconnect()
        elif method == "ours async":
            import vecs_sqlgen

            async def main() -> tuple[Load, float]:
                vx = await vecs_sqlgen.create_async_client(server.dsn, pool_size=n)
                coll = await vx.get_or_create_collection(COLLECTION, dimension=queries.shape[1])
                try:
                    return await tasks(n, lambda q: coll.query(data=q, limit=K, filters=filters), queries, seconds, warmup)
                finally:
                    await vx.disconnect()

            load, secs = asyncio.run(main())
        elif method == "vecs 0.4.5":
            import vecs

            vx = vecs.create_client(server.sqlalchemy_url)
            coll = vx.get_or_create_collection(VECS_COLLECTION, dimension=queries.shape[1])
            load, secs = threads(n, lambda q: coll.query(data=q, limit=K, filters=filters), queries, seconds, warmup)
            vx.disconnect()
        elif method in ("raw psycopg pool", "raw exact"):
            from pgvector.psycopg import register_vector
            from psycopg_pool import ConnectionPool

            where, params = raw_clause(filters)
            order = "(vec <=> %b) + 0" if method == "raw exact" else "vec <=> %b"
            stmt = S.SQL("select id from {} where {} order by {} limit %b").format(
                S.Identifier("vecs", COLLECTION), S.SQL(where), S.SQL(order))
            ef = str(default_ef())

            def configure(conn: psycopg.Connection) -> None:
                register_vector(conn)
                conn.execute("select set_config('hnsw.ef_search', %s, false)", (ef,))

            with ConnectionPool(server.dsn, min_size=n, max_size=n, kwargs={"autocommit": True}, configure=configure) as pool:
                pool.wait()

                def call(q: np.ndarray) -> list:
                    with pool.connection() as conn:
                        return conn.execute(stmt, (*params, q, K), prepare=True, binary=True).fetchall()

                load, secs = threads(n, call, queries, seconds, warmup)
        elif method == "raw asyncpg":
            import asyncpg
            from pgvector.asyncpg import register_vector as register_async

            where, params = _asyncpg_clause(filters)
            # the psycopg statement's shape: the vector and k as parameters
            # composed as psycopg composes (asyncpg takes text): the table an identifier, the
            # filter the bench's own clause over $1..$n, the vector and k the next two parameters
            stmt = S.SQL("select id from {} where {} order by vec <=> {} limit {}").format(
                S.Identifier("vecs", COLLECTION), S.SQL(where), *(S.SQL("$" + str(len(params) + i)) for i in (1, 2))
            ).as_string(None)
            ef = str(default_ef())

            async def init(conn) -> None:
                await register_async(conn)
                await conn.execute("select set_config('hnsw.ef_search', $1, false)", ef)

            async def main() -> tuple[Load, float]:
                pool = await asyncpg.create_pool(server.dsn, min_size=n, max_size=n, init=init)
                try:
                    async def call(q: np.ndarray) -> list:
                        async with pool.acquire() as conn:
                            return await conn.fetch(stmt, *params, q, K)

                    return await tasks(n, call, queries, seconds, warmup)
                finally:
                    await pool.close()

            load, secs = asyncio.run(main())
        else:
            raise ValueError(method)
        after = settled(monitor, before)
    return summarize(method, kind, n, load, secs, before, after)


def _asyncpg_clause(filters: dict | None) -> tuple[str, tuple]:
    """raw_clause with asyncpg's $n parameters (jsonb passed as text)."""
    if not filters:
        return "true", ()
    (op, value), = filters["section"].items()
    if op == "$eq":
        return "metadata @> $1::jsonb", (json.dumps({"section": value}),)
    return "metadata @> any($1::jsonb[])", ([json.dumps({"section": v}) for v in value],)


# ---------------------------------------------------------------------- the replica-routed load


def replica_load(server: Server, queries: np.ndarray, n: int, seconds: float, warmup: float) -> list[dict]:
    """``ours sync`` unfiltered with n threads, without and with ``read_dsn`` (a streaming replica of
    the server), the client backends of the primary and the replica sampled every 0.1 s."""
    import vecs_sqlgen

    from . import replica as _replica

    rep = _replica.start(server)
    out = []
    try:
        with psycopg.connect(server.dsn, autocommit=True) as pm, psycopg.connect(rep.dsn, autocommit=True) as rm:
            lsn = pm.execute("select pg_current_wal_lsn()").fetchone()[0]
            while not rm.execute("select pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0]:
                time.sleep(0.1)
            for routed in (False, True):
                before = (backends(pm), backends(rm))
                vx = vecs_sqlgen.create_client(server.dsn, pool_size=n, read_dsn=[rep.dsn] if routed else None)
                coll = vx.get_or_create_collection(COLLECTION, dimension=queries.shape[1])
                samples: list[tuple[int, int]] = []
                done = threading.Event()

                def sample(done: threading.Event = done, samples: list = samples) -> None:
                    with psycopg.connect(server.dsn, autocommit=True) as p, psycopg.connect(rep.dsn, autocommit=True) as r:
                        while not done.is_set():
                            samples.append((backends(p) - 1, backends(r) - 1))  # less the sampler's other connection
                            time.sleep(0.1)

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                load, secs = threads(n, lambda q, c=coll: c.query(data=q, limit=K), queries, seconds, warmup)
                done.set()
                sampler.join()
                vx.disconnect()
                after = (settled(pm, before[0]), settled(rm, before[1]))
                run = summarize("ours sync" + (" + read_dsn" if routed else ""), "unfiltered", n, load, secs, before[0], after[0])
                out.append({**asdict(run), "replica_backends_before": before[1], "replica_backends_after": after[1],
                            "primary_during": [min(x for x, _ in samples), max(x for x, _ in samples)],
                            "replica_during": [min(y for _, y in samples), max(y for _, y in samples)]})  # fmt: skip
                log(f"replica load ×{n} {run.method:22} {run.qps:8,.0f} qps  primary backends {before[0]}→"
                    f"{out[-1]['primary_during']}→{after[0]}, replica {before[1]}→{out[-1]['replica_during']}→{after[1]}"
                    f"  errors {run.errors}")  # fmt: skip
    finally:
        rep.stop()
    return out


# ---------------------------------------------------------------------- load, run, report


def prepare(server: Server, rows: int | None) -> tuple[np.ndarray, dict]:
    """Load the shared data into our collection (Collection.upsert) and vecs's (COPY, vecs's DDL),
    build both HNSW indexes at their defaults, and return the held-out queries."""
    import vecs

    import vecs_sqlgen

    from .ingest import copy_rows

    data = load()
    records = data.records()[: rows or None]
    ours = vecs_sqlgen.create_client(server.dsn)
    coll = ours.get_or_create_collection(COLLECTION, dimension=data.dimension)
    t0 = time.perf_counter()
    coll.upsert(records)
    log(f"loaded {len(records):,} rows into vecs.{COLLECTION} in {time.perf_counter() - t0:.1f} s")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vx = vecs.create_client(server.sqlalchemy_url)
        vcoll = vx.get_or_create_collection(VECS_COLLECTION, dimension=data.dimension)
    with server.connect() as conn:
        copy_rows(conn, S.Identifier("vecs", VECS_COLLECTION), records)
        for name in (COLLECTION, VECS_COLLECTION):
            conn.execute(S.SQL("vacuum analyze {}").format(S.Identifier("vecs", name)))
    t0 = time.perf_counter()
    coll.create_index()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vcoll.create_index()
    log(f"both HNSW indexes built in {time.perf_counter() - t0:.1f} s")
    ours.disconnect()
    vx.disconnect()
    info = {"source": data.source, "rows": len(records), "dimension": data.dimension, "queries": len(data.queries),
            "filter": {FILTER_LABEL: KINDS["filtered"], "share": float(data.matches(KINDS["filtered"])[: len(records)].mean())}}  # fmt: skip
    return data.queries, info


def markdown(results: dict) -> str:
    runs = [Run(**r) for r in results["runs"]]
    levels = sorted({r.clients for r in runs})
    by = {(r.method, r.kind, r.clients): r for r in runs}
    info = results["data"]
    lines = [
        "# Concurrency (issue 14)",
        "",
        f"`make bench` concurrency section: {info['rows']:,} rows × {info['dimension']} ({info['source']}), "
        f"{info['queries']} held-out queries cycled, k = {K}; each client count runs {results['seconds']:g} s per "
        f"method after {results['warmup']:g} s of warm-up, on one fresh embedded server (HNSW at defaults). "
        f"Filtered: `{json.dumps(info['filter'][FILTER_LABEL])}` ({info['filter']['share']:.1%} of the rows).",
        f"Machine: {results['machine']}; load average {results['load']['start'][0]:.1f} at the start, "
        f"{results['load']['end'][0]:.1f} at the end (the machine is shared: absolute figures move with it).",
        "",
        *[f"Note: {n}" for n in results.get("notes", [])],
        *([""] if results.get("notes") else []),
    ]
    for kind in KINDS:
        shown = [m for m in METHODS if ONLY.get(m, kind) == kind]
        extra = " ours sync ÷ raw exact |" if kind == "filtered" else ""
        lines += [f"## {kind}", "", "| clients | " + " | ".join(shown) + " | ours sync ÷ raw pool | ours async ÷ raw asyncpg | ours sync ÷ vecs |" + extra,
                  "|---|" + "---|" * (len(shown) + 3 + bool(extra))]  # fmt: skip
        for n in levels:
            cells = []
            for m in shown:
                r = by.get((m, kind, n))
                cells.append("—" if r is None else f"{r.qps:,.0f} qps, p50 {r.p50_ms:.1f} / p99 {r.p99_ms:.1f} ms"
                             + (f", **{r.errors} errors**" if r.errors else ""))  # fmt: skip

            def ratio(a: str, b: str, kind: str = kind, n: int = n) -> str:
                ra, rb = by.get((a, kind, n)), by.get((b, kind, n))
                return f"{ra.qps / rb.qps:.2f}×" if ra and rb and rb.qps else "—"

            lines.append(f"| {n} | " + " | ".join(cells) + f" | {ratio('ours sync', 'raw psycopg pool')} | "
                         f"{ratio('ours async', 'raw asyncpg')} | {ratio('ours sync', 'vecs 0.4.5')} |"
                         + (f" {ratio('ours sync', 'raw exact')} |" if kind == "filtered" else ""))  # fmt: skip
        rows = {m: np.mean([r.rows_per_call for r in runs if r.method == m and r.kind == kind]) for m in METHODS
                if any(r.method == m and r.kind == kind for r in runs)}  # fmt: skip
        lines += ["", "Rows per call (k = 10): " + ", ".join(f"{m} {v:.2f}" for m, v in rows.items()), ""]
    if results.get("replica"):
        lines += ["## Reads routed to a replica", "",
                  "`ours sync`, unfiltered, on the primary alone and with `read_dsn` = a streaming replica of it "
                  "(`pg_basebackup -R -X stream`, on the same machine); client backends sampled every 0.1 s.", "",
                  "| client | clients | qps | p50 / p99 ms | errors | primary backends before → during (min–max) → after | replica backends before → during → after |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in results["replica"]:
            lines.append(f"| {r['method']} | {r['clients']} | {r['qps']:,.0f} | {r['p50_ms']:.1f} / {r['p99_ms']:.1f} | {r['errors']} | "
                         f"{r['backends_before']} → {r['primary_during'][0]}–{r['primary_during'][1]} → {r['backends_after']} | "
                         f"{r['replica_backends_before']} → {r['replica_during'][0]}–{r['replica_during'][1]} → {r['replica_backends_after']} |")  # fmt: skip
        lines.append("")
    errors = sum(r.errors for r in runs)
    leaks = [r for r in runs if r.backends_after != r.backends_before]
    lines += [
        "## Errors and connections",
        "",
        f"{len(runs)} runs, {sum(r.calls for r in runs):,} timed calls, {errors} errors"
        + ("" if not errors else ": " + "; ".join(sorted({f'{r.method} ×{r.clients}: {r.first_error}' for r in runs if r.errors}))) + ".",
        "Client backends after each run (its client disconnected) = before it: "
        + ("every run." if not leaks else "**not** for " + ", ".join(f"{r.method} {r.kind} ×{r.clients} ({r.backends_before} → {r.backends_after})" for r in leaks) + "."),
        "",
    ]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 rows, 1 s per run: a smoke test, not results")
    parser.add_argument("--seconds", type=float, help="timed seconds per run (default 5; --quick 1)")
    parser.add_argument("--rows", type=int, help="load only the first N rows")
    parser.add_argument("--levels", help="client counts, comma-separated (default 1,4,16,64)")
    parser.add_argument("--methods", help="a comma-separated subset of: " + ", ".join(METHODS))
    parser.add_argument("--replica-clients", type=int, default=16, help="threads of the replica-routed load (0: skip it)")
    parser.add_argument("--merge", action="store_true", help="add these runs to an existing concurrency.json in --out")
    parser.add_argument("--kinds", help="unfiltered, filtered or both (default)")
    parser.add_argument("--replica-only", action="store_true",
                        help="only the replica-routed load, merged into an existing concurrency.json in --out")
    parser.add_argument("--out", type=Path, help="where concurrency.md and .json go (default bench/, --quick: bench/quick/)")
    args = parser.parse_args(argv)
    seconds = args.seconds or (1.0 if args.quick else 5.0)
    warmup = 0.3 if args.quick else 1.0
    rows = args.rows or (2000 if args.quick else None)
    levels = tuple(int(x) for x in args.levels.split(",")) if args.levels else LEVELS
    methods = tuple(m.strip() for m in args.methods.split(",")) if args.methods else METHODS
    out = args.out or (HERE / "quick" if args.quick else HERE)

    load_start = os.getloadavg()
    server = start_server()
    log(f"embedded server up: {server.dsn}")
    try:
        queries, info = prepare(server, rows)
        results: dict = {"data": info, "seconds": seconds, "warmup": warmup, "machine": describe(server)["machine"], "runs": []}
        if args.replica_only or args.merge:
            # runs of another invocation, on another server: kept, and replaced where measured again
            old = json.loads((out / "concurrency.json").read_text())
            results = {**old, "runs": old["runs"]}
            results.setdefault("notes", []).append(
                ("the replica-routed load" if args.replica_only else f"{', '.join(methods)} ({', '.join(args.kinds.split(',') if args.kinds else KINDS)})")
                + " was measured by a later invocation, on another fresh server with the same data, settings and indexes")
            levels = () if args.replica_only else levels
        kinds = tuple(k.strip() for k in args.kinds.split(",")) if args.kinds else tuple(KINDS)
        for n in levels:
            for kind in kinds:
                for method in methods:
                    if ONLY.get(method, kind) != kind:
                        continue
                    run = run_one(server, method, kind, n, queries, seconds, warmup)
                    results["runs"] = [r for r in results["runs"] if (r["method"], r["kind"], r["clients"]) != (method, kind, n)]
                    results["runs"].append(asdict(run))
                    log(f"{kind:10} ×{n:<3} {method:17} {run.qps:8,.0f} qps  p50 {run.p50_ms:7.2f}  p99 {run.p99_ms:7.2f} ms"
                        f"  rows {run.rows_per_call:.1f}  errors {run.errors}  backends {run.backends_before}→{run.backends_after}")
        if args.replica_clients:
            results["replica"] = replica_load(server, queries, args.replica_clients, seconds, warmup)
        if not (args.replica_only or args.merge):
            results["load"] = {"start": load_start, "end": os.getloadavg()}
            results["elapsed_s"] = elapsed()
    finally:
        server.stop()
    out.mkdir(parents=True, exist_ok=True)
    (out / "concurrency.json").write_text(json.dumps(results, indent=1, default=str))
    (out / "concurrency.md").write_text(markdown(results))
    log(f"wrote {out / 'concurrency.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
