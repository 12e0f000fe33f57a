"""Every example of the vecs API page (the seed; see /work/shared/seed/README.md), run verbatim with
``import vecs_sqlgen as vecs`` in place of ``import vecs``.

The adapter example runs the real ``TextEmbedding(model='all-MiniLM-L6-v2')``, offline: the model
cannot be downloaded at test time, so the test builds a tiny stand-in with the same output
(384-dimensional unit vectors, random weights; tests/tiny_text_model.py) in a directory named
``all-MiniLM-L6-v2`` and runs the example from there (sentence-transformers takes an existing local
directory before a Hub name).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import vecs_sqlgen as vecs
from tiny_text_model import build_tiny_model, offline


@pytest.fixture
def DB_CONNECTION(dsn):
    """The test server; the examples' collection "docs" is dropped before and after each one."""
    with vecs.create_client(dsn) as vx:
        vx.delete_collection("docs")
    yield dsn
    with vecs.create_client(dsn) as vx:
        vx.delete_collection("docs")


@pytest.fixture
def docs(DB_CONNECTION):
    vx = vecs.create_client(DB_CONNECTION)
    docs = vx.get_or_create_collection(name="docs", dimension=3)
    yield docs
    vx.disconnect()


def test_1_connecting(DB_CONNECTION):
    # create vector store client
    vx = vecs.create_client(DB_CONNECTION)
    assert isinstance(vx, vecs.Client)
    vx.disconnect()


def test_2_get_or_create_a_collection(DB_CONNECTION):
    vx = vecs.create_client(DB_CONNECTION)
    docs = vx.get_or_create_collection(name="docs", dimension=3)
    assert repr(docs) == 'vecs.Collection(name="docs", dimension=3)'
    vx.disconnect()


def test_3_upserting_vectors(docs):
    # add records to the collection
    docs.upsert(
        records=[
            (
             "vec0",           # the vector's identifier
             [0.1, 0.2, 0.3],  # the vector. list or np.array
             {"year": 1973}    # associated  metadata
            ),
            (
             "vec1",
             [0.7, 0.8, 0.9],
             {"year": 2012}
            )
        ]
    )  # fmt: skip
    assert len(docs) == 2
    docs.upsert(records=[("vec2", np.array([0.1, 0.2, 0.3]), {"year": 1999})])
    assert len(docs) == 3


def test_4_deleting_vectors(docs):
    docs.upsert(records=[("vec0", [0.1, 0.2, 0.3], {"year": 1973}), ("vec1", [0.7, 0.8, 0.9], {"year": 2012})])
    assert sorted(docs.delete(ids=["vec0", "vec1"])) == ["vec0", "vec1"]

    docs.upsert(records=[("vec0", [0.1, 0.2, 0.3], {"year": 1973}), ("vec1", [0.7, 0.8, 0.9], {"year": 2012})])
    # or delete by a metadata filter
    assert docs.delete(filters={"year": {"$eq": 2012}}) == ["vec1"]
    assert docs.delete(ids=["does not exist"]) == []


def test_5_create_an_index(docs, pgvector_version):
    from vecs_sqlgen import IndexArgsHNSW, IndexMeasure, IndexMethod

    docs.create_index()
    assert docs.index.startswith("ix_vector_cosine_ops_hnsw_m16_efc64_")

    docs.create_index(
        method=IndexMethod.hnsw,
        measure=IndexMeasure.cosine_distance,
        index_arguments=IndexArgsHNSW(m=8),
    )
    assert docs.index.startswith("ix_vector_cosine_ops_hnsw_m8_efc64_")

    for measure in (vecs.IndexMeasure.cosine_distance, vecs.IndexMeasure.l2_distance,
                    vecs.IndexMeasure.l1_distance, vecs.IndexMeasure.max_inner_product):  # fmt: skip
        for method in (vecs.IndexMethod.auto, vecs.IndexMethod.hnsw, vecs.IndexMethod.ivfflat):
            if measure is vecs.IndexMeasure.l1_distance and (
                method is vecs.IndexMethod.ivfflat or pgvector_version < (0, 7, 0)
            ):
                continue  # pgvector has no ivfflat l1 operator class, and l1 only from 0.7
            docs.create_index(measure=measure, method=method)
            assert docs.is_indexed_for_measure(measure)
    docs.create_index(method=vecs.IndexMethod.ivfflat, index_arguments=vecs.IndexArgsIVFFlat(n_lists=4))


