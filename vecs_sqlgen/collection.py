"""The Collection: vecs's API over the SQL layer; each method is one call of a ``vecs.*`` function.

``_CollectionCore`` holds what the sync Collection and the AsyncCollection share: argument checks,
parameters and the shaping of results; the two differ only in how they wait for the session.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sized
from dataclasses import asdict, dataclass, is_dataclass
from enum import Enum
from itertools import chain, islice
from types import FrameType
from typing import Any, Dict, List, NamedTuple, Optional, Protocol, Tuple, Union

import numpy as np
from psycopg import errors, postgres
from psycopg.types.json import Jsonb

from . import _args, _progress, _records
from ._pgvector import HalfVector
from .adapter import Adapter, AdapterContext, NoOp
from .adapter.base import chunked
from .exc import ArgError, BuildMemoryWarning, MismatchedDimension, UnsupportedFeature, VecsException
from .filters import normalize_filters
from .limits import INT4_MAX, MAX_CANDIDATES, MAX_SPARSE_INDEXED_NNZ
from .session import Rows, Session
from .statements import STAGING_REGCLASS, copy_into, drop_index_concurrently

MetadataValues = Union[str, int, float, bool, List[str]]
Metadata = Dict[str, MetadataValues]
Numeric = Union[int, float, complex]
Record = Tuple[str, Iterable[Numeric], Metadata]

# Up to this many records an upsert is one call with arrays; beyond, binary COPY into a staging
# table and one merge call is faster (measured for 3 to 1536 dimensions).
ARRAYS_MAX = 500
# Records read, checked and streamed per batch (progress is reported after each).
DEFAULT_BATCH_SIZE = 5000

_TEXT_OID, _JSONB_OID = postgres.types["text"].oid, postgres.types["jsonb"].oid


class IndexMethod(str, Enum):
    """The index methods: ``auto`` picks hnsw when pgvector has it, else ivfflat."""

    auto = "auto"
    ivfflat = "ivfflat"
    hnsw = "hnsw"


class IndexMeasure(str, Enum):
    """The distance measures a query can use and an index can serve."""

    cosine_distance = "cosine_distance"
    l2_distance = "l2_distance"
    max_inner_product = "max_inner_product"
    l1_distance = "l1_distance"
    # bit collections
    hamming_distance = "hamming_distance"
    jaccard_distance = "jaccard_distance"


@dataclass
class IndexArgsIVFFlat:
    """IVFFlat build arguments: ``n_lists``, the number of IVF centroids."""

    n_lists: int


@dataclass
class IndexArgsHNSW:
    """HNSW build arguments: ``m`` connections per node, ``ef_construction`` candidate list size."""

    m: Optional[int] = 16
    ef_construction: Optional[int] = 64


class HybridMatch(NamedTuple):
    """One result of ``Collection.hybrid_query``: ranks are 1-based (None when the record is not
    among that branch's candidates); distance is None in text-only mode; metadata is None unless
    ``include_metadata``."""

    id: str
    score: float
    text_rank: Optional[int]
    vector_rank: Optional[int]
    distance: Optional[float]
    metadata: Optional[Dict[str, Any]]


class _Owner(Protocol):
    """What a collection needs of its client: the schema and the session (Client, AsyncClient)."""

    schema: str

    @property
    def session(self) -> Any: ...


class _CollectionCore:
    """What both collections share; no method here waits for the server."""

    def __init__(
        self,
        name: str,
        dimension: Optional[int],
        client: Any,
        adapter: Optional[Adapter] = None,
        *,
        vector_type: str = "vector",
    ):
        """Bind to collection ``name`` (nothing is created); ``dimension`` or the adapter gives the dimension."""
        vector_type = _args.vector_type(vector_type)
        name, dimension = _args.collection_name(name), _args.dimension(dimension, vector_type)
        reported = {d for d in (dimension, adapter.exported_dimension if adapter else None) if d is not None}
        if not reported:
            raise ArgError("One of dimension or adapter must provide a dimension")
        if len(reported) > 1:
            raise MismatchedDimension("Dimensions reported by adapter, dimension, and collection do not match")
        self._bind(client, name, reported.pop(), adapter, vector_type)

    def _bind(
        self, client: _Owner, name: str, dimension: int, adapter: Optional[Adapter], vector_type: str = "vector"
    ) -> None:
        self.client = client
        self.name = name
        self.dimension = dimension
        # the storage type: vector (float32), halfvec (float16), sparsevec or bit
        self.vector_type = vector_type
        self.adapter = adapter or Adapter(steps=[NoOp(dimension=dimension)])
        # the default adapter hands a query vector on unchanged: a query can skip it
        self._default_adapter = self.adapter if adapter is None else None
        # The vector index, looked up once (None included) so that a query stays one round trip.
        self._index: Optional[str] = None
        self._index_measure: Optional[str] = None
        self._index_known = False
        self._copy_sql: Optional[bytes] = None  # COPY into this collection's table

    @classmethod
    def _from_row(cls, client: Any, row: Tuple[Any, ...]) -> Any:
        """A collection from a ``list_collections()`` row (name, dimension, index name, index measure, vector type).

        What the server reports is taken as it is: a table whose vector column has no dimension
        (-1) is listed, not refused as an argument would be."""
        name, dimension, index_name, index_measure, vector_type = row
        collection = cls.__new__(cls)
        collection._bind(client, name, dimension, None, vector_type)
        collection._remember_index(index_name, index_measure)
        return collection

    def __repr__(self) -> str:
        return f'vecs.Collection(name="{self.name}", dimension={self.dimension})'

    # ------------------------------------------------------------------ records

    def _pipeline(
        self, records: Iterable[Any], skip_adapter: bool, start: int = 1, *, indexed: bool = False
    ) -> Iterable[_records.Row]:
        """The records, through the adapter, checked; positions count from ``start``. ``indexed``:
        the collection has a vector index (a sparse vector then has at most MAX_SPARSE_INDEXED_NNZ
        non-zero values)."""
        if skip_adapter or self.adapter is self._default_adapter:
            pipeline = records  # the default adapter only defaults metadata, as the record checks do
        else:
            pipeline = self.adapter(_records.shaped(records, start), AdapterContext("upsert"))
        nnz = MAX_SPARSE_INDEXED_NNZ if self.vector_type == "sparsevec" and indexed else None
        return _records.checked(pipeline, self.dimension, self.name, start, self.vector_type, nnz)

    @property
    def _copied_always(self) -> bool:
        """Sparse and binary vectors are not vector[]: an upsert always copies them."""
        return self.vector_type in ("sparsevec", "bit")

    def _staging(self) -> str:
        return f"staging:{self.vector_type}"

    def _copy_oid(self) -> int:
        """The oid of the collection's vector type, whose binary form COPY writes."""
        oid: Optional[int] = self._db.type_oids.get(self.vector_type)
        if oid is None:
            raise UnsupportedFeature(f"vector_type {self.vector_type} needs pgvector 0.7.0 or later")
        return oid

    def _upsert_sized(self, records: Any, skip_adapter: bool) -> Optional[int]:
        """The number of records, when it is known before reading them (for a progress bar)."""
        sized = isinstance(records, Sized) and (skip_adapter is True or self.adapter is self._default_adapter)
        return len(records) if sized else None

    def _arrays_params(self, rows: List[_records.Row]) -> Tuple[Any, ...]:
        ids = [r[0] for r in rows]
        vectors = [r[1] for r in rows]
        metadatas = [Jsonb(r[2], dumps=_as_is) for r in rows]
        return (self.name, ids, vectors, metadatas)

    def _check_upsert_row(self, row: Any) -> bool:
        """Whether new records may be copied straight into the table; MismatchedDimension when the
        collection's dimension changed under this object."""
        dimension, direct = row
        if dimension != self.dimension:
            raise MismatchedDimension(
                f'collection "{self.name}" has {dimension} dimensions now, this Collection object {self.dimension}'
            )
        return bool(direct)

    @property
    def _db(self) -> Any:  # the client's session (Session or AsyncSession)
        return self.client.session

    def _copy_statement(self, conn: Any) -> bytes:
        if self._copy_sql is None:
            self._copy_sql = copy_into(self.client.schema, self.name).as_bytes(conn)
        return self._copy_sql

    def _fetch_statement(self) -> str:
        return "fetch" if self.vector_type == "vector" else f"fetch:{self.vector_type}"

    def _fetched(self, rows: Rows) -> List[Record]:
        """The vector is a numpy array (float32; float16 for a halfvec collection; bool for a bit
        collection), or a pgvector SparseVector for a sparsevec collection."""
        return [(id_, _output(vec, self.vector_type), metadata) for id_, vec, metadata in rows]

    @staticmethod
    def _delete_params(name: str, ids: Optional[Iterable[str]], filters: Any) -> Tuple[Any, ...]:
        if ids is None and filters is None:
            raise ArgError("Either ids or filters must be provided.")
        if ids is not None and filters is not None:
            raise ArgError("Either ids or filters must be provided, not both.")
        if ids is not None:
            return (name, _args.ids(ids), None)
        return (name, None, Jsonb(normalize_filters(filters)))

    @staticmethod
    def _item(items: Any) -> str:
        if not isinstance(items, str):
            raise ArgError("items must be a string id")
        return _args.text(items, "items")

    # ------------------------------------------------------------------ search

    def _query_params(
        self,
        data: Any,
        limit: Any,
        filters: Any,
        measure: Any,
        include_value: Any,
        include_metadata: Any,
        include_vector: Any,
        probes: Any,
        ef_search: Any,
        skip_adapter: Any,
        rerank: Any = None,
    ) -> Tuple[IndexMeasure, Tuple[Any, ...]]:
        """The query's measure and the parameters of ``vecs.query`` (with the query data and
        skip_adapter, which ``_query_vector`` replaces), every argument checked."""
        if probes is not None:  # vecs's checks and messages first, then the server's ranges
            if isinstance(probes, bool) or not isinstance(probes, (int, np.integer)):
                raise ArgError("probes must be an integer")
            if probes < 1:
                raise ArgError("probes must be >= 1")
        if isinstance(limit, (int, np.integer)) and not isinstance(limit, bool) and limit > 1000:
            raise ArgError("limit must be <= 1000")
        limit = _args.integer(limit, "limit", 1, 1000)
        probes = _args.optional_integer(probes, "probes", 1, 32768)
        ef_search = _args.optional_integer(ef_search, "ef_search", 1, 1000)
        rerank = _args.optional_integer(rerank, "rerank", limit, 1000)
        include_value = _args.flag(include_value, "include_value")
        include_metadata = _args.flag(include_metadata, "include_metadata")
        include_vector = _args.flag(include_vector, "include_vector")
        skip_adapter = _args.flag(skip_adapter, "skip_adapter")
        imeasure = _args.choice(IndexMeasure, measure, "Invalid index measure")
        filter_json = normalize_filters(filters)
        return imeasure, (
            self.name, data, limit, Jsonb(filter_json) if filter_json else None, imeasure.value,
            include_value, include_metadata, include_vector, probes, ef_search, rerank, skip_adapter,
        )  # fmt: skip

    def _query_vector(self, params: Tuple[Any, ...]) -> Tuple[str, Tuple[Any, ...]]:
        """The statement and its parameters, with the query data adapted into a checked vector of
        the collection's type (after the index warning, as vecs orders them).

        A sparsevec or bit collection's query vector is ``typed_vector`` (``query:<type>``), and
        its vectors are not returned by ``vecs.query`` (``include_vector`` is then False there;
        ``_query_fetch`` fetches them)."""
        data, rerank, skip_adapter = params[1], params[10], params[-1]
        if skip_adapter or self.adapter is self._default_adapter:
            adapted: List[Any] = [("", data, {})]
        else:
            adapted = list(self.adapter(records=[("", data, {})], adapter_context=AdapterContext("query")))
        if len(adapted) != 1:
            raise ArgError("Failed to produce exactly one query vector from input")
        if self.vector_type == "vector" and rerank is None:
            vector = _records.as_vector(adapted[0][1], "query")
            if len(vector) != self.dimension:
                raise MismatchedDimension(
                    f'query vector has {len(vector)} dimensions, collection "{self.name}" has {self.dimension}'
                )
        else:
            vector = _records.as_typed(
                adapted[0][1], "query", self.vector_type, self.dimension, self.name, error=ArgError
            )
        if self._copied_always:  # sparsevec, bit
            rest = (*params[2:7], False, *params[8:-1])
            return f"query:{self.vector_type}", (params[0], *rest, vector)
        return "query", (params[0], vector, *params[2:-1])

    def _query_fetch(self, rows: Rows, params: Tuple[Any, ...]) -> Optional[List[str]]:
        """The ids whose vectors a sparsevec or bit query must fetch (include_vector), else None."""
        include_vector = params[7]
        if include_vector and self._copied_always and rows:
            return [row[0] for row in rows]
        return None

    def _query_results(
        self, rows: Rows, params: Tuple[Any, ...], fetched: Optional[List[Record]] = None
    ) -> Union[List[Record], List[str]]:
        include_value, include_metadata, include_vector = params[5:8]
        if not (include_value or include_metadata or include_vector):
            return [row[0] for row in rows]
        vectors = {r[0]: r[1] for r in fetched or ()}
        results = []
        for id_, distance, vec, metadata in rows:
            result: List[Any] = [id_]
            if include_value:
                result.append(distance)
            if include_vector:
                result.append(vectors[id_] if self._copied_always else _output(vec, self.vector_type))
            if include_metadata:
                result.append(metadata)
            results.append(tuple(result))
        return results

    # ------------------------------------------------------------------ index

    def _remember_index(self, name: Optional[str], measure: Optional[str]) -> None:
        self._index, self._index_measure, self._index_known = name, measure, True

    def _remember_found(self, rows: Rows) -> None:
        self._remember_index(*(rows[0][2:4] if rows else (None, None)))

    def _indexed_for(self, measure: Any) -> bool:
        """is_indexed_for_measure once the index is known."""
        try:
            imeasure = _args.choice(IndexMeasure, measure, "")
        except ArgError:
            return False
        return self._index is not None and self._index_measure == imeasure.value

    def _index_params(
        self,
        measure: Any,
        method: Any,
        index_arguments: Any,
        replace: Any,
        filters: Any,
        quantization: Any = None,
        dimensions: Any = None,
    ) -> Tuple[Any, ...]:
        """The parameters of ``vecs.create_index``, with vecs's checks and messages first."""
        given, method = method, _args.choice(IndexMethod, method, "invalid index method")
        if quantization is not None:
            quantization = _args.text(quantization, "quantization")
        dimensions = _args.optional_integer(dimensions, "dimensions", 1, INT4_MAX)
        replace = _args.flag(replace, "replace")
        arguments = _index_arguments(index_arguments)
        if arguments:
            # vecs's rules: no build arguments with auto, and none of the other method's
            if method == IndexMethod.auto:
                raise ArgError("Index build parameters are not allowed when using the IndexMethod.auto index.")
            if (isinstance(index_arguments, IndexArgsHNSW) and method != IndexMethod.hnsw) or (
                isinstance(index_arguments, IndexArgsIVFFlat) and method != IndexMethod.ivfflat
            ):
                raise ArgError(
                    f"{index_arguments.__class__.__name__} build parameters were supplied but {given} index was specified."
                )
        hnsw = self._db.supports_hnsw()
        if method == IndexMethod.auto:
            method = IndexMethod.hnsw if hnsw else IndexMethod.ivfflat
        if method == IndexMethod.hnsw and not hnsw:
            raise UnsupportedFeature(
                "HNSW Unavailable. Upgrade your pgvector installation to > 0.5.0 to enable HNSW support"
            )
        imeasure = _args.choice(IndexMeasure, measure, "Unknown index measure")
        filter_json = normalize_filters(filters) if filters is not None else None
        return (
            self.name,
            imeasure.value,
            method.value,
            Jsonb(arguments) if arguments else None,
            replace,
            Jsonb(filter_json) if filter_json is not None else None,
            quantization,
            dimensions,
        )

    @staticmethod
    def _warn_build_notices(notices: List[str], caller: Optional[FrameType]) -> None:
        """pgvector's notice that the graph outgrew the build memory, as a warning at the caller's line."""
        for notice in notices:
            if "no longer fits into maintenance_work_mem" in notice:
                _warn_at(
                    caller,
                    BuildMemoryWarning(
                        f"{notice}: the build went on more slowly; give it more memory with "
                        "SET vecs.max_build_memory = '4GB' (for the session or role)"
                    ),
                )

    def _replaced_indexes(self, rows: Rows, name: str) -> List[str]:
        """The collection's vector indexes other than the new one ``name`` (to drop concurrently)."""
        return [old for old, kind in rows if kind == "vector" and old != name]

    def _drop_index_sql(self, index: str) -> Any:
        return drop_index_concurrently(self.client.schema, index)

    @staticmethod
    def _key_params(name: str, key: Tuple[str, ...]) -> Tuple[Any, ...]:
        return (name, _args.key_path(key))

    @staticmethod
    def _indexes_listed(rows: Rows) -> List[Dict[str, Any]]:
        names = ("index_name", "kind", "method", "measure", "key", "filters", "valid")
        return [dict(zip(names, row)) for row in rows]

    # ------------------------------------------------------------------ text and hybrid search

    @staticmethod
    def _text_search_params(name: str, text_key: Any, config: Any) -> Tuple[Any, ...]:
        return (name, _args.text(text_key, "text_key"), _args.text(config, "config"))

    @staticmethod
    def _text_search_error(e: VecsException) -> VecsException:
        if getattr(e.__cause__, "sqlstate", None) == "42704":  # undefined_object: no such configuration
            return ArgError(str(e))
        return e

    @staticmethod
    def _described(rows: Rows) -> Dict[str, Any]:
        names = ("name", "dimension", "text_search", "text_key", "text_config", "text_index", "vector_type")
        return dict(zip(names, rows[0]))

    def _hybrid_params(
        self,
        text: Optional[str],
        data: Any,
        limit: int,
        filters: Any,
        fusion: str,
        rrf_k: int,
        full_text_weight: float,
        semantic_weight: float,
        candidates: Optional[int],
        parser: str,
        include_metadata: bool,
        measure: Any,
        probes: Optional[int],
        ef_search: Optional[int],
        skip_adapter: bool,
    ) -> Tuple[Any, ...]:
        if text is not None:
            text = _args.text(text, "text")
        limit = _args.integer(limit, "limit", 1, 1000)
        rrf_k = _args.integer(rrf_k, "rrf_k", 0, 1000000)
        candidates = _args.optional_integer(candidates, "candidates", limit, MAX_CANDIDATES)
        probes = _args.optional_integer(probes, "probes", 1, 32768)
        ef_search = _args.optional_integer(ef_search, "ef_search", 1, 1000)
        weights = []
        for value, what in ((full_text_weight, "full_text_weight"), (semantic_weight, "semantic_weight")):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ArgError(f"{what} must be a number, got {type(value).__name__}")
            weights.append(float(value))
        fusion, parser = _args.text(fusion, "fusion"), _args.text(parser, "parser")
        include_metadata = _args.flag(include_metadata, "include_metadata")
        skip_adapter = _args.flag(skip_adapter, "skip_adapter")
        imeasure = _args.choice(IndexMeasure, measure, "Invalid index measure")
        filter_json = normalize_filters(filters)
        with_adapter = not skip_adapter and self.adapter is not self._default_adapter
        if data is None and text is not None and with_adapter:
            data = text  # the adapter embeds the query text itself
        vector = None
        if data is not None:
            if with_adapter:
                adapted = list(self.adapter(records=[("", data, {})], adapter_context=AdapterContext("query")))
                if len(adapted) != 1:
                    raise ArgError("Failed to produce exactly one query vector from input")
                data = adapted[0][1]
            vector = _records.as_vector(data, "query")
            if len(vector) != self.dimension:
                raise MismatchedDimension(
                    f'query vector has {len(vector)} dimensions, collection "{self.name}" has {self.dimension}'
                )
        if text is None and vector is None:
            raise ArgError("hybrid_query needs text, data, or both")
        return (
            self.name, text, vector, limit, Jsonb(filter_json) if filter_json else None, fusion, rrf_k,
            weights[0], weights[1], candidates, parser, include_metadata, imeasure.value, probes, ef_search,
        )  # fmt: skip


class Collection(_CollectionCore):
    """A collection of ``(id, vector, metadata)`` records: a table in the client's schema.

    Made by ``Client.get_or_create_collection``; errors are ``vecs_sqlgen.exc`` classes.
    """

    @property
    def _db(self) -> Session:
        """The client's session, where every call goes."""
        session: Session = self.client.session
        return session

    def __init__(
        self,
        name: str,
        dimension: Optional[int],
        client: Any,
        adapter: Optional[Adapter] = None,
        *,
        vector_type: str = "vector",
    ):
        """Bind to collection ``name`` (nothing is created); ``dimension`` or the adapter gives the
        dimension; ``vector_type``: vector (float32), halfvec (float16), sparsevec or bit."""
        super().__init__(name, dimension, client, adapter, vector_type=vector_type)

    def __len__(self) -> int:
        """The number of records."""
        return int(self._db.execute("count", (self.name,))[0][0])

    # ------------------------------------------------------------------ records

    def upsert(
        self,
        records: Iterable[Tuple[str, Any, Metadata]],
        skip_adapter: bool = False,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: _progress.Progress = None,
    ) -> None:
        """Insert or replace records ``(id, vector or media, metadata)``, all or nothing.

        ``records`` may be any iterable (a generator streams: memory stays flat). Each record is
        checked before it is sent; a bad one raises InvalidRecord or MismatchedDimension naming its
        position and id, and nothing is written. Records are read and sent ``batch_size`` at a time;
        ``progress`` is called with the running count of records sent after each batch, or with
        ``progress=True`` a progress bar is drawn on stderr when it is a terminal.
        """
        total = self._upsert_sized(records, skip_adapter)
        with _progress.reporter(progress, total=total, desc=f"upsert {self.name}", unit="records") as report:
            self._upsert(records, skip_adapter, batch_size, report)

    def _upsert(
        self,
        records: Iterable[Tuple[str, Any, Metadata]],
        skip_adapter: bool,
        batch_size: int,
        progress: Optional[Callable[[int], None]],
    ) -> None:
        _check_batch_size(batch_size)
        records, skip = _args.records(records), _args.flag(skip_adapter, "skip_adapter")
        indexed = self.vector_type == "sparsevec" and self.index is not None
        rows = self._pipeline(records, skip, indexed=indexed)
        head = list(islice(rows, ARRAYS_MAX + 1))
        if len(head) > ARRAYS_MAX or (head and self._copied_always):
            self._upsert_copy(chain(head, rows), batch_size, progress)
            return None
        if head:
            self._db.execute("upsert", self._arrays_params(head))
        if progress:
            progress(len(head))
        return None

    def _upsert_copy(
        self, rows: Iterable[_records.Row], batch_size: int, progress: Optional[Callable[[int], None]]
    ) -> None:
        """Stream the rows with binary COPY, ``batch_size`` at a time, in one transaction on one
        pooled connection.

        New records go straight into the table (raw COPY speed; the records were checked here as
        the server would). A batch holding an id the table (or the batch) already has is rolled
        back to its savepoint and staged instead, as is everything after it, and the staged rows
        are merged by ``vecs.upsert_from`` at the end: later records still win. The staging table
        lives in the transaction (ON COMMIT DROP): a failure anywhere, including a bad record
        found mid-stream, rolls everything back.
        """
        db, sent, staged = self._db, 0, False
        with db.connection() as conn, conn.transaction():
            direct = self._check_upsert_row(db.run(conn, "check_upsert", (self.name,))[0])
            for batch in chunked(rows, batch_size):
                if direct:
                    direct = self._copy_new(conn, batch)
                if not direct:
                    if not staged:
                        conn.execute(db.sql[self._staging()], prepare=False)
                        staged = True
                    _copy(conn, db.sql["copy"], batch, self._copy_oid(), self.vector_type)
                sent += len(batch)
                if progress:
                    progress(sent)
            if staged:
                db.run(conn, "upsert_from", (self.name, STAGING_REGCLASS))

    def _copy_new(self, conn: Any, batch: List[_records.Row]) -> bool:
        """COPY a batch of new records straight into the table; False (nothing written) when one exists."""
        if not _sorted_unique(batch):
            return False  # a repeated id: the merge decides which record wins
        statement = self._copy_statement(conn)
        try:
            with conn.transaction():  # a savepoint
                _copy(conn, statement, batch, self._copy_oid(), self.vector_type)
        except (errors.UniqueViolation, errors.DeadlockDetected):
            return False
        return True

    def fetch(self, ids: Iterable[str]) -> List[Record]:
        """The records ``(id, vector, metadata)`` with these ids, in request order; unknown ids are skipped.

        The vector is a numpy array (float32; float16 for a halfvec collection; bool for a bit
        collection), or a pgvector SparseVector for a sparsevec collection."""
        return self._fetched(self._db.execute(self._fetch_statement(), (self.name, _args.ids(ids))))

    def delete(
        self, ids: Optional[Iterable[str]] = None, filters: Optional[Union[Dict[str, Any], str]] = None
    ) -> List[str]:
        """Delete by ids or by a metadata filter (a dict or a SQL expression); returns the deleted ids."""
        return [row[0] for row in self._db.execute("delete", self._delete_params(self.name, ids, filters))]

    def __getitem__(self, items: str) -> Record:
        """The record with id ``items``; KeyError when there is none."""
        rows = self.fetch([self._item(items)])
        if not rows:
            raise KeyError("no item found with requested id")
        return rows[0]

    # ------------------------------------------------------------------ search

    def query(
        self,
        data: Union[Iterable[Numeric], Any],
        limit: int = 10,
        filters: Optional[Union[Dict[str, Any], str]] = None,
        measure: Union[IndexMeasure, str] = IndexMeasure.cosine_distance,
        include_value: bool = False,
        include_metadata: bool = False,
        include_vector: bool = False,
        *,
        probes: Optional[int] = None,
        ef_search: Optional[int] = None,
        skip_adapter: bool = False,
        rerank: Optional[int] = None,
    ) -> Union[List[Record], List[str]]:
        """The ``limit`` records nearest to ``data``, nearest first.

        Returns ids, or tuples ``(id, distance?, vector?, metadata?)`` with the columns asked for.
        ``filters`` is a JSON filter (dict) or a SQL boolean expression over metadata keys; filtered
        results are complete (fewer than ``limit`` only when fewer records match). ``data`` is of
        the collection's type: numbers (float16 too) for vector and halfvec, a sparse vector (dict,
        scipy.sparse row, SparseVector) for sparsevec, booleans / a 0-1 string / Bit for bit.
        ``rerank``: over an index of a reduced representation (``create_index(quantization=…,
        dimensions=…)``), how many candidates to re-rank by the true distance (limit to 1000).
        """
        imeasure, params = self._query_params(
            data, limit, filters, measure, include_value, include_metadata, include_vector, probes, ef_search,
            skip_adapter, rerank,
        )  # fmt: skip
        if not self.is_indexed_for_measure(imeasure):
            warnings.warn(
                UserWarning(f"Query does not have a covering index for {imeasure}. See Collection.create_index"),
                stacklevel=2,
            )
        statement, sent = self._query_vector(params)
        rows = self._db.execute(statement, sent)
        ids = self._query_fetch(rows, params)
        return self._query_results(rows, params, self.fetch(ids) if ids else None)

    # ------------------------------------------------------------------ index

    @property
    def index(self) -> Optional[str]:
        """The name of the collection's vector index, or None (looked up once, then kept)."""
        if not self._index_known:
            self._remember_found(self._db.execute("find", (self.name,)))
        return self._index

    def is_indexed_for_measure(self, measure: IndexMeasure) -> bool:
        """True when the collection's vector index serves ``measure``."""
        try:
            _args.choice(IndexMeasure, measure, "")
        except ArgError:
            return False
        self.index  # noqa: B018 - looked up once
        return self._indexed_for(measure)

    def create_index(
        self,
        measure: IndexMeasure = IndexMeasure.cosine_distance,
        method: IndexMethod = IndexMethod.auto,
        index_arguments: Optional[Union[IndexArgsIVFFlat, IndexArgsHNSW]] = None,
        replace: bool = True,
        *,
        filters: Optional[Union[Dict[str, Any], str]] = None,
        progress: _progress.IndexProgress = None,
        quantization: Optional[str] = None,
        dimensions: Optional[int] = None,
    ) -> None:
        """Build the collection's vector index (replacing an existing one unless ``replace`` is False).

        ``quantization="binary"``: an index over ``binary_quantize(vec)`` (32 x smaller than float32;
        queries re-rank an oversampled candidate set by ``measure``, see ``query(rerank=…)``);
        ``"halfvec"``: over ``vec::halfvec`` (half the size). ``dimensions=m``: over the first ``m``
        dimensions (Matryoshka embeddings), re-ranked by the full vector. A vector collection of
        more than 2,000 dimensions is indexed over halfvec automatically (up to 4,000).

        With ``filters`` (equality tests, e.g. ``{"section": "python"}``): a filtered index over the
        records that filter selects, used by queries whose filter contains those tests; one per
        filter, next to the collection's index (vecs has no such index).

        Readers are never blocked: they use the old index while the new one is built (writers wait),
        and the old one is then dropped, concurrently when a transaction is still using it (this call
        then returns once those transactions have ended). ArgError for a bad method,
        measure or arguments, or when ``replace`` is False and an index exists.

        ``progress=True`` draws the build's progress (``pg_stat_progress_create_index``: phase, tuples
        done of total) on stderr when it is a terminal; a callable is called, from a polling thread,
        with each ``IndexBuildProgress(phase, tuples_done, tuples_total)``, the last with phase "done".
        """
        caller = sys._getframe(1)
        params = self._index_params(measure, method, index_arguments, replace, filters, quantization, dimensions)
        db = self._db
        with db.connection() as conn:
            # the server warns before a build whose graph will not fit the build memory, and
            # pgvector when it outgrows it (the build goes on, on disk, far slower): both reach the
            # caller, who can raise vecs.max_build_memory
            notices = _BuildNotices(conn, caller)
            conn.add_notice_handler(notices)
            build = _progress.index_build(
                progress, dsn=db.dsn, pid=conn.info.backend_pid, desc=f"create_index {self.name}"
            )
            try:
                with build, conn.transaction():
                    rows = db.run(conn, "create_index", params)
                    # a refused warning rolls the build back, also when it ended before the cancel
                    notices.raise_refused()
            except VecsException:
                notices.raise_refused()
                raise
            finally:
                conn.remove_notice_handler(notices)
            name = rows[0][0]
            if params[5] is None:  # not a filtered index, which leaves the collection's own index unchanged
                self._remember_index(name, params[1])
                # The SQL function keeps the index it replaced when an open transaction is using the
                # table (dropping it there would queue every new query); outside a transaction block it
                # can be dropped concurrently, which waits for those transactions without blocking anyone.
                for old in self._replaced_indexes(db.run(conn, "indexes", (self.name,)), name):
                    conn.execute(self._drop_index_sql(old), prepare=False)
        # pgvector's notices, once the index is in place (a warnings filter may make them raise)
        self._warn_build_notices(notices.kept, caller)
        return None

    def create_metadata_index(self, *key: str) -> str:
        """Build a btree index on the value of a metadata key (several keys: a path into nested
        objects), which range, ``$ne``, ``$nin``, ``$exists`` and long ``$in`` filters on it use and
        from whose statistics ``query`` estimates them. Returns its name; an existing one is kept."""
        return str(self._db.execute("create_metadata_index", self._key_params(self.name, key))[0][0])

    def drop_metadata_index(self, *key: str) -> bool:
        """Drop the metadata index on that key path; False when there is none."""
        return bool(self._db.execute("drop_metadata_index", self._key_params(self.name, key))[0][0])

    def list_indexes(self) -> List[Dict[str, Any]]:
        """Every index of the collection, as ``vecs.list_indexes`` reports it."""
        return self._indexes_listed(self._db.execute("list_indexes", (self.name,)))

    # ------------------------------------------------------------------ text and hybrid search

    def enable_text_search(self, text_key: str = "text", config: str = "english") -> str:
        """Enable full-text search on the text records keep under metadata key ``text_key``, with
        text search configuration ``config`` (any installed one, e.g. ``"simple"``): a generated
        column and its gin index, filled by every write. Returns the index name; the same call
        again changes nothing, another key or configuration replaces them. The table is rewritten
        once (readers and writers wait). ArgError for a bad key or an unknown configuration."""
        params = self._text_search_params(self.name, text_key, config)
        try:
            return str(self._db.execute("enable_text_search", params)[0][0])
        except VecsException as e:
            error = self._text_search_error(e)
            if error is e:
                raise
            raise error from None

    def disable_text_search(self) -> bool:
        """Remove what ``enable_text_search`` added (records are untouched); False when it was not enabled."""
        return bool(self._db.execute("disable_text_search", (self.name,))[0][0])

    def describe(self) -> Dict[str, Any]:
        """Name, dimension, full-text search state: ``text_search`` (bool), ``text_key``,
        ``text_config`` and ``text_index`` (None when not enabled), and ``vector_type``."""
        return self._described(self._db.execute("describe", (self.name,)))

    def hybrid_query(
        self,
        text: Optional[str] = None,
        data: Optional[Union[Iterable[Numeric], Any]] = None,
        limit: int = 10,
        filters: Optional[Union[Dict[str, Any], str]] = None,
        fusion: str = "rrf",
        *,
        rrf_k: int = 60,
        full_text_weight: float = 1.0,
        semantic_weight: float = 1.0,
        candidates: Optional[int] = None,
        parser: str = "websearch",
        include_metadata: bool = False,
        measure: Union[IndexMeasure, str] = IndexMeasure.cosine_distance,
        probes: Optional[int] = None,
        ef_search: Optional[int] = None,
        skip_adapter: bool = False,
    ) -> List[HybridMatch]:
        """Full-text search for ``text`` and vector search for ``data``, fused (``vecs.hybrid_query``).

        ``fusion``: ``"rrf"`` (reciprocal rank fusion, ``rrf_k``) or ``"weighted"`` (each branch's
        scores scaled to 0..1, then weighted); ``full_text_weight`` and ``semantic_weight`` weigh
        the branches in both. ``filters`` apply inside both branches, so results are complete.
        ``text`` is parsed as web search syntax (quotes, ``or``, ``-``; ``parser="plain"``: every
        word). Without ``data``, a collection with an adapter (e.g. TextEmbedding) embeds ``text``
        itself; with neither an adapter nor ``data`` it is full-text search only, and without
        ``text`` it is ``query``. Text without searchable words degrades to vector search. The
        collection needs ``enable_text_search`` for ``text`` (ArgError otherwise).
        """
        params = self._hybrid_params(
            text, data, limit, filters, fusion, rrf_k, full_text_weight, semantic_weight, candidates, parser,
            include_metadata, measure, probes, ef_search, skip_adapter,
        )  # fmt: skip
        return [HybridMatch(*row) for row in self._db.execute("hybrid_query", params)]


class _BuildNotices:
    """create_index's notice handler. The server's warning that the HNSW graph will not fit the build
    memory (SQLSTATE 01VX1, sent before the build starts) is issued as a BuildMemoryWarning the
    moment it arrives, at the caller's line; when a warnings filter turns it into an exception, the
    statement is cancelled and ``raise_refused`` raises that exception, inside the build's
    transaction, so nothing is built either way. Other notices (pgvector's) are kept for after the
    build."""

    def __init__(self, conn: Any, caller: Optional[FrameType]) -> None:
        self._conn, self._caller = conn, caller
        self.kept: List[str] = []
        self._refused: Optional[BuildMemoryWarning] = None

    def __call__(self, diag: Any) -> None:
        if diag.sqlstate != BuildMemoryWarning.sqlstate:
            self.kept.append(diag.message_primary or "")
            return
        parts = (diag.message_primary, diag.message_detail, diag.message_hint)
        message = ". ".join(p.rstrip(".") for p in parts if p) + "."
        try:
            _warn_at(self._caller, BuildMemoryWarning(message))
        except BuildMemoryWarning as e:  # -W error::vecs_sqlgen.exc.BuildMemoryWarning: refuse the build
            self._refused = e
            self._conn.cancel()  # the server is still running create_index (blocks until delivered)

    def raise_refused(self) -> None:
        if self._refused is not None:
            refused, self._refused = self._refused, None
            raise refused


def _warn_at(frame: Optional[FrameType], warning: Warning) -> None:
    """``warnings.warn(warning)`` for the line ``frame`` is at (the caller of create_index), whatever
    the stack is when it is called (a notice handler runs inside psycopg)."""
    if frame is None:  # pragma: no cover - CPython always has frames
        warnings.warn(warning, stacklevel=2)
        return
    module_globals = frame.f_globals
    warnings.warn_explicit(
        warning,
        type(warning),
        frame.f_code.co_filename,
        frame.f_lineno,
        module=module_globals.get("__name__"),
        registry=module_globals.setdefault("__warningregistry__", {}),
    )


def _check_batch_size(batch_size: Any) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ArgError("batch_size must be a positive integer")


def _sorted_unique(batch: List[_records.Row]) -> bool:
    """Sort a batch by id (writers inserting the same new ids take them in one order); False when an id repeats."""
    batch.sort(key=_first)
    return not any(batch[i][0] == batch[i - 1][0] for i in range(1, len(batch)))


def _index_arguments(arguments: Any) -> Optional[Dict[str, Any]]:
    """IndexArgsHNSW / IndexArgsIVFFlat (or a dict) as the JSON the SQL function takes."""
    if arguments is None:
        return None
    if is_dataclass(arguments) and not isinstance(arguments, type):  # IndexArgsHNSW, IndexArgsIVFFlat
        arguments = asdict(arguments)
    elif not isinstance(arguments, Mapping):
        raise ArgError(
            f"index_arguments must be IndexArgsHNSW, IndexArgsIVFFlat or a dict, got {type(arguments).__name__}"
        )
    out = {}
    for key, value in arguments.items():
        if value is not None:
            out[_args.text(key, "an index argument name")] = _args.integer(value, f"index argument {key}", 1, INT4_MAX)
    return out or None


def _copy(conn: Any, statement: bytes, batch: List[_records.Row], vector_oid: int, vector_type: str = "vector") -> None:
    """One binary COPY of checked rows (their vectors in the binary form of the collection's type)."""
    with conn.cursor().copy(statement) as copy:
        copy.set_types([_TEXT_OID, vector_oid, _JSONB_OID])
        for row in _copy_rows(batch, vector_type):
            copy.write_row(row)


def _copy_rows(batch: List[_records.Row], vector_type: str) -> Iterable[Tuple[Any, Any, Any]]:
    """The rows COPY writes: a halfvec collection's float32 arrays as HalfVector."""
    half = vector_type == "halfvec"
    for id_, vector, metadata in batch:
        yield (id_, HalfVector(vector) if half else vector, Jsonb(metadata, dumps=_as_is))


def _first(row: _records.Row) -> str:
    return row[0]


def _as_is(data: bytes) -> bytes:
    """The JSON "dumps" for metadata already serialized by the record checks."""
    return data


def _output(vec: Any, vector_type: str) -> Any:
    """A fetched vector as the client returns it: float32 (vector), float16 (halfvec; a vector
    result holds the same values) or bool (bit) numpy arrays, or a SparseVector as it is."""
    if vector_type == "halfvec":
        return _numpy(vec).astype(np.float16)
    if vector_type == "bit":
        return vec.to_numpy()
    if vector_type == "sparsevec":
        return vec
    return _numpy(vec)


def _numpy(vec: Any) -> np.ndarray:
    """A fetched vector as a float32 array: pgvector-python 0.4+ loads a Vector, 0.3 (which vecs
    0.4.5 pins, so both may share an environment) a numpy array."""
    return vec.to_numpy() if hasattr(vec, "to_numpy") else np.asarray(vec, dtype=np.float32)
