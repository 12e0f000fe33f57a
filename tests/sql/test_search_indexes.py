"""Metadata indexes, filtered vector indexes and how query decides (issue 11), as a psql user calls them.

- create_metadata_index(collection, VARIADIC key): a btree index on the compiler's expressions for a
  key path, which range filters then use and from whose statistics query estimates them;
- create_index(..., filters => {...}): a filtered (partial) vector index that a query whose filter
  has those tests uses, with unfiltered-like recall on the subset;
- query decides between exact search and the index from estimates (planner statistics, else a
  sample), never by counting the matches; a wrong estimate costs time, never completeness.
"""

from __future__ import annotations

import math
import uuid

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

import vecs_sqlgen
from vecs_sqlgen import exc
from vecs_sqlgen.render import DEFAULTS

from .helpers import query_reports, raises
from .packaging import as_role, scratch  # noqa: F401 - fixtures

N = 3000
DIM = 8


def vec(x) -> str:
    return "[" + ",".join(f"{v:.6f}" for v in x) + "]"


@pytest.fixture
def docs(conn):
    """3,000 × 8 vectors with an HNSW index: n = i, g = i % 10 ("py" for g = 0), info.lang en/de."""
    name = f"search {uuid.uuid4().hex[:8]}"
    rng = np.random.default_rng(11)
    X = rng.standard_normal((N, DIM)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    metas = [{"n": i, "g": i % 10, "s": "py" if i % 10 == 0 else "other", "info": {"lang": "en" if i % 2 else "de"}}
             for i in range(N)]
    conn.execute("select vecs.create_collection(%s, %s)", (name, DIM))
    conn.execute("select vecs.upsert(%s, %s)", (name, Jsonb([[f"r{i}", X[i].tolist(), metas[i]] for i in range(N)])))
    conn.execute("select vecs.create_index(%s)", (name,))
    conn.execute(sql.SQL("analyze {}").format(sql.Identifier("vecs", name)))
    yield name, X, metas
    conn.execute("select vecs.drop_collection(%s)", (name,))


def exact_ids(X, metas, q, k, keep) -> list[str]:
    idx = [i for i in range(len(metas)) if keep(metas[i])]
    d = 1 - X[idx] @ (q / np.linalg.norm(q))
    order = np.lexsort((np.array([f"r{i}" for i in idx]), d))[:k]
    return [f"r{idx[j]}" for j in order]


def index_scans(conn, index: str) -> int:
    """Scans of ``index`` in the current transaction."""
    return conn.execute("select pg_stat_get_xact_numscans(%s::regclass)", (f'vecs."{index}"',)).fetchone()[0]


def query_ids(conn, name, q, k, filters) -> list[str]:
    return [r[0] for r in conn.execute("select id from vecs.query(%s, %s, k => %s, filters => %s)",
                                       (name, vec(q), k, Jsonb(filters)))]


# ----------------------------------------------------------------------------- metadata indexes


def test_create_metadata_index_and_list_it(conn, docs):
    name, _, _ = docs
    ix = conn.execute("select vecs.create_metadata_index(%s, 'n')", (name,)).fetchone()[0]
    assert ix.startswith("ix_meta_btree_n_")
    assert conn.execute("select vecs.create_metadata_index(%s, 'n')", (name,)).fetchone()[0] == ix  # kept as it is
    nested = conn.execute("select vecs.create_metadata_index(%s, 'info', 'lang')", (name,)).fetchone()[0]
    assert nested.startswith("ix_meta_btree_info_lang_")
    rows = conn.execute("select index_name, kind, method, key from vecs.list_indexes(%s) where method = 'btree' and kind = 'metadata'",
                        (name,)).fetchall()
    assert sorted(rows) == sorted([(ix, "metadata", "btree", ["n"]), (nested, "metadata", "btree", ["info", "lang"])])
    odd = conn.execute("""select vecs.create_metadata_index(%s, 'Ünï "code"; drop', '')""", (name,)).fetchone()[0]
    assert odd.startswith("ix_meta_btree_n_code_drop_")
    assert conn.execute("select vecs.drop_metadata_index(%s, 'n')", (name,)).fetchone()[0] is True
    assert conn.execute("select vecs.drop_metadata_index(%s, 'n')", (name,)).fetchone()[0] is False
    assert ix not in [r[0] for r in conn.execute("select index_name from vecs.list_indexes(%s)", (name,))]


@pytest.mark.parametrize("call", [
    "select vecs.create_metadata_index(%s, variadic '{}'::text[])",
    "select vecs.create_metadata_index(%s, variadic array[null]::text[])",
    "select vecs.create_metadata_index(%s, variadic array_fill('k'::text, array[33]))",
])
def test_create_metadata_index_bad_key(conn, docs, call):
    with raises("VX001", match="key must be 1 to 32 non-NULL keys"):
        conn.execute(call, (docs[0],))


def test_metadata_index_answers_and_estimates_range_filters(conn, docs):
    """With the index, a selective range filter is estimated by the planner (no sample) and its
    exact search reads the matches through the index; without it, a sample estimates it."""
    name, X, metas = docs
    q = np.random.default_rng(1).standard_normal(DIM).astype(np.float32)
    flt = {"n": {"$gte": 2900}}
    want = exact_ids(X, metas, q, 10, lambda m: m["n"] >= 2900)
    conn.execute("set vecs.exact_search_threshold = 1000")
    with query_reports(conn) as seen:
        assert query_ids(conn, name, q, 10, flt) == want
    assert seen[0].startswith("exact search (sample: "), seen
    ix = conn.execute("select vecs.create_metadata_index(%s, 'n')", (name,)).fetchone()[0]
    with conn.transaction():
        before = index_scans(conn, ix)
        with query_reports(conn) as seen:
            assert query_ids(conn, name, q, 10, flt) == want
        assert index_scans(conn, ix) > before
    assert seen[0].startswith("exact search (estimate: "), seen
    estimate = int(seen[0].split("estimate: ")[1].split(" ")[0])
    assert 50 <= estimate <= 200, seen  # 100 match
    conn.execute("reset vecs.exact_search_threshold")


def test_metadata_index_needs_ownership(dsn, conn, docs, scratch):
    other = scratch.role("vecs_meta")
    conn.execute(sql.SQL("grant usage on schema vecs to {}").format(sql.Identifier(other)))
    conn.execute(sql.SQL("grant select, insert, update, delete on {} to {}").format(sql.Identifier("vecs", docs[0]), sql.Identifier(other)))
    try:
        with psycopg.connect(as_role(dsn, other), autocommit=True) as c:
            with raises("42501", match="must be owner of table"):
                c.execute("select vecs.create_metadata_index(%s, 'n')", (docs[0],))
    finally:  # its grants live in this database, which may not be the one scratch cleans
        conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(other)))


