"""TextEmbedding with a real sentence-transformers model, offline: a tiny BERT built and saved by the
test (tests/tiny_text_model.py), loaded through TextEmbedding's own loading code — from a local path
and, by name, from a Hugging Face cache — then used end to end in a collection.

The model's weights are random, so only what does not depend on meaning is asserted: shapes, unit
length, determinism, batching, ids and metadata, and that a text queries itself first.
"""

from __future__ import annotations

import shutil
import warnings
from importlib.util import find_spec

import numpy as np
import pytest
from tiny_text_model import build_tiny_model, offline

from vecs_sqlgen import exc
from vecs_sqlgen.adapter import Adapter, AdapterContext, ParagraphChunker, TextEmbedding

pytestmark = pytest.mark.skipif(find_spec("sentence_transformers") is None, reason='needs "vecs-sqlgen[text]"')

DIMENSION = 32
UPSERT, QUERY = AdapterContext("upsert"), AdapterContext("query")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """The tiny model, built once for the module."""
    with pytest.MonkeyPatch.context() as mp:
        offline(mp)
        return str(build_tiny_model(tmp_path_factory.mktemp("models") / "tiny", dimension=DIMENSION))


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    offline(monkeypatch)


@pytest.fixture(scope="module")
def embedding(model_path):
    with pytest.MonkeyPatch.context() as mp:
        offline(mp)
        return TextEmbedding(model=model_path)


def encode(embedding: TextEmbedding, texts):
    return list(embedding(((str(i), text, None) for i, text in enumerate(texts)), UPSERT))


def test_loads_a_local_path(embedding, model_path):
    from sentence_transformers import SentenceTransformer

    assert isinstance(embedding.model, SentenceTransformer)
    assert embedding.exported_dimension == DIMENSION
    assert embedding.batch_size == 8
    assert TextEmbedding(model=model_path, batch_size=3).batch_size == 3


def test_embeddings_are_deterministic_unit_vectors(embedding, model_path):
    texts = ["hello, world!", "four score and seven years ago", "hello, world!", "Hello,   WORLD!", "zebra xyzzy 42"]
    out = encode(embedding, texts)
    vectors = np.array([vec for _, vec, _ in out])
    assert vectors.shape == (5, DIMENSION)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[2])  # the same text, the same vector
    assert np.allclose(vectors[0], vectors[3], atol=1e-5)  # lower-cased, whitespace-split tokens
    assert not np.allclose(vectors[0], vectors[1])
    # a fresh load of the saved model gives the same vectors: nothing random at load time
    again = np.array([vec for _, vec, _ in encode(TextEmbedding(model=model_path), texts)])
    assert np.allclose(vectors, again, atol=1e-5)


def test_batches_keep_ids_metadata_and_order(model_path, monkeypatch):
    embedding = TextEmbedding(model=model_path, batch_size=2)
    batches = []
    encode_ = embedding.model.encode

    def spy(texts, **kwargs):
        batches.append(list(texts))
        return encode_(texts, **kwargs)

    monkeypatch.setattr(embedding.model, "encode", spy)
    records = [("a", "the dog", {"k": 1}), ("b", "the cat", None), ("c", "a bird", {}), ("d", "fish", {"x": [1]}), ("e", "sun", None)]
    out = list(embedding(iter(records), QUERY))
    assert batches == [["the dog", "the cat"], ["a bird", "fish"], ["sun"]]
    assert [(id_, meta) for id_, _, meta in out] == [("a", {"k": 1}), ("b", {}), ("c", {}), ("d", {"x": [1]}), ("e", {})]
    # batching does not change a text's vector (padding is masked out by the mean pooling)
    for id_, vec, _ in out:
        text = dict((r[0], r[1]) for r in records)[id_]
        assert np.allclose(vec, encode_([text], normalize_embeddings=True)[0], atol=1e-5)


