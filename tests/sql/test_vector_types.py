"""Vector types (issue 13) at the SQL level: halfvec, sparsevec and bit collections, indexes over a
reduced representation (halfvec over 2,000 dimensions, binary quantization, subvectors) with
re-ranking, and what pgvector 0.6.2 lacks (VX007)."""

from __future__ import annotations

import re
import uuid

import numpy as np
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from vecs_sqlgen.limits import MAX_SPARSE_INDEXED_NNZ

from .helpers import drop_collections, query_reports, raises, upsert_json, vec

pytestmark = pytest.mark.pgvector("0.7.0")  # what 0.6.2 lacks is tested at the end, on every server


@pytest.fixture
def typed(conn):
    """Factory: typed(vector_type, dimension) → a fresh collection of that type; all dropped after."""
    made: list[str] = []

    def make(vector_type: str, dimension: int) -> str:
        name = f"vt {vector_type} {uuid.uuid4().hex[:8]}"
        conn.execute("select vecs.create_collection(%s, %s, vector_type => %s)", (name, dimension, vector_type))
        made.append(name)
        return name

    yield make
    drop_collections(conn, made)


def staging(conn, column_type: str, rows: list[tuple]) -> str:
    """A temp staging table (id text, vec <column_type>, metadata jsonb) holding rows, for upsert_from."""
    name = f"stage_{uuid.uuid4().hex[:8]}"
    conn.execute(f"create temp table {name} (id text, vec {column_type}, metadata jsonb)")
    with conn.cursor() as cur:
        cur.executemany(f"insert into {name} values (%s, %s::{column_type}, %s)", [(i, v, Jsonb(m)) for i, v, m in rows])
    return name


def ids(rows) -> list[str]:
    return [r[0] for r in rows]


# ----------------------------------------------------------------------------- collections


def test_vector_type_is_recorded_from_the_column(conn, typed, collection):
    names = {t: typed(t, 4) for t in ("halfvec", "sparsevec", "bit")}
    listed = {r[0]: r[1:] for r in conn.execute("select name, dimension, vector_type from vecs.list_collections()")}
    assert listed[collection] == (3, "vector")  # a collection made as vecs makes them: unchanged
    for t, name in names.items():
        assert listed[name] == (4, t)
        assert conn.execute("select vector_type from vecs.describe_collection(%s)", (name,)).fetchone()[0] == t
        coltype = conn.execute("select format_type(atttypid, atttypmod) from pg_attribute where attrelid = "
                               "format('vecs.%%I', %s::text)::regclass and attname = 'vec'", (name,)).fetchone()[0]
        assert coltype == {"halfvec": "halfvec(4)", "sparsevec": "sparsevec(4)", "bit": "bit(4)"}[t]
    # get_or_create: the type must match when given, and is kept when not
    with raises("VX001", f'collection "{names["bit"]}" has vector_type bit, not halfvec'):
        conn.execute("select vecs.get_or_create_collection(%s, 4, 'halfvec')", (names["bit"],))
    conn.execute("select vecs.get_or_create_collection(%s, 4)", (names["bit"],))
    conn.execute("select vecs.get_or_create_collection(%s, 4, 'bit')", (names["bit"],))
    with raises("VX001", 'unknown vector_type "float8" (expected one of: vector, halfvec, sparsevec, bit)'):
        conn.execute("select vecs.create_collection('vt bad', 3, vector_type => 'float8')")
    # the dimension's limit is the type's: a sparse vector may have a million dimensions
    big = typed("sparsevec", 1_000_000)
    assert conn.execute("select dimension from vecs.describe_collection(%s)", (big,)).fetchone()[0] == 1_000_000
    with raises("VX001", "dimension must be between 1 and 16000, got 16001"):
        conn.execute("select vecs.create_collection('vt bad', 16001)")
    with raises("VX001", "dimension must be between 1 and 64000 for vector_type bit, got 64001"):
        conn.execute("select vecs.create_collection('vt bad', 64001, vector_type => 'bit')")


# ----------------------------------------------------------------------------- halfvec