# ----------------------------------------------------------------------------- filtered vector indexes


def test_filtered_index_is_used_by_queries_whose_filter_has_its_tests(conn, docs):
    name, X, metas = docs
    full = conn.execute("select index_name from vecs.list_collections() where name = %s", (name,)).fetchone()[0]
    ix = conn.execute("""select vecs.create_index(%s, filters => '{"s": "py"}')""", (name,)).fetchone()[0]
    assert ix.startswith("ix_filtered_vector_cosine_ops_hnsw_m16_efc64_")
    # the collection's own index is unchanged, and vecs would not take the filtered one for it
    assert conn.execute("select index_name from vecs.list_collections() where name = %s", (name,)).fetchone()[0] == full
    assert conn.execute("select kind, filters from vecs.list_indexes(%s) where index_name = %s", (name, ix)).fetchone() == (
        "filtered vector", {"s": "py"})
    conn.execute(sql.SQL("analyze {}").format(sql.Identifier("vecs", name)))
    rng = np.random.default_rng(3)
    conn.execute("set vecs.exact_search_threshold = 100")  # 300 rows match: an index search
    hits = 0
    for _ in range(10):
        q = rng.standard_normal(DIM).astype(np.float32)
        for flt, keep in (({"s": "py"}, lambda m: m["s"] == "py"),
                          ({"s": "py", "n": {"$lt": 1500}}, lambda m: m["s"] == "py" and m["n"] < 1500)):
            with conn.transaction():
                # at 3,000 rows the planner would rather sort the GIN index's 300 matches (an
                # exact search); on a collection of a size that needs the index it walks it
                conn.execute("set local enable_bitmapscan = off")
                conn.execute("set local enable_seqscan = off")
                before = index_scans(conn, ix)
                with query_reports(conn) as seen:
                    got = query_ids(conn, name, q, 10, flt)
                assert index_scans(conn, ix) > before, flt
            assert seen[0].startswith("index search (filtered index: "), seen
            want = exact_ids(X, metas, q, 10, keep)
            assert len(got) == 10
            hits += len(set(got) & set(want))
    assert hits / 200 >= 0.95  # the subset's own graph: unfiltered-like recall
    # a filter without those tests does not use it
    with conn.transaction():
        before = index_scans(conn, ix)
        query_ids(conn, name, rng.standard_normal(DIM), 10, {"g": {"$in": [1, 2, 3, 4, 5]}})
        assert index_scans(conn, ix) == before
    conn.execute("reset vecs.exact_search_threshold")


