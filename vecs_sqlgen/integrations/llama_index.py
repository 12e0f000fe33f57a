"""LlamaIndex: ``VecsVectorStore``, a llama-index-core ``BasePydanticVectorStore`` over a collection.

    from llama_index.core import StorageContext, VectorStoreIndex
    from vecs_sqlgen.integrations.llama_index import VecsVectorStore

    store = VecsVectorStore(collection_name="docs", dimension=384, connection="postgresql://…")
    index = VectorStoreIndex.from_documents(documents, storage_context=StorageContext.from_defaults(vector_store=store))

Each node is one record: the node id, its embedding, and as metadata the node's own metadata (top
level, so ``MetadataFilters`` address it by key) plus what llama-index stores with every node
(``_node_content``, ``_node_type``, ``ref_doc_id``, ``doc_id``, ``document_id``), the node id under
``_node_id`` and the text under ``text_key`` (default ``"text"``, the key
``Collection.enable_text_search`` indexes by default).

``MetadataFilters`` are translated to the filter language of ``Collection.query`` (docs/filters.md):
EQ NE GT GTE LT LTE IN NIN CONTAINS ANY ALL TEXT_MATCH TEXT_MATCH_INSENSITIVE IS_EMPTY, combined
with AND, OR and NOT; filtered results are complete. Similarities are ``1 - cosine distance``
(cosine), the inner product (max_inner_product) or ``1 / (1 + distance)`` (l2, l1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional, Union

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from ..client import Client
from ..collection import Collection, IndexMeasure
from ..exc import ArgError

__all__ = ["VecsVectorStore", "to_filter"]

NODE_ID_KEY = "_node_id"
MAX_K = 1000  # the most rows Collection.query returns
# A filter every record matches (a delete with {} deletes nothing)
_EVERY_RECORD = {"$or": [{NODE_ID_KEY: {"$exists": True}}, {NODE_ID_KEY: {"$exists": False}}]}
_COMPARISONS = {
    FilterOperator.EQ: "$eq",
    FilterOperator.NE: "$ne",
    FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte",
    FilterOperator.LT: "$lt",
    FilterOperator.LTE: "$lte",
    FilterOperator.IN: "$in",
    FilterOperator.NIN: "$nin",
    FilterOperator.CONTAINS: "$contains",
}


class VecsVectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store backed by the vecs_sqlgen collection ``collection_name``.

    ``connection`` is a DSN (``postgresql://…``; None: $VECS_DATABASE_URL, $DATABASE_URL or the
    embedded server) or a ``vecs_sqlgen.Client`` (shared, not closed by ``close()``); the
    collection is created when missing. Build an index with ``create_index()`` (exact search until then).
    """

    stores_text: bool = True
    flat_metadata: bool = False
    collection_name: str
    dimension: int
    text_key: str = "text"
    measure: str = IndexMeasure.cosine_distance.value

    _client: Client = PrivateAttr()
    _owns_client: bool = PrivateAttr(default=False)
    _collection: Collection = PrivateAttr()

    def __init__(
        self,
        collection_name: str,
        dimension: int,
        connection: Union[str, Client, None] = None,
        *,
        text_key: str = "text",
        measure: Union[IndexMeasure, str] = IndexMeasure.cosine_distance,
        schema: str = "vecs",
    ) -> None:
        super().__init__(
            stores_text=True,
            collection_name=collection_name,
            dimension=dimension,
            text_key=text_key,
            measure=IndexMeasure(measure).value,
        )
        if isinstance(connection, Client):
            self._client, self._owns_client = connection, False
        else:
            self._client, self._owns_client = Client(connection, schema=schema), True
        self._collection = self._client.get_or_create_collection(name=collection_name, dimension=dimension)

    @classmethod
    def class_name(cls) -> str:
        return "VecsVectorStore"

    @property
    def client(self) -> Client:
        return self._client

    @property
    def collection(self) -> Collection:
        return self._collection

    def close(self) -> None:
        """Disconnect the client this store made (a client passed in is left open)."""
        if self._owns_client:
            self._client.disconnect()

    def create_index(self, **kwargs: Any) -> None:
        """``Collection.create_index`` for this store's measure (other arguments passed on)."""
        self._collection.create_index(measure=IndexMeasure(self.measure), **kwargs)

    # ------------------------------------------------------------------ writing

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Upsert the nodes (an existing id is replaced); each needs its embedding."""
        records = []
        for node in nodes:
            embedding = node.get_embedding()
            metadata = node_to_metadata_dict(node, remove_text=True, flat_metadata=self.flat_metadata)
            for key in (self.text_key, NODE_ID_KEY):
                if key in node.metadata:
                    raise ArgError(f'node {node.node_id}: metadata key "{key}" is the store\'s own')
            metadata[self.text_key] = node.get_content(metadata_mode=MetadataMode.NONE)
            metadata[NODE_ID_KEY] = node.node_id
            records.append((node.node_id, embedding, metadata))
        self._collection.upsert(records)
        return [node.node_id for node in nodes]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete the nodes of document ``ref_doc_id``."""
        self._collection.delete(filters={"ref_doc_id": {"$eq": ref_doc_id}})

    def delete_nodes(
        self,
        node_ids: Optional[list[str]] = None,
        filters: Optional[MetadataFilters] = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete the nodes with these ids and/or matching ``filters`` (both: those with both)."""
        selection = self._selection(node_ids, filters)
        if selection is not None:
            self._collection.delete(filters=selection)

    def clear(self) -> None:
        """Delete every node (the collection and its indexes stay)."""
        self._collection.delete(filters=_EVERY_RECORD)

    # ------------------------------------------------------------------ reading

    def get_nodes(
        self,
        node_ids: Optional[list[str]] = None,
        filters: Optional[MetadataFilters] = None,
    ) -> list[BaseNode]:
        """The nodes with these ids (in request order) and/or matching ``filters``.

        By ``filters`` alone at most ``MAX_K`` (1000) nodes can be read: ArgError when more match."""
        if node_ids is not None and filters is None:
            return [self._node(metadata) for _, _, metadata in self._collection.fetch(node_ids)]
        selection = self._selection(node_ids, filters)
        if selection is None:
            if node_ids is None:
                raise ArgError("get_nodes needs node_ids or filters")
            return []
        rows = self._select(selection)
        if len(rows) == MAX_K and (node_ids is None or len(node_ids) > MAX_K):
            raise ArgError(f"{MAX_K} or more nodes match: get them by node_ids")
        found = {row[0]: self._node(row[1]) for row in rows}
        order = node_ids if node_ids is not None else [row[0] for row in rows]
        return [found[id_] for id_ in order if id_ in found]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The ``similarity_top_k`` nodes nearest ``query.query_embedding`` that match its filters
        (and its ``doc_ids`` / ``node_ids`` when given)."""
        text_modes = (VectorStoreQueryMode.TEXT_SEARCH, VectorStoreQueryMode.SPARSE)
        if query.mode not in (VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.HYBRID, *text_modes):
            raise NotImplementedError(f"query mode {query.mode.value}")
        if query.mode == VectorStoreQueryMode.DEFAULT and query.query_embedding is None:
            raise ArgError("query_embedding is required")
        parts = []
        if query.filters is not None and query.filters.filters:
            parts.append(to_filter(query.filters))
        if query.doc_ids is not None:
            parts.append({"ref_doc_id": {"$in": list(query.doc_ids)}})
        if query.node_ids is not None:
            parts.append({NODE_ID_KEY: {"$in": list(query.node_ids)}})
        if query.mode != VectorStoreQueryMode.DEFAULT:
            return self._hybrid(query, _all_of(parts), text_only=query.mode in text_modes)
        # rows (id, distance, metadata)
        rows: list[Any] = self._collection.query(
            data=query.query_embedding,
            limit=query.similarity_top_k,
            filters=_all_of(parts),
            measure=IndexMeasure(self.measure),
            include_value=True,
            include_metadata=True,
        )
        return VectorStoreQueryResult(
            nodes=[self._node(row[2]) for row in rows],
            similarities=[self._similarity(float(row[1])) for row in rows],
            ids=[row[0] for row in rows],
        )

    def enable_text_search(self, config: str = "english") -> str:
        """Full-text search over the stored texts, for the HYBRID and TEXT_SEARCH query modes
        (``Collection.enable_text_search`` on ``text_key``)."""
        return self._collection.enable_text_search(self.text_key, config)

    def _hybrid(
        self, query: VectorStoreQuery, filters: Optional[dict[str, Any]], text_only: bool
    ) -> VectorStoreQueryResult:
        """HYBRID: full-text and vector search fused (``Collection.hybrid_query``; ``alpha`` weighs
        the vector branch, 0 to 1, in a weighted fusion; else reciprocal rank fusion); TEXT_SEARCH
        and SPARSE: full-text search only. Similarities are the fused scores."""
        if not query.query_str:
            raise ArgError(f"query_str is required in {query.mode.value} mode")
        if not text_only and query.query_embedding is None:
            raise ArgError("query_embedding is required in hybrid mode")
        options: dict[str, Any] = {}
        if query.alpha is not None and not text_only:
            options = {"fusion": "weighted", "semantic_weight": query.alpha, "full_text_weight": 1.0 - query.alpha}
        limit = query.hybrid_top_k or query.similarity_top_k
        if text_only:
            limit = query.sparse_top_k or limit
        matches = self._collection.hybrid_query(
            text=query.query_str,
            data=None if text_only else query.query_embedding,
            limit=limit,
            filters=filters,
            include_metadata=True,
            measure=IndexMeasure(self.measure),
            **options,
        )
        return VectorStoreQueryResult(
            nodes=[self._node(m.metadata or {}) for m in matches],
            similarities=[float(m.score) for m in matches],
            ids=[m.id for m in matches],
        )

    # ------------------------------------------------------------------ helpers

    def _selection(self, node_ids: Optional[list[str]], filters: Optional[MetadataFilters]) -> Optional[dict[str, Any]]:
        """Our filter for "these ids and these filters"; None when it selects nothing."""
        parts = []
        if node_ids is not None:
            if not node_ids:
                return None
            parts.append({NODE_ID_KEY: {"$in": list(node_ids)}})
        if filters is not None and filters.filters:
            parts.append(to_filter(filters))
        return _all_of(parts)

    def _select(self, selection: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Up to MAX_K records matching ``selection``: a query for any vector (filtered results are complete)."""
        probe = [1.0] + [0.0] * (self.dimension - 1)
        rows: list[Any] = self._collection.query(
            data=probe, limit=MAX_K, filters=selection, measure=IndexMeasure(self.measure), include_metadata=True
        )
        return [(row[0], row[1]) for row in rows]

    def _node(self, metadata: dict[str, Any]) -> BaseNode:
        text = metadata.get(self.text_key)
        return metadata_dict_to_node(metadata, text=text if isinstance(text, str) else None)

    def _similarity(self, distance: float) -> float:
        if self.measure == IndexMeasure.cosine_distance.value:
            return 1.0 - distance
        if self.measure == IndexMeasure.max_inner_product.value:
            return -distance  # pgvector's <#> is the negated inner product
        return 1.0 / (1.0 + distance)


def to_filter(filters: MetadataFilters) -> dict[str, Any]:
    """``MetadataFilters`` in our filter language (docs/filters.md)."""
    parts = [to_filter(f) if isinstance(f, MetadataFilters) else _condition(f) for f in filters.filters]
    if not parts:
        raise ArgError("MetadataFilters without filters")
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return parts[0] if len(parts) == 1 else {"$and": parts}
    if condition == FilterCondition.OR:
        return parts[0] if len(parts) == 1 else {"$or": parts}
    if condition == FilterCondition.NOT:  # not (all of them), as llama-index's own stores read it
        return {"$not": parts[0] if len(parts) == 1 else {"$and": parts}}
    raise ArgError(f"unknown filter condition {condition!r}")


def _condition(f: MetadataFilter) -> dict[str, Any]:
    key, value, op = f.key, f.value, f.operator
    if key in ("$and", "$or", "$not"):
        raise ArgError(f"metadata key {key!r} cannot be filtered on")
    if op in _COMPARISONS:
        return {key: {_COMPARISONS[op]: value}}
    if op in (FilterOperator.TEXT_MATCH, FilterOperator.TEXT_MATCH_INSENSITIVE):
        if not isinstance(value, str):
            raise ArgError(f"filter on {key!r}: {op.value} expects a string")
        pattern = "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return {key: {"$like" if op == FilterOperator.TEXT_MATCH else "$ilike": pattern}}
    if op == FilterOperator.IS_EMPTY:  # absent, null or an empty array
        return {"$or": [{key: {"$exists": False}}, {key: {"$eq": None}}, {key: {"$eq": []}}]}
    if op in (FilterOperator.ANY, FilterOperator.ALL):
        values = value if isinstance(value, list) else [value]
        if not values:  # any of none: nothing; all of none: everything
            nothing: dict[str, Any] = {key: {"$in": []}}
            return nothing if op == FilterOperator.ANY else {"$not": nothing}
        tests = [{key: {"$contains": v}} for v in values]
        if len(tests) == 1:
            return tests[0]
        return {"$or": tests} if op == FilterOperator.ANY else {"$and": tests}
    raise ArgError(f"filter operator {op.value} is not supported")


def _all_of(parts: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}
