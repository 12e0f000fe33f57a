#!/usr/bin/env python3
"""Concurrency soak for vecs-sqlgen (issues 6 and 10): writers upserting overlapping ids, a filter
deleter, an ids deleter, a querier and an index rebuilder, each a separate process with its own
client; then the final state is verified.

    python scripts/soak.py --seconds 300 --writers 4 --ids 5000        # against $VECS_DATABASE_URL …
    python scripts/soak.py --dsn postgresql://… --seconds 60
    make soak                                                           # this, then the long safety run

Without --dsn / $VECS_DATABASE_URL / $DATABASE_URL it starts an embedded server in a temp dir.

What each process does
  writer i   loops: upsert a batch of random ids (duplicates allowed; sometimes > 500 records, the
             COPY path). Every record carries {"w": i, "seq": s, "pos": p} and a vector computed from
             (id, i, s, p). Around each call it takes a tick from a shared counter (start, end).
  deleter    two of them (unless --no-deleters), looping with a short pause: one deletes by a filter
             on (w, pos) that meets a few of the rows the writers are rewriting (containment, or
             a range), the other by a few random ids given in random order. Around each call it
             takes ticks like a writer and logs the ids the call reports deleted.
  querier    loops: query (with and without filters) must return distinct rows (k of them when
             nothing deletes) whose metadata satisfies the filter; len() must be the number of ids
             (at most that, with deleters); fetch must return whole records (the vector matches
             the metadata) in request order.
  indexer    loops: create_index(replace=True), alternating hnsw and ivfflat.

What is verified at the end
  * no process saw an error (a deadlock would be 40P01), none hung, the server counted no deadlock;
  * the table holds each id at most once (exactly once without deleters) and every row is whole
    (vector matches metadata);
  * exact last write: an audit trigger logs each row write and delete with a sequence number taken
    while the row lock is held, so per id the highest number is the last committed write or
    delete; each row equals its last write, and an id is absent exactly when its last is a delete;
  * deletes: each deleter's reported deletes are exactly its deletes in the audit log, and each row
    the filter deleter deleted satisfied that call's filter when it was deleted;
  * no lost write: every write the client reported committed is in the audit log with exactly its
    distinct ids (the last of duplicates), and nothing else is;
  * real-time order (independent of the trigger): each row's write is not followed, in tick order,
    by another committed write or delete of the same id that started after it ended; an absent id's
    last event may be a delete, never a write.

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


def querier(dsn: str, name: str, ids: int, seconds: float, ready, go, out: str, seed: int, deleting: bool = False) -> None:
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
                        if (len(rows) > 10 if deleting else len(rows) != 10) or len(set(rows)) != len(rows):
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
                        if (not 0 <= n <= ids) if deleting else n != ids:
                            stats["violations"].append(f"len() = {n}, expected {'at most ' if deleting else ''}{ids}")
                        stats["counts"] += 1
                    else:
                        want = sorted(rng.sample(range(ids), 50))
                        got = coll.fetch([_id(i) for i in want])
                        asked = [_id(i) for i in want]
                        if ([r[0] for r in got] != [x for x in asked if x in {r[0] for r in got}] or len(got) != len({r[0] for r in got})
                                or (not deleting and len(got) != len(asked))):
                            stats["violations"].append("fetch lost, repeated or reordered records")
                        for id_, vec, meta in got:
                            i = int(id_[2:])
                            if list(vec) != vector(i, meta["w"], meta["seq"], meta["pos"]):
                                stats["violations"].append(f"torn record {id_}: {list(vec)} vs {meta}")
                        stats["fetches"] += 1
                except Exception as e:  # noqa: BLE001
                    stats["errors"].append({"kind": kind, **_error(e)})
    with open(out + ".summary", "w") as f:
        json.dump(stats, f)


def filter_of(w: int, pos: int, kind: str) -> dict:
    """The filter deleter's filter: rows last written by writer w at position pos (containment, the
    GIN index) or at positions pos .. pos + 2 (a range)."""
    if kind == "containment":
        return {"$and": [{"w": {"$eq": w}}, {"pos": {"$eq": pos}}]}
    return {"$and": [{"w": {"$eq": w}}, {"pos": {"$gte": pos}}, {"pos": {"$lt": pos + 3}}]}


def matches(entry: dict, w: int, pos: int) -> bool:
    """Whether metadata with this w and pos satisfies the filter deleter's call entry."""
    if entry["kind"] == "containment":
        return w == entry["w"] and pos == entry["pos"]
    return w == entry["w"] and entry["pos"] <= pos < entry["pos"] + 3


