"""The Client, as ``vecs.Client``: a pool of connections to a database with the SQL layer.

The connections, statements and error translation are the session's (``session.py``), shared with
the AsyncClient; this module is vecs's client API over it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Optional, Union

from . import _args, exc
from . import dsn as _dsn
from .adapter import Adapter
from .collection import Collection
from .limits import DEFAULT_POOL_SIZE, DEFAULT_POOL_TIMEOUT
from .session import Options, Session

__all__ = ["Client"]


class Client:
    """A connection pool to a PostgreSQL database with pgvector, holding vector collections (as ``vecs.Client``).

    Connecting installs the vecs SQL layer into ``schema`` when it is absent or older. Use it as a
    context manager, or call ``disconnect()``; any later call reconnects.
    """

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
        """Connect to ``connection_string`` (postgresql://…, SQLAlchemy-style URLs accepted).

        Without one: $VECS_DATABASE_URL, else $DATABASE_URL, else the embedded server. ``prepare``
        uses server-side prepared statements; turn it off behind a transaction-mode pooler.
        ``pool_size`` connections at most (each call takes one; 1: calls from threads take turns);
        a call that waits ``pool_timeout`` seconds for one raises PoolExhausted. ``read_dsn``: read
        replicas for query, fetch, count and list_collections (round robin; the primary when none
        answers); ``read_your_writes``: seconds after a write of this client during which its
        reads stay on the primary.
        """
        self.schema = schema
        options = Options.checked(
            _dsn.resolve(connection_string),
            schema=schema,
            prepare=prepare,
            pool_size=pool_size,
            pool_timeout=pool_timeout,
            read_dsn=read_dsn,
            read_your_writes=read_your_writes,
        )
        self.session = Session(options)

    @property
    def vector_version(self) -> str:
        """The installed pgvector's version."""
        return self.session.vector_version

    @vector_version.setter
    def vector_version(self, value: str) -> None:
        self.session.vector_version = value

    @property
    def vector_oid(self) -> int:
        """The oid of pgvector's vector type."""
        return self.session.vector_oid

    # ------------------------------------------------------------------ vecs API

    def _supports_hnsw(self) -> bool:
        return self.session.supports_hnsw()

    def get_or_create_collection(
        self,
        name: str,
        *,
        dimension: Optional[int] = None,
        adapter: Optional[Adapter] = None,
        vector_type: Optional[str] = None,
    ) -> Collection:
        """The collection ``name``, created when missing.

        The dimension comes from ``dimension`` or the adapter; they and an existing collection must
        agree (MismatchedDimension). ``vector_type``: ``"vector"`` (float32, the default for a new
        collection), ``"halfvec"`` (float16), ``"sparsevec"`` or ``"bit"``; an existing collection
        of another type is an ArgError, and None takes whatever type it has.
        """
        vector_type = _args.vector_type(vector_type, optional=True)
        found = None
        if vector_type is None:  # the existing collection's type, else vector (a read: a replica may answer)
            found = _found_type(self.session.execute("find", (_args.collection_name(name),)))
        collection: Collection = _new_collection(Collection, self, name, dimension, adapter, vector_type or found)
        try:
            self.session.execute("get_or_create", (name, collection.dimension, vector_type))
        except exc.MismatchedDimension as e:
            raise _mismatched(e) from None
        if vector_type is None and found is None:
            # made just now, here or by a concurrent caller with its own type (asked of the primary:
            # a replica may not have it yet)
            collection.vector_type = self._find_type(name) or collection.vector_type
        return collection

    def _find_type(self, name: str) -> Optional[str]:
        """The vector type of collection ``name`` (None when there is none), read on the primary:
        a replica may not have the collection yet."""
        with self.session.connection(write=False) as conn:
            return _found_type(self.session.run(conn, "find", (name,)))

    def create_collection(self, name: str, dimension: int, *, vector_type: str = "vector") -> Collection:
        """Deprecated: create collection ``name``; CollectionAlreadyExists when it exists."""
        _deprecated("create_collection")
        vector_type = _args.vector_type(vector_type)
        collection = Collection(name, dimension, self, vector_type=vector_type)
        try:
            self.session.execute("create", (name, dimension, vector_type))
        except exc.CollectionAlreadyExists:
            raise _exists() from None
        return collection

    def get_collection(self, name: str) -> Collection:
        """Deprecated: the existing collection ``name``; CollectionNotFound when there is none."""
        _deprecated("get_collection")
        rows = self.session.execute("find", (_args.collection_name(name),))
        if not rows:
            raise _not_found()
        collection: Collection = Collection._from_row(self, rows[0])
        return collection

    def list_collections(self) -> list[Collection]:
        """Every collection in the schema."""
        return [Collection._from_row(self, row) for row in self.session.execute("list")]

    def delete_collection(self, name: str) -> None:
        """Drop collection ``name`` and its records; nothing happens when it does not exist."""
        self.session.execute("drop", (_args.collection_name(name),))

    def disconnect(self) -> None:
        """Close the pool's connections; the next call opens new ones."""
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        self.disconnect()


def _new_collection(
    cls: Any, client: Any, name: str, dimension: Any, adapter: Optional[Adapter], vector_type: Optional[str]
) -> Any:
    """A collection object for get_or_create_collection, before the call (the checks are the same
    for both clients); ``vector_type`` None: vector."""
    adapter_dimension = adapter.exported_dimension if adapter else None
    vector_type = vector_type or "vector"
    dimension = _args.dimension(dimension, vector_type)
    return cls(
        name=name, dimension=dimension or adapter_dimension, client=client, adapter=adapter, vector_type=vector_type
    )


def _found_type(rows: Any) -> Optional[str]:
    """The vector type in a ``find`` result (None: no such collection)."""
    return str(rows[0][4]) if rows else None


def _mismatched(e: exc.MismatchedDimension) -> exc.MismatchedDimension:
    return exc.MismatchedDimension(
        f"Dimensions reported by adapter, dimension, and existing collection do not match: {e}"
    )


def _exists() -> exc.CollectionAlreadyExists:
    return exc.CollectionAlreadyExists("Collection with requested name already exists")


def _not_found() -> exc.CollectionNotFound:
    return exc.CollectionNotFound("No collection found with requested name")


def _deprecated(method: str, stacklevel: int = 3) -> None:
    # The text the `deprecated` package gives vecs's decorated methods.
    warnings.warn(
        f"Call to deprecated method {method}. (use Client.get_or_create_collection)",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
