"""vecs.create_index from SQL: vecs's names, methods, measures, index_arguments rules, replace (issue 2)."""

from __future__ import annotations

import contextlib
import re
import uuid

import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from .helpers import raises, table

SUFFIX = r"[0-9a-f_]{7}"
OPCLASS = {
    "cosine_distance": "vector_cosine_ops",
    "l2_distance": "vector_l2_ops",
    "max_inner_product": "vector_ip_ops",
    "l1_distance": "vector_l1_ops",
}


def vector_indexes(conn, collection: str) -> list[tuple[str, str, str]]:
    """(name, access method, operator class) of every hnsw/ivfflat index on the collection's table."""
    return conn.execute(
        """select i.relname::text, am.amname::text, opc.opcname::text
           from pg_index x join pg_class i on i.oid = x.indexrelid join pg_am am on am.oid = i.relam
           join pg_opclass opc on opc.oid = x.indclass[0]
           where x.indrelid = %s::regclass and am.amname in ('hnsw', 'ivfflat') order by 1""",
        (table(conn, collection),),
    ).fetchall()


def reloptions(conn, index: str) -> list[str]:
    return conn.execute(
        "select coalesce(reloptions, '{}') from pg_class where relname = %s and relnamespace = 'vecs'::regnamespace", (index,)
    ).fetchone()[0]


def listed(conn, collection: str):
    return conn.execute(
        "select index_name, index_method, index_measure from vecs.list_collections() where name = %s", (collection,)
    ).fetchone()


@pytest.fixture
def filled(conn, collection):
    conn.execute(
        "select vecs.upsert(%s, (select jsonb_agg(jsonb_build_array('r' || i, jsonb_build_array(i, 1, -i))) from generate_series(1, 50) i))",
        (collection,),
    )
    return collection


def test_default_is_hnsw_cosine(conn, filled):
    name = conn.execute("select vecs.create_index(%s)", (filled,)).fetchone()[0]
    assert re.fullmatch(rf"ix_vector_cosine_ops_hnsw_m16_efc64_{SUFFIX}", name), name
    assert vector_indexes(conn, filled) == [(name, "hnsw", "vector_cosine_ops")]
    assert sorted(reloptions(conn, name)) == ["ef_construction=64", "m=16"]
    assert listed(conn, filled) == (name, "hnsw", "cosine_distance")


def test_named_notation(conn, filled):
    name = conn.execute(
        "select vecs.create_index(collection => %s, measure => 'l2_distance', method => 'hnsw', "
        "index_arguments => '{\"m\": 8, \"ef_construction\": 32}', replace => true)",
        (filled,),
    ).fetchone()[0]
    assert re.fullmatch(rf"ix_vector_l2_ops_hnsw_m8_efc32_{SUFFIX}", name), name
    assert sorted(reloptions(conn, name)) == ["ef_construction=32", "m=8"]


def measure_param(measure: str):
    marks = [pytest.mark.pgvector("0.7.0")] if measure == "l1_distance" else []
    return pytest.param(measure, marks=marks, id=measure)


@pytest.mark.parametrize("measure", [measure_param(m) for m in OPCLASS])
def test_each_measure_hnsw(conn, filled, measure):
    name = conn.execute("select vecs.create_index(%s, %s, 'hnsw')", (filled, measure)).fetchone()[0]
    assert re.fullmatch(rf"ix_{OPCLASS[measure]}_hnsw_m16_efc64_{SUFFIX}", name), name
    assert vector_indexes(conn, filled) == [(name, "hnsw", OPCLASS[measure])]
    assert listed(conn, filled) == (name, "hnsw", measure)


@pytest.mark.parametrize("measure", ["cosine_distance", "l2_distance", "max_inner_product"])
def test_each_measure_ivfflat_default_lists(conn, filled, measure):
    name = conn.execute("select vecs.create_index(%s, %s, 'ivfflat')", (filled, measure)).fetchone()[0]
    # vecs's default: max(rows / 1000, 30) lists for fewer than a million rows
    assert re.fullmatch(rf"ix_{OPCLASS[measure]}_ivfflat_nl30_{SUFFIX}", name), name
    assert vector_indexes(conn, filled) == [(name, "ivfflat", OPCLASS[measure])]
    assert reloptions(conn, name) == ["lists=30"]
    assert listed(conn, filled) == (name, "ivfflat", measure)


