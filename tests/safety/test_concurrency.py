"""Concurrency (issue 6): 4 writer processes upserting overlapping ids, a querier and an index
rebuilder, each its own client, for a bounded time; then no error, no deadlock, no lost or duplicated
row, and each id holds its last committed write. The workload and every check live in
scripts/soak.py (``make soak`` runs it longer); ``VECS_SAFETY_SOAK_SECONDS`` lengthens this test."""

from __future__ import annotations

import importlib
import os
import sys

import pytest

from ._support import RESULTS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def soak():
    sys.path.insert(0, os.path.join(ROOT, "scripts"))  # spawned processes inherit it and import soak
    try:
        yield importlib.import_module("soak")
    finally:
        sys.path.remove(os.path.join(ROOT, "scripts"))


def test_writers_querier_and_index_rebuilder(dsn, soak):
    seconds = float(os.environ.get("VECS_SAFETY_SOAK_SECONDS", "15"))
    summary = soak.run(dsn, seconds=seconds, writers=4, ids=500, seed=int(os.environ.get("VECS_SAFETY_SEED", "6")))
    RESULTS["concurrency"] = {k: v for k, v in summary.items() if k != "per_process"}
    assert summary["ok"], summary["failures"]
    assert summary["errors"] == 0 and summary["deadlocks"] == 0 and summary["failed_writes"] == 0
    # the run really overlapped: many writes, ids written by several writers, rebuilds and queries throughout
    assert summary["writes"] >= 40 * seconds / 15, summary
    assert summary["max_writes_of_one_id"] >= 5, summary
    assert summary["index_rebuilds"] >= 5 and summary["queries"] >= 500, summary
    assert set(summary["per_process"]) == {"writer 0", "writer 1", "writer 2", "writer 3", "querier", "indexer"}
    assert all(p["calls"] > 0 for name, p in summary["per_process"].items() if name.startswith("writer"))


def test_the_checks_catch_a_row_that_is_not_the_last_write(dsn, soak):
    """Negative control: one id put back to an earlier (whole, consistent) write behind the audit
    trigger's back is reported, by the audit check and by the real-time-order check."""
    summary = soak.run(dsn, seconds=2, writers=4, ids=200, seed=1, _sabotage=True)
    assert not summary["ok"]
    assert any("differ from their last committed write" in f for f in summary["failures"]), summary["failures"]
    assert any("violate real-time order" in f for f in summary["failures"]), summary["failures"]
    assert summary["errors"] == 0 and summary["deadlocks"] == 0