def test_filtered_index_replace_and_refusals(conn, docs):
    name = docs[0]
    first = conn.execute("""select vecs.create_index(%s, filters => '{"s": "py"}')""", (name,)).fetchone()[0]
    other = conn.execute("""select vecs.create_index(%s, filters => '{"g": 3, "info": {"lang": "en"}}')""", (name,)).fetchone()[0]
    with raises("VX008"):
        conn.execute("""select vecs.create_index(%s, filters => '{"s": "py"}', replace => false)""", (name,))
    again = conn.execute("""select vecs.create_index(%s, filters => '{"s": {"$eq": "py"}}')""", (name,)).fetchone()[0]
    filtered = [r[0] for r in conn.execute("select index_name from vecs.list_indexes(%s) where kind = 'filtered vector'", (name,))]
    assert sorted(filtered) == sorted([again, other]) and first not in filtered
    for bad in ({"n": {"$gt": 3}}, {"$or": [{"s": "py"}, {"g": 1}]}, {"s": {"$ne": "py"}}, {}):
        with raises("VX001", match="a filtered index takes a filter of equality tests on scalars"):
            conn.execute("select vecs.create_index(%s, filters => %s)", (name, Jsonb(bad)))
    with raises("VX002"):
        conn.execute("""select vecs.create_index(%s, filters => '{"s": {"$bogus": 1}}')""", (name,))


# ----------------------------------------------------------------------------- how query decides


def test_no_count_and_a_wrong_estimate_costs_only_time(conn, docs):
    """Statistics that say a value is everywhere when it is nowhere near (stale after an update):
    query takes the index path on the estimate, the index scan stops short, the exact fallback
    makes the result complete. The table is never counted."""
    name, X, metas = docs
    table = sql.Identifier("vecs", name)
    conn.execute(sql.SQL("alter table {} set (autovacuum_enabled = false)").format(table))
    conn.execute(sql.SQL("update {} set metadata = metadata || '{{\"s\": \"py\"}}'").format(table))
    conn.execute(sql.SQL("analyze {}").format(table))
    conn.execute(sql.SQL("update {} set metadata = metadata || jsonb_build_object('s', case when (metadata ->> 'n')::int < 5 then 'py' else 'other' end)").format(table))
    q = np.random.default_rng(4).standard_normal(DIM).astype(np.float32)
    conn.execute("set vecs.exact_search_threshold = 100")
    with query_reports(conn) as seen:
        got = query_ids(conn, name, q, 10, {"s": "py"})
    assert seen[0].startswith("index search (estimate: "), seen
    assert sorted(got) == [f"r{i}" for i in range(5)]  # complete: all 5 that match
    conn.execute("reset vecs.exact_search_threshold")
    conn.execute(sql.SQL("alter table {} reset (autovacuum_enabled)").format(table))