def test_ivfflat_on_empty_collection(conn, collection):
    name = conn.execute("select vecs.create_index(%s, 'l2_distance', 'ivfflat')", (collection,)).fetchone()[0]
    assert re.fullmatch(rf"ix_vector_l2_ops_ivfflat_nl30_{SUFFIX}", name), name


def test_ivfflat_n_lists(conn, filled):
    name = conn.execute(
        "select vecs.create_index(%s, 'l2_distance', 'ivfflat', '{\"n_lists\": 5}')", (filled,)
    ).fetchone()[0]
    assert re.fullmatch(rf"ix_vector_l2_ops_ivfflat_nl5_{SUFFIX}", name), name
    assert reloptions(conn, name) == ["lists=5"]


def test_index_arguments_null_and_empty_are_defaults(conn, filled):
    for args in (None, {}):
        name = conn.execute(
            "select vecs.create_index(%s, index_arguments => %s)", (filled, Jsonb(args) if args is not None else None)
        ).fetchone()[0]
        assert re.fullmatch(rf"ix_vector_cosine_ops_hnsw_m16_efc64_{SUFFIX}", name), name


def test_suffixes_differ(conn, filled):
    a = conn.execute("select vecs.create_index(%s)", (filled,)).fetchone()[0]
    b = conn.execute("select vecs.create_index(%s)", (filled,)).fetchone()[0]
    assert a != b
    assert vector_indexes(conn, filled) == [(b, "hnsw", "vector_cosine_ops")]


# ----------------------------------------------------------------------------- index_arguments rules

ARG_ERRORS = [
    # (method, index_arguments, message or None for "any VX001")
    ("auto", {"m": 16}, "Index build parameters are not allowed when using the IndexMethod.auto index."),
    ("auto", {"n_lists": 30}, "Index build parameters are not allowed when using the IndexMethod.auto index."),
    ("auto", {"ef_construction": 64}, "Index build parameters are not allowed when using the IndexMethod.auto index."),
    ("hnsw", {"n_lists": 30}, "IndexArgsIVFFlat build parameters were supplied but hnsw index was specified."),
    ("hnsw", {"m": 16, "n_lists": 30}, "IndexArgsIVFFlat build parameters were supplied but hnsw index was specified."),
    ("ivfflat", {"m": 16}, "IndexArgsHNSW build parameters were supplied but ivfflat index was specified."),
    ("ivfflat", {"ef_construction": 64}, "IndexArgsHNSW build parameters were supplied but ivfflat index was specified."),
    ("ivfflat", {"n_lists": 30, "m": 16}, "IndexArgsHNSW build parameters were supplied but ivfflat index was specified."),
    ("hnsw", {"lists": 30}, None),
    ("hnsw", {"M": 16}, None),
    ("ivfflat", {"probes": 3}, None),
    ("hnsw", {"m": 16.5}, None),
    ("hnsw", {"m": "16"}, None),
    ("hnsw", {"m": True}, None),
    ("hnsw", {"m": None}, None),
    ("hnsw", {"m": [16]}, None),
    ("ivfflat", {"n_lists": 2.5}, None),
    ("ivfflat", {"n_lists": "30"}, None),
    ("hnsw", {"m": 1}, None),
    ("hnsw", {"m": 101}, None),
    ("hnsw", {"m": 0}, None),
    ("hnsw", {"m": -4}, None),
    ("hnsw", {"ef_construction": 3}, None),
    ("hnsw", {"ef_construction": 1001}, None),
    ("hnsw", {"m": 32, "ef_construction": 63}, None),  # pgvector: ef_construction >= 2 * m
    ("hnsw", {"m": 10**30}, None),
    ("ivfflat", {"n_lists": 0}, None),
    ("ivfflat", {"n_lists": 32769}, None),
    ("ivfflat", {"n_lists": -1}, None),
]


@pytest.mark.parametrize("method,args,message", ARG_ERRORS, ids=[f"{m}-{a}" for m, a, _ in ARG_ERRORS])
def test_index_arguments_rules(conn, filled, method, args, message):
    with raises("VX001", message):
        conn.execute("select vecs.create_index(%s, 'l2_distance', %s, %s)", (filled, method, Jsonb(args)))
    assert vector_indexes(conn, filled) == []


