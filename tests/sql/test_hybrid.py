"""Hybrid search from SQL (issue 12): enable_text_search / disable_text_search / describe_collection
and hybrid_query as psql users call them — write paths, filters inside both branches, empty text and
stop words, text-only and vector-only modes, both fusions against a Python reference fused from the
two branch rankings, completeness with selective filters, argument errors, and an upgrade of an
install that predates text search."""

from __future__ import annotations

import math
import re
import shutil

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from vecs_sqlgen import __version__, install, render

from .helpers import raises, table, upsert_json, vec
from .packaging import scratch  # noqa: F401 - fixture
from .test_roles import roles  # noqa: F401 - fixture

WORDS = ("postgres vector search index query filter text fast slow database python rust table "
         "column record graph neighbour cluster shard replica cache memory disk network server client "
         "library driver parser token lexeme ranking fusion hybrid semantic keyword document chunk").split()
RARE = "zyzzyva"
N, DIM = 1500, 8

HYBRID = """select id, score, text_rank, vector_rank, distance, metadata from vecs.hybrid_query(
    %(c)s::text, %(t)s::text, %(v)s::vector, %(k)s::integer, %(f)s::jsonb, %(fusion)s::text, %(rrf_k)s::integer,
    %(wt)s::float8, %(ws)s::float8, %(cand)s::integer, %(parser)s::text, %(meta)s::boolean)"""


def hybrid(conn, c, text, vector, k=10, filters=None, fusion="rrf", rrf_k=60, wt=1.0, ws=1.0, cand=None,
           parser="websearch", meta=False):
    return conn.execute(HYBRID, {"c": c, "t": text, "v": None if vector is None else vec(vector), "k": k,
                                 "f": None if filters is None else Jsonb(filters), "fusion": fusion, "rrf_k": rrf_k,
                                 "wt": wt, "ws": ws, "cand": cand, "parser": parser, "meta": meta}).fetchall()


def corpus(seed: int = 12):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, DIM)).astype(np.float32)
    records = []
    for i in range(N):
        words = list(rng.choice(WORDS, size=int(rng.integers(3, 9))))
        if i % 500 == 7:
            words.append(RARE)
        meta = {"text": " ".join(words), "cat": i % 30, "n": i}
        if i % 97 == 0:
            del meta["text"]  # records without text: never a text match, still a vector one
        records.append([f"r{i:04d}", [float(x) for x in X[i]], meta])
    return X, records


@pytest.fixture(scope="module")
def docs(dsn):
    """A collection of N records with text, an HNSW index and full-text search enabled."""
    name = "hybrid docs"
    X, records = corpus()
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("select vecs.drop_collection(%s)", (name,))
        c.execute("select vecs.create_collection(%s, %s)", (name, DIM))
        upsert_json(c, name, records)
        c.execute("select vecs.create_index(%s)", (name,))
        c.execute("select vecs.enable_text_search(%s)", (name,))
    yield name, X, records
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("select vecs.drop_collection(%s)", (name,))


# ---------------------------------------------------------------- references


def text_branch(conn, c, text, depth, filters=None, parser="websearch", config="english"):
    """The text branch as plain SQL: (id, ts_rank_cd) of the matches, best first, ties by id bytes."""
    parse = "websearch_to_tsquery" if parser == "websearch" else "plainto_tsquery"
    where = "true" if not filters else "metadata @> %(f)s::jsonb"
    return conn.execute(
        f"""select id, ts_rank_cd(vecs_tsv, {parse}(%(cfg)s::regconfig, %(t)s))::float8 as r from {table(conn, c)}
            where vecs_tsv @@ {parse}(%(cfg)s::regconfig, %(t)s) and {where}
            order by r desc, id collate "C" limit %(d)s""",
        {"cfg": config, "t": text, "f": Jsonb(filters or {}), "d": depth}).fetchall()


def vector_branch(conn, c, vector, depth, filters=None):
    return conn.execute("select id, distance from vecs.query(%s::text, %s::vector, %s::integer, %s::jsonb, "
                        "'cosine_distance'::text, true)",
                        (c, vec(vector), depth, None if filters is None else Jsonb(filters))).fetchall()