def test_exact_search_share_decides_for_filters_an_index_answers(conn, docs):
    """Where an index answers the filter (containment: the GIN index), exact search covers up to
    vecs.exact_search_share of the collection even above the row threshold; a filter a sample
    estimates never gets the share (its exact search would read the whole table)."""
    name, X, metas = docs
    q = np.random.default_rng(5).standard_normal(DIM).astype(np.float32)
    three = {"g": {"$in": [1, 2, 3]}}  # 30 % of the rows
    conn.execute("set vecs.exact_search_threshold = 100")  # below every estimate here
    try:
        for share, path in (("0.5", "exact"), ("0.2", "index"), (None, "index")):
            conn.execute("select set_config('vecs.exact_search_share', %s, false)", (share or "",))
            with query_reports(conn) as seen:
                got = query_ids(conn, name, q, 10, three)
            assert seen[0].startswith(f"{path} search (estimate: "), (share, seen)
            assert got == exact_ids(X, metas, q, 10, lambda m: m["g"] in (1, 2, 3))
        conn.execute("set vecs.exact_search_share = 0.9")
        with query_reports(conn) as seen:
            query_ids(conn, name, q, 10, {"n": {"$gte": 600}})  # 80 %, estimated by a sample
        assert seen[0].startswith("index search (first sample: "), seen
    finally:
        conn.execute("reset vecs.exact_search_threshold")
        conn.execute("reset vecs.exact_search_share")


def test_a_small_sample_decides_a_filter_far_above_the_threshold(conn, docs):
    """A filter no statistics answer is estimated from a sample: first ~100 rows, and the full
    ~2,000 only when the small one does not put it beyond 3 x the threshold."""
    name, X, metas = docs
    q = np.random.default_rng(6).standard_normal(DIM).astype(np.float32)
    conn.execute("set vecs.exact_search_threshold = 100")
    try:
        for filters, how, keep in (({"n": {"$gte": 600}}, "index search (first sample: ", lambda m: m["n"] >= 600),  # 80 %
                                   ({"n": {"$lt": 200}}, "index search (sample: ", lambda m: m["n"] < 200),  # 200 rows: < 3 x 100
                                   ({"n": {"$lt": 50}}, "exact search (sample: ", lambda m: m["n"] < 50)):  # fmt: skip
            with query_reports(conn) as seen:
                got = query_ids(conn, name, q, 10, filters)
            assert seen[0].startswith(how), (filters, seen)
            assert len(got) == 10 and all(keep(metas[int(i[1:])]) for i in got)
    finally:
        conn.execute("reset vecs.exact_search_threshold")


def test_a_broad_filter_searches_the_index_as_wide_as_no_filter(conn, docs):
    """hnsw.ef_search grows with the rows searched, with a broad filter the iterative scan applies
    as without one (its nearest matches are among the nearest rows: at 1M rows, ef 400 gave recall
    0.983-0.985 on broad filters). The planner is told the table holds 400 x its rows (inside a
    transaction that is rolled back), so the width passes 400; the filters match 80 and 90 %."""
    name, X, metas = docs
    q = np.random.default_rng(8).standard_normal(DIM).astype(np.float32)
    with conn.transaction():
        conn.execute("update pg_class set reltuples = reltuples * 400 where oid = %s::regclass", (f'vecs."{name}"',))
        tuples, relpages, pages = conn.execute(
            "select reltuples, relpages, pg_relation_size(oid) / current_setting('block_size')::int from pg_class where oid = %s::regclass",
            (f'vecs."{name}"',)).fetchone()  # fmt: skip
        ef = min(1000, math.ceil(DEFAULTS["ef_search"] * tuples / relpages * pages / DEFAULTS["ef_search_rows"]))
        assert 400 < ef < 1000, ef
        for filters in ({}, {"n": {"$gte": 600}}, {"s": "other"}):  # none; by a sample; by the planner
            with query_reports(conn) as seen:
                got = query_ids(conn, name, q, 10, filters)
            assert seen[-1] == f"index search, hnsw.ef_search {ef}", (filters, seen)
            assert len(got) == 10
        raise psycopg.Rollback()