@pytest.mark.parametrize("args", ["[]", '"m"', "5", "true"])
def test_index_arguments_not_an_object(conn, filled, args):
    with raises("VX001"):
        conn.execute("select vecs.create_index(%s, 'l2_distance', 'hnsw', %s::jsonb)", (filled, args))


@pytest.mark.parametrize(
    "method,args,fragment",
    [
        ("hnsw", {"m": 2, "ef_construction": 4}, "hnsw_m2_efc4_"),
        ("hnsw", {"m": 100, "ef_construction": 1000}, "hnsw_m100_efc1000_"),
        ("hnsw", {"m": 8}, "hnsw_m8_efc64_"),
        ("hnsw", {"ef_construction": 100}, "hnsw_m16_efc100_"),
        ("hnsw", {"m": 16.0}, "hnsw_m16_efc64_"),
        ("ivfflat", {"n_lists": 1}, "ivfflat_nl1_"),
        ("ivfflat", {"n_lists": 100}, "ivfflat_nl100_"),
    ],
)
def test_index_arguments_bounds_accepted(conn, collection, method, args, fragment):
    conn.execute("select vecs.upsert(%s, '[[\"a\", [1,2,3]], [\"b\", [3,2,1]]]')", (collection,))
    name = conn.execute("select vecs.create_index(%s, 'l2_distance', %s, %s)", (collection, method, Jsonb(args))).fetchone()[0]
    assert name.startswith("ix_vector_l2_ops_" + fragment), name
    got = conn.execute("select id from vecs.query(%s, '[1,2,3]', measure => 'l2_distance')", (collection,)).fetchall()
    assert got == [("a",), ("b",)]


@pytest.mark.parametrize("method", ["btree", "HNSW", "", "gin", None])
def test_unknown_method_is_vx001(conn, filled, method):
    with raises("VX001"):
        conn.execute("select vecs.create_index(%s, method => %s)", (filled, method))


@pytest.mark.parametrize("measure", ["cosine", "dot", "", None])
def test_unknown_measure_is_vx001(conn, filled, measure):
    with raises("VX001", match="^unknown measure"):
        conn.execute("select vecs.create_index(%s, measure => %s)", (filled, measure))


# ----------------------------------------------------------------------------- replace, one index per collection


def test_replace_false_with_existing_index_is_vx008(conn, filled):
    first = conn.execute("select vecs.create_index(%s)", (filled,)).fetchone()[0]
    with raises("VX008", "replace is set to False but an index exists"):
        conn.execute("select vecs.create_index(%s, 'l2_distance', 'ivfflat', replace => false)", (filled,))
    assert vector_indexes(conn, filled) == [(first, "hnsw", "vector_cosine_ops")]


def test_replace_false_without_index_builds(conn, filled):
    name = conn.execute("select vecs.create_index(%s, replace => false)", (filled,)).fetchone()[0]
    assert vector_indexes(conn, filled) == [(name, "hnsw", "vector_cosine_ops")]


def test_replace_true_leaves_exactly_one_vector_index(conn, filled):
    names = [
        conn.execute("select vecs.create_index(%s, %s, %s)", (filled, measure, method)).fetchone()[0]
        for measure, method in (
            ("cosine_distance", "hnsw"),
            ("l2_distance", "ivfflat"),
            ("max_inner_product", "hnsw"),
            ("cosine_distance", "auto"),
        )
    ]
    assert vector_indexes(conn, filled) == [(names[-1], "hnsw", "vector_cosine_ops")]
    # the metadata GIN index and the primary key are untouched
    others = conn.execute(
        "select count(*) from pg_index x join pg_class i on i.oid = x.indexrelid join pg_am am on am.oid = i.relam "
        "where x.indrelid = %s::regclass and am.amname in ('btree', 'gin')",
        (table(conn, filled),),
    ).fetchone()[0]
    assert others == 2