def test_accepts_a_hub_name_from_the_local_cache(model_path, tmp_path, monkeypatch):
    """A bare name resolves to sentence-transformers/<name> on the Hub, here served from the cache."""
    import sentence_transformers

    if int(sentence_transformers.__version__.split(".")[0]) < 3:
        pytest.skip("sentence-transformers < 3 keeps its own cache layout")
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--sentence-transformers--tiny-test-model"
    shutil.copytree(model_path, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(tmp_path))

    by_path = TextEmbedding(model=model_path)
    for name in ["tiny-test-model", "sentence-transformers/tiny-test-model"]:
        by_name = TextEmbedding(model=name)
        assert by_name.exported_dimension == DIMENSION
        [(_, a, _)], [(_, b, _)] = encode(by_name, ["red sun"]), encode(by_path, ["red sun"])
        assert np.allclose(a, b, atol=1e-6)


def test_unknown_model_is_an_error_from_sentence_transformers(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(tmp_path))
    with pytest.raises(OSError) as info:
        TextEmbedding(model="no-such-model-for-vecs-sqlgen")
    assert not isinstance(info.value, exc.MissingDependency)


@pytest.fixture
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unindexed queries
        yield


DOCS = [
    ("doc1", "the dog runs in the forest\n\nthe cat sleeps by the river", {"kind": "animal", "year": 1973}),
    ("doc2", "postgres stores vectors in an index\n\nsearch the database with a query", {"kind": "db", "year": 2012}),
    ("doc3", "red sun over the blue sea", {"kind": "nature", "year": 2020}),
]
PARAGRAPHS = {
    "doc1_para_000": "the dog runs in the forest",
    "doc1_para_001": "the cat sleeps by the river",
    "doc2_para_000": "postgres stores vectors in an index",
    "doc2_para_001": "search the database with a query",
    "doc3_para_000": "red sun over the blue sea",
}


def test_collection_with_text_embedding_end_to_end(vx, name, model_path, quiet):
    embedding = TextEmbedding(model=model_path)
    docs = vx.get_or_create_collection(
        name, adapter=Adapter([ParagraphChunker(skip_during_query=True), embedding])
    )
    assert docs.dimension == DIMENSION  # from the model
    docs.upsert(DOCS)
    assert len(docs) == 5

    # the stored vectors are the model's normalized embeddings of each paragraph
    fetched = {id_: (vec, meta) for id_, vec, meta in docs.fetch(list(PARAGRAPHS))}
    assert set(fetched) == set(PARAGRAPHS)
    for id_, text in PARAGRAPHS.items():
        expected = embedding.model.encode([text], normalize_embeddings=True)[0]
        assert np.allclose(fetched[id_][0], expected, atol=1e-5)
    assert fetched["doc2_para_001"][1] == {"kind": "db", "year": 2012}

    # a text queries itself first, at distance ~0; the query text is not chunked
    for id_, text in PARAGRAPHS.items():
        results = docs.query(data=text, limit=5, include_value=True)
        assert results[0][0] == id_
        assert results[0][1] == pytest.approx(0.0, abs=1e-5)
        assert [r[1] for r in results] == sorted(r[1] for r in results)
        assert len(results) == 5

    # with a metadata filter, and with metadata returned
    results = docs.query(data="the cat sleeps by the river", limit=5, filters={"kind": {"$eq": "db"}}, include_metadata=True)
    assert sorted(results) == [("doc2_para_000", {"kind": "db", "year": 2012}), ("doc2_para_001", {"kind": "db", "year": 2012})]

    # with an index: same answer
    docs.create_index()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert docs.query(data="red sun over the blue sea", limit=1) == ["doc3_para_000"]


def test_query_text_is_not_split_into_paragraphs(vx, name, model_path, quiet):
    docs = vx.get_or_create_collection(
        name, adapter=Adapter([ParagraphChunker(skip_during_query=True), TextEmbedding(model=model_path)])
    )
    docs.upsert([("whole", "first part\n\nsecond part", {})])
    assert sorted(docs.query(data="first part\n\nsecond part", limit=5)) == ["whole_para_000", "whole_para_001"]
