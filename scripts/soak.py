#!/usr/bin/env python3
"""Concurrency soak for vecs-sqlgen (issue 6): writers upserting overlapping ids, a querier and an
index rebuilder, each a separate process with its own client; then the final state is verified.

    python scripts/soak.py --seconds 300 --writers 4 --ids 5000        # against $VECS_DATABASE_URL …
    python scripts/soak.py --dsn postgresql://… --seconds 60
    make soak                                                           # this, then the long safety run

Without --dsn / $VECS_DATABASE_URL / $DATABASE_URL it starts an embedded server in a temp dir.

What each process does
  writer i   loops: upsert a batch of random ids (duplicates allowed; sometimes > 500 records, the
             COPY path). Every record carries {"w": i, "seq": s, "pos": p} and a vector computed from
             (id, i, s, p). Around each call it takes a tick from a shared counter (start, end).
  querier    loops: query (with and without filters) must return k rows whose metadata satisfies
             the filter; len() must be the number of ids; fetch must return whole records (the
             vector matches the metadata).
  indexer    loops: create_index(replace=True), alternating hnsw and ivfflat.

What is verified at the end
  * no process saw an error (a deadlock would be 40P01), none hung;
  * the table holds each id exactly once and every row is whole (vector matches metadata);
  * exact last write: an audit trigger logs each row write with a sequence number taken while the
    row lock is held, so per id the highest number is the last committed write; each row equals it;
  * no lost write: every write the client reported committed is in the audit log with exactly its
    distinct ids (the last of duplicates), and nothing else is;
  * real-time order (independent of the trigger): each row's write is not followed, in tick order,
    by another committed write of the same id that started after it ended.

Prints a JSON summary; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
import uuid
import warnings
from pathlib import Path
from typing import Any, Optional

DIM = 8


def vector(id_index: int, writer: int, seq: int, pos: int) -> list[float]:
    """The vector of a record: a function of who wrote it when, so a torn record shows."""
    return [float(id_index % 97 + 1), float(writer + 2), float(seq % 1000), float(pos % 1000), 1.0, 2.0, 3.0, float(id_index // 97)]


def _id(i: int) -> str:
    return f"id{i:06d}"


def _tick(counter) -> int:
    with counter.get_lock():
        counter.value += 1
        return counter.value


def _error(e: BaseException) -> dict:
    cause = e.__cause__
    return {
        "type": type(e).__name__,
        "message": str(e)[:500],
        "sqlstate": getattr(cause, "sqlstate", None) or getattr(e, "sqlstate", None),
        "deadlock": (getattr(cause, "sqlstate", None) or getattr(e, "sqlstate", None)) == "40P01",
    }


def _client(dsn: str):
    import vecs_sqlgen as vecs

    return vecs.create_client(dsn)


def _start(ready, go, seconds: float) -> float:
    """Say this process is connected, wait for the others, and return its deadline."""
    with ready.get_lock():
        ready.value += 1
    go.wait()
    return time.monotonic() + seconds


def writer(dsn: str, name: str, writer_id: int, ids: int, seconds: float, ready, go, counter, out: str, seed: int) -> None:
    rng = random.Random(seed * 1000 + writer_id)
    log, errors = [], []
    with _client(dsn) as vx, open(out, "w") as f:
        coll = vx.get_or_create_collection(name, dimension=DIM)
        deadline = _start(ready, go, seconds)
        seq = 0
        while time.monotonic() < deadline:
            seq += 1
            # mostly small calls (one statement with arrays); one in 20 past 500 records (binary COPY + merge)
            size = rng.choice([1, 2, 5, 10, 20, 50, 100]) if rng.random() < 0.95 else rng.randint(501, 700)
            chosen = [rng.randrange(ids) for _ in range(size)]
            records = [(_id(i), vector(i, writer_id, seq, p), {"w": writer_id, "seq": seq, "pos": p}) for p, i in enumerate(chosen)]
            start = _tick(counter)
            try:
                coll.upsert(records)
            except Exception as e:  # noqa: BLE001 - every error is a finding
                errors.append({"seq": seq, **_error(e)})
                f.write(json.dumps({"seq": seq, "failed": True, "ids": chosen}) + "\n")
                continue
            end = _tick(counter)
            log.append(seq)
            f.write(json.dumps({"seq": seq, "start": start, "end": end, "ids": chosen}) + "\n")
    with open(out + ".summary", "w") as f:
        json.dump({"role": f"writer {writer_id}", "calls": len(log), "errors": errors}, f)


def querier(dsn: str, name: str, ids: int, seconds: float, ready, go, out: str, seed: int) -> None:
    rng = random.Random(seed * 1000 + 999)
    stats = {"role": "querier", "queries": 0, "filtered": 0, "counts": 0, "fetches": 0, "errors": [], "violations": []}
    with _client(dsn) as vx:
        coll = vx.get_or_create_collection(name, dimension=DIM)
        deadline = _start(ready, go, seconds)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            while time.monotonic() < deadline:
                kind = rng.choice(["query", "filtered", "count", "fetch"])
                try:
                    if kind == "query":
                        rows = coll.query([rng.random() + 0.01 for _ in range(DIM)], limit=10)
                        if len(rows) != 10 or len(set(rows)) != 10:
                            stats["violations"].append(f"unfiltered query returned {len(rows)} rows ({len(set(rows))} distinct)")
                        stats["queries"] += 1
                    elif kind == "filtered":
                        w = rng.randrange(4)
                        rows = coll.query([rng.random() + 0.01 for _ in range(DIM)], limit=20, filters={"w": {"$eq": w}}, include_metadata=True)
                        if any(m.get("w") != w for _, m in rows) or len({r[0] for r in rows}) != len(rows):
                            stats["violations"].append(f"filtered query returned rows not matching w={w}")
                        stats["filtered"] += 1
                    elif kind == "count":
                        n = len(coll)
                        if n != ids:
                            stats["violations"].append(f"len() = {n}, expected {ids}")
                        stats["counts"] += 1
                    else:
                        want = sorted(rng.sample(range(ids), 50))
                        got = coll.fetch([_id(i) for i in want])
                        if [r[0] for r in got] != [_id(i) for i in want]:
                            stats["violations"].append("fetch lost or reordered records")
                        for (id_, vec, meta), i in zip(got, want):
                            if list(vec) != vector(i, meta["w"], meta["seq"], meta["pos"]):
                                stats["violations"].append(f"torn record {id_}: {list(vec)} vs {meta}")
                        stats["fetches"] += 1
                except Exception as e:  # noqa: BLE001
                    stats["errors"].append({"kind": kind, **_error(e)})
    with open(out + ".summary", "w") as f:
        json.dump(stats, f)


def indexer(dsn: str, name: str, seconds: float, ready, go, out: str, pause: float) -> None:
    import vecs_sqlgen as vecs

    stats = {"role": "indexer", "rebuilds": 0, "errors": []}
    methods = [vecs.IndexMethod.hnsw, vecs.IndexMethod.ivfflat]
    with _client(dsn) as vx:
        coll = vx.get_or_create_collection(name, dimension=DIM)
        deadline = _start(ready, go, seconds)
        while time.monotonic() < deadline:
            try:
                coll.create_index(method=methods[stats["rebuilds"] % 2], replace=True)
                stats["rebuilds"] += 1
                time.sleep(pause)
            except Exception as e:  # noqa: BLE001
                stats["errors"].append(_error(e))
                time.sleep(0.05)
    with open(out + ".summary", "w") as f:
        json.dump(stats, f)


AUDIT = """
create table {audit} (n bigserial primary key, id text not null, w int not null, seq int not null, pos int not null);
create function {fn}() returns trigger language plpgsql as $$
begin
    insert into {audit} (id, w, seq, pos)
    values (new.id, (new.metadata->>'w')::int, (new.metadata->>'seq')::int, (new.metadata->>'pos')::int);
    return null;