def test_index_made_by_vecs_is_recognised_and_replaced(conn, filled):
    """An index made with raw SQL under vecs's naming scheme counts as the collection's index."""
    conn.execute(
        f"create index ix_vector_l2_ops_hnsw_m16_efc64_abcdefg on {table(conn, filled)} "
        "using hnsw (vec vector_l2_ops) with (m = 16, ef_construction = 64)"
    )
    assert listed(conn, filled) == ("ix_vector_l2_ops_hnsw_m16_efc64_abcdefg", "hnsw", "l2_distance")
    with raises("VX008"):
        conn.execute("select vecs.create_index(%s, replace => false)", (filled,))
    name = conn.execute("select vecs.create_index(%s)", (filled,)).fetchone()[0]
    assert vector_indexes(conn, filled) == [(name, "hnsw", "vector_cosine_ops")]
    assert listed(conn, filled) == (name, "hnsw", "cosine_distance")


def test_index_under_another_name_is_replaced_too(conn, filled):
    conn.execute(f"create index my_own_ivf on {table(conn, filled)} using ivfflat (vec vector_ip_ops) with (lists = 2)")
    assert listed(conn, filled) == ("my_own_ivf", "ivfflat", "max_inner_product")
    name = conn.execute("select vecs.create_index(%s, 'l2_distance', 'hnsw')", (filled,)).fetchone()[0]
    assert vector_indexes(conn, filled) == [(name, "hnsw", "vector_l2_ops")]


def test_queries_use_the_new_measure_after_replace(conn, filled):
    conn.execute("select vecs.create_index(%s, 'l2_distance', 'hnsw')", (filled,))
    conn.execute("select vecs.create_index(%s, 'max_inner_product', 'hnsw')", (filled,))
    got = conn.execute(
        "select id from vecs.query(%s, '[1,1,1]', k => 3, measure => 'max_inner_product')", (filled,)
    ).fetchall()
    # inner product with [1,1,1] is i + 1 - i = 1 for every record: any 3 rows, but 3 of them
    assert len(got) == 3


# ----------------------------------------------------------------------------- what an older pgvector lacks


@pytest.mark.pgvector("0.7.0")
def test_ivfflat_l1_is_vx007(conn, filled):
    with raises("VX007", "ivfflat indexes do not support l1_distance; use method hnsw"):
        conn.execute("select vecs.create_index(%s, 'l1_distance', 'ivfflat')", (filled,))
    assert vector_indexes(conn, filled) == []


def test_l1_index_on_old_pgvector_is_vx007(conn, filled, pgvector_version):
    if pgvector_version >= (0, 7, 0):
        pytest.skip("this server's pgvector has l1 (the rendered-for-0.6.2 variant runs everywhere)")
    for method in ("hnsw", "ivfflat", "auto"):
        with raises("VX007"):
            conn.execute("select vecs.create_index(%s, 'l1_distance', %s)", (filled, method))


def test_l1_index_rendered_for_pgvector_062_is_vx007(conn, legacy_schema):
    schema = legacy_schema("0.6.2")
    conn.execute(f"select {schema}.create_collection('c', 3)")
    for method in ("hnsw", "ivfflat", "auto"):
        with raises("VX007", "l1_distance needs pgvector 0.7 or later (this install found 0.6.2)"):
            conn.execute(f"select {schema}.create_index('c', 'l1_distance', %s)", (method,))
    name = conn.execute(f"select {schema}.create_index('c')").fetchone()[0]
    assert name.startswith("ix_vector_cosine_ops_hnsw_m16_efc64_")


def test_hnsw_rendered_for_pgvector_040(conn, legacy_schema):
    """pgvector < 0.5 has no HNSW: auto builds ivfflat, hnsw is a clear VX007."""
    schema = legacy_schema("0.4.0")
    conn.execute(f"select {schema}.create_collection('c', 3)")
    conn.execute(f"select {schema}.upsert('c', '[[\"a\", [1,2,3]], [\"b\", [3,2,1]]]')")
    with raises("VX007", match=r"^HNSW Unavailable\. Upgrade your pgvector installation to > 0\.5\.0"):
        conn.execute(f"select {schema}.create_index('c', method => 'hnsw')")
    name = conn.execute(f"select {schema}.create_index('c')").fetchone()[0]
    assert re.fullmatch(rf"ix_vector_cosine_ops_ivfflat_nl30_{SUFFIX}", name), name
    with raises("VX001", "Index build parameters are not allowed when using the IndexMethod.auto index."):
        conn.execute(f"select {schema}.create_index('c', index_arguments => '{{\"n_lists\": 3}}')")
    assert conn.execute(f"select id from {schema}.query('c', '[1,2,3]')").fetchall() == [("a",), ("b",)]