def test_halfvec_records_every_path(conn, typed):
    c = typed("halfvec", 3)
    assert upsert_json(conn, c, [["a", [1, 2, 3], {"k": 1}], ["b", [0.5, -1, 2]]]) == 2
    conn.execute("select vecs.upsert(%s, array['c'], array['[1,1,1]']::vector[])", (c,))
    conn.execute("select vecs.upsert_from(%s, %s)", (c, staging(conn, "vector", [("d", "[3,2,1]", {})])))
    conn.execute("select vecs.upsert_from(%s, %s)", (c, staging(conn, "halfvec", [("e", "[2,2,1]", {})])))
    rows = conn.execute("select id, vec::text from vecs.fetch(%s, array['a','b','c','d','e'])", (c,)).fetchall()
    assert rows == [("a", "[1,2,3]"), ("b", "[0.5,-1,2]"), ("c", "[1,1,1]"), ("d", "[3,2,1]"), ("e", "[2,2,1]")]
    typed_rows = conn.execute("select pg_typeof(vec)::text from vecs.fetch(%s, array['a'], NULL::halfvec)", (c,)).fetchall()
    assert typed_rows == [("halfvec",)]
    # values beyond half precision, named in every path; nothing is written
    big = [["x", [1, 2, 3]], ["y", [70000, 0, 0]]]
    with raises("VX006", 'record 2 (id "y"): vector values must be within half-precision range (|x| <= 65504) in a halfvec collection'):
        upsert_json(conn, c, big)
    with raises("VX006", match=r'^record 2 \(id "y"\): vector values must be within half-precision range'):
        conn.execute("select vecs.upsert(%s, array['x','y'], array['[1,2,3]','[0,-1e5,0]']::vector[])", (c,))
    with raises("VX006", match=r'^record 2 \(id "y"\): vector values must be within half-precision range'):
        conn.execute("select vecs.upsert_from(%s, %s)", (c, staging(conn, "vector", [("x", "[1,1,1]", {}), ("y", "[1,1,65520]", {})])))
    with raises("VX005", 'record 1 (id "x"): vector has 2 dimensions, collection "%s" has 3' % c):
        upsert_json(conn, c, [["x", [1, 2]]])
    assert conn.execute("select vecs.count(%s)", (c,)).fetchone()[0] == 5
    # queries take a vector; the results' vectors are vectors of the same values
    got = conn.execute("select id, distance, vec::text from vecs.query(%s, '[1,2,3]', k => 2, include_value => true,"
                       " include_vector => true, measure => 'l2_distance')", (c,)).fetchall()
    assert got[0] == ("a", 0.0, "[1,2,3]") and got[1][0] == "c"  # c and e tie: the id decides
    with raises("VX001", f'query vector values must be within half-precision range (|x| <= 65504) for halfvec collection "{c}"'):
        conn.execute("select * from vecs.query(%s, '[1,2,1e6]')", (c,))
    with raises("VX001", f'collection "{c}" stores halfvec already'):
        conn.execute("select vecs.create_index(%s, quantization => 'halfvec')", (c,))
    name = conn.execute("select vecs.create_index(%s)", (c,)).fetchone()[0]
    assert re.fullmatch(r"ix_halfvec_cosine_ops_hnsw_m16_efc64_[0-9a-f_]{7}", name), name
    # hybrid search: the text branch's distances are the vector branch's
    upsert_json(conn, c, [["a", [1, 2, 3], {"text": "red apple"}], ["b", [0.5, -1, 2], {"text": "green apple"}]])
    conn.execute("select vecs.enable_text_search(%s)", (c,))
    got = conn.execute("select id, distance from vecs.hybrid_query(%s, 'apple', '[1,2,3]', k => 2)", (c,)).fetchall()
    assert got[0] == ("a", 0.0) and got[1][0] == "b"
    bits = typed("bit", 4)
    with raises("VX001", f'hybrid_query searches vectors of vector and halfvec collections; "{bits}" has vector_type bit (search it with query)'):
        conn.execute("select * from vecs.hybrid_query(%s, 'apple', '[1,2,3,4]')", (bits,))
    # ... and by text alone (no distance: its vectors are not vectors)
    conn.execute(sql.SQL("insert into {} values ('t', B'1010', %s)").format(sql.Identifier("vecs", bits)), (Jsonb({"text": "red apple"}),))
    conn.execute("select vecs.enable_text_search(%s)", (bits,))
    got = conn.execute("select id, text_rank, vector_rank, distance from vecs.hybrid_query(%s, 'apple', NULL)", (bits,)).fetchall()
    assert got == [("t", 1, None, None)]
    assert conn.execute("select index_name, index_measure from vecs.list_collections() where name = %s", (c,)).fetchone() == (name, "cosine_distance")


