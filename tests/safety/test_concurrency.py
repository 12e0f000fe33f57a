"""Concurrency (issues 6 and 10): 4 writer processes upserting overlapping ids, a filter deleter, an
ids deleter, a querier and an index rebuilder, each its own client, for a bounded time; then no
error, no deadlock, no lost or duplicated row, and each id holds its last committed write or is
absent after its last committed delete. The workload and every check live in scripts/soak.py
(``make soak`` runs it longer); ``VECS_SAFETY_SOAK_SECONDS`` lengthens this test.

Deterministic too: a delete (by filter, or by ids in any order) and an upsert of the same rows,
from the Python client, widened by a slow row trigger, never deadlock (issue 10)."""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
import uuid

import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ._support import RESULTS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def soak():
    sys.path.insert(0, os.path.join(ROOT, "scripts"))  # spawned processes inherit it and import soak
    try:
        yield importlib.import_module("soak")
    finally:
        sys.path.remove(os.path.join(ROOT, "scripts"))


def test_writers_deleters_querier_and_index_rebuilder(dsn, soak):
    seconds = float(os.environ.get("VECS_SAFETY_SOAK_SECONDS", "10"))
    summary = soak.run(dsn, seconds=seconds, writers=4, ids=500, seed=int(os.environ.get("VECS_SAFETY_SEED", "6")))
    RESULTS["concurrency"] = {k: v for k, v in summary.items() if k != "per_process"}
    assert summary["ok"], summary["failures"]
    assert summary["errors"] == 0 and summary["deadlocks"] == 0 and summary["failed_writes"] == 0
    # the run really overlapped: many writes, ids written by several writers, rebuilds and queries throughout
    assert summary["writes"] >= 40 * seconds / 15, summary
    assert summary["max_writes_of_one_id"] >= 5, summary
    assert summary["index_rebuilds"] >= 5 and summary["queries"] >= 500, summary
    # deletes by filter and by ids (in random order) ran throughout, on the rows being rewritten
    assert summary["deletes"] >= 40 * seconds / 15 and summary["records_deleted"] >= 40 * seconds / 15, summary
    assert set(summary["per_process"]) == {"writer 0", "writer 1", "writer 2", "writer 3", "filter deleter", "ids deleter",
                                           "querier", "indexer"}
    assert all(p["calls"] > 0 for name, p in summary["per_process"].items() if name.startswith("writer"))
    assert all(p["calls"] > 0 and p["deleted"] > 0 for name, p in summary["per_process"].items() if name.endswith("deleter"))


def test_the_checks_catch_a_row_put_back_or_deleted_behind_their_back(dsn, soak):
    """Negative controls, both in one run: one id put back to an earlier (whole, consistent) write
    behind the audit trigger's back, and another row deleted with no delete reported (and no audit
    entry). Each is reported by the audit check and by the real-time-order check, each under its
    own reason (the put-back row "holds" a write that is not its latest, the deleted one is
    "absent" though its latest change is not a delete)."""
    summary = soak.run(dsn, seconds=2, writers=4, ids=200, seed=1, _sabotage=True, _sabotage_delete=True)
    assert not summary["ok"]
    failures = summary["failures"]
    assert any("differ from their last committed write" in f for f in failures), failures
    assert any("absent though their last committed change is a write" in f for f in failures), failures
    order = [f for f in failures if "violate real-time order" in f]
    assert len(order) == 1 and order[0].startswith("2 rows"), failures
    assert "holds (" in order[0] and "absent, but none of its latest changes" in order[0], order
    assert summary["errors"] == 0 and summary["deadlocks"] == 0


# ----------------------------------------------------------------------------- delete vs upsert, deterministic

SLOW_ROWS = """
create function {fn}() returns trigger language plpgsql as $$
begin perform pg_sleep(0.4); return coalesce(new, old); end $$;
create trigger slow before update or delete on {table} for each row execute function {fn}();
"""