def deleter(dsn: str, name: str, role: str, ids: int, writers: int, seconds: float, ready, go, counter, out: str,
            seed: int, pause: float) -> None:
    """role "filter deleter" or "ids deleter"; its client's application_name is the role, which
    the audit trigger records with each row it deletes."""
    from psycopg.conninfo import make_conninfo

    rng = random.Random(seed * 1000 + (501 if role == "filter deleter" else 502))
    calls, deleted, errors = 0, 0, []
    with _client(make_conninfo(dsn, application_name=role)) as vx, open(out, "w") as f:
        coll = vx.get_or_create_collection(name, dimension=DIM)
        deadline = _start(ready, go, seconds)
        seq = 0
        while time.monotonic() < deadline:
            seq += 1
            if role == "filter deleter":
                entry = {"seq": seq, "kind": rng.choice(["containment", "containment", "range"]),
                         "w": rng.randrange(writers), "pos": rng.randrange(100)}
                call = lambda: coll.delete(filters=filter_of(entry["w"], entry["pos"], entry["kind"]))  # noqa: E731
            else:
                entry = {"seq": seq, "asked": rng.sample(range(ids), rng.choice([1, 2, 5, 10, 20]))}  # any order
                call = lambda: coll.delete(ids=[_id(i) for i in entry["asked"]])  # noqa: E731
            start = _tick(counter)
            try:
                got = call()
            except Exception as e:  # noqa: BLE001 - every error is a finding
                errors.append({"seq": seq, **_error(e)})
                continue
            end = _tick(counter)
            calls += 1
            deleted += len(got)
            f.write(json.dumps({**entry, "start": start, "end": end, "deleted": sorted(got)}) + "\n")
            time.sleep(pause)
    with open(out + ".summary", "w") as f:
        json.dump({"role": role, "calls": calls, "deleted": deleted, "errors": errors}, f)


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
create table {audit} (n bigserial primary key, id text not null, w int not null, seq int not null, pos int not null,
                      deleted_by text);
create function {fn}() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then  -- the row as it was deleted, and who deleted it
        insert into {audit} (id, w, seq, pos, deleted_by)
        values (old.id, (old.metadata->>'w')::int, (old.metadata->>'seq')::int, (old.metadata->>'pos')::int,
                current_setting('application_name'));
    else
        insert into {audit} (id, w, seq, pos)
        values (new.id, (new.metadata->>'w')::int, (new.metadata->>'seq')::int, (new.metadata->>'pos')::int);
    end if;
    return null;