def fuse(text, vector, k, fusion="rrf", rrf_k=60, wt=1.0, ws=1.0):
    """Reference fusion from the two branch rankings: [(id, score, text_rank, vector_rank, distance)]."""
    tr = {i: (n + 1, r) for n, (i, r) in enumerate(text)}
    vr = {i: (n + 1, d) for n, (i, d) in enumerate(vector)}
    if text:
        rmin, rmax = min(r for _, r in text), max(r for _, r in text)
    if vector:
        dmin, dmax = min(d for _, d in vector), max(d for _, d in vector)
    out = []
    for i in set(tr) | set(vr):
        tn, vn = tr.get(i, (None,))[0], vr.get(i, (None,))[0]
        if fusion == "rrf":
            score = (wt / (rrf_k + tn) if tn else 0.0) + (ws / (rrf_k + vn) if vn else 0.0)
        else:
            st = 0.0 if tn is None else (1.0 if rmax == rmin else (tr[i][1] - rmin) / (rmax - rmin))
            sv = 0.0 if vn is None else (1.0 if dmax == dmin else (dmax - vr[i][1]) / (dmax - dmin))
            score = wt * st + ws * sv
        out.append((i, score, tn, vn, vr[i][1] if vn else None))
    inf = math.inf
    out.sort(key=lambda r: (-r[1], r[3] or inf, r[2] or inf, r[0].encode()))
    return out[:k]


def same(got, want):
    assert [r[0] for r in got] == [r[0] for r in want]
    for g, w in zip(got, want):
        assert g[1] == pytest.approx(w[1], rel=1e-12, abs=1e-15)
        assert (g[2], g[3]) == (w[2], w[3])
        if w[4] is not None:
            assert g[4] == pytest.approx(w[4], rel=1e-12)


# ---------------------------------------------------------------- enable / disable / describe


def describe(conn, c):
    return conn.execute("select name, dimension, text_search, text_key, text_config, text_index"
                        " from vecs.describe_collection(%s)", (c,)).fetchone()


def test_enable_describe_replace_disable(conn, make_collection):
    c = make_collection(3)
    upsert_json(conn, c, [["a", [1, 0, 0], {"text": "Quick brown foxes", "body": "lazy dogs"}]])
    assert describe(conn, c) == (c, 3, False, None, None, None)
    ix = conn.execute("select vecs.enable_text_search(%s)", (c,)).fetchone()[0]
    assert re.fullmatch(r"ix_text_gin_[0-9a-f_]{7}", ix)
    assert describe(conn, c) == (c, 3, True, "text", "english", ix)
    kinds = {r[0]: r[1:] for r in conn.execute("select index_name, kind, method, key from vecs.list_indexes(%s)", (c,))}
    assert kinds[ix] == ("text", "gin", ["text"])
    # the same call again changes nothing
    assert conn.execute("select vecs.enable_text_search(%s, 'text', 'english')", (c,)).fetchone()[0] == ix
    # another key and configuration replace them (a pinned configuration: simple)
    ix2 = conn.execute("select vecs.enable_text_search(%s, text_key => 'body', config => 'simple')", (c,)).fetchone()[0]
    assert ix2 != ix and describe(conn, c) == (c, 3, True, "body", "simple", ix2)
    assert [r[0] for r in hybrid(conn, c, "dogs", None)] == ["a"]
    assert hybrid(conn, c, "dog", None) == []  # simple does not stem
    assert conn.execute("select vecs.disable_text_search(%s)", (c,)).fetchone()[0] is True
    assert conn.execute("select vecs.disable_text_search(%s)", (c,)).fetchone()[0] is False
    assert describe(conn, c) == (c, 3, False, None, None, None)
    assert "ix_text" not in str(conn.execute("select * from vecs.list_indexes(%s)", (c,)).fetchall())
    with raises("VX001", f'text search is not enabled on collection "{c}"') as e:
        hybrid(conn, c, "fox", [1, 0, 0])
    assert e.error.diag.message_hint == f"select vecs.enable_text_search('{c}');"
    # enabled again: the records written meanwhile are searchable too
    upsert_json(conn, c, [["b", [0, 1, 0], {"text": "a quick fox"}]])
    conn.execute("select vecs.enable_text_search(%s)", (c,))
    assert sorted(r[0] for r in hybrid(conn, c, "fox", None)) == ["a", "b"]
    assert conn.execute(f"select count(*) from {table(conn, c)}").fetchone()[0] == 2


