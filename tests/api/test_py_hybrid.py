"""Hybrid search from Python (issue 12): Collection.enable_text_search / disable_text_search /
describe / hybrid_query, on the real server — the same results as the SQL function, every upsert
path (the direct-COPY bulk path included) feeding the text index, adapters embedding the query
text, TextEmbedding(text_key=...) keeping chunk text, and the errors."""

from __future__ import annotations

import hashlib
from importlib.util import find_spec

import numpy as np
import pytest
from psycopg.types.json import Jsonb

import vecs_sqlgen as vecs
from vecs_sqlgen import exc
from vecs_sqlgen.adapter import Adapter, AdapterContext, AdapterStep, ParagraphChunker

WORDS = "postgres vector search index query filter python rust graph cache memory disk parser token".split()
pytestmark = pytest.mark.filterwarnings("ignore:Query does not have a covering index")


def texts(n: int, seed: int = 3) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 6)))) for _ in range(n)]


class HashEmbedding(AdapterStep):
    """A deterministic 3-dimensional "embedding" of a text (no model needed)."""

    exported_dimension = 3

    def __call__(self, records, adapter_context):
        for id_, text, metadata in records:
            digest = hashlib.sha256(text.encode()).digest()
            yield id_, [1.0 + digest[0], 1.0 + digest[1], 1.0 + digest[2]], {**(metadata or {}), "text": text}


def test_enable_describe_disable(docs):
    assert docs.describe() == {"name": docs.name, "dimension": 3, "text_search": False, "text_key": None,
                               "text_config": None, "text_index": None, "vector_type": "vector"}
    ix = docs.enable_text_search()
    assert docs.describe() == {"name": docs.name, "dimension": 3, "text_search": True, "text_key": "text",
                               "text_config": "english", "text_index": ix, "vector_type": "vector"}
    assert docs.enable_text_search() == ix
    assert {i["kind"] for i in docs.list_indexes()} >= {"text"}
    assert docs.enable_text_search(text_key="body", config="simple") != ix
    assert docs.describe()["text_config"] == "simple"
    assert docs.disable_text_search() is True
    assert docs.disable_text_search() is False
    assert docs.describe()["text_search"] is False


def test_errors(docs):
    docs.upsert([("a", [1.0, 0.0, 0.0], {"text": "postgres"})])
    with pytest.raises(exc.ArgError, match=f'^text search is not enabled on collection "{docs.name}"$'):
        docs.hybrid_query(text="postgres", data=[1.0, 0.0, 0.0])
    with pytest.raises(exc.ArgError, match='text search configuration "nosuch" does not exist'):
        docs.enable_text_search(config="nosuch")
    with pytest.raises(exc.ArgError, match="text_key must be a string"):
        docs.enable_text_search(text_key=1)
    with pytest.raises(exc.ArgError, match="text_key must be a metadata key of 1 to 255 bytes"):
        docs.enable_text_search(text_key="")
    docs.enable_text_search()
    cases = [
        (dict(limit=0), "limit must be between 1 and 1000, got 0"),
        (dict(candidates=5), "candidates must be between 10 and 1000, got 5"),
        (dict(rrf_k=-1), "rrf_k must be between 0 and 1000000, got -1"),
        (dict(full_text_weight=True), "full_text_weight must be a number, got bool"),
        (dict(semantic_weight="1"), "semantic_weight must be a number, got str"),
        (dict(fusion="max"), 'unknown fusion "max" (expected rrf or weighted)'),
        (dict(parser="phrase"), 'unknown parser "phrase" (expected websearch or plain)'),
        (dict(semantic_weight=-2), "semantic_weight must be between 0 and 1000000, got -2"),
    ]
    for kwargs, message in cases:
        with pytest.raises(exc.ArgError) as e:
            docs.hybrid_query(text="postgres", data=[1.0, 0.0, 0.0], **kwargs)
        assert str(e.value) == message
    with pytest.raises(exc.ArgError, match="hybrid_query needs text, data, or both"):
        docs.hybrid_query()
    with pytest.raises(exc.MismatchedDimension):
        docs.hybrid_query(text="postgres", data=[1.0, 0.0])
    with pytest.raises(exc.FilterError):
        docs.hybrid_query(text="postgres", filters={"year": {"$bogus": 1}})


