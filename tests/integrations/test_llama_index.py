"""The LlamaIndex integration, tested as llama-index's own Postgres store (PGVectorStore) is: the same
node fixtures ([num, 1.0] embeddings), every case sync and async; then MetadataFilters translated to
our filter language, operator by operator, against the server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, Optional

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.schema import IndexNode, NodeRelationship, RelatedNodeInfo, TextNode  # noqa: E402
from llama_index.core.vector_stores.types import (  # noqa: E402
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from vecs_sqlgen.exc import ArgError  # noqa: E402
from vecs_sqlgen.integrations.llama_index import VecsVectorStore, to_filter  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Query does not have a covering index")

EMBED_DIM = 2


def vec(num: float) -> list[float]:
    return [num] + [1.0] * (EMBED_DIM - 1)


@pytest.fixture
def store(vx) -> Iterator[VecsVectorStore]:
    name = f"li {uuid.uuid4().hex[:8]}"
    s = VecsVectorStore(collection_name=name, dimension=EMBED_DIM, connection=vx)
    yield s
    vx.delete_collection(name)


def _source(node_id: str) -> dict[Any, RelatedNodeInfo]:
    return {NodeRelationship.SOURCE: RelatedNodeInfo(node_id=node_id)}


@pytest.fixture
def nodes() -> list[TextNode]:
    return [
        TextNode(text="lorem ipsum", id_="aaa", relationships=_source("aaa"), extra_info={"test_num": 1},
                 embedding=vec(1.0)),
        TextNode(text="dolor sit amet", id_="bbb", relationships=_source("bbb"),
                 extra_info={"test_key": "test_value"}, embedding=vec(0.1)),
        TextNode(text="consectetur adipiscing elit", id_="ccc", relationships=_source("ccc"),
                 extra_info={"test_key_list": ["test_value"]}, embedding=vec(0.1)),
        TextNode(text="sed do eiusmod tempor", id_="ddd", relationships=_source("ccc"),
                 extra_info={"test_key_2": "test_val_2"}, embedding=vec(0.1)),
    ]  # fmt: skip


async def _add(store: VecsVectorStore, nodes: list[Any], use_async: bool) -> list[str]:
    return await store.async_add(nodes) if use_async else store.add(nodes)


async def _query(store: VecsVectorStore, q: VectorStoreQuery, use_async: bool) -> Any:
    return await store.aquery(q) if use_async else store.query(q)


def _eq(key: str, value: Any, op: FilterOperator = FilterOperator.EQ) -> MetadataFilters:
    return MetadataFilters(filters=[MetadataFilter(key=key, value=value, operator=op)])


@pytest.mark.parametrize("use_async", [True, False])
async def test_add_and_query(store, nodes, use_async):
    assert await _add(store, nodes, use_async) == ["aaa", "bbb", "ccc", "ddd"]
    res = await _query(store, VectorStoreQuery(query_embedding=vec(1.0), similarity_top_k=1), use_async)
    assert res.ids == ["aaa"] and [n.node_id for n in res.nodes] == ["aaa"]
    assert res.similarities == [pytest.approx(1.0)]
    node = res.nodes[0]
    assert node.get_content() == "lorem ipsum" and node.metadata == {"test_num": 1} and node.ref_doc_id == "aaa"


@pytest.mark.parametrize("use_async", [True, False])
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (_eq("test_key", "test_value"), ["bbb"]),
        (_eq("test_key", ["test_value", "another_value"], FilterOperator.IN), ["bbb"]),
        (_eq("test_key", ["test_value"], FilterOperator.IN), ["bbb"]),
        (_eq("test_key_list", "test_value", FilterOperator.CONTAINS), ["ccc"]),
    ],
    ids=["eq", "in", "in-one", "contains"],
)
async def test_query_with_metadata_filters(store, nodes, use_async, filters, expected):
    await _add(store, nodes, use_async)
    q = VectorStoreQuery(query_embedding=vec(0.5), similarity_top_k=10, filters=filters)
    res = await _query(store, q, use_async)
    assert res.ids == expected


@pytest.mark.parametrize("use_async", [True, False])
async def test_add_query_and_delete_by_ref_doc_id(store, nodes, use_async):
    await _add(store, nodes, use_async)
    q = VectorStoreQuery(query_embedding=vec(0.1), similarity_top_k=10)
    assert sorted((await _query(store, q, use_async)).ids) == ["aaa", "bbb", "ccc", "ddd"]
    if use_async:
        await store.adelete("ccc")
    else:
        store.delete("ccc")  # ccc and ddd are nodes of document ccc
    assert sorted((await _query(store, q, use_async)).ids) == ["aaa", "bbb"]


@pytest.mark.parametrize("use_async", [True, False])
async def test_index_nodes_come_back_as_index_nodes(store, use_async):
    index_nodes = [
        TextNode(text="lorem ipsum", id_="aaa", embedding=vec(0.1)),
        TextNode(text="dolor sit amet", id_="bbb", extra_info={"test_key": "test_value"}, embedding=vec(1.0)),
        IndexNode(text="The quick brown fox", id_="aaa_ref", index_id="aaa", embedding=vec(5.0)),
    ]
    await _add(store, index_nodes, use_async)
    res = await _query(store, VectorStoreQuery(query_embedding=vec(5.0), similarity_top_k=2), use_async)
    assert res.ids == ["aaa_ref", "bbb"]
    assert isinstance(res.nodes[0], IndexNode) and res.nodes[0].index_id == "aaa"
    assert isinstance(res.nodes[1], TextNode)


@pytest.mark.parametrize("use_async", [True, False])
async def test_delete_nodes(store, nodes, use_async):
    await _add(store, nodes, use_async)
    q = VectorStoreQuery(query_embedding=vec(0.5), similarity_top_k=10)

    async def delete(*args: Any, **kwargs: Any) -> set[str]:
        if use_async:
            await store.adelete_nodes(*args, **kwargs)
        else:
            store.delete_nodes(*args, **kwargs)
        return set((await _query(store, q, use_async)).ids)

    assert await delete() == {"aaa", "bbb", "ccc", "ddd"}  # nothing
    assert await delete(["asdf"]) == {"aaa", "bbb", "ccc", "ddd"}  # an unknown id
    # ids and filters: the ids that match
    assert await delete(["aaa", "bbb"], filters=_eq("test_key", ["test_value", "x"], FilterOperator.IN)) == {
        "aaa", "ccc", "ddd"
    }  # fmt: skip
    assert await delete(["ccc"], filters=_eq("test_num", 1)) == {"aaa", "ccc", "ddd"}
    assert await delete(["aaa"], filters=_eq("test_num", 1)) == {"ccc", "ddd"}
    assert await delete(filters=_eq("test_key_2", "test_val_2")) == {"ccc"}  # by filters alone
    assert await delete(["ccc"]) == set()


@pytest.mark.parametrize("use_async", [True, False])
async def test_clear(store, nodes, use_async):
    await _add(store, nodes, use_async)
    if use_async:
        await store.aclear()
    else:
        store.clear()
    res = await _query(store, VectorStoreQuery(query_embedding=vec(0.5), similarity_top_k=10), use_async)
    assert res.ids == [] and len(store.collection) == 0


@pytest.mark.parametrize(
    ("node_ids", "filters", "expected"),
    [
        (["aaa", "bbb"], None, ["aaa", "bbb"]),
        (["bbb", "aaa", "nope"], None, ["bbb", "aaa"]),
        (None, _eq("test_num", 1), ["aaa"]),
        (["bbb", "ccc"], _eq("test_key", "test_value"), ["bbb"]),
        (["ccc"], _eq("test_key", "test_value"), []),
        (["aaa", "bbb"], _eq("test_num", 999), []),
        ([], _eq("test_num", 1), []),
    ],
)
def test_get_nodes(store, nodes, node_ids: Optional[list[str]], filters, expected):
    store.add(nodes)
    got = store.get_nodes(node_ids=node_ids, filters=filters)
    assert [n.node_id for n in got] == expected
    by_id = {n.node_id: n for n in nodes}
    for node in got:
        assert node.get_content() == by_id[node.node_id].get_content()
        assert node.metadata == by_id[node.node_id].metadata


def test_get_nodes_needs_ids_or_filters(store):
    with pytest.raises(ArgError):
        store.get_nodes()


def test_query_by_doc_ids_and_node_ids(store, nodes):
    store.add(nodes)
    assert store.query(VectorStoreQuery(query_embedding=vec(0.5), similarity_top_k=10, doc_ids=["ccc"])).ids in (
        ["ccc", "ddd"], ["ddd", "ccc"]
    )  # fmt: skip
    q = VectorStoreQuery(query_embedding=vec(0.5), similarity_top_k=10, node_ids=["aaa", "ddd"])
    assert sorted(store.query(q).ids) == ["aaa", "ddd"]
    with pytest.raises(NotImplementedError):
        store.query(VectorStoreQuery(query_embedding=vec(0.5), mode=VectorStoreQueryMode.SVM))
    with pytest.raises(ArgError, match="text search is not enabled"):
        store.query(VectorStoreQuery(query_embedding=vec(0.5), mode=VectorStoreQueryMode.HYBRID, query_str="x"))


# ---------------------------------------------------------------------------- every operator


@pytest.fixture
def people(store) -> VecsVectorStore:
    rows = [
        ("p1", {"name": "Ada Lovelace", "age": 36, "tags": ["math", "poetry"], "city": "London"}),
        ("p2", {"name": "Alan Turing", "age": 41, "tags": ["math", "cs"], "city": "Wilmslow"}),
        ("p3", {"name": "Grace Hopper", "age": 85, "tags": ["cs", "navy"], "city": None}),
        ("p4", {"name": "grace_notes 100%", "age": 7, "tags": []}),
        ("p5", {"name": "Edsger Dijkstra", "age": 72, "tags": ["cs"], "city": "Nuenen"}),
    ]
    store.add([TextNode(text=m["name"], id_=i, extra_info=m, embedding=vec(k + 1.0)) for k, (i, m) in enumerate(rows)])
    return store


def _f(key: str, op: FilterOperator, value: Any) -> MetadataFilter:
    return MetadataFilter(key=key, operator=op, value=value)


Op = FilterOperator


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (_f("age", Op.EQ, 36), ["p1"]),
        # our $ne (vecs's): a missing city does not match, a null one (p3) does
        (_f("city", Op.NE, "London"), ["p2", "p3", "p5"]),
        (_f("age", Op.GT, 41), ["p3", "p5"]),
        (_f("age", Op.GTE, 41), ["p2", "p3", "p5"]),
        (_f("age", Op.LT, 36), ["p4"]),
        (_f("age", Op.LTE, 36), ["p1", "p4"]),
        (_f("city", Op.IN, ["London", "Nuenen"]), ["p1", "p5"]),
        (_f("city", Op.NIN, ["London", "Nuenen"]), ["p2", "p3"]),  # likewise
        (_f("tags", Op.CONTAINS, "cs"), ["p2", "p3", "p5"]),
        (_f("tags", Op.ANY, ["poetry", "navy"]), ["p1", "p3"]),
        (_f("tags", Op.ALL, ["math", "cs"]), ["p2"]),
        (_f("name", Op.TEXT_MATCH, "race"), ["p3", "p4"]),
        (_f("name", Op.TEXT_MATCH, "Grace"), ["p3"]),
        (_f("name", Op.TEXT_MATCH_INSENSITIVE, "GRACE"), ["p3", "p4"]),
        (_f("name", Op.TEXT_MATCH, "_notes 100%"), ["p4"]),  # LIKE's characters are taken literally
        (_f("name", Op.TEXT_MATCH, "a_L"), []),  # not "a L" (Ada Lovelace)
        (_f("city", Op.IS_EMPTY, None), ["p3", "p4"]),
        (_f("tags", Op.IS_EMPTY, None), ["p4"]),
        (MetadataFilters(filters=[_f("age", Op.GT, 40), _f("tags", Op.CONTAINS, "math")]), ["p2"]),
        (
            MetadataFilters(filters=[_f("age", Op.LT, 10), _f("city", Op.EQ, "London")], condition=FilterCondition.OR),
            ["p1", "p4"],
        ),
        (MetadataFilters(filters=[_f("tags", Op.CONTAINS, "cs")], condition=FilterCondition.NOT), ["p1", "p4"]),
        (
            MetadataFilters(
                filters=[
                    _f("tags", Op.CONTAINS, "cs"),
                    MetadataFilters(filters=[_f("age", Op.GT, 80), _f("city", Op.EQ, "Nuenen")], condition="or"),
                ]
            ),
            ["p3", "p5"],
        ),
    ],
)
def test_every_operator_and_condition(people, filters, expected):
    if isinstance(filters, MetadataFilter):
        filters = MetadataFilters(filters=[filters])
    res = people.query(VectorStoreQuery(query_embedding=vec(1.0), similarity_top_k=10, filters=filters))
    assert sorted(res.ids) == expected
    assert sorted(n.node_id for n in people.get_nodes(filters=filters)) == expected


def test_to_filter_is_our_filter_language():
    f = MetadataFilters(
        filters=[_f("a.b", Op.EQ, 1), MetadataFilters(filters=[_f("t", Op.TEXT_MATCH, "x%")], condition="not")]
    )
    assert to_filter(f) == {"$and": [{"a.b": {"$eq": 1}}, {"$not": {"t": {"$like": "%x\\%%"}}}]}
    with pytest.raises(ArgError):
        to_filter(MetadataFilters(filters=[]))


def test_a_dsn_connection_and_the_stores_own_keys(dsn, vx):
    name = f"li {uuid.uuid4().hex[:8]}"
    s = VecsVectorStore(collection_name=name, dimension=EMBED_DIM, connection=dsn)
    try:
        with pytest.raises(ArgError, match='"text" is the store'):
            s.add([TextNode(text="t", id_="x", extra_info={"text": "mine"}, embedding=vec(1.0))])
        s.add([TextNode(text="t", id_="x", extra_info={"k": "v"}, embedding=vec(1.0))])
        (record,) = vx.get_or_create_collection(name=name, dimension=EMBED_DIM).fetch(["x"])
        assert record[2]["text"] == "t" and record[2]["k"] == "v" and record[2]["_node_id"] == "x"
    finally:
        s.close()
        vx.delete_collection(name)


# ---------------------------------------------------------------------------- hybrid and text search


@pytest.fixture
def hybrid_nodes() -> list[TextNode]:
    return [
        TextNode(text="lorem ipsum", id_="aaa", embedding=vec(0.1)),
        TextNode(text="dolor sit amet", id_="bbb", extra_info={"test_key": "test_value"}, embedding=vec(1.0)),
        TextNode(text="The quick brown fox jumped over the lazy dog.", id_="ccc", embedding=vec(5.0)),
        TextNode(text="The fox and the hound", id_="ddd", extra_info={"test_key": "test_value"}, embedding=vec(10.0)),
    ]


@pytest.mark.parametrize("use_async", [True, False])
async def test_text_search_and_hybrid_query(store, hybrid_nodes, use_async):
    await _add(store, hybrid_nodes, use_async)
    store.enable_text_search()
    # text search works for a sentence, not only a word
    q = VectorStoreQuery(query_str="who is the fox?", sparse_top_k=2, mode=VectorStoreQueryMode.TEXT_SEARCH)
    res = await _query(store, q, use_async)
    assert sorted(res.ids) == ["ccc", "ddd"]
    q = VectorStoreQuery(
        query_embedding=vec(0.1), query_str="fox", similarity_top_k=4, mode=VectorStoreQueryMode.HYBRID
    )
    res = await _query(store, q, use_async)
    assert sorted(res.ids) == ["aaa", "bbb", "ccc", "ddd"]
    assert res.similarities == sorted(res.similarities, reverse=True)
    assert set(res.ids[:2]) & {"ccc", "ddd"}  # a text match ranks high
    # filters apply inside both branches
    q = VectorStoreQuery(
        query_embedding=vec(0.1), query_str="fox", similarity_top_k=10, mode=VectorStoreQueryMode.HYBRID,
        filters=_eq("test_key", "test_value"),
    )  # fmt: skip
    assert sorted((await _query(store, q, use_async)).ids) == ["bbb", "ddd"]
    # alpha weighs the branches: all vector
    q = VectorStoreQuery(
        query_embedding=vec(10.0), query_str="lorem", similarity_top_k=1, mode=VectorStoreQueryMode.HYBRID, alpha=1.0
    )
    assert (await _query(store, q, use_async)).ids == ["ddd"]
    with pytest.raises(ArgError):
        store.query(VectorStoreQuery(query_embedding=vec(1.0), mode=VectorStoreQueryMode.HYBRID))