def test_6_query_without_an_index_warns(docs):
    docs.upsert(records=[("vec0", [0.1, 0.2, 0.3], {"year": 1973}), ("vec1", [0.7, 0.8, 0.9], {"year": 2012})])
    with pytest.warns(UserWarning) as record:
        docs.query(data=[0.4, 0.5, 0.6])
    expected = f"Query does not have a covering index for {vecs.IndexMeasure.cosine_distance}. See Collection.create_index"
    assert [str(w.message) for w in record] == [expected]


def test_7_query(docs):
    docs.upsert(records=[("vec0", [0.1, 0.2, 0.3], {"year": 1973}), ("vec1", [0.7, 0.8, 0.9], {"year": 2012})])
    docs.create_index()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # indexed: no warning
        result = docs.query(
            data=[0.4,0.5,0.6],          # required
            limit=5,                     # number of records to return
            filters={},                  # metadata filters
            measure="cosine_distance",   # distance measure to use
            include_value=False,         # should distance measure values be returned?
            include_metadata=False,      # should record metadata be returned?
            include_vector=False,        # should vectors be returned?
        )  # fmt: skip
    assert result == ["vec1", "vec0"]  # a list of vector record ids


def test_8_metadata_filtering(docs):
    docs.upsert(records=[("vec0", [0.1, 0.2, 0.3], {"year": 1973}), ("vec1", [0.7, 0.8, 0.9], {"year": 2012})])
    docs.create_index()
    result = docs.query(
        data=[0.4,0.5,0.6],              # required
        filters={"year": {"$eq": 2012}}, # metadata filters
    )  # fmt: skip
    assert result == ["vec1"]
    assert docs.query(data=[0.4, 0.5, 0.6], filters={"year": {"$eq": 2005}}) == []


def test_9_disconnect(DB_CONNECTION):
    vx = vecs.create_client(DB_CONNECTION)
    vx.disconnect()

    with vecs.create_client(DB_CONNECTION) as vx:
        # do some work here
        pass
    assert not vx.session.connected  # closed on exit


@pytest.fixture(scope="module")
def tiny_all_minilm(tmp_path_factory):
    """A directory holding a directory ``all-MiniLM-L6-v2`` with a tiny 384-dimensional model."""
    with pytest.MonkeyPatch.context() as mp:
        offline(mp)
        root = tmp_path_factory.mktemp("seed-models")
        build_tiny_model(root / "all-MiniLM-L6-v2", dimension=384)
    return root


def test_10_adapters(DB_CONNECTION, tiny_all_minilm, monkeypatch):
    offline(monkeypatch)
    monkeypatch.chdir(tiny_all_minilm)  # 'all-MiniLM-L6-v2' is the local model; nothing is downloaded

    from vecs_sqlgen.adapter import Adapter, ParagraphChunker, TextEmbedding

    # create vector store client
    vx = vecs.Client(DB_CONNECTION)

    # create a collection with an adapter
    docs = vx.get_or_create_collection(
        name="docs",
        adapter=Adapter(
            [
                ParagraphChunker(skip_during_query=True),
                TextEmbedding(model='all-MiniLM-L6-v2'),
            ]
        )
    )  # fmt: skip

    # add records to the collection using text as the media type
    docs.upsert(
        records=[
            (
             "vec0",
             "four score and ....", # <- note that we can now pass text here
             {"year": 1973}
            ),
            (
             "vec1",
             "hello, world!",
             {"year": "2012"}
            )
        ]
    )  # fmt: skip

    # search by text
    with pytest.warns(UserWarning):
        result = docs.query(data="foo bar")
    assert sorted(result) == ["vec0_para_000", "vec1_para_000"]
    assert docs.dimension == 384
    # the real TextEmbedding, with the local model: a text queries itself first
    assert type(docs.adapter.steps[1]).__module__ == "vecs_sqlgen.adapter.text"
    with pytest.warns(UserWarning):
        assert docs.query(data="hello, world!", limit=1) == ["vec1_para_000"]
    vx.disconnect()


def test_11_deprecated(DB_CONNECTION):
    vx = vecs.create_client(DB_CONNECTION)
    with pytest.warns(DeprecationWarning):
        docs = vx.create_collection(name="docs", dimension=3)
    with pytest.warns(DeprecationWarning):
        docs = vx.get_collection(name="docs")
    assert (docs.name, docs.dimension) == ("docs", 3)
    vx.disconnect()
