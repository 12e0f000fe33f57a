"""The LangChain integration: langchain-tests' standard VectorStoreIntegrationTests (sync and async),
then what the standard suite does not cover: our filter language, MMR, scores, from_texts, retrievers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("langchain_tests")

from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings  # noqa: E402
from langchain_tests.integration_tests import VectorStoreIntegrationTests  # noqa: E402

from vecs_sqlgen.exc import ArgError  # noqa: E402
from vecs_sqlgen.integrations.langchain import VecsVectorStore  # noqa: E402

# the stores query collections without an index: exact search, as the warning says
pytestmark = pytest.mark.filterwarnings("ignore:Query does not have a covering index")


def _name() -> str:
    return f"lc {uuid.uuid4().hex[:8]}"


class TestVecsVectorStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, vx) -> Iterator[VecsVectorStore]:  # type: ignore[override]
        name = _name()
        store = VecsVectorStore(embedding=self.get_embeddings(), collection_name=name, connection=vx)
        try:
            yield store
        finally:
            vx.delete_collection(name)


class AxisEmbedding(Embeddings):
    """Texts "x<i>" embed to the unit vector on axis i (of 4), anything else to the diagonal: distances
    a test can reason about."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        if text.startswith("x") and text[1:].isdigit():
            v = [0.0] * 4
            v[int(text[1:]) % 4] = 1.0
            return v
        return [0.5, 0.5, 0.5, 0.5]


@pytest.fixture
def store(vx) -> Iterator[VecsVectorStore]:
    name = _name()
    s = VecsVectorStore(embedding=DeterministicFakeEmbedding(size=8), collection_name=name, connection=vx)
    s.add_texts(
        [f"text {i}" for i in range(20)],
        metadatas=[{"i": i, "parity": "even" if i % 2 == 0 else "odd", "user": {"age": i * 5}} for i in range(20)],
        ids=[f"id{i}" for i in range(20)],
    )
    yield s
    vx.delete_collection(name)


def test_the_dimension_comes_from_the_embedding_and_the_text_is_stored_in_metadata(store, vx):
    assert store.collection.dimension == 8
    (record,) = store.collection.fetch(["id3"])
    assert record[2] == {"i": 3, "parity": "odd", "user": {"age": 15}, "text": "text 3"}
    assert store.get_by_ids(["id3", "nope", "id1"]) == [
        Document(id="id3", page_content="text 3", metadata={"i": 3, "parity": "odd", "user": {"age": 15}}),
        Document(id="id1", page_content="text 1", metadata={"i": 1, "parity": "odd", "user": {"age": 5}}),
    ]


def test_filters_dict_nested_and_sql(store):
    docs = store.similarity_search("text 4", k=20, filter={"parity": {"$eq": "even"}})
    assert sorted(d.metadata["i"] for d in docs) == list(range(0, 20, 2))
    docs = store.similarity_search("text 4", k=20, filter={"user": {"age": {"$gte": 80}}})
    assert sorted(d.metadata["i"] for d in docs) == [16, 17, 18, 19]
    docs = store.similarity_search("text 4", k=20, filter="i < 3 or parity = 'odd' and i > 16")
    assert sorted(d.metadata["i"] for d in docs) == [0, 1, 2, 17, 19]
    # complete: every match, fewer than k only when fewer match
    assert len(store.similarity_search("x", k=7, filter={"i": {"$in": [1, 2, 3]}})) == 3
    assert store.similarity_search("x", k=3, filter={"i": {"$gt": 100}}) == []


def test_scores_are_distances_and_relevance_is_their_complement(vx):
    name = _name()
    s = VecsVectorStore(embedding=AxisEmbedding(), collection_name=name, connection=vx)
    try:
        s.add_texts(["x0", "x1", "x2"], ids=["a", "b", "c"])
        (doc, score), *rest = s.similarity_search_with_score("x1", k=3)
        assert doc.id == "b" and score == pytest.approx(0.0, abs=1e-6)
        assert [pytest.approx(sc, abs=1e-6) for _, sc in rest] == [1.0, 1.0]
        relevance = s.similarity_search_with_relevance_scores("x1", k=1)
        assert relevance[0][0].id == "b" and relevance[0][1] == pytest.approx(1.0, abs=1e-6)
        by_vector = s.similarity_search_by_vector([0.0, 0.0, 1.0, 0.0], k=1)
        assert [d.id for d in by_vector] == ["c"]
    finally:
        vx.delete_collection(name)