def test_a_configuration_in_another_schema(conn, make_collection):
    c = make_collection(3)
    conn.execute("create schema if not exists hybrid_cfg")
    conn.execute("drop text search configuration if exists hybrid_cfg.\"my en\"")
    conn.execute("create text search configuration hybrid_cfg.\"my en\" (copy = pg_catalog.english)")
    try:
        upsert_json(conn, c, [["a", [1, 0, 0], {"text": "running"}]])
        conn.execute("""select vecs.enable_text_search(%s, config => 'hybrid_cfg."my en"')""", (c,))
        assert describe(conn, c)[2:5] == (True, "text", 'hybrid_cfg."my en"')
        assert [r[0] for r in hybrid(conn, c, "runs", None)] == ["a"]
        # the column depends on it: dropping it needs CASCADE, which disables text search
        with raises("2BP01"):
            conn.execute("drop text search configuration hybrid_cfg.\"my en\"")
    finally:
        conn.execute("drop schema hybrid_cfg cascade")
    assert describe(conn, c)[2] is False


def test_enable_argument_errors(conn, make_collection):
    c = make_collection(3)
    with raises("VX001", "text_key must be a metadata key of 1 to 255 bytes, got NULL"):
        conn.execute("select vecs.enable_text_search(%s, NULL)", (c,))
    with raises("VX001", "text_key must be a metadata key of 1 to 255 bytes, got ''"):
        conn.execute("select vecs.enable_text_search(%s, '')", (c,))
    with raises("VX001", match="^text_key must be a metadata key of 1 to 255 bytes, got 'xxx"):
        conn.execute("select vecs.enable_text_search(%s, repeat('x', 256))", (c,))
    with raises("VX001", "config must be an installed text search configuration, got NULL"):
        conn.execute("select vecs.enable_text_search(%s, 'text', NULL)", (c,))
    with raises("42704", 'text search configuration "nosuch" does not exist'):
        conn.execute("select vecs.enable_text_search(%s, 'text', 'nosuch')", (c,))
    with raises("VX001", "config must be an installed text search configuration, got 1"):
        conn.execute("select vecs.enable_text_search(%s, 'text', 1::oid::regconfig)", (c,))
    with raises("VX003", 'collection "no such" does not exist'):
        conn.execute("select vecs.enable_text_search('no such')")
    with raises("VX003"):
        conn.execute("select vecs.disable_text_search('no such')")
    conn.execute("set vecs.max_build_memory = 'lots'")  # the rewrite's index builds are sized as create_index's
    try:
        with raises("VX001", 'setting vecs.max_build_memory must be a size such as 1GB or 512MB, got "lots"'):
            conn.execute("select vecs.enable_text_search(%s)", (c,))
    finally:
        conn.execute("reset vecs.max_build_memory")
    with conn.transaction():
        mem = conn.execute("show maintenance_work_mem").fetchone()[0]
        conn.execute("select vecs.enable_text_search(%s)", (c,))
        assert conn.execute("show maintenance_work_mem").fetchone()[0] == mem  # put back
        conn.execute("select vecs.disable_text_search(%s)", (c,))
    # a column of that name the user made is not taken over
    conn.execute(f"alter table {table(conn, c)} add column vecs_tsv tsvector")
    with raises("VX001", f'collection "{c}" has a column vecs_tsv that enable_text_search did not make'):
        conn.execute("select vecs.enable_text_search(%s)", (c,))
    assert describe(conn, c)[2] is False
    assert conn.execute("select vecs.disable_text_search(%s)", (c,)).fetchone()[0] is False


def test_a_key_with_quotes_and_a_name_with_quotes(conn, collection):
    key = "it's \"the\" text"
    upsert_json(conn, collection, [["a", [1, 0, 0], {key: "postgres vectors"}], ["b", [0, 1, 0], {"text": "postgres"}]])
    conn.execute("select vecs.enable_text_search(%s, %s)", (collection, key))
    assert describe(conn, collection)[3] == key
    assert [r[0] for r in hybrid(conn, collection, "postgres", None)] == ["a"]


# ---------------------------------------------------------------- write paths


