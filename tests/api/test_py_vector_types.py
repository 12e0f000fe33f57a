"""Vector types (issue 13) from Python: float16 in and out, sparse vectors as dicts, scipy.sparse rows
and SparseVector, binary vectors; the client's record checks match the server's; reduced indexes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from pgvector import Bit, SparseVector

import vecs_sqlgen as vecs
from vecs_sqlgen import exc
from vecs_sqlgen.limits import MAX_SPARSE_INDEXED_NNZ

pytestmark = pytest.mark.pgvector("0.7.0")


def test_halfvec_float16_in_and_out_both_upsert_paths(vx, name):
    docs = vx.get_or_create_collection(name, dimension=4, vector_type="halfvec")
    assert docs.vector_type == "halfvec"
    rng = np.random.default_rng(3)
    small = [(f"s{i}", rng.standard_normal(4).astype(np.float16), {"i": i}) for i in range(3)]
    docs.upsert(small)  # one call with arrays
    bulk = [(f"b{i}", rng.standard_normal(4).astype(np.float16), {"i": i}) for i in range(600)]
    docs.upsert(bulk)  # binary COPY of HalfVector
    docs.upsert([("b1", [0.5, 1, 2, 3], {})] * 1 + [(f"n{i}", rng.standard_normal(4), {}) for i in range(600)])  # COPY, a repeated id: staged
    assert len(docs) == 3 + 600 + 600
    (id_, vector, metadata), = docs.fetch(["s1"])
    assert vector.dtype == np.float16 and np.array_equal(vector, small[1][1]) and metadata == {"i": 1}
    assert np.array_equal(docs.fetch(["b1"])[0][1], np.array([0.5, 1, 2, 3], dtype=np.float16))
    got = docs.query(small[2][1], limit=1, include_vector=True, include_value=True)
    assert got[0][0] == "s2" and got[0][2].dtype == np.float16 and abs(got[0][1]) < 1e-3
    # the same collection, opened again without a type
    again = vx.get_or_create_collection(name, dimension=4)
    assert again.vector_type == "halfvec"
    assert {c.name: c.vector_type for c in vx.list_collections()}[name] == "halfvec"
    with pytest.raises(exc.ArgError, match=r'has vector_type halfvec, not bit'):
        vx.get_or_create_collection(name, dimension=4, vector_type="bit")
    # half range: the client's message is the server's
    with pytest.raises(exc.InvalidRecord, match=r'^record 2 \(id "y"\): vector values must be within half-precision range \(\|x\| <= 65504\) in a halfvec collection$'):
        docs.upsert([("x", [1, 2, 3, 4], {}), ("y", [1, 2, 3, 7e4], {})])
    with pytest.raises(exc.ArgError, match="half-precision range"):
        docs.query([0, 0, 0, 1e5])


def test_sparse_vectors_as_dicts_scipy_rows_and_sparsevector(vx, name):
    docs = vx.get_or_create_collection(name, dimension=30000, vector_type="sparsevec")
    docs.upsert([
        ("d", {0: 1.0, 29999: 2.0}, {"kind": "dict"}),
        ("s", scipy.sparse.csr_array(([3.0], ([0], [5])), shape=(1, 30000)), {"kind": "scipy"}),
        ("p", SparseVector({5: 1.0, 7: 1.0}, 30000), {"kind": "pgvector"}),
    ])  # fmt: skip
    docs.upsert([("t", {1: 1.0}, {}), ("t", {2: 2.0}, {})])  # a repeated id: staged (sparsevec), the last wins
    assert docs.fetch(["t"])[0][1].indices() == [2]
    (_, d, _), = docs.fetch(["d"])
    assert isinstance(d, SparseVector) and d.indices() == [0, 29999] and d.values() == [1.0, 2.0]
    got = docs.query({5: 1.0}, limit=3, measure="max_inner_product", include_value=True, include_vector=True)
    assert [(g[0], g[1]) for g in got[:2]] == [("s", -3.0), ("p", -1.0)]
    assert got[0][2].indices() == [5]
    assert vx.get_or_create_collection(name, dimension=30000).vector_type == "sparsevec"  # over vector's 16,000: its own type's limit
    with pytest.raises(exc.MismatchedDimension, match=r'^record 1 \(id "x"\): vector has 10 dimensions, collection .* has 30000$'):
        docs.upsert([("x", SparseVector({1: 1.0}, 10), {})])
    with pytest.raises(exc.InvalidRecord, match=r"sparse vector index 30000 is out of range \(0 to 29999\)"):
        docs.upsert([("x", {30000: 1.0}, {})])
    with pytest.raises(exc.InvalidRecord, match="must be a sparse vector"):
        docs.upsert([("x", [1.0, 2.0], {})])
    # once the collection has an HNSW index, at most 1000 non-zero values: the client says so first
    docs.create_index()
    dense = {i: 1.0 for i in range(MAX_SPARSE_INDEXED_NNZ + 1)}
    with pytest.raises(exc.InvalidRecord, match=rf'^record 1 \(id "x"\): sparse vector has {MAX_SPARSE_INDEXED_NNZ + 1} non-zero values; the collection\'s HNSW index takes at most {MAX_SPARSE_INDEXED_NNZ}$'):
        docs.upsert([("x", dense, {})])
    assert docs.query({29999: 1.0}, limit=1) == ["d"]


def test_bit_vectors(vx, name):
    docs = vx.get_or_create_collection(name, dimension=8, vector_type="bit")
    docs.upsert([("a", "10101010", {}), ("b", [True] * 8, {}), ("c", Bit("00001111"), {}), ("d", np.zeros(8, dtype=bool), {})])
    (_, a, _), = docs.fetch(["a"])
    assert a.dtype == np.bool_ and a.tolist() == [True, False] * 4
    docs.upsert([("e", "11110000", {}), ("e", "00000001", {"last": True})])  # a repeated id: staged (bit varying), the last wins
    assert docs.fetch(["e"])[0][1].tolist() == [False] * 7 + [True] and docs.fetch(["e"])[0][2] == {"last": True}
    assert docs.query("11111110", limit=2, measure="hamming_distance") == ["b", "a"]
    got = docs.query([1, 1, 1, 1, 0, 0, 0, 0], limit=1, measure="jaccard_distance", include_vector=True)
    assert got[0][0] in ("a", "b") and got[0][1].dtype == np.bool_
    with pytest.raises(exc.ArgError, match="does not apply to vector_type bit"):
        docs.query("11111110")  # cosine_distance
    with pytest.raises(exc.ArgError, match="does not apply to a bit collection"):
        docs.create_index()
    docs.create_index(measure="hamming_distance")
    assert docs.is_indexed_for_measure(vecs.IndexMeasure.hamming_distance)
    with pytest.raises(exc.MismatchedDimension, match=r'vector has 9 dimensions'):
        docs.upsert([("x", "101010101", {})])
    with pytest.raises(exc.InvalidRecord, match="string of 0s and 1s"):
        docs.upsert([("x", "1010101x", {})])


def test_reduced_indexes_from_python(vx, name):
    docs = vx.get_or_create_collection(name, dimension=2048)
    rng = np.random.default_rng(5)
    data = rng.standard_normal((8, 2048)).astype(np.float32)
    docs.upsert([(f"r{i}", v, {"g": i % 2}) for i, v in enumerate(data)])
    docs.create_index()  # over 2,000 dimensions: halfvec, automatically
    assert docs.index.endswith("_hv") and docs.is_indexed_for_measure("cosine_distance")
    assert docs.query(data[3], limit=2)[0] == "r3"
    docs.create_index(quantization="binary")
    assert docs.index.endswith("_bq")
    assert [i for i in docs.list_indexes() if i["kind"] == "vector"][0]["index_name"] == docs.index
    got = docs.query(data[5], limit=3, rerank=8, include_value=True, filters={"g": 1})
    assert got[0][0] == "r5" and [g[1] for g in got] == sorted(g[1] for g in got) and len(got) == 3
    with pytest.raises(exc.ArgError, match="rerank must be between 3 and 1000, got 2"):
        docs.query(data[5], limit=3, rerank=2)
    with pytest.raises(exc.ArgError, match="unknown quantization"):
        docs.create_index(quantization="int4")