end $$;
create trigger soak_audit after insert or update or delete on {table} for each row execute function {fn}();
"""
DELETERS = ("filter deleter", "ids deleter")


def run(dsn: Optional[str] = None, *, seconds: float = 20, writers: int = 4, ids: int = 1000, seed: int = 0,
        audit: bool = True, keep: bool = False, index_pause: float = 0.0, deleters: bool = True,
        delete_pause: float = 0.01, _sabotage: bool = False, _sabotage_delete: bool = False) -> dict:
    """Run the soak and verify; returns the summary (``summary["ok"]`` and ``summary["failures"]``).

    ``_sabotage`` (for the checker's own test) puts one id back to an earlier write, whole and
    consistent, behind the audit trigger's back: the verification must catch it.
    ``_sabotage_delete`` deletes one present row behind its back: that must be caught too.
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
        for role in DELETERS if deleters else ():
            procs.append(ctx.Process(target=deleter, args=(dsn, name, role, ids, writers, seconds, ready, go, counter,
                                                           str(work / role.replace(" ", "_")), seed, delete_pause), name=role))
        procs.append(ctx.Process(target=querier, args=(dsn, name, ids, seconds, ready, go, str(work / "querier"), seed, deleters),
                                 name="querier"))
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

        if _sabotage_delete:  # first, so that a put-back row (both sabotages in one run) is another one
            with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
                conn.execute("set local session_replication_role = replica")  # no triggers: the audit log does not see it
                conn.execute(sql.SQL("delete from {0} where id = (select min(id) from {0})").format(table))
        if _sabotage:
            _put_back_an_earlier_write(dsn, table, work, writers)  # (a present row)
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
        deletes: dict[str, list[dict]] = {}
        for role in DELETERS if deleters else ():
            path = work / role.replace(" ", "_")
            deletes[role] = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
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
            audited_deletes: dict[str, dict[str, list[tuple[int, int]]]] = {role: {} for role in deletes}
            if audit:
                for id_, w, seq, pos, by in conn.execute(sql.SQL("select id, w, seq, pos, deleted_by from {} order by n").format(audit_t)):
                    last[id_] = (w, seq, pos, by)
                    if by is not None:
                        audited_deletes.setdefault(by, {}).setdefault(id_, []).append((w, pos))
                    elif w >= 0:
                        audited.setdefault((w, seq), {})[id_] = pos
        if dups:
            failures.append(f"duplicated ids: {dups[:5]}")
        if not set(rows) <= {_id(i) for i in range(ids)} or (not deleters and len(rows) != ids):
            failures.append(f"ids lost or added: {len(rows)} rows for {ids} ids")
        torn = [i for i, (vec, meta) in rows.items() if vec != vector(int(i[2:]), meta["w"], meta["seq"], meta["pos"])]
        if torn:
            failures.append(f"{len(torn)} torn rows, e.g. {torn[:3]}")
        if audit:
            wrong = [i for i, (_, m) in rows.items() if (m["w"], m["seq"], m["pos"], None) != last.get(i, (-1, 0, 0, None))]
            if wrong:
                failures.append(f"{len(wrong)} rows differ from their last committed write, e.g. {[(i, rows[i][1], last.get(i)) for i in wrong[:3]]}")
            absent = [_id(i) for i in range(ids) if _id(i) not in rows]
            lost = [i for i in absent if last.get(i, (0, 0, 0, None))[3] is None]
            if lost:
                failures.append(f"{len(lost)} ids absent though their last committed change is a write, e.g. {[(i, last.get(i)) for i in lost[:3]]}")
            for role, entries in deletes.items():
                reported: dict[str, list[dict]] = {}
                for entry in entries:  # one process: its calls, and per id its deletes, are in commit order
                    for i in entry["deleted"]:
                        reported.setdefault(i, []).append(entry)
                logged = audited_deletes.get(role, {})
                if {i: len(v) for i, v in reported.items()} != {i: len(v) for i, v in logged.items()}:
                    failures.append(f"the {role}'s reported deletes are not its deletes in the audit log "
                                    f"({sum(map(len, reported.values()))} reported, {sum(map(len, logged.values()))} logged)")
                elif role == "filter deleter":
                    unmatched = [(i, e["kind"], e["w"], e["pos"], wp) for i, es in reported.items() for e, wp in zip(es, logged[i])
                                 if not matches(e, *wp)]
                    if unmatched:
                        failures.append(f"{len(unmatched)} rows deleted that did not satisfy the filter, e.g. {unmatched[:3]}")
                else:
                    strays = [i for i, es in reported.items() for e in es if int(i[2:]) not in e["asked"]]
                    if strays:
                        failures.append(f"ids deleted that were not asked for: {strays[:3]}")
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
        # real-time order, from the ticks alone: the row's write is not followed by a later-started
        # write or delete of that id; an absent id's latest events include a delete
        by_id: dict[str, list[tuple[int, int, tuple[int, int]]]] = {}
        for key, entry in calls.items():
            for i in set(entry["ids"]):
                by_id.setdefault(_id(i), []).append((entry["start"], entry["end"], key))
        deleted_at: dict[str, list[tuple[int, int, tuple[str, int]]]] = {}
        for role, entries in deletes.items():
            for entry in entries:
                for i in entry["deleted"]:
                    deleted_at.setdefault(i, []).append((entry["start"], entry["end"], (role, entry["seq"])))
        stale, determined = [], 0
        for id_ in sorted({_id(i) for i in range(ids)} | set(rows)):
            writes, dels = by_id.get(id_, []), deleted_at.get(id_, [])
            events = writes + dels
            # the events no other event of this id started after: the id's state must be one of them
            latest = [e for e in events if not any(x[0] > e[1] for x in events)]
            determined += len(latest) == 1
            if id_ not in rows:
                if not any(e in dels for e in latest):
                    stale.append((id_, f"absent, but none of its latest changes {[e[2] for e in latest]} is a delete"))
                continue
            meta = rows[id_][1]
            if not events:
                if meta["w"] != -1:
                    stale.append((id_, "holds a write no client reported committed"))
            elif (meta["w"], meta["seq"]) not in {w[2] for w in latest if w in writes}:
                stale.append((id_, f"holds {(meta['w'], meta['seq'])}, not one of the latest changes {[e[2] for e in latest]}"))
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
            "deletes": sum(len(v) for v in deletes.values()),
            "records_deleted": sum(len(e["deleted"]) for v in deletes.values() for e in v),
            "rows_at_end": len(rows),
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
    with psycopg.connect(dsn, autocommit=True) as conn:
        present = {int(r[0][2:]) for r in conn.execute(sql.SQL("select id from {}").format(table))}
    for w, old in entries:  # a write, and one of its ids (still there) that a write started after it ended wrote again
        later = {i for _, e in entries if e["start"] > old["end"] for i in e["ids"]}
        hit = [i for i in old["ids"] if i in later and i in present]
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
    parser.add_argument("--no-deleters", action="store_true", help="no filter deleter and no ids deleter")
    parser.add_argument("--delete-pause", type=float, default=0.01, help="seconds between a deleter's calls (default 0.01)")
    parser.add_argument("--keep", action="store_true", help="keep the collection and audit table for inspection")
    args = parser.parse_args(argv)
    summary = run(args.dsn, seconds=args.seconds, writers=args.writers, ids=args.ids, seed=args.seed,
                  audit=not args.no_audit, keep=args.keep, index_pause=args.index_pause,
                  deleters=not args.no_deleters, delete_pause=args.delete_pause)
    summary["seed"] = args.seed
    print(json.dumps(summary, indent=2))
    return 0 if summary.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