# ----------------------------------------------------------------------------- sparsevec


def test_sparsevec_records_queries_and_index(conn, typed):
    c = typed("sparsevec", 6)
    assert upsert_json(conn, c, [["a", "{1:1,3:2}/6", {"k": 1}], ["b", "{2:1}/6"], ["c", "{1:0.5,6:1}/6"]]) == 3
    conn.execute("select vecs.upsert_from(%s, %s)", (c, staging(conn, "sparsevec", [("d", "{4:1}/6", {})])))
    assert conn.execute("select id, vec::text from vecs.fetch(%s, array['a','d'], NULL::sparsevec)", (c,)).fetchall() == [
        ("a", "{1:1,3:2}/6"), ("d", "{4:1}/6")]
    got = conn.execute("select id, distance from vecs.query(%s, typed_vector => '{1:1}/6'::sparsevec, k => 2,"
                       " include_value => true, measure => 'max_inner_product')", (c,)).fetchall()
    assert got == [("a", -1.0), ("c", -0.5)]
    # wrong type or dimension for the collection, wherever a vector comes in or goes out
    with raises("VX001", match=rf'^collection "{re.escape(c)}" has vector_type sparsevec: upsert its records with upsert_from'):
        conn.execute("select vecs.upsert(%s, array['x'], array['[1,0,0,0,0,0]']::vector[])", (c,))
    with raises("VX001", match=r"^source .* must be a table with columns id \(text\), vec \(sparsevec\) and metadata"):
        conn.execute("select vecs.upsert_from(%s, %s)", (c, staging(conn, "vector", [("x", "[1,0,0,0,0,0]", {})])))
    with raises("VX006", match=r"^record 1 \(id \"x\"\): vector must be a sparse vector in pgvector's text form"):
        upsert_json(conn, c, [["x", [1, 0, 0, 0, 0, 0]]])
    with raises("VX005", f'record 2 (id "y"): vector has 7 dimensions, collection "{c}" has 6'):
        upsert_json(conn, c, [["x", "{1:1}/6"], ["y", "{1:1}/7"]])
    with raises("VX001", f'collection "{c}" has vector_type sparsevec: pass its query vector as typed_vector (a sparsevec)'):
        conn.execute("select * from vecs.query(%s, '[1,0,0,0,0,0]')", (c,))
    with raises("VX005", f'query vector has 5 dimensions, collection "{c}" has 6'):
        conn.execute("select * from vecs.query(%s, typed_vector => '{1:1}/5'::sparsevec)", (c,))
    with raises("VX001", f'collection "{c}" has vector_type sparsevec: fetch its records with fetch(collection, ids, NULL::sparsevec)'):
        conn.execute("select * from vecs.fetch(%s, array['a'])", (c,))
    with raises("VX001", f'collection "{c}" has vector_type sparsevec, not bit'):
        conn.execute("select * from vecs.fetch(%s, array['a'], NULL::bit)", (c,))
    with raises("VX001", "a sparsevec collection is indexed with hnsw (ivfflat does not index sparse vectors)"):
        conn.execute("select vecs.create_index(%s, method => 'ivfflat')", (c,))
    # more non-zero values than HNSW takes: the build names the record; once indexed, upsert does
    many = "{" + ",".join(f"{i}:1" for i in range(1, MAX_SPARSE_INDEXED_NNZ + 2)) + "}/2000"
    wide = typed("sparsevec", 2000)
    upsert_json(conn, wide, [["ok", "{1:1}/2000"], ["dense", many]])
    with raises("VX006", f'record (id "dense") has more than {MAX_SPARSE_INDEXED_NNZ} non-zero values, which an HNSW index does not take'):
        conn.execute("select vecs.create_index(%s)", (wide,))
    conn.execute("select vecs.delete(%s, array['dense'])", (wide,))
    name = conn.execute("select vecs.create_index(%s)", (wide,)).fetchone()[0]
    assert name.startswith("ix_sparsevec_cosine_ops_hnsw_m16_efc64_")
    with raises("VX006", f'record 2 (id "dense"): sparse vector has {MAX_SPARSE_INDEXED_NNZ + 1} non-zero values; the collection\'s HNSW index takes at most {MAX_SPARSE_INDEXED_NNZ}'):
        upsert_json(conn, wide, [["fine", "{2:1}/2000"], ["dense", many]])
    assert ids(conn.execute("select id from vecs.query(%s, typed_vector => '{1:1}/2000'::sparsevec)", (wide,))) == ["ok"]