def _client(dsn: str, *settings: str):
    """A client whose session has these settings (deadlocks found after 100 ms, no lock waited for past 10 s)."""
    import vecs_sqlgen

    options = " ".join(f"-c {s}" for s in ("deadlock_timeout=100ms", "lock_timeout=10s", *settings))
    return vecs_sqlgen.create_client(make_conninfo(dsn, options=options))


@pytest.fixture
def slow(dsn, conn, fresh_name):
    """A collection where b and a match {"n": 1} in that physical order (a scan meets b first), c
    does not, and a row trigger sleeps on every update and delete (with the row locked)."""
    name = fresh_name("slow")
    with _client(dsn) as vx:
        coll = vx.get_or_create_collection(name, dimension=3)
        for record in [("b", [0, 1, 0], {"n": 1}), ("a", [1, 0, 0], {"n": 1}), ("c", [0, 0, 1], {"n": 2})]:
            coll.upsert([record])
    fn = sql.Identifier("public", f"slow_{uuid.uuid4().hex[:8]}")
    conn.execute(sql.SQL(SLOW_ROWS).format(fn=fn, table=sql.Identifier("vecs", name)))
    yield name
    conn.execute(sql.SQL("drop function {}() cascade").format(fn))


def _race(first, second, delay: float = 0.2):
    """first() in a thread, second() delay seconds later; what each returned or raised."""
    out: dict[str, object] = {}

    def run(key, f):
        try:
            out[key] = f()
        except Exception as e:  # noqa: BLE001 - a deadlock is the finding
            out[key] = e

    t = threading.Thread(target=run, args=("first", first))
    t.start()
    time.sleep(delay)
    run("second", second)
    t.join(20)
    assert not t.is_alive()
    for r in out.values():
        assert not isinstance(r, Exception), f"{type(r).__name__} (SQLSTATE {getattr(r.__cause__, 'sqlstate', None)}): {r}"
    return out["first"], out["second"]


@pytest.mark.parametrize("first", ["delete", "upsert"])
@pytest.mark.parametrize("by", ["filters", "ids in reverse order"])
def test_python_delete_and_upsert_of_the_same_rows_do_not_deadlock(dsn, conn, slow, by, first):
    """Collection.delete locks its rows in id order, as Collection.upsert writes them: whichever
    starts first, the other waits for it at a (the lowest id) holding nothing, and both succeed.
    The deleter scans without the primary key index's order (bitmap or sequential scan: b before a),
    as a large delete would. Deleting in scan order deadlocked here every time: one held a and
    waited for b, the other held b and waited for a (the upsert on its insertion path too)."""
    with _client(dsn, "enable_indexscan=off", "enable_indexonlyscan=off") as deleter, _client(dsn) as writer:
        d, w = deleter.get_or_create_collection(slow, dimension=3), writer.get_or_create_collection(slow, dimension=3)
        records = [("a", [2, 2, 2], {"n": 1, "by": "U"}), ("b", [2, 2, 2], {"n": 2, "by": "U"})]

        def delete():
            return sorted(d.delete(filters={"n": {"$eq": 1}}) if by == "filters" else d.delete(ids=["b", "a"]))

        def upsert():
            w.upsert(records)

        if first == "delete":
            deleted, _ = _race(delete, upsert)
            assert deleted == ["a", "b"]  # then the upsert inserted both afresh
            want = {"a": {"n": 1, "by": "U"}, "b": {"n": 2, "by": "U"}, "c": {"n": 2}}
        else:
            _, deleted = _race(upsert, delete)
            # by filter, the rows the upsert changed are re-checked: a still has n = 1, b no longer
            assert deleted == (["a"] if by == "filters" else ["a", "b"])
            want = {"b": {"n": 2, "by": "U"}, "c": {"n": 2}} if by == "filters" else {"c": {"n": 2}}
        got = {r[0]: r[2] for r in w.fetch(["a", "b", "c"])}
        assert got == want