def test_every_write_path_fills_the_column(conn, make_collection):
    """The column is generated: upsert (JSON, arrays, upsert_from), vecs's own INSERT … ON CONFLICT
    and COPY with a column list all write (id, vec, metadata) and the text is searchable."""
    c = make_collection(3)
    conn.execute("select vecs.enable_text_search(%s)", (c,))
    t = table(conn, c)
    upsert_json(conn, c, [["j", [1, 0, 0], {"text": "alpha json"}]])
    conn.execute("select vecs.upsert(%s::text, array['a']::text[], array['[0,1,0]']::vector[],"
                 """ array['{"text": "alpha arrays"}']::jsonb[])""", (c,))
    with conn.transaction():
        conn.execute("create temp table hy_stage (id text, vec vector, metadata jsonb) on commit drop")
        conn.execute("""insert into hy_stage values ('s', '[0,0,1]', '{"text": "alpha staged"}')""")
        conn.execute("select vecs.upsert_from(%s::text, 'pg_temp.hy_stage'::regclass)", (c,))
    # vecs 0.4.5's upsert: insert … values … on conflict (id) do update set vec, metadata
    for _ in range(2):
        conn.execute(f"""insert into {t} (id, vec, metadata) values ('v', '[1,1,0]', '{{"text": "alpha vecs"}}')
                         on conflict (id) do update set vec = excluded.vec, metadata = excluded.metadata""")
    with conn.cursor().copy(f"copy {t} (id, vec, metadata) from stdin") as cp:
        cp.write_row(("p", "[1,0,1]", '{"text": "alpha copied"}'))
    # replacing a record's text replaces its lexemes
    upsert_json(conn, c, [["j", [1, 0, 0], {"text": "beta json"}]])
    assert sorted(r[0] for r in hybrid(conn, c, "alpha", None)) == ["a", "p", "s", "v"]
    assert [r[0] for r in hybrid(conn, c, "beta", None)] == ["j"]
    # what vecs reads (id, vec, metadata by name), and the shape checks, see the collection as before
    assert len(conn.execute(f"select id, vec, metadata from {t}").fetchall()) == 5
    assert conn.execute("select dimension from vecs.list_collections() where name = %s", (c,)).fetchone() == (3,)
    assert conn.execute("select count(*) from vecs.fetch(%s, array['j', 'p'])", (c,)).fetchone()[0] == 2
    assert conn.execute("select id from vecs.query(%s, '[1,0,1]', k => 1)", (c,)).fetchone() == ("p",)
    assert conn.execute("select * from vecs.check_upsert(%s)", (c,)).fetchone() == (3, True)
    # a write cannot set the generated column
    with raises("428C9"):
        conn.execute(f"insert into {t} (id, vec, metadata, vecs_tsv) values ('x', '[1,0,0]', '{{}}', 'x')")


# ---------------------------------------------------------------- the modes


def test_vector_only_is_query(conn, docs):
    c, X, _ = docs
    rng = np.random.default_rng(1)
    for filters in (None, {"cat": 3}, {"n": {"$lt": 40}}, {"$or": [{"cat": 1}, {"cat": 2}]}):
        q = rng.normal(size=DIM)
        want = vector_branch(conn, c, q, 10, filters)
        got = hybrid(conn, c, None, q, filters=filters)
        assert [(r[0], r[3]) for r in got] == [(i, n + 1) for n, (i, _) in enumerate(want)]
        assert [r[4] for r in got] == pytest.approx([d for _, d in want])
        assert all(r[2] is None for r in got)


def test_text_only_is_filtered_full_text_search(conn, docs):
    c, _, records = docs
    for text, filters in (("postgres vector", None), ("postgres vector", {"cat": 4}), ("python or rust", None),
                          ('"vector search"', None), ("index -query", {"cat": 7}), (RARE, None)):
        want = text_branch(conn, c, text, 10, filters)
        got = hybrid(conn, c, text, None, filters=filters, meta=True)
        assert [r[0] for r in got] == [i for i, _ in want], text
        assert [r[2] for r in got] == list(range(1, len(want) + 1))
        assert all(r[3] is None and r[4] is None for r in got)
        by_id = {r[0]: r[2] for r in records}
        assert all(r[5] == by_id[r[0]] for r in got)  # include_metadata
        if filters:
            assert all(r[5]["cat"] == filters["cat"] for r in got)
    assert sorted(r[0] for r in hybrid(conn, c, RARE, None, k=100)) == [r[0] for r in records if RARE in r[2].get("text", "")]


def test_websearch_and_plain_parsers(conn, make_collection):
    c = make_collection(3)
    upsert_json(conn, c, [["a", [1, 0, 0], {"text": "quick brown fox"}], ["b", [0, 1, 0], {"text": "quick dog"}],
                          ["c", [0, 0, 1], {"text": "dog and quick brown"}]])
    conn.execute("select vecs.enable_text_search(%s)", (c,))
    ids = lambda text, parser="websearch": sorted(r[0] for r in hybrid(conn, c, text, None, parser=parser))  # noqa: E731
    assert ids("quick -fox") == ["b", "c"]
    assert ids('"quick dog"') == ["b"]
    assert ids("fox or dog") == ["a", "b", "c"]
    assert ids("quick -fox", "plain") == ["a"]  # plainto_tsquery: quick & fox
    assert ids("fox or dog", "plain") == []  # fox & dog