# ----------------------------------------------------------------------------- bit


def test_bit_records_hamming_and_jaccard(conn, typed):
    c = typed("bit", 4)
    assert upsert_json(conn, c, [["a", "1010", {"k": 1}], ["b", "0111"], ["c", "1000", {"k": 1}]]) == 3
    assert conn.execute("select id, vec::text from vecs.fetch(%s, array['b'], NULL::bit)", (c,)).fetchall() == [("b", "0111")]
    hamming = conn.execute("select id, distance from vecs.query(%s, typed_vector => B'1011', measure => 'hamming_distance',"
                           " include_value => true)", (c,)).fetchall()
    assert hamming == [("a", 1.0), ("b", 2.0), ("c", 2.0)]
    jaccard = conn.execute("select id from vecs.query(%s, typed_vector => B'1000', measure => 'jaccard_distance',"
                           " filters => '{\"k\": 1}')", (c,)).fetchall()
    assert ids(jaccard) == ["c", "a"]
    # a bit collection is searched and indexed by Hamming or Jaccard distance only
    with raises("VX001", 'measure "cosine_distance" does not apply to vector_type bit (expected one of: hamming_distance, jaccard_distance)'):
        conn.execute("select * from vecs.query(%s, typed_vector => B'1011')", (c,))
    with raises("VX001", 'measure "l2_distance" does not apply to a bit collection (expected one of: hamming_distance, jaccard_distance)'):
        conn.execute("select vecs.create_index(%s, 'l2_distance')", (c,))
    with raises("VX001", "ivfflat indexes a bit collection for hamming_distance only; use method hnsw"):
        conn.execute("select vecs.create_index(%s, 'jaccard_distance', 'ivfflat')", (c,))
    with raises("VX006", match=r'^record 1 \(id "x"\): vector must be a string of 0s and 1s'):
        upsert_json(conn, c, [["x", [1, 0, 1, 1]]])
    with raises("VX005", f'record 1 (id "x"): vector has 5 dimensions, collection "{c}" has 4'):
        upsert_json(conn, c, [["x", "10101"]])
    with raises("VX001", f'collection "{c}" has vector_type bit: pass its query vector as typed_vector (a bit string)'):
        conn.execute("select * from vecs.query(%s, typed_vector => '{1:1}/4'::sparsevec, measure => 'hamming_distance')", (c,))
    with raises("VX001", match=r"^include_vector is not available for a bit collection here"):
        conn.execute("select * from vecs.query(%s, typed_vector => B'1011', measure => 'hamming_distance', include_vector => true)", (c,))
    name = conn.execute("select vecs.create_index(%s, 'hamming_distance')", (c,)).fetchone()[0]
    assert name.startswith("ix_bit_hamming_ops_hnsw_m16_efc64_")
    assert conn.execute("select index_measure from vecs.list_collections() where name = %s", (c,)).fetchone()[0] == "hamming_distance"


# ----------------------------------------------------------------------------- reduced indexes


