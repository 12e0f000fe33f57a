"""The AsyncCollection: the Collection's API as awaitables, over an AsyncSession.

Checks, parameters and results are the Collection's own (``_CollectionCore``); only the waiting
differs. ``len(docs)`` cannot be awaited: ``await docs.count()`` is its equivalent, and
``await docs.index`` the index property's.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Dict, List, Optional, Tuple, Union

from psycopg import errors

from . import _args, _progress, _records
from .adapter import Adapter
from .adapter.base import chunked
from .collection import (
    _JSONB_OID,
    _TEXT_OID,
    ARRAYS_MAX,
    DEFAULT_BATCH_SIZE,
    HybridMatch,
    IndexArgsHNSW,
    IndexArgsIVFFlat,
    IndexMeasure,
    IndexMethod,
    Metadata,
    Numeric,
    Record,
    _BuildNotices,
    _check_batch_size,
    _CollectionCore,
    _copy_rows,
    _sorted_unique,
)
from .exc import ArgError, VecsException
from .session import AsyncSession
from .statements import STAGING_REGCLASS


class AsyncCollection(_CollectionCore):
    """A collection of ``(id, vector, metadata)`` records, for asyncio (made by ``AsyncClient``)."""

    def __init__(
        self,
        name: str,
        dimension: Optional[int],
        client: Any,
        adapter: Optional[Adapter] = None,
        *,
        vector_type: str = "vector",
    ):
        """Bind to collection ``name`` (nothing is created), as ``Collection``."""
        super().__init__(name, dimension, client, adapter, vector_type=vector_type)

    @property
    def _db(self) -> AsyncSession:
        session: AsyncSession = self.client.session
        return session

    def __repr__(self) -> str:
        return f'vecs.AsyncCollection(name="{self.name}", dimension={self.dimension})'

    async def count(self) -> int:
        """The number of records (``len(collection)`` of the sync Collection)."""
        return int((await self._db.execute("count", (self.name,)))[0][0])

    # ------------------------------------------------------------------ records

    async def upsert(
        self,
        records: Union[Iterable[Tuple[str, Any, Metadata]], AsyncIterable[Tuple[str, Any, Metadata]]],
        skip_adapter: bool = False,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: _progress.Progress = None,
    ) -> None:
        """Insert or replace records, all or nothing, as ``Collection.upsert``; ``records`` may also be
        an async iterable, read ``batch_size`` at a time and streamed through COPY."""
        _check_batch_size(batch_size)
        skip = _args.flag(skip_adapter, "skip_adapter")
        source: Union[Iterable[Any], AsyncIterable[Any]] = (
            records if isinstance(records, AsyncIterable) else _args.records(records)
        )
        total = None if isinstance(source, AsyncIterable) else self._upsert_sized(source, skip)
        indexed = self.vector_type == "sparsevec" and (await self.index) is not None
        with _progress.reporter(progress, total=total, desc=f"upsert {self.name}", unit="records") as report:
            batches = self._checked_batches(source, skip, batch_size, indexed).__aiter__()
            head: List[List[_records.Row]] = []  # the first batches, until they hold more than ARRAYS_MAX
            async for batch in batches:
                head.append(batch)
                if sum(map(len, head)) > ARRAYS_MAX or self._copied_always:
                    await self._upsert_copy(head, batches, report)
                    return None
            rows = [row for batch in head for row in batch]
            if rows:
                await self._db.execute("upsert", self._arrays_params(rows))
            if report:
                report(len(rows))
        return None

    async def _checked_batches(
        self, source: Union[Iterable[Any], AsyncIterable[Any]], skip_adapter: bool, batch_size: int, indexed: bool
    ) -> AsyncIterator[List[_records.Row]]:
        """The records in batches of up to ``batch_size``, each through the adapter and checked."""
        position = 1
        if isinstance(source, AsyncIterable):
            raw: List[Any] = []
            async for record in source:
                raw.append(record)
                if len(raw) >= batch_size:
                    rows = list(self._pipeline(raw, skip_adapter, position, indexed=indexed))
                    position, raw = position + len(rows), []
                    yield rows
            if raw:
                yield list(self._pipeline(raw, skip_adapter, position, indexed=indexed))
            return
        for rows in chunked(self._pipeline(source, skip_adapter, indexed=indexed), batch_size):
            yield rows

    async def _upsert_copy(
        self,
        head: List[List[_records.Row]],
        rest: AsyncIterator[List[_records.Row]],
        progress: Optional[Callable[[int], None]],
    ) -> None:
        """As ``Collection._upsert_copy``: one transaction on one pooled connection, new records
        copied straight in, the rest staged and merged by ``vecs.upsert_from``."""
        db, sent, staged = self._db, 0, False
        async with db.connection() as conn, conn.transaction():
            direct = self._check_upsert_row((await db.run(conn, "check_upsert", (self.name,)))[0])

            async def send(batch: List[_records.Row]) -> None:
                nonlocal direct, staged, sent
                if direct:
                    direct = await self._copy_new(conn, batch)
                if not direct:
                    if not staged:
                        await conn.execute(db.sql[self._staging()], prepare=False)
                        staged = True
                    await _copy(conn, db.sql["copy"], batch, self._copy_oid(), self.vector_type)
                sent += len(batch)
                if progress:
                    progress(sent)

            for batch in head:
                await send(batch)
            async for batch in rest:
                await send(batch)
            if staged:
                await db.run(conn, "upsert_from", (self.name, STAGING_REGCLASS))

    async def _copy_new(self, conn: Any, batch: List[_records.Row]) -> bool:
        if not _sorted_unique(batch):
            return False
        statement = self._copy_statement(conn)
        try:
            async with conn.transaction():  # a savepoint
                await _copy(conn, statement, batch, self._copy_oid(), self.vector_type)
        except (errors.UniqueViolation, errors.DeadlockDetected):
            return False
        return True

    async def fetch(self, ids: Iterable[str]) -> List[Record]:
        """The records ``(id, vector, metadata)`` with these ids, in request order; unknown ids are
        skipped; vectors as ``Collection.fetch`` returns them."""
        return self._fetched(await self._db.execute(self._fetch_statement(), (self.name, _args.ids(ids))))

    async def delete(
        self, ids: Optional[Iterable[str]] = None, filters: Optional[Union[Dict[str, Any], str]] = None
    ) -> List[str]:
        """Delete by ids or by a metadata filter; returns the deleted ids."""
        params = self._delete_params(self.name, ids, filters)
        return [row[0] for row in await self._db.execute("delete", params)]

    def __getitem__(self, items: str) -> Awaitable[Record]:
        """``await collection[id]``: the record with that id; KeyError when there is none."""
        item = self._item(items)

        async def get() -> Record:
            rows = await self.fetch([item])
            if not rows:
                raise KeyError("no item found with requested id")
            return rows[0]

        return get()

    # ------------------------------------------------------------------ search

    async def query(
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
        """The ``limit`` records nearest to ``data``, nearest first, as ``Collection.query``."""
        imeasure, params = self._query_params(
            data, limit, filters, measure, include_value, include_metadata, include_vector, probes, ef_search,
            skip_adapter, rerank,
        )  # fmt: skip
        if not await self.is_indexed_for_measure(imeasure):
            warnings.warn(
                UserWarning(f"Query does not have a covering index for {imeasure}. See Collection.create_index"),
                stacklevel=2,
            )
        statement, sent = self._query_vector(params)
        rows = await self._db.execute(statement, sent)
        ids = self._query_fetch(rows, params)
        return self._query_results(rows, params, await self.fetch(ids) if ids else None)

    # ------------------------------------------------------------------ index

    @property
    def index(self) -> Awaitable[Optional[str]]:
        """``await collection.index``: the name of the vector index, or None (looked up once, then kept)."""

        async def lookup() -> Optional[str]:
            if not self._index_known:
                self._remember_found(await self._db.execute("find", (self.name,)))
            return self._index

        return lookup()

    async def is_indexed_for_measure(self, measure: IndexMeasure) -> bool:
        """True when the collection's vector index serves ``measure``."""
        try:
            _args.choice(IndexMeasure, measure, "")
        except ArgError:
            return False
        await self.index
        return self._indexed_for(measure)

    async def create_index(
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
        """Build the collection's vector index, as ``Collection.create_index``."""
        caller = sys._getframe(1)  # the awaiting coroutine's frame
        params = self._index_params(measure, method, index_arguments, replace, filters, quantization, dimensions)
        db = self._db
        async with db.connection() as conn:
            notices = _BuildNotices(conn, caller)
            conn.add_notice_handler(notices)
            build = _progress.index_build(
                progress, dsn=db.dsn, pid=conn.info.backend_pid, desc=f"create_index {self.name}"
            )
            try:
                with build:
                    async with conn.transaction():
                        rows = await db.run(conn, "create_index", params)
                        notices.raise_refused()  # rolls the build back, as Collection.create_index
            except VecsException:
                notices.raise_refused()
                raise
            finally:
                conn.remove_notice_handler(notices)
            name = rows[0][0]
            if params[5] is None:
                self._remember_index(name, params[1])
                for old in self._replaced_indexes(await db.run(conn, "indexes", (self.name,)), name):
                    await conn.execute(self._drop_index_sql(old), prepare=False)
        self._warn_build_notices(notices.kept, caller)
        return None

    async def create_metadata_index(self, *key: str) -> str:
        """Build a btree index on a metadata key path, as ``Collection.create_metadata_index``."""
        return str((await self._db.execute("create_metadata_index", self._key_params(self.name, key)))[0][0])

    async def drop_metadata_index(self, *key: str) -> bool:
        """Drop the metadata index on that key path; False when there is none."""
        return bool((await self._db.execute("drop_metadata_index", self._key_params(self.name, key)))[0][0])

    async def list_indexes(self) -> List[Dict[str, Any]]:
        """Every index of the collection, as ``vecs.list_indexes`` reports it."""
        return self._indexes_listed(await self._db.execute("list_indexes", (self.name,)))

    # ------------------------------------------------------------------ text and hybrid search

    async def enable_text_search(self, text_key: str = "text", config: str = "english") -> str:
        """Enable full-text search on metadata key ``text_key``, as ``Collection.enable_text_search``."""
        params = self._text_search_params(self.name, text_key, config)
        try:
            return str((await self._db.execute("enable_text_search", params))[0][0])
        except VecsException as e:
            error = self._text_search_error(e)
            if error is e:
                raise
            raise error from None

    async def disable_text_search(self) -> bool:
        """Remove what ``enable_text_search`` added; False when it was not enabled."""
        return bool((await self._db.execute("disable_text_search", (self.name,)))[0][0])

    async def describe(self) -> Dict[str, Any]:
        """Name, dimension, full-text search state and vector type, as ``Collection.describe``."""
        return self._described(await self._db.execute("describe", (self.name,)))

    async def hybrid_query(
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
        """Full-text and vector search, fused, as ``Collection.hybrid_query``."""
        params = self._hybrid_params(
            text, data, limit, filters, fusion, rrf_k, full_text_weight, semantic_weight, candidates, parser,
            include_metadata, measure, probes, ef_search, skip_adapter,
        )  # fmt: skip
        return [HybridMatch(*row) for row in await self._db.execute("hybrid_query", params)]


async def _copy(
    conn: Any, statement: bytes, batch: List[_records.Row], vector_oid: int, vector_type: str = "vector"
) -> None:
    """One binary COPY of checked rows, on an async connection (as ``collection._copy``)."""
    async with conn.cursor().copy(statement) as copy:
        copy.set_types([_TEXT_OID, vector_oid, _JSONB_OID])
        for row in _copy_rows(batch, vector_type):
            await copy.write_row(row)