@pytest.mark.parametrize("text", ["", "   ", "the and of", "!!! ...", "-the", '"of the"'])
def test_text_without_words_degrades_to_vector_search(conn, docs, text):
    c, _, _ = docs
    notices = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary))
    q = np.random.default_rng(5).normal(size=DIM)
    assert hybrid(conn, c, text, q, filters={"cat": 2}) == hybrid(conn, c, None, q, filters={"cat": 2})
    assert hybrid(conn, c, text, None) == []  # text-only: nothing to search for
    assert notices == []  # and the parser is not asked, so it does not complain
    if text == "the and of":  # which it would
        conn.execute("select websearch_to_tsquery('english', %s)", (text,))
        assert notices and "only stop words" in notices[0]


# ---------------------------------------------------------------- fusion


@pytest.mark.parametrize("fusion,rrf_k,wt,ws,cand", [
    ("rrf", 60, 1.0, 1.0, None), ("rrf", 0, 1.0, 1.0, 10), ("rrf", 10, 2.0, 0.5, 100), ("rrf", 60, 0.0, 1.0, 30),
    ("weighted", 60, 1.0, 1.0, None), ("weighted", 60, 0.3, 0.7, 50), ("weighted", 60, 1.0, 0.0, 20),
])
def test_fusion_equals_a_reference_fused_from_the_branch_rankings(conn, docs, fusion, rrf_k, wt, ws, cand):
    c, X, records = docs
    rng = np.random.default_rng(7)
    k = 10
    depth = cand or 4 * k
    for qi in range(12):
        # the text of a record, the vector near another record: the branches disagree
        text = records[int(rng.integers(N))][2].get("text", "postgres")
        q = X[int(rng.integers(N))] + rng.normal(scale=0.3, size=DIM)
        filters = [None, {"cat": int(rng.integers(30))}][qi % 2]
        want = fuse(text_branch(conn, c, text, depth, filters), vector_branch(conn, c, q, depth, filters),
                    k, fusion, rrf_k, wt, ws)
        got = hybrid(conn, c, text, q, k=k, filters=filters, fusion=fusion, rrf_k=rrf_k, wt=wt, ws=ws, cand=cand)
        same(got, want)


def test_a_record_in_both_branches_outranks_one_in_either(conn, make_collection):
    c = make_collection(2)
    upsert_json(conn, c, [["both", [1, 0.1], {"text": "apple"}], ["text", [-1, 0], {"text": "apple apple"}],
                          ["vector", [1, 0], {"text": "pear"}], ["far", [-1, -0.1], {"text": "pear"}]])
    conn.execute("select vecs.enable_text_search(%s)", (c,))
    got = hybrid(conn, c, "apple", [1, 0], k=3, cand=3)
    # both: 1/62 + 1/62; vector and text: 1/61 each (a tie: the vector rank first); far: 1/63
    assert [r[:4] for r in got] == [("both", pytest.approx(2 / 62), 2, 2), ("vector", pytest.approx(1 / 61), None, 1),
                                    ("text", pytest.approx(1 / 61), 1, None)]
    # the distance of a text-only candidate is computed too
    assert got[2][4] == pytest.approx(2.0)


# ---------------------------------------------------------------- completeness


@pytest.mark.parametrize("filters", [{"n": {"$lt": 5}}, {"cat": 11}, {"n": {"$in": [1, 2, 3, 700, 1400]}},
                                     {"$and": [{"cat": 3}, {"n": {"$gte": 1000}}]}, {"cat": 99}])
def test_filtered_results_are_complete(conn, docs, filters):
    """Through the HNSW index (vecs.exact_search_threshold = 0 forces it where it can), with
    text that matches few or none of the filtered records: k rows whenever k records match."""
    c, X, records = docs
    ids = conn.execute("select count(*) from vecs.query(%s, %s::vector, 1000, %s)", (c, vec(X[0]), Jsonb(filters))).fetchone()[0]
    conn.execute("set vecs.exact_search_threshold = 0")
    try:
        for text in (RARE, "postgres", "nonexistentword"):
            got = hybrid(conn, c, text, X[3], k=10, filters=filters, meta=True)
            assert len(got) == min(10, ids), (text, filters)
            assert len({r[0] for r in got}) == len(got)
    finally:
        conn.execute("reset vecs.exact_search_threshold")


# ---------------------------------------------------------------- errors