def test_a_narrower_filter_searches_deeper(conn, docs):
    """A filter matching a share s of the rows has its k nearest matches about k / s rows deep in
    the index's order: the width is at least ef_search_per_depth x k / s (10 % and k = 10: 400, k = 20:
    800, against 240 for the rows), from the estimate the call reports (the planner's, the first
    sample's). The table is told it holds 100 x its rows and the threshold is 1,000 rows (rolled
    back), so that 10 % of it is an index search; a broad filter keeps the rows' width (above)."""
    name, X, metas = docs
    q = np.random.default_rng(10).standard_normal(DIM).astype(np.float32)
    per, rows_per, depth = DEFAULTS["ef_search"], DEFAULTS["ef_search_rows"], DEFAULTS["ef_search_per_depth"]
    with conn.transaction():
        conn.execute("update pg_class set reltuples = reltuples * 100 where oid = %s::regclass", (f'vecs."{name}"',))
        conn.execute("set local vecs.exact_search_threshold = 1000")
        with query_reports(conn) as seen:
            query_ids(conn, name, q, 10, {})
        unfiltered = int(seen[-1].rsplit(" ", 1)[1])
        for filters, k, how in (({"g": 3}, 10, "estimate"), ({"n": {"$lt": 300}}, 10, "first sample"), ({"g": 3}, 20, "estimate")):
            with query_reports(conn) as seen:
                got = query_ids(conn, name, q, k, filters)
            head = f"index search ({how}: "
            assert seen[0].startswith(head), (filters, seen)
            est, rows = (float(x) for x in seen[0][len(head):].split(" rows match")[0].split(" of "))
            assert 0.07 < est / rows < 0.13, seen
            want = min(1000, max(math.ceil(per * rows / rows_per), math.ceil(depth * k * rows / est)))
            ef = int(seen[-1].rsplit(" ", 1)[1])
            assert abs(ef - want) <= 1, (filters, k, seen, want)  # (the report rounds the estimate)
            assert ef >= (1.5 if k == 10 else 3) * unfiltered, (ef, unfiltered)
            assert len(got) == k
        raise psycopg.Rollback()


def test_statistics_gone_wrong_cost_no_error(conn, docs):
    """The sample's tids stay within a page's slots whatever reltuples says (here 100,000 rows a
    page, inside a rolled-back transaction): the query is answered, complete."""
    name, X, metas = docs
    q = np.random.default_rng(9).standard_normal(DIM).astype(np.float32)
    with conn.transaction():
        conn.execute("update pg_class set reltuples = relpages * 100000.0 where oid = %s::regclass", (f'vecs."{name}"',))
        with query_reports(conn) as seen:
            got = query_ids(conn, name, q, 10, {"n": {"$gte": 600}})
        assert seen[0].startswith("index search (first sample: "), seen
        assert len(got) == 10 and all(metas[int(i[1:])]["n"] >= 600 for i in got)
        raise psycopg.Rollback()


def test_the_first_sample_does_not_decide_on_the_matches_of_one_page(conn):
    """Rows stored in the order of a key (ids r00000.. in insertion order: upsert writes in id
    order) put a filter on that key's first values on the one sampled page that holds them: the
    small sample then guesses far above the threshold, and the full sample decides instead."""
    name = f"ordered {uuid.uuid4().hex[:8]}"
    rng = np.random.default_rng(12)
    X = rng.standard_normal((N, DIM)).astype(np.float32)
    conn.execute("select vecs.create_collection(%s, %s)", (name, DIM))
    try:
        conn.execute("select vecs.upsert(%s, %s)", (name, Jsonb([[f"r{i:05d}", X[i].tolist(), {"n": i}] for i in range(N)])))
        conn.execute("select vecs.create_index(%s)", (name,))
        conn.execute(sql.SQL("analyze {}").format(sql.Identifier("vecs", name)))
        first, pages = conn.execute(sql.SQL("select min((ctid::text::point)[0]), count(distinct (ctid::text::point)[0]) "
                                            "from {} where (metadata ->> 'n')::int < 300")
                                    .format(sql.Identifier("vecs", name))).fetchone()  # fmt: skip
        assert first == 0 and pages < DEFAULTS["estimate_first_sample_hit_pages"] * 3, pages  # the first pages only
        conn.execute("set vecs.exact_search_threshold = 50")
        with query_reports(conn) as seen:
            got = query_ids(conn, name, X[0], 10, {"n": {"$lt": 300}})
        assert seen[0].startswith("index search (sample: "), seen
        assert len(got) == 10 and all(int(i[1:]) < 300 for i in got)
    finally:
        conn.execute("reset vecs.exact_search_threshold")
        conn.execute("select vecs.drop_collection(%s)", (name,))