end $$;
create trigger soak_audit after insert or update on {table} for each row execute function {fn}();
"""


def run(dsn: Optional[str] = None, *, seconds: float = 20, writers: int = 4, ids: int = 1000, seed: int = 0,
        audit: bool = True, keep: bool = False, index_pause: float = 0.0, _sabotage: bool = False) -> dict:
    """Run the soak and verify; returns the summary (``summary["ok"]`` and ``summary["failures"]``).

    ``_sabotage`` (for the checker's own test) puts one id back to an earlier write, whole and
    consistent, behind the audit trigger's back: the verification must catch it.
    """
    import psycopg
    from psycopg import sql

    server = None
    if dsn is None:
        dsn = os.environ.get("VECS_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if dsn is None:
        from vecs_sqlgen.dsn import embedded_server

        tmp = Path(tempfile.mkdtemp(prefix="vecs-soak-pg-"))
        server = (tmp, embedded_server(tmp / "data", keep_running=True))
        dsn = server[1].get_uri()
    name = f"soak {uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="vecs-soak-"))
    table = sql.Identifier("vecs", name)
    audit_t = sql.Identifier("public", f"soak_audit_{name[5:]}")
    audit_fn = sql.Identifier("public", f"soak_audit_fn_{name[5:]}")
    failures: list[str] = []
    try:
        with _client(dsn) as vx:
            coll = vx.get_or_create_collection(name, dimension=DIM)
            coll.upsert((_id(i), vector(i, -1, 0, 0), {"w": -1, "seq": 0, "pos": 0}) for i in range(ids))
            coll.create_index()
        with psycopg.connect(dsn, autocommit=True) as conn:
            if audit:
                conn.execute(sql.SQL(AUDIT).format(audit=audit_t, fn=audit_fn, table=table))
            deadlocks_before = conn.execute("select deadlocks from pg_stat_database where datname = current_database()").fetchone()[0]

        ctx = mp.get_context("spawn")
        go, ready, counter = ctx.Event(), ctx.Value("i", 0), ctx.Value("q", 0)
        procs = [ctx.Process(target=writer, args=(dsn, name, w, ids, seconds, ready, go, counter, str(work / f"writer{w}"), seed),
                             name=f"writer {w}") for w in range(writers)]
        procs.append(ctx.Process(target=querier, args=(dsn, name, ids, seconds, ready, go, str(work / "querier"), seed), name="querier"))
        procs.append(ctx.Process(target=indexer, args=(dsn, name, seconds, ready, go, str(work / "indexer"), index_pause), name="indexer"))
        for p in procs:
            p.start()
        waited = time.monotonic()
        while ready.value < len(procs) and time.monotonic() - waited < 120 and all(p.is_alive() for p in procs):
            time.sleep(0.05)
        go.set()  # every process connected (or one failed): the load phase starts for all at once
        loaded = time.monotonic()
        for p in procs:
            p.join(timeout=max(1.0, loaded + seconds - time.monotonic()) + 120)
        hung = [p.name for p in procs if p.is_alive()]
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
        elapsed = time.monotonic() - loaded
        if hung:
            failures.append(f"processes did not finish: {hung}")
        crashed = [p.name for p in procs if p.exitcode not in (0, None) and p.name not in hung]
        if crashed:
            failures.append(f"processes crashed: {crashed}")

        if _sabotage:
            _put_back_an_earlier_write(dsn, table, work, writers)
        summaries = [json.loads(p.read_text()) for p in sorted(work.glob("*.summary"))]
        calls: dict[tuple[int, int], dict] = {}
        failed_calls: set[tuple[int, int]] = set()
        for w in range(writers):
            path = work / f"writer{w}"
            for line in path.read_text().splitlines() if path.exists() else []:
                entry = json.loads(line)
                if entry.get("failed"):
                    failed_calls.add((w, entry["seq"]))
                else:
                    calls[(w, entry["seq"])] = entry
        errors = [e for s in summaries for e in s.get("errors", [])]
        violations = [v for s in summaries for v in s.get("violations", [])]
        if errors:
            failures.append(f"{len(errors)} errors, e.g. {errors[:3]}")
        if violations:
            failures.append(f"{len(violations)} query-side violations, e.g. {violations[:3]}")

        with psycopg.connect(dsn, autocommit=True) as conn:
            deadlocks = conn.execute("select deadlocks from pg_stat_database where datname = current_database()").fetchone()[0] - deadlocks_before
            conn.execute("set enable_indexscan = off; set enable_bitmapscan = off; set enable_indexonlyscan = off")
            dups = conn.execute(sql.SQL("select id, count(*) from {} group by id having count(*) > 1").format(table)).fetchall()
            rows = {r[0]: r[1:] for r in conn.execute(sql.SQL("select id, vec::real[], metadata from {}").format(table))}
            conn.execute("reset all")
            last: dict[str, tuple] = {}
            audited: dict[tuple[int, int], dict[str, int]] = {}
            if audit:
                for id_, w, seq, pos in conn.execute(sql.SQL("select id, w, seq, pos from {} order by n").format(audit_t)):
                    last[id_] = (w, seq, pos)
                    if w >= 0:
                        audited.setdefault((w, seq), {})[id_] = pos
        if dups:
            failures.append(f"duplicated ids: {dups[:5]}")
        if set(rows) != {_id(i) for i in range(ids)}:
            failures.append(f"ids lost or added: {len(rows)} rows for {ids} ids")
        torn = [i for i, (vec, meta) in rows.items() if vec != vector(int(i[2:]), meta["w"], meta["seq"], meta["pos"])]
        if torn:
            failures.append(f"{len(torn)} torn rows, e.g. {torn[:3]}")
        if audit:
            wrong = [i for i, (_, m) in rows.items() if (m["w"], m["seq"], m["pos"]) != last.get(i, (-1, 0, 0))]
            if wrong:
                failures.append(f"{len(wrong)} rows differ from their last committed write, e.g. {[(i, rows[i][1], last.get(i)) for i in wrong[:3]]}")
            for key, entry in calls.items():
                want: dict[str, int] = {}
                for p, i in enumerate(entry["ids"]):
                    want[_id(i)] = p
                if audited.get(key) != want:
                    failures.append(f"write {key} reported committed but the audit log holds {len(audited.get(key, {}))} of its {len(want)} ids")
                    break
            ghost = set(audited) - set(calls)
            if ghost:
                failures.append(f"writes in the audit log that the client did not report committed: {sorted(ghost)[:5]}")
        # real-time order, from the ticks alone: the row's write is not followed by a later-started write of that id
        by_id: dict[str, list[tuple[int, int, tuple[int, int]]]] = {}
        for key, entry in calls.items():
            for i in set(entry["ids"]):
                by_id.setdefault(_id(i), []).append((entry["start"], entry["end"], key))
        stale, determined = [], 0
        for id_, (_, meta) in rows.items():
            writes = by_id.get(id_, [])
            # the writes no other write of this id started after: the row must hold one of them
            latest = [w for w in writes if not any(x[0] > w[1] for x in writes)]
            determined += len(latest) == 1
            if not writes:
                if meta["w"] != -1:
                    stale.append((id_, "holds a write no client reported committed"))
            elif (meta["w"], meta["seq"]) not in {w[2] for w in latest}:
                stale.append((id_, f"holds {(meta['w'], meta['seq'])}, not one of the latest writes {[w[2] for w in latest]}"))
            elif meta["pos"] != max(p for p, i in enumerate(calls[(meta["w"], meta["seq"])]["ids"]) if _id(i) == id_):
                stale.append((id_, f"holds position {meta['pos']} of its call, not the last of that id's duplicates"))
        if stale:
            failures.append(f"{len(stale)} rows violate real-time order, e.g. {stale[:3]}")
        if deadlocks:
            failures.append(f"the server counted {deadlocks} deadlocks")

        role_stats = {s["role"]: {k: v for k, v in s.items() if k not in ("role", "errors", "violations")} for s in summaries}
        summary = {
            "ok": not failures,
            "failures": failures,
            "seconds": round(elapsed, 1),
            "writers": writers,
            "ids": ids,
            "writes": len(calls),
            "failed_writes": len(failed_calls),
            "records_written": sum(len(e["ids"]) for e in calls.values()),
            "ids_rewritten": len(by_id),
            "ids_whose_last_write_ticks_determine": determined,
            "max_writes_of_one_id": max((len(w) for w in by_id.values()), default=0),
            "queries": sum(s.get("queries", 0) + s.get("filtered", 0) + s.get("counts", 0) + s.get("fetches", 0) for s in summaries),
            "index_rebuilds": sum(s.get("rebuilds", 0) for s in summaries),
            "errors": len(errors),
            "deadlocks": deadlocks,
            "audited": audit,
            "per_process": role_stats,
        }
        return summary
    except Exception:
        failures.append(traceback.format_exc())
        return {"ok": False, "failures": failures}
    finally:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                if not keep:
                    conn.execute("select vecs.drop_collection(%s)", (name,))
                    conn.execute(sql.SQL("drop table if exists {}").format(audit_t))
                    conn.execute(sql.SQL("drop function if exists {}()").format(audit_fn))
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if server is not None:
                _stop_embedded(*server)


def _put_back_an_earlier_write(dsn: str, table, work: Path, writers: int) -> None:
    import psycopg
    from psycopg import sql
    from psycopg.types.json import Jsonb

    entries = [(w, json.loads(line)) for w in range(writers) for line in (work / f"writer{w}").read_text().splitlines()]
    entries = [(w, e) for w, e in entries if not e.get("failed")]
    for w, old in entries:  # a write, and one of its ids that a write started after it ended wrote again
        later = {i for _, e in entries if e["start"] > old["end"] for i in e["ids"]}
        hit = [i for i in old["ids"] if i in later]
        if hit:
            i = hit[0]
            pos = max(p for p, x in enumerate(old["ids"]) if x == i)
            break
    else:
        raise RuntimeError("no id was written twice in order: run longer")
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute("set local session_replication_role = replica")  # no triggers: the audit log does not see it
        conn.execute(sql.SQL("update {} set vec = %s::real[]::vector, metadata = %s where id = %s").format(table),
                     (vector(i, w, old["seq"], pos), Jsonb({"w": w, "seq": old["seq"], "pos": pos}), _id(i)))


def _stop_embedded(tmp: Path, server: Any) -> None:
    import subprocess

    from vecs_sqlgen.dsn import embedded_bin

    subprocess.run([str(embedded_bin("pg_ctl")), "-D", str(tmp / "data"), "-m", "fast", "stop"], capture_output=True,
                   user=getattr(server, "system_user", None))
    shutil.rmtree(tmp, ignore_errors=True)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help="database URL (default: $VECS_DATABASE_URL, $DATABASE_URL, else an embedded server)")
    parser.add_argument("--seconds", type=float, default=120, help="length of the load phase (default 120)")
    parser.add_argument("--writers", type=int, default=4, help="writer processes (default 4)")
    parser.add_argument("--ids", type=int, default=5000, help="distinct ids the writers share (default 5000)")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100000, help="random seed (default: from the clock)")
    parser.add_argument("--index-pause", type=float, default=0.0, help="seconds between index rebuilds (default 0)")
    parser.add_argument("--no-audit", action="store_true", help="no audit trigger: check real-time order only")
    parser.add_argument("--keep", action="store_true", help="keep the collection and audit table for inspection")
    args = parser.parse_args(argv)
    summary = run(args.dsn, seconds=args.seconds, writers=args.writers, ids=args.ids, seed=args.seed,
                  audit=not args.no_audit, keep=args.keep, index_pause=args.index_pause)
    summary["seed"] = args.seed
    print(json.dumps(summary, indent=2))
    return 0 if summary.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