def test_argument_errors(conn, docs):
    c, _, _ = docs
    v = [0.0] * DIM
    cases = [
        (dict(k=0), "k must be between 1 and 1000, got 0"),
        (dict(k=1001), "k must be between 1 and 1000, got 1001"),
        (dict(fusion="max"), 'unknown fusion "max" (expected rrf or weighted)'),
        (dict(rrf_k=-1), "rrf_k must be between 0 and 1000000, got -1"),
        (dict(wt=-1.0), "full_text_weight must be between 0 and 1000000, got -1"),
        (dict(ws=float("nan")), "semantic_weight must be between 0 and 1000000, got NaN"),
        (dict(cand=5), "candidates must be between k (10) and 1000, got 5"),
        (dict(cand=1001), "candidates must be between k (10) and 1000, got 1001"),
        (dict(parser="phrase"), 'unknown parser "phrase" (expected websearch or plain)'),
    ]
    for kwargs, message in cases:
        with raises("VX001", message):
            hybrid(conn, c, "postgres", v, **kwargs)
    with raises("VX001", "query_text and query_vector must not both be NULL"):
        hybrid(conn, c, None, None)
    with raises("VX001", match='unknown measure "hamming"'):
        conn.execute("select * from vecs.hybrid_query(%s, 'x', NULL, measure => 'hamming')", (c,))
    with raises("VX005", f'query vector has 3 dimensions, collection "{c}" has {DIM}'):
        hybrid(conn, c, "postgres", [1, 0, 0])
    with raises("VX002"):
        hybrid(conn, c, "postgres", v, filters={"cat": {"$bogus": 1}})
    with raises("VX002"):
        hybrid(conn, c, "postgres", None, filters={"cat": {"$bogus": 1}})
    with raises("VX003", 'collection "no such" does not exist'):
        hybrid(conn, "no such", "postgres", v)


def test_tables_that_are_not_collections_are_not_found(conn):
    """hybrid_query and query look the collection up themselves (m.collection_facts): a table of the
    schema named like an internal object, or without vecs's columns, is no collection (VX003)."""
    made = ["_hyb internal", "hyb not a collection"]
    conn.execute(sql.SQL("create table {} (id text primary key, vec vector(3), metadata jsonb)").format(sql.Identifier("vecs", made[0])))
    conn.execute(sql.SQL("create table {} (id integer primary key, vec vector(3), metadata jsonb)").format(sql.Identifier("vecs", made[1])))
    try:
        for name in made:
            with raises("VX003", f'collection "{name}" does not exist'):
                hybrid(conn, name, "postgres", [1, 0, 0])
            with raises("VX003", f'collection "{name}" does not exist'):
                hybrid(conn, name, "postgres", None)
            with raises("VX003", f'collection "{name}" does not exist'):
                conn.execute("select * from vecs.query(%s, '[1,0,0]')", (name,))
    finally:
        for name in made:
            conn.execute(sql.SQL("drop table {}").format(sql.Identifier("vecs", name)))


def test_vector_only_works_without_text_search(conn, collection):
    upsert_json(conn, collection, [["a", [1, 0, 0], {}], ["b", [0, 1, 0], {}]])
    assert [r[0] for r in hybrid(conn, collection, None, [1, 0.1, 0])] == ["a", "b"]


def test_the_text_search_lookups_from_sql(conn, docs, collection):
    """_text_config (hybrid_query's lookup) and _text_search (it and the gin index) as a psql user
    calls them: the key and configuration where text search is on, NULLs where it is not."""
    c, _, _ = docs
    relid = "(select relid from vecs._find_collection(%s))"
    config = conn.execute(f"select text_key, config::text from vecs._text_config({relid})", (c,)).fetchone()
    assert config == ("text", "english")
    key, cfg, index = conn.execute(f"select * from vecs._text_search({relid})", (c,)).fetchone()
    assert (key, cfg) == ("text", "english") and index.startswith("ix_text_gin_")
    for lookup in ("_text_config", "_text_search"):
        row = conn.execute(sql.SQL("select * from vecs.{}({})").format(sql.Identifier(lookup), sql.SQL(relid)),
                           (collection,)).fetchone()
        assert set(row) == {None}, (lookup, row)


def test_psql_call_with_named_arguments(conn, docs):
    c, _, _ = docs
    rows = conn.execute("""select id, text_rank, vector_rank from vecs.hybrid_query(%s, 'postgres vector',
                           '[1,0,0,0,0,0,0,0]', k => 5, filters => '{"cat": {"$lt": 10}}', fusion => 'weighted',
                           full_text_weight => 2, include_metadata => true)""", (c,)).fetchall()
    assert len(rows) == 5