def sample_estimate(conn, name: str, test: str, size: int = DEFAULTS["estimate_first_sample_rows"]) -> int:
    """What the first sample of vecs.query estimates for ``test`` (SQL over t.metadata), from the
    same tids (m.sample_tids): the pages at a golden-ratio sequence (at least a minimum), slots up to
    2 x the average + 2."""
    table = sql.Identifier("vecs", name)
    tuples, relpages, pages, block = conn.execute(
        "select reltuples, relpages, pg_relation_size(oid) / current_setting('block_size')::int, current_setting('block_size')::int"
        " from pg_class where oid = %s::regclass", (f'vecs."{name}"',)).fetchone()  # fmt: skip
    per_page = tuples / relpages
    phi = 0.6180339887498949  # float8 arithmetic, as the macro's
    n = min(pages, max(DEFAULTS["estimate_first_sample_pages"], math.ceil(size / per_page)))
    blocks = [int(pages * (p * phi - math.floor(p * phi))) for p in range(1, n + 1)]
    slots = min(math.ceil(2 * per_page) + 2, block // 28)  # at most a page's rows
    tids = [f"({b},{o})" for b in blocks for o in range(1, slots + 1)]
    hits, sampled = conn.execute(sql.SQL("select count(*) filter (where {}), count(*) from {} as t where t.ctid = any(%s::tid[])")
                                 .format(sql.SQL(test), table), (tids,)).fetchone()  # fmt: skip
    return round(hits / sampled * per_page * pages)


def test_the_first_sample_reads_fixed_pages_by_tid(conn, docs):
    """The small sample is a fixed set of pages (m.sample_tids, read by tid): its estimate is the
    one computed here from the same tids, the same on every call, near the true share. n < 1500
    is the first half of the table's pages, so another choice of pages or slots estimates another
    share."""
    name, X, metas = docs
    q = np.random.default_rng(7).standard_normal(DIM).astype(np.float32)
    conn.execute("set vecs.exact_search_threshold = 100")
    try:
        for filters, test, share in (({"n": {"$lt": 1500}}, "(t.metadata ->> 'n')::int < 1500", 0.5),
                                     ({"g": {"$ne": 0}}, "(t.metadata ->> 'g')::int <> 0", 0.9)):  # fmt: skip
            want = sample_estimate(conn, name, test)
            for _ in range(2):
                with query_reports(conn) as seen:
                    got = query_ids(conn, name, q, 10, filters)
                assert seen[0] == f"index search (first sample: {want} of {N} rows match, threshold 100)", (seen, want)
                assert len(got) == 10
            assert abs(want - share * N) <= 0.2 * N, (filters, want)
    finally:
        conn.execute("reset vecs.exact_search_threshold")


def test_python_api(dsn, docs):
    name, X, metas = docs
    with vecs_sqlgen.create_client(dsn) as vx:
        coll = vx.get_or_create_collection(name, dimension=DIM)
        ix = coll.create_metadata_index("info", "lang")
        assert ix.startswith("ix_meta_btree_info_lang_")
        coll.create_index(filters={"s": "py"})
        coll.create_index(filters="s = 'other' and g = 3")  # the SQL-string form too
        kinds = sorted((i["kind"], str(i["key"] or i["filters"])) for i in coll.list_indexes() if i["kind"] != "id")
        assert ("filtered vector", "{'s': 'py'}") in kinds and ("metadata", "['info', 'lang']") in kinds
        assert ("filtered vector", "{'$and': [{'s': {'$eq': 'other'}}, {'g': {'$eq': 3}}]}") in kinds or any(
            k == "filtered vector" and "other" in f for k, f in kinds)
        assert coll.index.startswith("ix_vector_cosine_ops_hnsw")
        assert coll.drop_metadata_index("info", "lang") is True
        with pytest.raises(exc.ArgError, match="key must be 1 to 32"):
            coll.create_metadata_index()
        with pytest.raises(exc.ArgError):
            coll.create_index(filters={"n": {"$gt": 1}})
        q = X[7] + 0.01
        assert coll.query(data=q, limit=3, filters={"s": "py"})