def test_same_results_as_the_sql_function_and_query(vx, docs):
    rng = np.random.default_rng(4)
    records = [(f"r{i}", list(rng.normal(size=3)), {"text": t, "n": i % 5}) for i, t in enumerate(texts(200))]
    docs.upsert(records)
    docs.enable_text_search()
    q = [0.3, -0.2, 0.9]
    for kwargs in (dict(), dict(fusion="weighted", full_text_weight=2.0), dict(filters={"n": 2}, rrf_k=10, candidates=25)):
        got = docs.hybrid_query(text="postgres or vector", data=q, limit=7, include_metadata=True, **kwargs)
        with vx.session.connection() as conn:
            want = conn.execute(
                "select * from vecs.hybrid_query(%s, 'postgres or vector', %s::vector, 7, %s, %s, %s, %s, %s, %s,"
                " include_metadata => true)",
                (docs.name, str(q), Jsonb(kwargs["filters"]) if "filters" in kwargs else None, kwargs.get("fusion", "rrf"),
                 kwargs.get("rrf_k", 60), kwargs.get("full_text_weight", 1.0), 1.0, kwargs.get("candidates"))).fetchall()
        assert [tuple(r) for r in got] == want
        assert all(isinstance(r, vecs.HybridMatch) for r in got)
    # vector-only is query; text-only is full-text search
    vector_only = docs.hybrid_query(data=q, limit=5, filters={"n": 1})
    assert [r.id for r in vector_only] == docs.query(data=q, limit=5, filters={"n": 1})
    assert [r.distance for r in vector_only] == pytest.approx(
        [d for _, d in docs.query(data=q, limit=5, filters={"n": 1}, include_value=True)])
    text_only = docs.hybrid_query(text='"postgres vector"', limit=50, include_metadata=True)
    assert text_only and all("postgres vector" in r.metadata["text"] for r in text_only)
    assert all(r.vector_rank is None and r.distance is None for r in text_only)
    # text without words: vector search
    assert docs.hybrid_query(text="the of", data=q, limit=5) == docs.hybrid_query(data=q, limit=5)


def test_every_upsert_path_feeds_the_text_index(docs):
    """Arrays (up to 500 records), the direct-COPY bulk path (new ids), and the staged merge
    (existing ids, upsert_from): the generated column follows each write."""
    docs.enable_text_search()
    docs.upsert([("small", [1.0, 0.0, 0.0], {"text": "small batch arrays"})])
    bulk = [(f"b{i:04d}", [1.0, float(i), 0.0], {"text": f"bulk copy record{i}"}) for i in range(1200)]
    docs.upsert(bulk, batch_size=400)  # new ids: COPY straight into the table
    assert len(docs) == 1201
    assert {r.id for r in docs.hybrid_query(text="record17", limit=5)} == {"b0017"}
    assert len(docs.hybrid_query(text="bulk", limit=1000)) == 1000
    # the same ids again, new text: staged and merged
    docs.upsert([(i, v, {"text": f"replaced {i}"}) for i, v, _ in bulk], batch_size=400)
    assert docs.hybrid_query(text="bulk", limit=10) == []
    assert [r.id for r in docs.hybrid_query(text="replaced b0042", parser="plain", limit=3)] == ["b0042"]
    assert [r.id for r in docs.hybrid_query(text="arrays")] == ["small"]


def test_an_adapter_embeds_the_query_text(vx, name):
    docs = vx.get_or_create_collection(name, adapter=Adapter([HashEmbedding()]))
    corpus = texts(60, seed=9)
    docs.upsert([(f"t{i}", t, {"i": i}) for i, t in enumerate(corpus)])
    docs.enable_text_search()
    assert docs.fetch(["t0"])[0][2] == {"i": 0, "text": corpus[0]}
    query_text = corpus[5]
    got = docs.hybrid_query(text=query_text, limit=5)
    embedded = next(HashEmbedding()([("", query_text, {})], AdapterContext("query")))[1]
    assert got == docs.hybrid_query(text=query_text, data=embedded, limit=5, skip_adapter=True)
    assert got[0].id == "t5" and got[0].vector_rank == 1 and got[0].text_rank is not None
    # skip_adapter and no data: full-text search only
    assert all(r.vector_rank is None for r in docs.hybrid_query(text=query_text, skip_adapter=True))


@pytest.mark.skipif(find_spec("sentence_transformers") is None, reason='needs "vecs-sqlgen[text]"')
def test_text_embedding_keeps_the_chunk_text_when_asked(vx, name, tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tiny_text_model import build_tiny_model, offline

    from vecs_sqlgen.adapter import TextEmbedding

    offline(monkeypatch)
    model = str(build_tiny_model(tmp_path / "tiny", dimension=16))
    assert TextEmbedding(model=model).text_key is None  # vecs's behaviour by default: text not stored
    embedding = TextEmbedding(model=model, text_key="text")
    docs = vx.get_or_create_collection(name, adapter=Adapter([ParagraphChunker(skip_during_query=True), embedding]))
    docs.upsert([("doc", "postgres stores vectors\n\nrust parses tokens", {"lang": "en"})])
    assert sorted((r[0], r[2]["text"]) for r in docs.fetch(["doc_para_000", "doc_para_001"])) == [
        ("doc_para_000", "postgres stores vectors"), ("doc_para_001", "rust parses tokens")]
    assert docs.fetch(["doc_para_000"])[0][2]["lang"] == "en"
    docs.enable_text_search()
    got = docs.hybrid_query(text="rust tokens", limit=2)
    assert got[0].id == "doc_para_001" and got[0].text_rank == 1 and got[0].vector_rank is not None
