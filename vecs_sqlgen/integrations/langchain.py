"""LangChain: ``VecsVectorStore``, a langchain-core ``VectorStore`` over a vecs_sqlgen collection.

    from vecs_sqlgen.integrations.langchain import VecsVectorStore

    store = VecsVectorStore(embedding=embeddings, collection_name="docs", connection="postgresql://…")
    store.add_texts(["a text", "another"], metadatas=[{"year": 2012}, {"year": 1973}])
    store.similarity_search("a query", k=4, filter={"year": {"$gte": 2000}})
    store.similarity_search("a query", k=4, filter="year >= 2000")

Each document is one record: its id, its embedding, and its metadata with the text under
``text_key`` (default ``"text"``, the key ``Collection.enable_text_search`` indexes by default).
``filter`` is the filter language of ``Collection.query`` (a dict or a SQL expression over metadata
keys; see docs/filters.md), and filtered results are complete. Scores of ``*_with_score`` are
distances (smaller is nearer); ``similarity_search_with_relevance_scores`` maps them to [0, 1].
The async methods are langchain-core's (the sync method run in an executor).

Hybrid search (full-text and vector search fused, ``Collection.hybrid_query``) once the collection
has text search (``store.enable_text_search()``): ``store.hybrid_search(query, k, filter)``,
``store.search(query, "hybrid")`` and ``store.as_retriever(search_type="hybrid")``.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection as AbstractCollection
from collections.abc import Iterable, Sequence
from typing import Any, Callable, ClassVar, Optional, Union, cast

import numpy as np
from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores import VectorStore, VectorStoreRetriever
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from ..client import Client
from ..collection import Collection, IndexMeasure
from ..exc import ArgError

Filter = Union[dict[str, Any], str]

__all__ = ["VecsVectorStore", "VecsVectorStoreRetriever"]

# the Collection.hybrid_query options a hybrid search passes through
_HYBRID_OPTIONS = frozenset(
    {"fusion", "rrf_k", "full_text_weight", "semantic_weight", "candidates", "parser", "ef_search", "probes"}
)


class VecsVectorStore(VectorStore):
    """A LangChain vector store backed by the vecs_sqlgen collection ``collection_name``.

    ``connection`` is a DSN (``postgresql://…``; None: $VECS_DATABASE_URL, $DATABASE_URL or the
    embedded server) or a ``vecs_sqlgen.Client`` (shared, not closed by ``close()``). The collection
    is created when missing, with the dimension of ``embedding`` (one probe text is embedded unless
    ``dimension`` is given). ``measure`` is the distance queries use; build a matching index with
    ``create_index()`` (exact search is used until then).
    """

    def __init__(
        self,
        embedding: Embeddings,
        collection_name: str,
        connection: Union[str, Client, None] = None,
        *,
        dimension: Optional[int] = None,
        text_key: str = "text",
        measure: Union[IndexMeasure, str] = IndexMeasure.cosine_distance,
        schema: str = "vecs",
    ) -> None:
        self._embedding = embedding
        self.text_key = text_key
        self.measure = IndexMeasure(measure)
        if isinstance(connection, Client):
            self.client, self._owns_client = connection, False
        else:
            self.client, self._owns_client = Client(connection, schema=schema), True
        if dimension is None:
            dimension = len(embedding.embed_query("dimension"))
        self.collection: Collection = self.client.get_or_create_collection(name=collection_name, dimension=dimension)

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    def close(self) -> None:
        """Disconnect the client this store made (a client passed in is left open)."""
        if self._owns_client:
            self.client.disconnect()

    def create_index(self, **kwargs: Any) -> None:
        """``Collection.create_index`` for this store's measure (other arguments passed on)."""
        self.collection.create_index(measure=self.measure, **kwargs)

    # ------------------------------------------------------------------ writing

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: Optional[list[dict[str, Any]]] = None,
        *,
        ids: Optional[list[str]] = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and upsert ``texts`` (ids default to new UUIDs; an existing id is replaced)."""
        texts = list(texts)
        if metadatas is not None and len(metadatas) != len(texts):
            raise ArgError(f"{len(metadatas)} metadatas for {len(texts)} texts")
        if ids is not None and len(ids) != len(texts):
            raise ArgError(f"{len(ids)} ids for {len(texts)} texts")
        if not texts:
            return []
        given: list[Optional[str]] = list(ids) if ids is not None else [None] * len(texts)
        ids = [id_ if id_ else str(uuid.uuid4()) for id_ in given]
        vectors = self._embedding.embed_documents(texts)
        records = []
        for id_, text, vector, metadata in zip(ids, texts, vectors, metadatas or [{}] * len(texts)):
            if self.text_key in (metadata or {}):
                raise ArgError(f'metadata key "{self.text_key}" holds the text: choose another text_key')
            records.append((id_, vector, {**(metadata or {}), self.text_key: text}))
        self.collection.upsert(records)
        return ids

    def delete(self, ids: Optional[list[str]] = None, **kwargs: Any) -> Optional[bool]:
        """Delete by ids, or by ``filter=`` (our filter language); unknown ids are ignored."""
        filter_ = kwargs.get("filter")
        if ids is None and filter_ is None:
            raise ArgError("delete needs ids or filter=")
        if ids is not None:
            self.collection.delete(ids=list(ids))
        else:
            self.collection.delete(filters=filter_)
        return True

    # ------------------------------------------------------------------ reading

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents with these ids, in request order; unknown ids are skipped."""
        return [self._document(id_, metadata) for id_, _, metadata in self.collection.fetch(list(ids))]

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: Optional[Filter] = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` documents nearest ``embedding`` (that match ``filter``) with their distances."""
        # rows (id, distance, metadata)
        rows: list[Any] = self.collection.query(
            data=embedding, limit=k, filters=filter, measure=self.measure, include_value=True, include_metadata=True,
            **_query_options(kwargs),
        )  # fmt: skip
        return [(self._document(row[0], row[2]), float(row[1])) for row in rows]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Optional[Filter] = None, **kwargs: Any
    ) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score_by_vector(embedding, k, filter, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Optional[Filter] = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        return self.similarity_search_with_score_by_vector(self._embedding.embed_query(query), k, filter, **kwargs)

    def similarity_search(
        self, query: str, k: int = 4, filter: Optional[Filter] = None, **kwargs: Any
    ) -> list[Document]:
        return self.similarity_search_by_vector(self._embedding.embed_query(query), k, filter, **kwargs)

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        if self.measure == IndexMeasure.cosine_distance:
            return self._cosine_relevance_score_fn
        if self.measure == IndexMeasure.max_inner_product:
            return self._max_inner_product_relevance_score_fn
        if self.measure == IndexMeasure.l2_distance:
            return self._euclidean_relevance_score_fn
        raise NotImplementedError(f"no relevance score for {self.measure.value}")

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Optional[Filter] = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` documents chosen from the ``fetch_k`` nearest for relevance and diversity (MMR)."""
        # rows (id, vector, metadata)
        rows: list[Any] = self.collection.query(
            data=embedding, limit=max(fetch_k, k), filters=filter, measure=self.measure, include_vector=True,
            include_metadata=True, **_query_options(kwargs),
        )  # fmt: skip
        if not rows:
            return []
        chosen = maximal_marginal_relevance(
            np.asarray(embedding, dtype=np.float32), [row[1] for row in rows], lambda_mult=lambda_mult, k=k
        )
        return [self._document(rows[i][0], rows[i][2]) for i in chosen]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Optional[Filter] = None,
        **kwargs: Any,
    ) -> list[Document]:
        return self.max_marginal_relevance_search_by_vector(
            self._embedding.embed_query(query), k, fetch_k, lambda_mult, filter, **kwargs
        )

    # ------------------------------------------------------------------ hybrid search

    def enable_text_search(self, config: str = "english") -> str:
        """Full-text search over the stored texts (``Collection.enable_text_search`` on ``text_key``)."""
        return self.collection.enable_text_search(self.text_key, config)

    def hybrid_search_with_score(
        self, query: str, k: int = 4, filter: Optional[Filter] = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Full-text and vector search for ``query``, fused (``Collection.hybrid_query``: ``fusion``,
        ``rrf_k``, ``full_text_weight``, ``semantic_weight``, ``candidates``, ``parser``, ``ef_search``,
        ``probes`` pass through), with fused scores (larger is better); ``filter`` applies inside
        both branches. ArgError when the collection has no text search (``enable_text_search()``)."""
        unknown = set(kwargs) - _HYBRID_OPTIONS
        if unknown:
            raise ArgError(f"unknown hybrid search arguments: {', '.join(sorted(unknown))}")
        try:
            matches = self.collection.hybrid_query(
                text=query, data=self._embedding.embed_query(query), limit=k, filters=filter, include_metadata=True,
                measure=self.measure, **kwargs,
            )  # fmt: skip
        except ArgError as e:
            if "text search is not enabled" not in str(e):
                raise
            raise ArgError(
                f'hybrid search needs full-text search on collection "{self.collection.name}": call '
                'store.enable_text_search() once (or search without search_type="hybrid")'
            ) from None
        return [(self._document(m.id, m.metadata or {}), float(m.score)) for m in matches]

    def hybrid_search(self, query: str, k: int = 4, filter: Optional[Filter] = None, **kwargs: Any) -> list[Document]:
        """The documents of ``hybrid_search_with_score``, best first."""
        return [doc for doc, _ in self.hybrid_search_with_score(query, k, filter, **kwargs)]

    async def ahybrid_search_with_score(
        self, query: str, k: int = 4, filter: Optional[Filter] = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``hybrid_search_with_score`` in an executor, as langchain-core runs the other async methods."""
        return await run_in_executor(None, self.hybrid_search_with_score, query, k, filter, **kwargs)

    async def ahybrid_search(
        self, query: str, k: int = 4, filter: Optional[Filter] = None, **kwargs: Any
    ) -> list[Document]:
        return [doc for doc, _ in await self.ahybrid_search_with_score(query, k, filter, **kwargs)]

    def search(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        """langchain-core's ``search``, plus ``search_type="hybrid"`` (``hybrid_search``)."""
        if search_type == "hybrid":
            return self.hybrid_search(query, **kwargs)
        return super().search(query, search_type, **kwargs)

    async def asearch(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        if search_type == "hybrid":
            return await self.ahybrid_search(query, **kwargs)
        return await super().asearch(query, search_type, **kwargs)

    def as_retriever(self, **kwargs: Any) -> VecsVectorStoreRetriever:
        """langchain-core's retriever over this store, which also takes ``search_type="hybrid"``
        (``search_kwargs`` as for ``hybrid_search``: ``k``, ``filter``, ``fusion``, …)."""
        tags = kwargs.pop("tags", None) or [*self._get_retriever_tags()]
        return VecsVectorStoreRetriever(vectorstore=self, tags=tags, **kwargs)

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: Optional[list[dict[str, Any]]] = None,
        *,
        ids: Optional[list[str]] = None,
        **kwargs: Any,
    ) -> VecsVectorStore:
        """A store (``collection_name=``, ``connection=`` … as for the constructor) holding ``texts``."""
        store = cls(embedding=embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    def _document(self, id_: str, metadata: dict[str, Any]) -> Document:
        metadata = dict(metadata or {})
        text = metadata.pop(self.text_key, "")
        return Document(id=id_, page_content=text if isinstance(text, str) else str(text), metadata=metadata)


class VecsVectorStoreRetriever(VectorStoreRetriever):
    """The retriever ``VecsVectorStore.as_retriever`` returns: langchain-core's, whose search types
    are extended by ``"hybrid"`` (``VecsVectorStore.hybrid_search`` with ``search_kwargs``)."""

    allowed_search_types: ClassVar[AbstractCollection[str]] = (*VectorStoreRetriever.allowed_search_types, "hybrid")

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        if self.search_type == "hybrid":
            return cast(VecsVectorStore, self.vectorstore).hybrid_search(query, **(self.search_kwargs | kwargs))
        return super()._get_relevant_documents(query, run_manager=run_manager, **kwargs)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        if self.search_type == "hybrid":
            store = cast(VecsVectorStore, self.vectorstore)
            return await store.ahybrid_search(query, **(self.search_kwargs | kwargs))
        return await super()._aget_relevant_documents(query, run_manager=run_manager, **kwargs)


def _query_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The Collection.query options a caller may pass through (ef_search, probes)."""
    unknown = set(kwargs) - {"ef_search", "probes"}
    if unknown:
        raise ArgError(f"unknown search arguments: {', '.join(sorted(unknown))}")
    return kwargs