def test_hnsw_on_old_pgvector_is_vx007(conn, filled, pgvector_version):
    if pgvector_version >= (0, 5, 0):
        pytest.skip("this server's pgvector has HNSW (the rendered-for-0.4.0 variant runs everywhere)")
    with raises("VX007"):
        conn.execute("select vecs.create_index(%s, method => 'hnsw')", (filled,))


# ---------------------------------------------------------------------------- build memory (issue 15)

MB = 1024 * 1024


@contextlib.contextmanager
def session_settings(conn, **settings: str):
    """The session's settings for the body (dots as "__": vecs__max_build_memory), reset after it."""
    names = [name.replace("__", ".") for name in settings]
    for name, value in zip(names, settings.values()):
        conn.execute("select set_config(%s, %s, false)", (name, value))
    try:
        yield
    finally:
        for name in names:
            conn.execute(sql.SQL("reset {}").format(sql.SQL(".").join(sql.Identifier(n) for n in name.split("."))))


def fill_random(conn, collection: str, rows: int, dims: int) -> None:
    conn.execute(
        """select vecs.upsert(%s, (select jsonb_agg(jsonb_build_array('r' || i, v.vec))
           from generate_series(1, %s) i,
                lateral (select jsonb_agg(random() + g * 0 + i * 0) as vec from generate_series(1, %s) g) v))""",
        (collection, rows, dims),
    )


def build_notices(conn, statement: str, params=()) -> list[tuple[str, str]]:
    """(sqlstate, message) of every notice and warning the statement sends, in order."""
    seen: list[tuple[str, str]] = []

    def keep(d) -> None:
        seen.append((d.sqlstate, d.message_primary))

    conn.add_notice_handler(keep)
    try:
        conn.execute(statement, params)
    finally:
        conn.remove_notice_handler(keep)
    return seen


def spilled(notices) -> bool:
    return any("no longer fits into maintenance_work_mem" in m for _, m in notices)


@pytest.mark.parametrize(("dims", "m", "rows"), [(8, 16, 3000), (256, 8, 3000)])
def test_the_hnsw_graph_estimate_is_what_pgvector_needs(conn, make_collection, dims, m, rows):
    """_hnsw_graph_bytes (the formula from pgvector's hnswbuild.c, with its measured 32-byte margin)
    against pgvector itself: the estimate is enough for the graph to stay in memory, and 85 % of its
    graph part is not. (The margin comes from larger builds: bench/vector_types.md's, at 62,466
    rows of 384 dimensions, ran out ~18 bytes an element short of the formula without it.)"""
    collection = make_collection(dims)
    fill_random(conn, collection, rows, dims)
    estimate = conn.execute("select vecs._hnsw_graph_bytes(%s, %s, %s, false)", (rows, dims * 4, m)).fetchone()[0]
    graph = estimate - MB  # the estimate's last part is the 1MB block pgvector counts memory in
    assert rows * (dims * 4 + 8 + 176 + 32 * m + 32) < graph < rows * (dims * 4 + 8 + 176 + 32 * m + 32 + 60)
    ddl = sql.SQL("create index tmp_ix on {} using hnsw (vec vector_l2_ops) with (m = {})").format(
        sql.Identifier("vecs", collection), sql.Literal(m)
    )
    for memory, spills in ((estimate, False), (int(graph * 0.85), True)):
        with session_settings(conn, max_parallel_maintenance_workers="0", maintenance_work_mem=f"{max(memory // 1024, 1024)}kB"):
            assert spilled(build_notices(conn, ddl)) is spills, (memory, estimate)
        conn.execute("drop index vecs.tmp_ix")