# ---------------------------------------------------------------- upgrade

NEW_TEMPLATES = ("internal/_text_search.sql.j2", "internal/_text_config.sql.j2", "collections/describe_collection.sql.j2",
                 "search/enable_text_search.sql.j2", "search/disable_text_search.sql.j2", "search/hybrid_query.sql.j2")


@pytest.fixture(scope="module")
def pre_text_search_templates(tmp_path_factory):
    """The templates as they were before text search: without its functions, _build_index without
    its gin shape, list_indexes without the text kind."""
    root = tmp_path_factory.mktemp("vecs-pre-text") / "sql"
    shutil.copytree(render.sql_dir(), root, ignore=shutil.ignore_patterns("packaging"))
    for name in NEW_TEMPLATES:
        (root / name).unlink()
    build = root / "indexes" / "_build_index.sql.j2"
    text, n = re.subn(r"    IF p_method = 'gin' THEN.*?        RETURN;\n    END IF;\n", "", build.read_text(), flags=re.S)
    assert n == 1
    build.write_text(text)
    listing = root / "indexes" / "list_indexes.sql.j2"
    listing.write_text(listing.read_text().replace("                    WHEN am.amname = 'gin' AND d.info ? 'config' THEN 'text'\n", ""))
    return root


def test_upgrade_of_an_install_that_predates_text_search(scratch, pre_text_search_templates):  # noqa: F811
    dsn = scratch.db("vecs_pretext")
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("create extension vector")
        with c.transaction():
            c.execute(render.render("vecs", install.detect(c), version="0.0.8", templates=pre_text_search_templates).sql)
        assert c.execute("select to_regproc('vecs.hybrid_query')").fetchone()[0] is None
        c.execute("select vecs.create_collection('old docs', 2)")
        c.execute("""select vecs.upsert('old docs', '[["a", [1, 0], {"text": "old postgres"}], ["b", [0, 1], {"text": "new"}]]')""")
        with raises("VX001", "invalid operator class NULL"):  # the old helper has no gin shape
            c.execute("select vecs._build_index('old docs', current_user::regrole, 'ix_x', 'gin', NULL, NULL, NULL, NULL, NULL, NULL)")
        result = install.install(c, "vecs")
        assert (result.action, result.previous, result.version) == ("upgraded", "0.0.8", __version__)
        assert c.execute("select count(*) from vecs.\"old docs\"").fetchone()[0] == 2
        c.execute("select vecs.enable_text_search('old docs')")
        assert [r[:4] for r in hybrid(c, "old docs", "postgres", [0, 1])] == [
            ("a", pytest.approx(1 / 61 + 1 / 62), 1, 2), ("b", pytest.approx(1 / 61), None, 1)]
        assert c.execute("select kind from vecs.list_indexes('old docs') where method = 'gin' order by 1").fetchall() == [
            ("metadata",), ("text",)]


# ---------------------------------------------------------------- Supabase's hybrid_search

# Supabase's documented pattern (its "Hybrid search" guide), on a collection table: the tsvector
# column is vecs_tsv, the embedding vec; its filter-less function, and the filter a user adds to it
# (applied to the fused rows, the only place its shape allows without rewriting both branches).
SUPABASE = """
create or replace function pg_temp.hybrid_search(query_text text, query_embedding vector, match_count int,
    full_text_weight float = 1, semantic_weight float = 1, rrf_k int = 50, filter jsonb = '{{}}')
returns setof {table} language sql as $$
with full_text as (
    select id, row_number() over (order by ts_rank_cd(vecs_tsv, websearch_to_tsquery(query_text)) desc) as rank_ix
    from {table}
    where vecs_tsv @@ websearch_to_tsquery(query_text)
    order by rank_ix
    limit least(match_count, 30) * 2
), semantic as (
    select id, row_number() over (order by vec <#> query_embedding) as rank_ix
    from {table}
    order by rank_ix
    limit least(match_count, 30) * 2
)
select {table}.*
from full_text full outer join semantic on full_text.id = semantic.id
join {table} on coalesce(full_text.id, semantic.id) = {table}.id
where {table}.metadata @> filter
order by coalesce(1.0 / (rrf_k + full_text.rank_ix), 0.0) * full_text_weight
       + coalesce(1.0 / (rrf_k + semantic.rank_ix), 0.0) * semantic_weight desc
limit least(match_count, 30)
$$"""


