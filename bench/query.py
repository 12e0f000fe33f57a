"""Query latency, recall and completeness: unfiltered at default settings, the ef_search sweep, and
filtered search by selectivity. Results are scored against exact search (``data.Truth``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from psycopg import sql as S

from vecs_sqlgen.render import DEFAULTS

from . import methods as M
from .data import FILTERS, K, Dataset, Truth
from .env import log

EF_SWEEP = (10, 20, 40, 64, 100, 200)
VECS_DEFAULT_EF = 40  # vecs 0.4.5's default hnsw.ef_search


def default_ef() -> int:
    """The ef_search vecs.query uses at default settings (never below k)."""
    return max(int(DEFAULTS.get("ef_search", 40)), K)


@dataclass
class Row:
    """One method's figures for one setting."""

    method: str
    p50: float
    p95: float
    complete: float  # share of queries with exactly min(k, matching rows) rows
    recall: float  # mean recall@k against exact (filtered) search
    setting: str = ""
    paired_vs_raw: float | None = None  # median per-query time ÷ raw's (same group only)


@dataclass
class Targets:
    """What the query phase measures against: our collection, vecs's, and a raw connection."""

    ours: object  # vecs_sqlgen Collection
    vecs: object  # vecs 0.4.5 Collection
    sql_conn: object  # psycopg connection for select * from vecs.query(…)
    raw_conn: object  # psycopg connection for the plain statements
    table: S.Identifier  # our collection's table, qualified


def _score(timings: dict, truth: Truth, mask=None, setting: str = "") -> list[Row]:
    rows = []
    for name, t in timings.items():
        scored = [truth.score(i, ids, mask) for i, ids in enumerate(t.results)]
        paired = t.paired_ratio(timings["raw"]) if name not in ("raw", "vecs") else None
        rows.append(Row(name, t.p50, t.p95, float(np.mean([c for c, _ in scored])),
                        float(np.mean([r for _, r in scored])), setting, paired))  # fmt: skip
    return rows


def _set_ef(conn, ef: int) -> None:
    conn.execute("select set_config('hnsw.ef_search', %s, false)", (str(ef),))


def unfiltered(t: Targets, data: Dataset, truth: Truth, rounds: int) -> list[Row]:
    """Every method at its default settings; raw at the ef_search vecs.query uses by default."""
    ef = default_ef()
    _set_ef(t.raw_conn, ef)
    timings = M.measure(
        {
            "ours": M.ours(t.ours),
            "sql": M.sql(t.sql_conn, t.ours.name),
            "raw": M.raw(t.raw_conn, t.table),
            "vecs": M.vecs045(t.vecs),
        },
        data.queries,
        rounds,
        groups=[["ours", "sql", "raw"], ["vecs"]],
    )
    rows = _score(timings, truth, setting="defaults")
    for r in rows:
        log(f"  unfiltered {r.method:5} p50 {r.p50:6.3f} ms  recall@10 {r.recall:.3f}")
    return rows


def sweep(t: Targets, data: Dataset, truth: Truth, rounds: int) -> list[Row]:
    rows = []
    for ef in EF_SWEEP:
        _set_ef(t.raw_conn, ef)
        timings = M.measure(
            {"ours": M.ours(t.ours, ef_search=ef), "raw": M.raw(t.raw_conn, t.table), "vecs": M.vecs045(t.vecs, ef_search=ef)},
            data.queries,
            rounds,
            groups=[["ours", "raw"], ["vecs"]],
        )
        scored = _score(timings, truth, setting=str(ef))
        rows += scored
        log("  ef_search %3d: " % ef + "  ".join(f"{r.method} {r.p50:.3f} ms / {r.recall:.3f}" for r in scored))
    _set_ef(t.raw_conn, default_ef())
    return rows


@dataclass
class FilterCase:
    label: str
    filters: dict
    matching: int
    share: float
    rows: list[Row]


def filtered(t: Targets, data: Dataset, truth: Truth, rounds: int) -> list[FilterCase]:
    """Each section filter: ours, the raw filtered statement (planner's choice, prepared, the same
    ef_search, no iterative scan), the raw exact statement, and vecs at its defaults."""
    _set_ef(t.raw_conn, default_ef())
    cases = []
    for label, filters in FILTERS:
        mask = data.matches(filters)
        timings = M.measure(
            {
                "ours": M.ours(t.ours, filters),
                "raw": M.raw(t.raw_conn, t.table, filters),
                "raw_exact": M.raw(t.raw_conn, t.table, filters, exact=True),
                "vecs": M.vecs045(t.vecs, filters),
            },
            data.queries,
            rounds,
            groups=[["ours", "raw", "raw_exact"], ["vecs"]],
        )
        case = FilterCase(label, filters, int(mask.sum()), float(mask.mean()), _score(timings, truth, mask, label))
        cases.append(case)
        log(f"  {label:22} {case.share:6.2%}  " + "  ".join(
            f"{r.method} {r.p50:.2f} ms {r.complete:.2f}/{r.recall:.2f}" for r in case.rows))  # fmt: skip
    return cases
