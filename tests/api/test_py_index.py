"""Collection.create_index, index and is_indexed_for_measure."""

from __future__ import annotations

import re

import pytest

import vecs_sqlgen as vecs
from vecs_sqlgen import IndexArgsHNSW, IndexArgsIVFFlat, IndexMeasure, IndexMethod, exc


def test_create_index_defaults(filled):
    assert filled.index is None
    assert not filled.is_indexed_for_measure(IndexMeasure.cosine_distance)
    assert filled.create_index() is None
    assert re.fullmatch(r"ix_vector_cosine_ops_hnsw_m16_efc64_[0-9a-f_]{7}", filled.index)
    assert filled.is_indexed_for_measure(IndexMeasure.cosine_distance)
    assert filled.is_indexed_for_measure("cosine_distance")
    assert not filled.is_indexed_for_measure(IndexMeasure.l2_distance)
    assert not filled.is_indexed_for_measure("nonsense")


def test_create_index_methods_and_arguments(filled):
    filled.create_index(method=IndexMethod.hnsw, measure=IndexMeasure.cosine_distance, index_arguments=IndexArgsHNSW(m=8))
    assert filled.index.startswith("ix_vector_cosine_ops_hnsw_m8_efc64_")
    filled.create_index(measure="l2_distance", method="ivfflat", index_arguments=IndexArgsIVFFlat(n_lists=3))
    assert filled.index.startswith("ix_vector_l2_ops_ivfflat_nl3_")
    assert filled.is_indexed_for_measure(IndexMeasure.l2_distance)
    filled.create_index(IndexMeasure.max_inner_product, IndexMethod.ivfflat)
    assert filled.index.startswith("ix_vector_ip_ops_ivfflat_nl30_")  # vecs's default list count
    filled.create_index(IndexMeasure.cosine_distance, IndexMethod.hnsw, IndexArgsHNSW(m=None, ef_construction=40))
    assert filled.index.startswith("ix_vector_cosine_ops_hnsw_m16_efc40_")


def test_only_one_index_remains(vx, filled):
    filled.create_index()
    filled.create_index(measure="l2_distance")
    (listed,) = [c for c in vx.list_collections() if c.name == filled.name]
    assert listed.index == filled.index and listed.is_indexed_for_measure("l2_distance")
    fresh = vecs.Collection(filled.name, 3, vx)
    assert fresh.index == filled.index  # looked up from the database


def test_replace_false(filled):
    filled.create_index()
    with pytest.raises(exc.ArgError, match="replace is set to False but an index exists"):
        filled.create_index(replace=False)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "annoy"}, "^invalid index method$"),
        ({"index_arguments": IndexArgsHNSW()}, r"^Index build parameters are not allowed when using the IndexMethod\.auto index\.$"),
        ({"method": IndexMethod.ivfflat, "index_arguments": IndexArgsHNSW()}, r"^IndexArgsHNSW build parameters were supplied but IndexMethod\.ivfflat index was specified\.$"),
        ({"method": "hnsw", "index_arguments": IndexArgsIVFFlat(n_lists=2)}, r"^IndexArgsIVFFlat build parameters were supplied but hnsw index was specified\.$"),
        ({"measure": "hamming"}, "^Unknown index measure$"),
    ],
)
def test_client_side_argument_errors(vx, filled, kwargs, message):
    vx.disconnect()
    with pytest.raises(exc.ArgError, match=message):
        filled.create_index(**kwargs)
    assert not vx.session.connected


def test_server_side_argument_errors(filled):
    with pytest.raises(exc.ArgError, match="m must be between 2 and 100"):
        filled.create_index(method="hnsw", index_arguments=IndexArgsHNSW(m=1000))


@pytest.mark.pgvector("0.7.0")
def test_l1_needs_hnsw(filled):
    with pytest.raises(exc.UnsupportedFeature, match="ivfflat indexes do not support l1_distance"):
        filled.create_index(measure="l1_distance", method="ivfflat")
    filled.create_index(measure="l1_distance")
    assert filled.is_indexed_for_measure("l1_distance")


def test_hnsw_unavailable_on_old_pgvector(vx, filled, monkeypatch):
    monkeypatch.setattr(vx, "vector_version", "0.4.4")
    with pytest.raises(exc.UnsupportedFeature, match=r"^HNSW Unavailable\. Upgrade your pgvector installation to > 0\.5\.0 to enable HNSW support$"):
        filled.create_index(method="hnsw")
    assert isinstance(exc.UnsupportedFeature("x"), exc.ArgError)


def test_index_is_cached(vx, filled, conn):
    assert filled.index is None
    conn.execute("select vecs.create_index(%s)", (filled.name,))
    assert filled.index is None  # looked up once per Collection object, as vecs caches it
    assert vx.get_or_create_collection(filled.name, dimension=3).index is not None


def test_build_memory_notice_reaches_the_caller(vx, name):
    """pgvector's "graph no longer fits into maintenance_work_mem" (the build goes on on disk, far
    slower) becomes a warning that says how to give the build more memory (issue 11)."""
    import numpy as np

    coll = vx.get_or_create_collection(name, dimension=8)
    rng = np.random.default_rng(2)
    coll.upsert([(f"r{i}", rng.standard_normal(8), {}) for i in range(3000)])
    # session settings of the pool's one connection (single-threaded calls all take it)
    with vx.session.connection() as c:
        c.execute("set maintenance_work_mem = '1MB'")
        c.execute("set vecs.max_build_memory = '1MB'")
    try:
        with pytest.warns(UserWarning, match="no longer fits into maintenance_work_mem.*vecs.max_build_memory") as record:
            coll.create_index()
        assert record[0].filename == __file__  # attributed to the caller
    finally:
        with vx.session.connection() as c:
            c.execute("reset maintenance_work_mem")
            c.execute("reset vecs.max_build_memory")
    assert coll.index is not None