def normalised(rng, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def fill_random(conn, name: str, data: np.ndarray) -> None:
    rows = [[f"r{i}", v.tolist(), {"g": i % 50}] for i, v in enumerate(data)]
    upsert_json(conn, name, rows)


def exact(conn, name: str, q: np.ndarray, k: int, filters: str = "{}") -> list[tuple[str, float]]:
    return conn.execute(f'select id, vec <=> %s::vector as d from vecs."{name}" where metadata @> %s::jsonb order by d, id limit %s',
                        (vec(q), filters, k)).fetchall()


def test_over_2000_dimensions_the_default_search_is_four_times_wider(conn, typed):
    """ef_search defaults to 4 x its usual 100 over 2,000 dimensions where the index is over halfvec (it reached
    recall@10 0.963-0.975 at 100, 0.996-0.998 at 400 on 3,072-d vectors); a caller's ef_search still decides."""
    seen_ef = {}
    for d in (2000, 2100):
        c = typed("vector", d)
        data = normalised(np.random.default_rng(2), 6, d)
        fill_random(conn, c, data)
        if d > 2000:
            conn.execute("select vecs.create_index(%s)", (c,))
        else:
            conn.execute("select vecs.create_index(%s, method => 'hnsw')", (c,))
        for ef in (None, 60):
            with query_reports(conn) as seen:
                conn.execute("select id from vecs.query(%s, %s, k => 3, ef_search => %s)", (c, vec(data[1]), ef)).fetchall()
            seen_ef[d, ef] = [s for s in seen if s.startswith("index search, hnsw.ef_search ")]
    assert seen_ef == {(2000, None): ["index search, hnsw.ef_search 100"], (2000, 60): ["index search, hnsw.ef_search 60"],
                       (2100, None): ["index search, hnsw.ef_search 400"], (2100, 60): ["index search, hnsw.ef_search 60"]}
    # over a binary index the candidates to re-rank set the width (200 at k = 3), not the factor
    conn.execute("select vecs.create_index(%s, quantization => 'binary')", (c,))
    with query_reports(conn) as seen:
        conn.execute("select id from vecs.query(%s, %s, k => 3)", (c, vec(data[1]))).fetchall()
    assert [s for s in seen if s.startswith("index search, hnsw.ef_search ")] == ["index search, hnsw.ef_search 200"]


def test_vector_over_2000_dimensions_is_indexed_over_halfvec_and_queries_use_it(conn, typed):
    d = 2100
    c = typed("vector", d)
    data = normalised(np.random.default_rng(1), 6, d)
    fill_random(conn, c, data)
    name = conn.execute("select vecs.create_index(%s)", (c,)).fetchone()[0]
    assert re.fullmatch(r"ix_vector_cosine_ops_hnsw_m16_efc64_[0-9a-f_]{7}_hv", name), name
    indexdef = conn.execute("select pg_get_indexdef(%s::regclass)", (f'vecs."{name}"',)).fetchone()[0]
    assert f"((vec)::halfvec({d})) halfvec_cosine_ops" in indexdef
    assert conn.execute("select index_name, index_measure from vecs.list_collections() where name = %s", (c,)).fetchone() == (name, "cosine_distance")
    # the ORDER BY query builds for this index is the index's expression: EXPLAIN shows it used
    order, representation = conn.execute(
        "select index_order, representation from vecs._query_plan(%s::regclass::oid, %s, 'vector', %s, 'cosine_distance', 3,"
        " NULL, false, %s::vector, NULL, NULL)", (f'vecs."{c}"', c, d, vec(data[0]))).fetchone()
    assert representation == "halfvec"
    assert order == f'(t.vec::"public".halfvec({d})) OPERATOR("public".<=>) ($3::"public".halfvec({d}))'
    with conn.transaction():
        conn.execute("set local enable_seqscan = off")
        statement = f'explain select t.id from vecs."{c}" as t order by {order} limit 3'.replace("$3", "%s")
        plan = "\n".join(r[0] for r in conn.execute(statement, (vec(data[0]),)))
        assert f"Index Scan using {name}" in plan, plan
        # and vecs.query itself scans it (a table this small would otherwise be read sequentially)
        scans = "select pg_stat_get_xact_numscans(%s::regclass)"
        before = conn.execute(scans, (f'vecs."{name}"',)).fetchone()[0]
        got = conn.execute("select id, distance from vecs.query(%s, %s, k => 3, include_value => true)", (c, vec(data[2]))).fetchall()
        assert conn.execute(scans, (f'vecs."{name}"',)).fetchone()[0] == before + 1
    # ordered by the true (float32) distance
    assert [g[0] for g in got] == [e[0] for e in exact(conn, c, data[2], 3)]
    assert [round(g[1], 5) for g in got] == [round(e[1], 5) for e in exact(conn, c, data[2], 3)]


@pytest.fixture
def random_collection(conn, typed):
    """A 64-d vector collection of 400 random unit vectors (metadata g = i % 50: 8 records each)."""
    c = typed("vector", 64)
    data = normalised(np.random.default_rng(7), 400, 64)
    fill_random(conn, c, data)
    return c, data


@pytest.mark.parametrize("option", ["quantization => 'binary'", "dimensions => 16"])
def test_reduced_index_reranks_by_the_true_distance_and_stays_complete(conn, random_collection, option):
    c, data = random_collection
    name = conn.execute(f"select vecs.create_index(%s, {option})", (c,)).fetchone()[0]
    suffix = "_bq" if "binary" in option else "_sub16"
    assert re.fullmatch(rf"ix_vector_cosine_ops_hnsw_m16_efc64_[0-9a-f_]{{7}}{suffix}", name), name
    expression = "binary_quantize(vec))::bit(64)) bit_hamming_ops" if "binary" in option else "subvector(vec, 1, 16))::vector(16)) vector_cosine_ops"
    assert expression in conn.execute("select pg_get_indexdef(%s::regclass)", (f'vecs."{name}"',)).fetchone()[0]
    assert conn.execute("select measure from vecs.list_indexes(%s) where kind = 'vector'", (c,)).fetchone()[0] == "cosine_distance"
    hits = 0
    # random vectors are not Matryoshka embeddings: their first 16 of 64 dimensions rank poorly, so
    # the subvector index is given more candidates than its default (40 at k = 10)
    rerank = None if "binary" in option else 200
    for q in data[:20]:
        got = conn.execute("select id, distance from vecs.query(%s, %s, k => 10, include_value => true, rerank => %s)",
                           (c, vec(q), rerank)).fetchall()
        truth = exact(conn, c, q, 10)
        assert len(got) == 10
        # the distances are the true ones, in order
        distances = [g[1] for g in got]
        assert distances == sorted(distances)
        true_d = dict(conn.execute(f'select id, vec <=> %s::vector from vecs."{c}" where id = any(%s)', (vec(q), [g[0] for g in got])).fetchall())
        assert all(abs(true_d[i] - dist) < 1e-6 for i, dist in got)
        hits += len({g[0] for g in got} & {t[0] for t in truth})
    assert hits / 200 >= 0.8, hits
    # a wider candidate set finds at least as much
    q = data[3]
    wide = ids(conn.execute("select id from vecs.query(%s, %s, k => 10, rerank => 400)", (c, vec(q))).fetchall())
    assert wide == [t[0] for t in exact(conn, c, q, 10)]  # 400 candidates: every record
    with raises("VX001", "rerank must be between k (10) and 1000, got 5"):
        conn.execute("select * from vecs.query(%s, %s, k => 10, rerank => 5)", (c, vec(q)))
    # completeness through the index path (the exact-search threshold set to 0 forces it): a filter
    # matching 8 records gives all 8 (the index's candidates fall short: exact search), and one
    # matching 400 gives k
    with conn.transaction():
        conn.execute("set local vecs.exact_search_threshold = 0")
        few = conn.execute("select id from vecs.query(%s, %s, k => 10, filters => '{\"g\": 7}')", (c, vec(q))).fetchall()
        assert sorted(ids(few)) == sorted(e[0] for e in exact(conn, c, q, 10, '{"g": 7}')) and len(few) == 8
        many = conn.execute("select id from vecs.query(%s, %s, k => 10, filters => '{\"g\": {\"$gte\": 0}}')", (c, vec(q))).fetchall()
        assert len(many) == 10


def test_reduced_index_arguments(conn, random_collection, typed):
    c, _ = random_collection
    with raises("VX001", "pass one of quantization or dimensions"):
        conn.execute("select vecs.create_index(%s, quantization => 'binary', dimensions => 8)", (c,))
    with raises("VX001", 'unknown quantization "int8" (expected binary or halfvec)'):
        conn.execute("select vecs.create_index(%s, quantization => 'int8')", (c,))
    with raises("VX001", "dimensions must be between 1 and 63 (fewer than the collection's), got 64"):
        conn.execute("select vecs.create_index(%s, dimensions => 64)", (c,))
    with raises("VX001", match=r"^a filtered index is over the full vectors"):
        conn.execute("select vecs.create_index(%s, filters => '{\"g\": 1}', quantization => 'binary')", (c,))
    with raises("VX001", match=r"^quantization and dimensions apply to vector and halfvec collections"):
        conn.execute("select vecs.create_index(%s, 'hamming_distance', quantization => 'binary')", (typed("bit", 8),))
    huge = typed("vector", 4001)
    with raises("VX001", f'collection "{huge}" has 4001 dimensions, more than pgvector indexes as halfvec; index a reduced representation: quantization => \'binary\' or dimensions => m'):
        conn.execute("select vecs.create_index(%s)", (huge,))
    assert conn.execute("select vecs.create_index(%s, quantization => 'binary')", (huge,)).fetchone()[0].endswith("_bq")


# ----------------------------------------------------------------------------- what pgvector 0.6.2 lacks


@pytest.mark.pgvector("0.0.0")
def test_vector_types_rendered_for_pgvector_062_are_vx007(conn, legacy_schema):
    schema = legacy_schema("0.6.2")
    for t in ("halfvec", "sparsevec", "bit"):
        with raises("VX007", f"vector_type {t} needs pgvector 0.7.0 or later (this install found 0.6.2)"):
            conn.execute(f"select {schema}.create_collection('c', 3, vector_type => %s)", (t,))
    conn.execute(f"select {schema}.create_collection('c', 3)")
    with raises("VX007", "quantization => binary needs pgvector 0.7.0 or later (this install found 0.6.2)"):
        conn.execute(f"select {schema}.create_index('c', quantization => 'binary')")
    with raises("VX007", "dimensions needs pgvector 0.7.0 or later (this install found 0.6.2)"):
        conn.execute(f"select {schema}.create_index('c', dimensions => 2)")
    conn.execute(f"select {schema}.create_collection('wide', 2100)")
    with raises("VX007", 'collection "wide" has 2100 dimensions: pgvector indexes at most 2000 of a vector; an index over halfvec (up to 4000) needs pgvector 0.7.0 or later (this install found 0.6.2)'):
        conn.execute(f"select {schema}.create_index('wide')")
    # the plain vector path is unchanged
    conn.execute(f"select {schema}.upsert('c', '[[\"a\", [1,2,3]]]')")
    assert conn.execute(f"select id from {schema}.query('c', '[1,2,3]')").fetchall() == [("a",)]


@pytest.mark.pgvector("0.0.0")
def test_vector_types_on_old_pgvector_are_vx007(conn, pgvector_version):
    if pgvector_version >= (0, 7, 0):
        pytest.skip("this server's pgvector has the vector types (the rendered-for-0.6.2 variant runs everywhere)")
    with raises("VX007", match=r"^vector_type halfvec needs pgvector 0\.7\.0 or later \(this install found 0\.6"):
        conn.execute("select vecs.create_collection('vt old', 3, vector_type => 'halfvec')")
    conn.execute("select vecs.create_collection('vt old wide', 2100)")
    try:
        with raises("VX007", match=r"^collection \"vt old wide\" has 2100 dimensions: pgvector indexes at most 2000"):
            conn.execute("select vecs.create_index('vt old wide')")
        with raises("VX007", match=r"^quantization => binary needs pgvector 0\.7\.0 or later"):
            conn.execute("select vecs.create_index('vt old wide', quantization => 'binary')")
    finally:
        conn.execute("select vecs.drop_collection('vt old wide')")