def test_max_marginal_relevance_prefers_diverse_documents(vx):
    name = _name()
    s = VecsVectorStore(embedding=AxisEmbedding(), collection_name=name, connection=vx)
    try:
        # two copies of axis 0, one of axis 1: plain search returns both copies first, MMR one of each
        s.add_texts(["x0", "x0", "x1"], ids=["a", "a2", "b"])
        query = [1.0, 0.2, 0.0, 0.0]
        assert {d.id for d in s.similarity_search_by_vector(query, k=2)} == {"a", "a2"}
        mmr = s.max_marginal_relevance_search_by_vector(query, k=2, fetch_k=3, lambda_mult=0.5)
        assert mmr[0].id in ("a", "a2") and mmr[1].id == "b"
        assert [d.id for d in s.max_marginal_relevance_search("x1", k=1, filter={"text": "x0"})] in (["a"], ["a2"])
        assert s.max_marginal_relevance_search("x1", k=2, filter="text = 'none'") == []
    finally:
        vx.delete_collection(name)


def test_delete_by_ids_and_by_filter(store):
    store.delete(["id0", "id1", "missing"])
    assert store.get_by_ids(["id0", "id1"]) == []
    store.delete(filter={"parity": "odd"})
    assert sorted(int(d.id[2:]) for d in store.similarity_search("q", k=20)) == list(range(2, 20, 2))
    store.delete(filter="i >= 10")
    assert sorted(int(d.id[2:]) for d in store.similarity_search("q", k=20)) == [2, 4, 6, 8]
    with pytest.raises(ArgError):
        store.delete()


def test_from_texts_with_a_dsn_and_as_retriever(dsn, vx):
    name = _name()
    s = VecsVectorStore.from_texts(
        ["x0", "x1", "x2"], AxisEmbedding(), metadatas=[{"n": 0}, {"n": 1}, {"n": 2}],
        collection_name=name, connection=dsn,
    )  # fmt: skip
    try:
        assert len(s.collection) == 3
        retriever = s.as_retriever(search_kwargs={"k": 1, "filter": {"n": {"$ne": 2}}})
        assert [d.page_content for d in retriever.invoke("x2")] in (["x0"], ["x1"])
        assert [d.page_content for d in retriever.invoke("x1")] == ["x1"]
        mmr = s.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 3})
        assert len(mmr.invoke("x0")) == 2
    finally:
        s.close()
        vx.delete_collection(name)


async def test_async_search_with_filters(store):
    docs = await store.asimilarity_search("text 1", k=20, filter="parity = 'even' and i < 5")
    assert sorted(d.metadata["i"] for d in docs) == [0, 2, 4]
    mmr = await store.amax_marginal_relevance_search("text 1", k=3, fetch_k=10)
    assert len(mmr) == 3
    assert await store.aget_by_ids(["id2"]) == store.get_by_ids(["id2"])


def test_the_text_key_must_not_collide_with_metadata(store):
    with pytest.raises(ArgError, match='"text" holds the text'):
        store.add_texts(["t"], metadatas=[{"text": "other"}])
    assert store.add_texts([]) == []
    with pytest.raises(ArgError):
        store.add_texts(["a", "b"], ids=["only one"])


def test_hybrid_search_over_the_stored_texts(vx):
    name = _name()
    s = VecsVectorStore(embedding=AxisEmbedding(), collection_name=name, connection=vx)
    try:
        s.add_texts(["x0", "x1", "the quick brown fox", "the fox and the hound"], ids=["a", "b", "c", "d"],
                    metadatas=[{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}])  # fmt: skip
        s.enable_text_search()
        docs = s.hybrid_search_with_score("fox", k=4)
        assert {d.id for d, _ in docs[:2]} == {"c", "d"}
        assert [sc for _, sc in docs] == sorted((sc for _, sc in docs), reverse=True)
        assert [d.id for d in s.hybrid_search("fox", k=4, filter={"n": {"$gte": 3}})] == ["d"]
        assert [d.id for d in s.hybrid_search("fox", k=4, filter="n < 3", fusion="weighted")][0] == "c"
    finally:
        vx.delete_collection(name)


