"""``make bench``: every figure of issue 4 in one run on one fresh embedded server, then
bench/results.md, bench/results.json and the PNG plots.

    bench/.venv/bin/python -m bench.run [--quick]

``--quick`` shrinks every phase (a smoke test of the harness; its figures are not the results).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import vecs
import vecs_sqlgen
from psycopg import sql as S
from vecs_sqlgen.render import DEFAULTS

from . import breakdown, index_build, ingest, plots, query, report
from .data import Truth, load
from .env import Server, describe, elapsed, log, start_server

HERE = Path(__file__).resolve().parent

FULL = {"ingest_rows": 20_000, "hnsw_rows": 5_000, "ingest_reps": 3, "vecs_ingest_reps": 2,
        "index_reps": 2, "rounds": 3, "sweep_rounds": 2, "filter_rounds": 2,
        "memory_rows": 1_000_000, "memory_dimension": 32}  # fmt: skip
QUICK = {**FULL, "ingest_rows": 2_000, "hnsw_rows": 500, "ingest_reps": 1, "rounds": 1,
         "sweep_rounds": 1, "filter_rounds": 1, "memory_rows": 50_000, "index_reps": 1, "vecs_ingest_reps": 1}  # fmt: skip

COLLECTION, VECS_COLLECTION = "debian", "debian_vecs"


def connect_clients(server: Server):
    ours = vecs_sqlgen.create_client(server.dsn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = vecs.create_client(server.sqlalchemy_url)
    return ours, reference


def load_collections(server: Server, data, ours_client, vecs_client) -> dict:
    """Our collection by Collection.upsert (all rows, timed); vecs's by binary COPY (vecs's DDL)."""
    coll = ours_client.get_or_create_collection(COLLECTION, dimension=data.dimension)
    records = data.records()
    seconds = ingest.timed(lambda: coll.upsert(records)).seconds
    log(f"loaded {len(records):,} rows into vecs.{COLLECTION} with Collection.upsert: {len(records) / seconds:,.0f} rows/s")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vcoll = vecs_client.get_or_create_collection(VECS_COLLECTION, dimension=data.dimension)
    with server.connect() as conn:
        ingest.copy_rows(conn, S.Identifier("vecs", VECS_COLLECTION), records)
        for name in (COLLECTION, VECS_COLLECTION):
            conn.execute(S.SQL("vacuum analyze {}").format(S.Identifier("vecs", name)))
    log(f"loaded vecs.{VECS_COLLECTION} (vecs 0.4.5 DDL) by binary COPY; both tables vacuumed and analyzed")
    return {"ours": coll, "vecs": vcoll, "full_load_rows_per_s": len(records) / seconds}


def probe_client(coll, some_id: str) -> dict:
    """Whether the vecs-sqlgen calls the benchmark does not time work on this venv's pgvector-python
    (vecs 0.4.5 pins 0.3.*, whose loaders return numpy arrays rather than Vector objects)."""
    out = {}
    for name, call in (("fetch", lambda: coll.fetch([some_id])),
                       ("query(include_vector=True)", lambda: coll.query(coll.fetch([some_id])[0][1], include_vector=True))):
        try:
            call()
            out[name] = "ok"
        except Exception as e:  # noqa: BLE001 - reported, not raised
            out[name] = f"{type(e).__name__}: {e}"
    return out


def build_indexes(ours_client, vecs_client, colls: dict, reps: int) -> dict:
    vb = index_build.build_vecs(vecs_client, colls["vecs"], reps)
    log(f"vecs 0.4.5 create_index: {vb.best:.1f} s, graph-does-not-fit notice: {vb.graph_did_not_fit}")
    ob = index_build.build_ours(ours_client, colls["ours"], reps)
    log(f"vecs-sqlgen create_index: {ob.best:.1f} s, notice: {ob.graph_did_not_fit}, warning: {ob.warned}")
    return {"ours": ob, "vecs": vb}


def run_memory(server: Server, rows: int, dimension: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.memory", server.dsn, str(rows), str(dimension)],
        capture_output=True, text=True, cwd=HERE.parent, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_queries(server: Server, data, truth: Truth, colls: dict, cfg: dict) -> dict:
    out = {}
    sql_conn, raw_conn = server.connect(), server.connect()
    targets = query.Targets(colls["ours"], colls["vecs"], sql_conn, raw_conn, S.Identifier("vecs", COLLECTION))
    log("unfiltered queries at default settings")
    out["unfiltered"] = query.unfiltered(targets, data, truth, cfg["rounds"])
    log("ef_search sweep")
    out["sweep"] = query.sweep(targets, data, truth, cfg["sweep_rounds"])
    log("filtered queries by selectivity")
    out["filtered"] = query.filtered(targets, data, truth, cfg["filter_rounds"])
    log("time breakdown of vecs.query")
    threshold = min(100_000, max(1_000, DEFAULTS["exact_search_threshold"] * 384 // data.dimension))
    out["breakdown"] = {
        "client": breakdown.client_side(colls["ours"], S.Identifier("vecs", COLLECTION), data.queries, cfg["rounds"], query.default_ef()),
        "server": breakdown.server_side(raw_conn, S.Identifier("vecs", COLLECTION), COLLECTION, data.queries, "python", threshold,
                                        query.default_ef()),
    }
    for part in ("client", "server"):
        log(f"  {part}: " + ", ".join(f"{k} {v}" for k, v in out["breakdown"][part].items()))
    return out


def measure_all(server: Server, data, truth: Truth, cfg: dict) -> dict:
    """Every phase, in order, on the one server."""
    info = describe(server)
    ours_client, vecs_client = connect_clients(server)
    results: dict = {"info": info, "config": cfg, "defaults": dict(DEFAULTS), "data": {
        "source": data.source, "rows": len(data.ids), "dimension": data.dimension, "queries": len(data.queries)}}

    log("ingest")
    bench = ingest.IngestBench(server, data, ours_client, vecs_client)
    results["ingest"] = ingest.run(bench, cfg["ingest_rows"], cfg["hnsw_rows"], cfg["ingest_reps"], cfg["vecs_ingest_reps"])

    log("loading the query collections")
    colls = load_collections(server, data, ours_client, vecs_client)
    results["full_load_rows_per_s"] = colls["full_load_rows_per_s"]
    results["client_probe"] = probe_client(colls["ours"], data.ids[0])
    log(f"vecs-sqlgen client on pgvector-python {info['versions']['pgvector']}: {results['client_probe']}")
    log("create_index (HNSW defaults)")
    results["index"] = build_indexes(ours_client, vecs_client, colls, cfg["index_reps"])

    results.update(measure_queries(server, data, truth, colls, cfg))

    log(f"client memory: streamed upsert of {cfg['memory_rows']:,} × {cfg['memory_dimension']} in a subprocess")
    results["memory"] = m = run_memory(server, cfg["memory_rows"], cfg["memory_dimension"])
    log(f"  RSS before {m['rss_before_mb']:.0f} MB, peak {m['rss_peak_mb']:.0f} MB, after {m['rss_after_mb']:.0f} MB; "
        f"{m['rows'] / m['seconds']:,.0f} rows/s")  # fmt: skip
    ours_client.disconnect()
    vecs_client.disconnect()
    return results


def write(results: dict, out: Path, quick: bool) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    plain = report.to_plain(results)
    (out / "results.json").write_text(json.dumps(plain, indent=1))
    plots.write_all(plain, out)
    (out / "results.md").write_text(report.markdown(plain, quick=quick))
    return plain


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke test of the harness, not results")
    parser.add_argument("--out", type=Path, help="where results.md, results.json and the PNGs go "
                        "(default: bench/, or bench/quick/ with --quick)")  # fmt: skip
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    out = args.out or (HERE / "quick" if args.quick else HERE)

    load_start = os.getloadavg()  # other work on this shared machine skews absolute times
    log("loading data")
    data = load()
    truth = Truth(data)
    log(f"data: {data.source}, {len(data.ids):,} rows × {data.dimension} (+{len(data.queries)} held-out queries)")
    server = start_server()
    log(f"embedded server up: {server.dsn}")
    try:
        results = measure_all(server, data, truth, cfg)
        results["seconds"] = elapsed()
        results["load"] = {"start": load_start, "end": os.getloadavg()}
    finally:
        server.stop()
    plain = write(results, out, args.quick)
    log(f"wrote {out / 'results.md'} and plots in {elapsed():.0f} s")
    print(report.summary(plain))
    return 0


if __name__ == "__main__":
    sys.exit(main())
