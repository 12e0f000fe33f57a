"""vecs.query from SQL: ordering per measure (checked against numpy), flags, argument checks and
completeness of filtered searches through HNSW and IVFFlat indexes (issue 2)."""

from __future__ import annotations


import uuid

import numpy as np
import psycopg
import pytest
from psycopg.types.json import Jsonb

from .helpers import parse_vec, query_reports, raises, vec

MEASURES = ["cosine_distance", "l2_distance", "max_inner_product", "l1_distance"]
NEEDS = {"l1_distance": "0.7.0"}  # pgvector version that brings the measure's operator


def np_distances(X: np.ndarray, q: np.ndarray, measure: str) -> np.ndarray:
    X = X.astype(np.float64)
    q = q.astype(np.float64)
    if measure == "cosine_distance":
        return 1.0 - (X @ q) / (np.linalg.norm(X, axis=1) * np.linalg.norm(q))
    if measure == "l2_distance":
        return np.sqrt(((X - q) ** 2).sum(axis=1))
    if measure == "max_inner_product":
        return -(X @ q)
    if measure == "l1_distance":
        return np.abs(X - q).sum(axis=1)
    raise ValueError(measure)


def load(conn, name: str, X: np.ndarray, metas: list[dict] | None = None) -> None:
    """Upsert rows r0…rN through the array form (vectors as pgvector text, float32 exactly)."""
    ids = [f"r{i}" for i in range(len(X))]
    vecs_ = [vec(float(x) for x in row) for row in X]
    metas = metas if metas is not None else [{} for _ in ids]
    for start in range(0, len(ids), 1000):
        sl = slice(start, start + 1000)
        conn.execute(
            "select vecs.upsert(%s, %s::text[], %s::vector[], %s::jsonb[])",
            (name, ids[sl], vecs_[sl], [Jsonb(m) for m in metas[sl]]),
        )


def measure_param(measure: str):
    marks = [pytest.mark.pgvector(NEEDS[measure])] if measure in NEEDS else []
    return pytest.param(measure, marks=marks, id=measure)