def test_same_fusion_as_supabases_hybrid_search_and_complete_where_it_is_not(conn, make_collection):
    c = make_collection(4)
    rng = np.random.default_rng(21)
    # record j says "apple" j/3 + 1 times when it mentions it: distinct ts_rank_cd (it saturates at
    # about 85 repeats), no ties for Supabase's function to order arbitrarily
    recs = [[f"s{j:03d}", [float(x) for x in rng.normal(size=4)],
             {"text": " ".join(["apple"] * (j // 3 + 1) if j % 3 == 0 else ["pear"]), "part": j % 10}] for j in range(240)]
    upsert_json(conn, c, recs)
    conn.execute("select vecs.enable_text_search(%s)", (c,))
    conn.execute("set default_text_search_config = 'pg_catalog.english'")  # what its unqualified parser calls use
    conn.execute(SUPABASE.format(table=table(conn, c)))
    for _ in range(5):
        q = vec(rng.normal(size=4))
        theirs = [r[0] for r in conn.execute("select id from pg_temp.hybrid_search('apple', %s::vector, 10, 1, 0.9)", (q,))]
        ours = [r[0] for r in conn.execute(
            "select id from vecs.hybrid_query(%s, 'apple', %s::vector, k => 10, rrf_k => 50, full_text_weight => 1,"
            " semantic_weight => 0.9, candidates => 20, measure => 'max_inner_product')", (c, q))]
        assert ours == theirs and len(ours) == 10
        # a filter matching 10 % of the records: the fused top 40 hold only some of them
        theirs = conn.execute("select id from pg_temp.hybrid_search('apple', %s::vector, 10, 1, 0.9, filter => '{\"part\": 4}')",
                              (q,)).fetchall()
        ours = conn.execute("select id, metadata from vecs.hybrid_query(%s, 'apple', %s::vector, k => 10,"
                            " filters => '{\"part\": 4}', include_metadata => true)", (c, q)).fetchall()
        assert len(theirs) < 10 and len(ours) == 10 and all(m["part"] == 4 for _, m in ours)
    conn.execute("reset default_text_search_config")
    conn.execute("drop function pg_temp.hybrid_search")  # it depends on the table's row type


def test_the_demo_runs_its_hybrid_example(dsn):
    """examples/demo.sql (make demo) through psql, ending with the hybrid search example."""
    import subprocess

    from vecs_sqlgen.dsn import embedded_bin

    demo = render.sql_dir().parent / "examples" / "demo.sql"
    out = subprocess.run([str(embedded_bin("psql")), "-X", "-q", dsn, "-f", str(demo)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    hybrid_part = out.stdout[out.stdout.index("== Hybrid search"):]
    assert re.search(r"lance \| +0\.0323 \| +1 \| +3", hybrid_part)
    assert re.search(r"pandas \| +0\.0325 \| +1 \| +2", hybrid_part)


def test_roles_the_owner_enables_a_reader_searches(roles):  # noqa: F811
    """The README's application role (no CREATE on schema vecs) enables text search on its own
    collection (the gin index through _build_index); a role with SELECT searches but can neither
    enable nor disable it; one without SELECT cannot search."""
    from .test_roles import NAME, connect

    with connect(roles["app"]) as c:
        c.execute("select vecs.create_collection(%s, 3)", (NAME,))
        upsert_json(c, NAME, [["a", [1, 0, 0], {"text": "owned by the app"}], ["b", [0, 1, 0], {"text": "other"}]])
        assert c.execute("select vecs.enable_text_search(%s)", (NAME,)).fetchone()[0].startswith("ix_text_gin_")
        assert {r[0]: r[2] for r in hybrid(c, NAME, "app", [0, 1, 0])} == {"a": 1, "b": None}
        c.execute(psycopg.sql.SQL("grant select on {} to {}").format(
            psycopg.sql.Identifier("vecs", NAME), psycopg.sql.Identifier(roles["names"]["reader"])))
    with connect(roles["reader"]) as c:
        assert [r[0] for r in hybrid(c, NAME, "app", None)] == ["a"]
        assert describe(c, NAME)[2] is True
        for statement in ("select vecs.enable_text_search(%s, 'other')", "select vecs.disable_text_search(%s)"):
            with raises("42501"):
                c.execute(statement, (NAME,))
    with connect(roles["stranger"]) as c:
        with raises("42501"):
            hybrid(c, NAME, "app", [1, 0, 0])
    with connect(roles["app"]) as c:
        assert c.execute("select vecs.disable_text_search(%s)", (NAME,)).fetchone()[0] is True
        c.execute("select vecs.drop_collection(%s)", (NAME,))