def test_a_parallel_build_gets_the_memory_it_keeps_for_itself(conn, make_collection):
    """A parallel HNSW build keeps 3MB of maintenance_work_mem and gives the graph 1MB less, so
    create_index's sizing covers that too: a build with a parallel worker keeps its graph in memory
    (without the 4MB it spilled after 0 tuples) and nothing warns."""
    collection = make_collection(8)
    fill_random(conn, collection, 3000, 8)
    table = sql.Identifier("vecs", collection)
    conn.execute(sql.SQL("alter table {} set (parallel_workers = 1)").format(table))
    # pgvector says how many workers it uses at DEBUG1
    with session_settings(conn, max_parallel_maintenance_workers="1", maintenance_work_mem="1MB", client_min_messages="debug1"):
        notices = build_notices(conn, "select vecs.create_index(%s)", (collection,))
    assert "using 1 parallel workers" in [m for _, m in notices], notices
    assert not spilled(notices) and "01VX1" not in [s for s, _ in notices], notices
    assert listed(conn, collection)[1] == "hnsw"


def test_create_index_warns_before_a_build_that_will_not_fit(conn, make_collection):
    """The WARNING (SQLSTATE 01VX1) comes before the build: ahead of pgvector's own notice, which
    the build sends once the graph is full. It names the estimate, the memory, the cap, the fix."""
    collection = make_collection(8)
    fill_random(conn, collection, 3000, 8)
    estimate = conn.execute("select vecs._hnsw_graph_bytes(3000, 32, 16, false)").fetchone()[0]
    with session_settings(conn, maintenance_work_mem="1MB", vecs__max_build_memory="1MB"):
        notices = build_notices(conn, "select vecs.create_index(%s)", (collection,))
    assert [s for s, _ in notices][:1] == ["01VX1"] and spilled(notices)
    assert [s for s, _ in notices].count("01VX1") == 1
    pretty = conn.execute("select pg_size_pretty(%s::bigint)", (estimate,)).fetchone()[0]
    assert notices[0][1] == (
        f'vecs: the HNSW graph of collection "{collection}" (3000 rows, m = 16) needs about {pretty} of build '
        "memory, more than the 1024 kB it gets: the build will spill to disk and take significantly longer"
    )
    assert listed(conn, collection)[1] == "hnsw"  # a warning: the index is built


def test_create_index_says_nothing_when_the_graph_fits(conn, make_collection):
    """3,000 rows fit under the default cap (the build memory is raised to the estimate), 50 rows
    under a 2MB one; neither build spills."""
    large, small = make_collection(8), make_collection(8)
    fill_random(conn, large, 3000, 8)
    fill_random(conn, small, 50, 8)
    with session_settings(conn, maintenance_work_mem="1MB"):
        assert build_notices(conn, "select vecs.create_index(%s)", (large,)) == []
        with session_settings(conn, vecs__max_build_memory="2MB"):
            assert build_notices(conn, "select vecs.create_index(%s)", (small,)) == []
    assert conn.execute("show maintenance_work_mem").fetchone()[0] != "1MB"  # the function's setting was local


@pytest.mark.pgvector("0.7.0")  # sparsevec
def test_a_sparse_collections_graph_is_estimated_from_its_vectors(conn):
    """A sparsevec element's size is its non-zero count: sampled, not the indexed limit (1,000),
    which would put 3,000 two-entry vectors far over an 8MB cap."""
    name = f"sparse {uuid.uuid4().hex[:8]}"
    conn.execute("select vecs.create_collection(%s, 1000, vector_type => 'sparsevec')", (name,))
    try:
        conn.execute(
            """select vecs.upsert(%s, (select jsonb_agg(jsonb_build_array('r' || i,
                   format('{%%s:1,%%s:0.5}/1000', 1 + i %% 500, 501 + i %% 500))) from generate_series(1, 3000) i))""",
            (name,),
        )
        unsampled = conn.execute("select vecs._hnsw_graph_bytes(3000, 8 * 1000, 16, false)").fetchone()[0]
        assert unsampled > 8 * MB
        with session_settings(conn, maintenance_work_mem="1MB", vecs__max_build_memory="8MB"):
            notices = build_notices(conn, "select vecs.create_index(%s, 'max_inner_product')", (name,))
        assert notices == []  # neither the warning nor pgvector's notice: the graph fitted
        assert listed(conn, name)[1] == "hnsw"
    finally:
        conn.execute("select vecs.drop_collection(%s)", (name,))