@pytest.fixture(scope="module")
def mconn(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        yield c


@pytest.fixture(scope="module")
def exact_data(mconn):
    """500 × 8 random float32 vectors in a collection without a vector index."""
    rng = np.random.default_rng(20240501)
    X = rng.standard_normal((500, 8)).astype(np.float32)
    name = f"q exact {uuid.uuid4().hex[:6]}"
    mconn.execute("select vecs.create_collection(%s, 8)", (name,))
    load(mconn, name, X, [{"i": i, "even": i % 2 == 0} for i in range(len(X))])
    yield name, X
    mconn.execute("select vecs.drop_collection(%s)", (name,))


N_BIG = 2000
RARE = [17, 1234, 1999]


def big_metas(n: int) -> list[dict]:
    return [{"i": i, "g": i % 10, "rare": i in RARE} for i in range(n)]


@pytest.fixture(scope="module")
def big(mconn):
    """2000 × 8 vectors with an HNSW (cosine) index; g = i % 10, three records with rare = true."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((N_BIG, 8)).astype(np.float32)
    name = f"q big {uuid.uuid4().hex[:6]}"
    mconn.execute("select vecs.create_collection(%s, 8)", (name,))
    load(mconn, name, X, big_metas(N_BIG))
    index = mconn.execute("select vecs.create_index(%s, 'cosine_distance', 'hnsw')", (name,)).fetchone()[0]
    mconn.execute(f'analyze vecs."{name}"')
    yield name, X, index
    mconn.execute("select vecs.drop_collection(%s)", (name,))


def run_query(conn, name, q, **kw):
    args = ", ".join(f"{k} => %({k})s" for k in kw)
    sql = f"select id, distance, metadata, vec::text from vecs.query(%(c)s, %(q)s{', ' + args if args else ''})"
    return conn.execute(sql, {"c": name, "q": vec(q), **kw}).fetchall()


def exact_top(X, q, measure, k, mask=None):
    d = np_distances(X, q, measure)
    idx = np.arange(len(X)) if mask is None else np.flatnonzero(mask)
    order = idx[np.argsort(d[idx], kind="stable")][:k]
    return [f"r{i}" for i in order], d[order]


# ----------------------------------------------------------------------------- ordering and distances


@pytest.mark.parametrize("measure", [measure_param(m) for m in MEASURES])
def test_exact_ordering_matches_numpy(mconn, exact_data, measure):
    name, X = exact_data
    rng = np.random.default_rng(99)
    for q in rng.standard_normal((3, 8)).astype(np.float32):
        for k in (1, 10, 137):
            got = run_query(mconn, name, q, k=k, measure=measure, include_value=True)
            want_ids, want_d = exact_top(X, q, measure, k)
            assert [r[0] for r in got] == want_ids
            np.testing.assert_allclose([r[1] for r in got], want_d, rtol=1e-5, atol=1e-5)
            assert [r[1] for r in got] == sorted(r[1] for r in got)


@pytest.mark.parametrize("measure", [measure_param(m) for m in MEASURES])
def test_filtered_ordering_matches_numpy(mconn, exact_data, measure):
    name, X = exact_data
    q = np.random.default_rng(5).standard_normal(8).astype(np.float32)
    mask = np.arange(len(X)) % 2 == 0
    got = run_query(mconn, name, q, k=25, measure=measure, include_value=True, filters=Jsonb({"even": True}))
    want_ids, want_d = exact_top(X, q, measure, 25, mask)
    assert [r[0] for r in got] == want_ids
    np.testing.assert_allclose([r[1] for r in got], want_d, rtol=1e-5, atol=1e-5)


def test_max_inner_product_is_negative_inner_product(conn, collection):
    conn.execute("select vecs.upsert(%s, '[[\"a\", [1, 2, 3]], [\"b\", [-1, 0, 0]], [\"c\", [0, 0, 0]]]')", (collection,))
    got = conn.execute(
        "select id, distance from vecs.query(%s, '[1, 1, 1]', measure => 'max_inner_product', include_value => true)",
        (collection,),
    ).fetchall()
    assert got == [("a", -6.0), ("c", 0.0), ("b", 1.0)]


def test_l2_and_cosine_exact_values(conn, collection):
    conn.execute("select vecs.upsert(%s, '[[\"a\", [3, 4, 0]], [\"b\", [0, 0, 1]]]')", (collection,))
    got = conn.execute(
        "select id, distance from vecs.query(%s, '[0, 0, 0]', measure => 'l2_distance', include_value => true)",
        (collection,),
    ).fetchall()
    assert got == [("b", 1.0), ("a", 5.0)]
    got = conn.execute(
        "select id, distance from vecs.query(%s, '[0, 0, 2]', include_value => true)", (collection,)
    ).fetchall()
    assert got == [("b", 0.0), ("a", 1.0)]


@pytest.mark.pgvector("0.7.0")
def test_l1_exact_values(conn, collection):
    conn.execute("select vecs.upsert(%s, '[[\"a\", [3, 4, 0]], [\"b\", [0, 0, 1]]]')", (collection,))
    got = conn.execute(
        "select id, distance from vecs.query(%s, '[0, 0, 0]', measure => 'l1_distance', include_value => true)",
        (collection,),
    ).fetchall()
    assert got == [("b", 1.0), ("a", 7.0)]


def test_l1_on_old_pgvector_is_vx007(conn, collection, pgvector_version):
    if pgvector_version >= (0, 7, 0):
        pytest.skip("this server's pgvector has l1_distance (tested by the rendered-for-0.6.2 variant below)")
    with raises("VX007", match=r"l1_distance needs pgvector 0\.7"):
        conn.execute("select * from vecs.query(%s, '[1,2,3]', measure => 'l1_distance')", (collection,))


def test_l1_rendered_for_pgvector_062_is_vx007(conn, legacy_schema):
    schema = legacy_schema("0.6.2")
    conn.execute(f"select {schema}.create_collection('c', 3)")
    conn.execute(f"select {schema}.upsert('c', '[[\"a\", [1,2,3]]]')")
    with raises("VX007", "l1_distance needs pgvector 0.7 or later (this install found 0.6.2)"):
        conn.execute(f"select * from {schema}.query('c', '[1,2,3]', measure => 'l1_distance')")
    # the other measures work
    assert conn.execute(f"select id from {schema}.query('c', '[1,2,3]', measure => 'l2_distance')").fetchall() == [("a",)]


# ----------------------------------------------------------------------------- result columns


@pytest.mark.parametrize("value", [False, True])
@pytest.mark.parametrize("metadata", [False, True])
@pytest.mark.parametrize("vector", [False, True])
def test_include_flags(conn, collection, value, metadata, vector):
    conn.execute("select vecs.upsert(%s, '[[\"a\", [1, 0, 0], {\"k\": 1}], [\"b\", [0, 1, 0], {\"k\": 2}]]')", (collection,))
    cur = conn.execute(
        "select * from vecs.query(%s, '[1, 0, 0]', include_value => %s, include_metadata => %s, include_vector => %s)",
        (collection, value, metadata, vector),
    )
    assert [d.name for d in cur.description] == ["id", "distance", "metadata", "vec"]
    got = cur.fetchall()
    assert [r[0] for r in got] == ["a", "b"]
    assert [r[1] for r in got] == ([0.0, 1.0] if value else [None, None])
    assert [r[2] for r in got] == ([{"k": 1}, {"k": 2}] if metadata else [None, None])
    assert [parse_vec(r[3]) if r[3] is not None else None for r in got] == (
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]] if vector else [None, None]
    )


def test_defaults_return_ids_only(conn, collection):
    conn.execute("select vecs.upsert(%s, '[[\"a\", [1, 0, 0], {\"k\": 1}]]')", (collection,))
    assert conn.execute("select * from vecs.query(%s, '[1,0,0]')", (collection,)).fetchall() == [("a", None, None, None)]


def test_result_column_types(conn, collection):
    cur = conn.execute("select * from vecs.query(%s, '[1,0,0]')", (collection,))
    types = [d.type_code for d in cur.description]
    assert types[:3] == [conn.adapters.types[t].oid for t in ("text", "float8", "jsonb")]
    assert conn.execute("select format_type(%s, null)", (types[3],)).fetchone()[0].rsplit(".", 1)[-1] == "vector"


def test_named_notation_in_any_order(conn, collection):
    conn.execute("select vecs.upsert(%s, '[[\"a\", [1, 0, 0], {\"k\": 1}], [\"b\", [0, 1, 0], {\"k\": 2}]]')", (collection,))
    got = conn.execute(
        """select id, distance from vecs.query(include_value => true, filters => '{"k": {"$gt": 1}}',
               k => 5, query_vector => '[1,0,0]', collection => %s, measure => 'l2_distance')""",
        (collection,),
    ).fetchall()
    assert got == [("b", pytest.approx(2**0.5))]


# ----------------------------------------------------------------------------- argument checks


def test_k_bounds(conn, make_collection):
    name = make_collection(2)
    conn.execute(
        "select vecs.upsert(%s, (select jsonb_agg(jsonb_build_array('r' || i, jsonb_build_array(i, 1))) from generate_series(1, 1100) i))",
        (name,),
    )
    assert len(conn.execute("select * from vecs.query(%s, '[1,1]', k => 1)", (name,)).fetchall()) == 1
    assert len(conn.execute("select * from vecs.query(%s, '[1,1]', k => 1000)", (name,)).fetchall()) == 1000
    assert len(conn.execute("select * from vecs.query(%s, '[1,1]')", (name,)).fetchall()) == 10  # default k
    for k in (0, -1, 1001, 2**31 - 1):
        with raises("VX001", f"k must be between 1 and 1000, got {k}"):
            conn.execute("select * from vecs.query(%s, '[1,1]', k => %s)", (name, k))
    with raises("VX001", "k must be between 1 and 1000, got NULL"):
        conn.execute("select * from vecs.query(%s, '[1,1]', k => null)", (name,))


def test_k_larger_than_table_returns_all_rows(conn, collection):
    conn.execute("select vecs.upsert(%s, '[[\"a\", [1, 0, 0]], [\"b\", [0, 1, 0]], [\"c\", [0, 0, 1]]]')", (collection,))
    assert len(conn.execute("select * from vecs.query(%s, '[1,1,1]', k => 1000)", (collection,)).fetchall()) == 3


def test_empty_collection_returns_nothing(conn, collection):
    assert conn.execute("select * from vecs.query(%s, '[1,1,1]')", (collection,)).fetchall() == []
    assert conn.execute("select * from vecs.query(%s, '[1,1,1]', filters => '{\"a\": 1}')", (collection,)).fetchall() == []


@pytest.mark.parametrize("q", ["[1,2]", "[1,2,3,4]", "[1]"])
def test_dimension_mismatch_is_vx005(conn, collection, q):
    n = len(q.split(","))
    with raises("VX005", f'query vector has {n} dimensions, collection "{collection}" has 3'):
        conn.execute("select * from vecs.query(%s, %s)", (collection, q))
    with raises("VX005"):
        conn.execute("select * from vecs.query(%s, %s, filters => '{\"a\": 1}')", (collection, q))


def test_null_query_vector_is_vx001(conn, collection):
    with raises("VX001"):
        conn.execute("select * from vecs.query(%s, null)", (collection,))


@pytest.mark.parametrize("measure", ["cosine", "euclidean", "L2_DISTANCE", "", "inner_product", None])
def test_unknown_measure_is_vx001(conn, collection, measure):
    with raises("VX001", match=r"^unknown measure"):
        conn.execute("select * from vecs.query(%s, '[1,2,3]', measure => %s)", (collection, measure))


@pytest.mark.parametrize(
    "arg,value,message",
    [
        ("probes", 0, "probes must be between 1 and 32768, got 0"),
        ("probes", -5, "probes must be between 1 and 32768, got -5"),
        ("ef_search", 0, "ef_search must be between 1 and 1000, got 0"),
        ("ef_search", 1001, "ef_search must be between 1 and 1000, got 1001"),
        ("ef_search", -1, "ef_search must be between 1 and 1000, got -1"),
    ],
)
@pytest.mark.parametrize("with_filter", [False, True])
def test_probes_ef_search_validation(conn, collection, arg, value, message, with_filter):
    conn.execute("select vecs.upsert(%s, '[[\"a\", [1, 2, 3], {\"k\": 1}]]')", (collection,))
    conn.execute("select vecs.create_index(%s)", (collection,))
    filters = "'{\"k\": 1}'" if with_filter else "null"
    with raises("VX001", message):
        conn.execute(f"select * from vecs.query(%s, '[1,2,3]', filters => {filters}, {arg} => %s)", (collection, value))


@pytest.mark.parametrize("arg,value", [("probes", 1), ("probes", 32768), ("ef_search", 1), ("ef_search", 1000)])
def test_probes_ef_search_bounds_accepted(conn, collection, arg, value):
    conn.execute("select vecs.upsert(%s, '[[\"a\", [1, 2, 3]], [\"b\", [3, 2, 1]]]')", (collection,))
    conn.execute("select vecs.create_index(%s, 'l2_distance', 'ivfflat')", (collection,))
    got = conn.execute(f"select id from vecs.query(%s, '[1,2,3]', measure => 'l2_distance', {arg} => %s)", (collection, value)).fetchall()
    assert got == [("a",), ("b",)]


@pytest.mark.parametrize("with_filter", [False, True])
def test_probes_above_maximum_is_vx001(conn, collection, with_filter):
    conn.execute("select vecs.upsert(%s, '[[\"a\", [1, 2, 3], {\"k\": 1}]]')", (collection,))
    filters = "'{\"k\": 1}'" if with_filter else "null"
    with raises("VX001", match="probes"):
        conn.execute(f"select * from vecs.query(%s, '[1,2,3]', filters => {filters}, probes => 40000)", (collection,))


# ----------------------------------------------------------------------------- completeness with indexes


def index_scans(conn, index: str) -> int:
    """Scans of ``index`` in the current transaction (so a test can show it tested the index path)."""
    return conn.execute("select pg_stat_get_xact_numscans(%s::regclass)", (f'vecs."{index}"',)).fetchone()[0]


def force_index_path(conn) -> None:
    """Inside a transaction: no exact search up front (vecs.exact_search_threshold = 0), and a planner
    that walks the vector index rather than the GIN index or the heap, so that the index can stop
    short and only the completeness logic of vecs.query makes up for it."""
    conn.execute("set local vecs.exact_search_threshold = 0")
    conn.execute("set local enable_seqscan = off")
    conn.execute("set local enable_bitmapscan = off")


def test_rare_filter_through_hnsw_is_complete(mconn, big):
    name, X, _ = big
    q = np.random.default_rng(1).standard_normal(8).astype(np.float32)
    got = run_query(mconn, name, q, k=10, filters=Jsonb({"rare": True}), include_value=True)
    mask = np.zeros(N_BIG, bool)
    mask[RARE] = True
    want_ids, want_d = exact_top(X, q, "cosine_distance", 10, mask)
    assert [r[0] for r in got] == want_ids
    assert len(got) == 3
    np.testing.assert_allclose([r[1] for r in got], want_d, rtol=1e-5, atol=1e-5)


def test_thirty_percent_filter_k50_equals_exact(mconn, big):
    name, X, _ = big
    rng = np.random.default_rng(2)
    mask = np.arange(N_BIG) % 10 < 3
    for q in rng.standard_normal((3, 8)).astype(np.float32):
        got = run_query(mconn, name, q, k=50, filters=Jsonb({"g": {"$lt": 3}}), include_value=True)
        want_ids, want_d = exact_top(X, q, "cosine_distance", 50, mask)
        assert [r[0] for r in got] == want_ids
        np.testing.assert_allclose([r[1] for r in got], want_d, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "filters,mask_fn,k",
    [
        ({"rare": True}, lambda i: np.isin(i, RARE), 10),
        ({"g": {"$lt": 3}}, lambda i: i % 10 < 3, 50),
        ({"g": 4}, lambda i: i % 10 == 4, 100),
        ({"$or": [{"i": 5}, {"i": 6}, {"g": {"$in": [7]}}]}, lambda i: (i == 5) | (i == 6) | (i % 10 == 7), 1000),
    ],
    ids=["rare", "30pct", "10pct-k100", "or-k1000"],
)
def test_index_path_is_complete(mconn, big, filters, mask_fn, k):
    """With vecs.exact_search_threshold = 0 the HNSW index is searched; the result is still complete."""
    name, X, index = big
    mask = mask_fn(np.arange(N_BIG))
    q = np.random.default_rng(3).standard_normal(8).astype(np.float32)
    with mconn.transaction():
        force_index_path(mconn)
        got = run_query(mconn, name, q, k=k, filters=Jsonb(filters), include_value=True, include_metadata=True)
        assert index_scans(mconn, index) >= 1, "the index was not used: this test would not test the index path"
    expected = min(k, int(mask.sum()))
    assert len(got) == expected
    assert all(mask[int(r[0][1:])] for r in got)  # every row matches the filter
    d = [r[1] for r in got]
    assert d == sorted(d)
    np.testing.assert_allclose(d, np_distances(X, q, "cosine_distance")[[int(r[0][1:]) for r in got]], rtol=1e-5, atol=1e-5)
    want_ids, _ = exact_top(X, q, "cosine_distance", k, mask)
    recall = len(set(want_ids) & {r[0] for r in got}) / len(want_ids)
    assert recall >= 0.8, recall


def test_estimate_picks_the_path_and_a_wrong_estimate_costs_only_time(mconn, big):
    """A containment-only filter is not counted when the planner's estimate is at most half the
    threshold: it is searched exactly, which is complete whatever the real count. Statistics that
    call g = 4 rare (ANALYZE saw none) send it to exact search; fresh ones send it to the index."""
    name, X, index = big
    table = f'vecs."{name}"'
    q = np.random.default_rng(4).standard_normal(8).astype(np.float32)
    mask = np.arange(N_BIG) % 10 == 4
    want_ids, _ = exact_top(X, q, "cosine_distance", 20, mask)
    mconn.execute(f"alter table {table} set (autovacuum_enabled = false)")  # no analyze but ours
    mconn.execute(f"update {table} set metadata = metadata || '{{\"g\": 40}}' where (metadata ->> 'g')::int = 4")
    mconn.execute(f"analyze {table}")
    mconn.execute(f"update {table} set metadata = metadata || '{{\"g\": 4}}' where (metadata ->> 'g')::int = 40")
    for stats, path in (("stale", "exact"), ("fresh", "index")):
        if stats == "fresh":
            mconn.execute(f"analyze {table}")
        with mconn.transaction():
            mconn.execute("set local vecs.exact_search_threshold = 100")  # 200 rows match: over it
            mconn.execute("set local enable_seqscan = off")  # where the statement may use the
            mconn.execute("set local enable_bitmapscan = off")  # vector index, it does
            before = index_scans(mconn, index)  # it may count scans not yet reported: take the difference
            got = run_query(mconn, name, q, k=20, filters=Jsonb({"g": 4}))
            assert (index_scans(mconn, index) > before) == (path == "index"), stats
        assert len(got) == 20
        if path == "exact":
            assert [r[0] for r in got] == want_ids
        else:
            assert len(set(want_ids) & {r[0] for r in got}) >= 16
    mconn.execute(f"alter table {table} reset (autovacuum_enabled)")


def test_a_small_table_is_searched_exactly_without_counting(mconn, big):
    """A table the planner estimates at no more than half the threshold has few matches whatever the
    filter; a larger one is estimated (here by a sample: a range test has no statistics), never
    counted: the exact search is the one scan of the table either way (the samples' Tid Scan and
    TABLESAMPLE scans are not counted; on a table this small the planner would read the first
    sample's tids by a sequential scan, hence enable_seqscan off) (issue 11)."""
    name, X, _ = big
    table = f'vecs."{name}"'
    q = np.random.default_rng(5).standard_normal(8).astype(np.float32)
    mask = np.arange(N_BIG) % 10 < 3
    want_ids, _ = exact_top(X, q, "cosine_distance", 10, mask)
    mconn.execute(f"analyze {table}")

    def scans() -> int:
        return mconn.execute("select seq_scan + coalesce(idx_scan, 0) from pg_stat_xact_user_tables where relid = %s::regclass",
                             (table,)).fetchone()[0]

    for threshold, how in ((4000, "size"), (3999, "sample: 600 of 2000 rows match")):  # 2,000 rows: at most half of 4,000
        with mconn.transaction():
            mconn.execute(f"set local vecs.exact_search_threshold = {threshold}")
            mconn.execute("set local enable_seqscan = off")
            before = scans()
            with query_reports(mconn) as path:
                got = run_query(mconn, name, q, k=10, filters=Jsonb({"g": {"$lt": 3}}))
            assert scans() - before == 1, threshold
        assert len(path) == 1 and path[0].startswith(f"exact search ({how}"), path
        assert [r[0] for r in got] == want_ids


def test_index_path_is_complete_without_iterative_scans(conn, legacy_schema):
    """Rendered for pgvector 0.6.2 (no iterative scans, as on the PostgreSQL 16 target): an HNSW scan
    with a filter returns at most ef_search candidates before filtering, so only the exact fallback
    can make the result complete."""
    schema = legacy_schema("0.6.2")
    conn.execute(f"select {schema}.create_collection('c', 8)")
    X = np.random.default_rng(8).standard_normal((N_BIG, 8)).astype(np.float32)
    metas = big_metas(N_BIG)
    conn.execute(
        f"select {schema}.upsert('c', %s::text[], %s::vector[], %s::jsonb[])",
        ([f"r{i}" for i in range(N_BIG)], [vec(x) for x in X], [Jsonb(m) for m in metas]),
    )
    index = conn.execute(f"select {schema}.create_index('c', 'cosine_distance', 'hnsw')").fetchone()[0]
    q = X[10]
    for filters, mask, k in (
        ({"rare": True}, np.isin(np.arange(N_BIG), RARE), 10),
        ({"g": {"$lt": 3}}, np.arange(N_BIG) % 10 < 3, 50),
        ({"g": 4}, np.arange(N_BIG) % 10 == 4, 300),
    ):
        with conn.transaction():
            force_index_path(conn)
            got = conn.execute(
                f"select id from {schema}.query('c', %s, k => %s, filters => %s)", (vec(q), k, Jsonb(filters))
            ).fetchall()
            scans = conn.execute("select pg_stat_get_xact_numscans(%s::regclass)", (f"{schema}.{index}",)).fetchone()[0]
            assert scans >= 1
        assert len(got) == min(k, int(mask.sum())), filters
        assert all(mask[int(r[0][1:])] for r in got)


def test_index_path_without_filter(mconn, big):
    name, X, index = big
    q = np.random.default_rng(4).standard_normal(8).astype(np.float32)
    with mconn.transaction():
        force_index_path(mconn)
        got = run_query(mconn, name, q, k=1000, include_value=True)
        assert index_scans(mconn, index) >= 1
    assert len(got) == 1000
    assert len({r[0] for r in got}) == 1000
    d = [r[1] for r in got]
    assert d == sorted(d)


def test_k_larger_than_table_with_index(conn, make_collection):
    name = make_collection(8)
    X = np.random.default_rng(11).standard_normal((40, 8)).astype(np.float32)
    load(conn, name, X, [{"g": i % 2} for i in range(40)])
    index = conn.execute("select vecs.create_index(%s)", (name,)).fetchone()[0]
    assert len(run_query(conn, name, X[0], k=1000)) == 40
    assert len(run_query(conn, name, X[0], k=1000, filters=Jsonb({"g": 1}))) == 20
    with conn.transaction():
        force_index_path(conn)
        assert len(run_query(conn, name, X[0], k=1000, filters=Jsonb({"g": 1}))) == 20
        assert len(run_query(conn, name, X[0], k=1000)) == 40
        assert index_scans(conn, index) >= 2


@pytest.mark.parametrize("measure", [measure_param(m) for m in MEASURES])
@pytest.mark.parametrize("method", ["hnsw", "ivfflat"])
def test_same_results_with_and_without_index(conn, make_collection, measure, method):
    if method == "ivfflat" and measure == "l1_distance":
        pytest.skip("ivfflat has no l1 operator class (its error is tested in test_indexes)")
    name = make_collection(8)
    X = np.random.default_rng(12).standard_normal((60, 8)).astype(np.float32)
    load(conn, name, X, [{"g": i % 3} for i in range(60)])
    queries = np.random.default_rng(13).standard_normal((3, 8)).astype(np.float32)

    def results():
        out = []
        for q in queries:
            out.append(run_query(conn, name, q, k=10, measure=measure, include_value=True))
            out.append(run_query(conn, name, q, k=5, measure=measure, include_value=True, filters=Jsonb({"g": 1})))
        return out

    before = results()  # exact: no vector index yet
    for r, q in zip(before[::2], queries):
        assert [x[0] for x in r] == exact_top(X, q, measure, 10)[0]
    # through the index (probes 30: every one of ivfflat's 30 lists, so it is exact too)
    index = conn.execute("select vecs.create_index(%s, %s, %s)", (name, measure, method)).fetchone()[0]
    with conn.transaction():
        force_index_path(conn)
        after = [
            run_query(conn, name, q, k=k, measure=measure, include_value=True, probes=30,
                      **({"filters": Jsonb({"g": 1})} if f else {}))
            for q in queries for k, f in ((10, False), (5, True))
        ]
        assert index_scans(conn, index) >= 6
    assert [[x[0] for x in r] for r in after] == [[x[0] for x in r] for r in before]
    for a, b in zip(after, before):
        np.testing.assert_allclose([x[1] for x in a], [x[1] for x in b], rtol=1e-6)


@pytest.fixture(scope="module")
def ivf(mconn):
    rng = np.random.default_rng(21)
    X = rng.standard_normal((N_BIG, 8)).astype(np.float32)
    name = f"q ivf {uuid.uuid4().hex[:6]}"
    mconn.execute("select vecs.create_collection(%s, 8)", (name,))
    load(mconn, name, X, big_metas(N_BIG))
    index = mconn.execute("select vecs.create_index(%s, 'l2_distance', 'ivfflat')", (name,)).fetchone()[0]
    yield name, X, index
    mconn.execute("select vecs.drop_collection(%s)", (name,))


@pytest.mark.parametrize(
    "filters,mask_fn,k",
    [
        ({"rare": True}, lambda i: np.isin(i, RARE), 10),
        ({"g": {"$lt": 3}}, lambda i: i % 10 < 3, 50),
    ],
    ids=["rare", "30pct"],
)
@pytest.mark.parametrize("threshold", [None, 0], ids=["default", "index-path"])
def test_ivfflat_filtered_query_is_complete(mconn, ivf, filters, mask_fn, k, threshold):
    name, X, index = ivf
    mask = mask_fn(np.arange(N_BIG))
    q = np.random.default_rng(6).standard_normal(8).astype(np.float32)
    with mconn.transaction():
        if threshold is not None:
            force_index_path(mconn)
        got = run_query(mconn, name, q, k=k, measure="l2_distance", filters=Jsonb(filters), include_value=True)
        if threshold == 0:
            assert index_scans(mconn, index) >= 1
    assert len(got) == min(k, int(mask.sum()))
    assert all(mask[int(r[0][1:])] for r in got)
    d = [r[1] for r in got]
    assert d == sorted(d)
    want_ids, _ = exact_top(X, q, "l2_distance", k, mask)
    if threshold is None:  # exact search below the threshold
        assert [r[0] for r in got] == want_ids


# ----------------------------------------------------------------------------- settings are put back


def settings(conn) -> dict[str, str]:
    names = ["hnsw.ef_search", "ivfflat.probes"]
    if conn.execute("select current_setting('hnsw.iterative_scan', true) is not null").fetchone()[0]:
        names += ["hnsw.iterative_scan", "ivfflat.iterative_scan"]
    return {n: conn.execute("select current_setting(%s)", (n,)).fetchone()[0] for n in names}


@pytest.mark.parametrize("threshold", [None, 0], ids=["default", "index-path"])
@pytest.mark.parametrize("user_values", [False, True])
def test_settings_unchanged_after_query_in_transaction(mconn, big, ivf, threshold, user_values):
    name, X, _ = big
    q = X[0]
    with mconn.transaction():
        if user_values:
            mconn.execute("set local hnsw.ef_search = 77")
            mconn.execute("set local ivfflat.probes = 3")
        if threshold is not None:
            force_index_path(mconn)
        before = settings(mconn)
        if user_values:
            assert before["hnsw.ef_search"] == "77" and before["ivfflat.probes"] == "3"
        run_query(mconn, name, q, k=100)
        assert settings(mconn) == before
        run_query(mconn, name, q, k=5, ef_search=500, probes=20)
        assert settings(mconn) == before
        run_query(mconn, name, q, k=50, filters=Jsonb({"g": {"$lt": 3}}))
        assert settings(mconn) == before
        run_query(mconn, name, q, k=5, filters=Jsonb({"rare": True}), ef_search=300)
        assert settings(mconn) == before
        run_query(mconn, ivf[0], q, k=20, measure="l2_distance", probes=25, filters=Jsonb({"g": 1}))
        assert settings(mconn) == before
    # and nothing leaked into the session: pgvector's defaults
    session = settings(mconn)
    assert session["hnsw.ef_search"] == "40" and session["ivfflat.probes"] == "1"


def test_settings_unchanged_after_query_in_autocommit(mconn, big):
    name, X, _ = big
    before = settings(mconn)
    run_query(mconn, name, X[1], k=200, ef_search=400)
    with mconn.transaction():
        force_index_path(mconn)
        run_query(mconn, name, X[1], k=20, filters=Jsonb({"g": 2}))
    assert settings(mconn) == before


def test_session_settings_survive_query(dsn, big):
    name, X, _ = big
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("set hnsw.ef_search = 123")
        c.execute("set ivfflat.probes = 7")
        with c.transaction():
            run_query(c, name, X[2], k=10)
            run_query(c, name, X[2], k=10, ef_search=999, probes=99)
            assert settings(c)["hnsw.ef_search"] == "123"
            assert settings(c)["ivfflat.probes"] == "7"
        assert settings(c)["hnsw.ef_search"] == "123"
        assert settings(c)["ivfflat.probes"] == "7"


def test_exact_search_threshold_max_int(mconn, big):
    name, X, _ = big
    with mconn.transaction():
        mconn.execute("set local vecs.exact_search_threshold = 2147483647")
        got = run_query(mconn, name, X[0], k=5, filters=Jsonb({"rare": True}))
    assert sorted(r[0] for r in got) == sorted(f"r{i}" for i in RARE)


def test_query_in_a_read_only_transaction(mconn, big):
    """Searching writes nothing, so it works where writes are refused (read-only transactions, replicas)."""
    name, X, _ = big
    with mconn.transaction():
        mconn.execute("set transaction read only")
        assert len(run_query(mconn, name, X[0], k=5)) == 5
        assert len(run_query(mconn, name, X[0], k=5, filters=Jsonb({"g": 3}))) == 5
        force_index_path(mconn)
        assert len(run_query(mconn, name, X[0], k=5, filters=Jsonb({"rare": True}))) == 3
        assert mconn.execute("select vecs.count(%s)", (name,)).fetchone()[0] == N_BIG
        assert len(mconn.execute("select * from vecs.fetch(%s, array['r1', 'r2'])", (name,)).fetchall()) == 2