@pytest.fixture
def texts_store(vx) -> Iterator[VecsVectorStore]:
    """Four documents whose texts full-text search tells apart (AxisEmbedding: "x0", "x1" are axes,
    the fox texts the diagonal)."""
    name = _name()
    s = VecsVectorStore(embedding=AxisEmbedding(), collection_name=name, connection=vx)
    s.add_texts(["x0", "x1", "the quick brown fox", "the fox and the hound"], ids=["a", "b", "c", "d"],
                metadatas=[{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}])  # fmt: skip
    yield s
    vx.delete_collection(name)


def test_hybrid_search_type_of_search_and_the_retriever(texts_store):
    from langchain_core.vectorstores import VectorStoreRetriever

    from vecs_sqlgen.integrations.langchain import VecsVectorStoreRetriever

    texts_store.enable_text_search()
    hybrid = [d.id for d in texts_store.hybrid_search("fox", k=4)]
    assert set(hybrid[:2]) == {"c", "d"}
    assert [d.id for d in texts_store.search("fox", "hybrid", k=4)] == hybrid
    options = {"fusion": "rrf", "rrf_k": 10, "full_text_weight": 2.0, "semantic_weight": 0.5, "candidates": 8,
               "parser": "plain", "ef_search": 40, "probes": 3}  # fmt: skip
    assert set(d.id for d in texts_store.hybrid_search("fox", k=4, **options)[:2]) == {"c", "d"}
    # the vector branch alone ranks by distance to the diagonal: the fox texts tie, the axes follow
    assert {d.id for d in texts_store.search("fox", "similarity", k=2)} == {"c", "d"}

    retriever = texts_store.as_retriever(search_type="hybrid", search_kwargs={"k": 4})
    assert isinstance(retriever, VecsVectorStoreRetriever) and isinstance(retriever, VectorStoreRetriever)
    assert "hybrid" in retriever.allowed_search_types and "mmr" in retriever.allowed_search_types
    assert [d.id for d in retriever.invoke("fox")] == hybrid
    # filters in hybrid mode: a dict and a SQL expression, inside both branches
    only_d = texts_store.as_retriever(search_type="hybrid", search_kwargs={"k": 4, "filter": {"n": {"$gte": 3}}})
    assert [d.id for d in only_d.invoke("fox")] == ["d"]
    sql = texts_store.as_retriever(search_type="hybrid", search_kwargs={"k": 4, "filter": "n < 3", "fusion": "weighted"})
    assert [d.id for d in sql.invoke("fox")][0] == "c" and "d" not in [d.id for d in sql.invoke("fox")]
    # the other search types still work through the same retriever class
    assert [d.page_content for d in texts_store.as_retriever(search_kwargs={"k": 1}).invoke("x1")] == ["x1"]
    with pytest.raises(ValueError, match="search_type of nope not allowed"):
        texts_store.as_retriever(search_type="nope")


async def test_hybrid_search_async(texts_store):
    texts_store.enable_text_search()
    expected = [d.id for d in texts_store.hybrid_search("fox", k=4, filter={"n": {"$ne": 2}})]
    assert expected[0] == "d"
    assert [d.id for d in await texts_store.ahybrid_search("fox", k=4, filter={"n": {"$ne": 2}})] == expected
    assert [d.id for d in await texts_store.asearch("fox", "hybrid", k=4, filter={"n": {"$ne": 2}})] == expected
    retriever = texts_store.as_retriever(search_type="hybrid", search_kwargs={"k": 4, "filter": {"n": {"$ne": 2}}})
    assert [d.id for d in await retriever.ainvoke("fox")] == expected
    scored = await texts_store.ahybrid_search_with_score("fox", k=2)
    assert scored == texts_store.hybrid_search_with_score("fox", k=2)


def test_hybrid_search_without_text_search_is_a_clear_error(texts_store):
    message = (f'hybrid search needs full-text search on collection "{texts_store.collection.name}": '
               r'call store\.enable_text_search\(\) once')  # fmt: skip
    with pytest.raises(ArgError, match=message):
        texts_store.hybrid_search("fox")
    with pytest.raises(ArgError, match=message):
        texts_store.as_retriever(search_type="hybrid").invoke("fox")
    with pytest.raises(ArgError, match="unknown hybrid search arguments: score_threshold"):
        texts_store.search("fox", "hybrid", score_threshold=0.5)
