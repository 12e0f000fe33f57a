"""The AsyncClient: the Client's API as awaitables, on psycopg AsyncConnection pools.

    vx = await vecs.create_async_client(dsn)
    docs = await vx.get_or_create_collection("docs", dimension=3)
    await docs.upsert([("a", [1, 2, 3], {})])
    await docs.query([1, 2, 3])
    await vx.disconnect()

or ``async with vecs.AsyncClient(dsn) as vx:``. Same checks, errors and results as the Client:
both run the same statements through the same session layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional, Union

from . import _args, exc
from . import dsn as _dsn
from .adapter import Adapter
from .async_collection import AsyncCollection
from .client import _deprecated, _exists, _found_type, _mismatched, _new_collection, _not_found
from .limits import DEFAULT_POOL_SIZE, DEFAULT_POOL_TIMEOUT
from .session import AsyncSession, Options

__all__ = ["AsyncClient", "create_async_client"]


class AsyncClient:
    """A pool of async connections to a database with the vecs SQL layer (``await connect()`` or ``async with``)."""

    def __init__(
        self,
        connection_string: Optional[str] = None,
        *,
        schema: str = "vecs",
        prepare: bool = True,
        pool_size: int = DEFAULT_POOL_SIZE,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
        read_dsn: Union[str, Sequence[str], None] = None,
        read_your_writes: float = 0.0,
    ):
        """The arguments of ``Client``; nothing connects until ``await connect()`` (or ``async with``)."""
        self.schema = schema
        self._options = Options.checked(
            _dsn.resolve(connection_string),
            schema=schema,
            prepare=prepare,
            pool_size=pool_size,
            pool_timeout=pool_timeout,
            read_dsn=read_dsn,
            read_your_writes=read_your_writes,
        )
        self._session: Optional[AsyncSession] = None

    async def connect(self) -> AsyncClient:
        """Install the SQL layer when needed and open the pools (again after ``disconnect``: only the pools)."""
        if self._session is None:
            self._session = await AsyncSession.open(self._options)
        return self

    @property
    def session(self) -> AsyncSession:
        """The session every call of this client and its collections goes through."""
        if self._session is None:
            raise exc.VecsException("the AsyncClient is not connected: await client.connect() or use async with")
        return self._session

    @property
    def vector_version(self) -> str:
        return self.session.vector_version

    @vector_version.setter
    def vector_version(self, value: str) -> None:
        self.session.vector_version = value

    @property
    def vector_oid(self) -> int:
        return self.session.vector_oid

    def _supports_hnsw(self) -> bool:
        return self.session.supports_hnsw()

    async def get_or_create_collection(
        self,
        name: str,
        *,
        dimension: Optional[int] = None,
        adapter: Optional[Adapter] = None,
        vector_type: Optional[str] = None,
    ) -> AsyncCollection:
        """The collection ``name``, created when missing (as ``Client.get_or_create_collection``)."""
        vector_type = _args.vector_type(vector_type, optional=True)
        found = None
        if vector_type is None:  # the existing collection's type, else vector (a read: a replica may answer)
            found = _found_type(await self.session.execute("find", (_args.collection_name(name),)))
        collection: AsyncCollection = _new_collection(
            AsyncCollection, self, name, dimension, adapter, vector_type or found
        )
        try:
            await self.session.execute("get_or_create", (name, collection.dimension, vector_type))
        except exc.MismatchedDimension as e:
            raise _mismatched(e) from None
        if vector_type is None and found is None:
            # made just now, here or by a concurrent caller with its own type (asked of the primary:
            # a replica may not have it yet)
            collection.vector_type = await self._find_type(name) or collection.vector_type
        return collection

    async def _find_type(self, name: str) -> Optional[str]:
        """The vector type of collection ``name`` (None when there is none), read on the primary."""
        async with self.session.connection(write=False) as conn:
            return _found_type(await self.session.run(conn, "find", (name,)))

    async def create_collection(self, name: str, dimension: int, *, vector_type: str = "vector") -> AsyncCollection:
        """Deprecated: create collection ``name``; CollectionAlreadyExists when it exists."""
        _deprecated("create_collection")
        vector_type = _args.vector_type(vector_type)
        collection = AsyncCollection(name, dimension, self, vector_type=vector_type)
        try:
            await self.session.execute("create", (name, dimension, vector_type))
        except exc.CollectionAlreadyExists:
            raise _exists() from None
        return collection

    async def get_collection(self, name: str) -> AsyncCollection:
        """Deprecated: the existing collection ``name``; CollectionNotFound when there is none."""
        _deprecated("get_collection")
        rows = await self.session.execute("find", (_args.collection_name(name),))
        if not rows:
            raise _not_found()
        collection: AsyncCollection = AsyncCollection._from_row(self, rows[0])
        return collection

    async def list_collections(self) -> list[AsyncCollection]:
        """Every collection in the schema."""
        return [AsyncCollection._from_row(self, row) for row in await self.session.execute("list")]

    async def delete_collection(self, name: str) -> None:
        """Drop collection ``name`` and its records; nothing happens when it does not exist."""
        await self.session.execute("drop", (_args.collection_name(name),))

    async def disconnect(self) -> None:
        """Close the pools' connections; the next call opens new ones."""
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> AsyncClient:
        return await self.connect()

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        await self.disconnect()


async def create_async_client(
    connection_string: Optional[str] = None,
    *,
    schema: str = "vecs",
    prepare: bool = True,
    pool_size: int = DEFAULT_POOL_SIZE,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    read_dsn: Union[str, Sequence[str], None] = None,
    read_your_writes: float = 0.0,
) -> AsyncClient:
    """A connected AsyncClient (``await vecs.create_async_client(dsn)``); the arguments of ``create_client``."""
    client = AsyncClient(
        connection_string,
        schema=schema,
        prepare=prepare,
        pool_size=pool_size,
        pool_timeout=pool_timeout,
        read_dsn=read_dsn,
        read_your_writes=read_your_writes,
    )
    return await client.connect()
