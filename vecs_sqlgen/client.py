"""The Client: one psycopg connection to a database with the SQL layer, as ``vecs.Client``.

Every statement is composed once per client (the schema is an identifier, never text pasted into SQL)
and runs prepared, with binary results. Server errors become ``vecs_sqlgen.exc`` classes through their
SQLSTATE; a connection found dead before a call is replaced transparently.
"""

from __future__ import annotations

import logging
import select
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Optional

import psycopg
from pgvector.psycopg.bit import register_bit_info
from pgvector.psycopg.halfvec import register_halfvec_info
from pgvector.psycopg.sparsevec import register_sparsevec_info
from pgvector.psycopg.vector import register_vector_info
from psycopg import pq, sql
from psycopg.adapt import Loader
from psycopg.types import TypeInfo
from psycopg.types.json import set_json_loads

from . import _args, exc
from . import dsn as _dsn
from . import install as _install
from ._pgvector import Bit
from ._records import loads_metadata
from .adapter import Adapter
from .render import parse_version

if TYPE_CHECKING:
    from .collection import Collection

logger = logging.getLogger("vecs_sqlgen")

# Where a large upsert is staged: a table in the session's own temp schema (which pg_temp names).
STAGING_TABLE = "vecs_sqlgen_upsert_staging"
STAGING_REGCLASS = "pg_temp.vecs_sqlgen_upsert_staging"  # the same table, as regclass input


def _statements(schema: str, vector_schema: str) -> dict[str, sql.Composed]:
    """Every statement the client runs, each one call of a function in ``schema``.

    Parameters are bound in binary (%b): vectors travel as pgvector's binary format, arrays included.
    Statements named ``…:<type>`` are those of a collection of that vector type.
    """
    s, vector = sql.Identifier(schema), sql.Identifier(vector_schema, "vector")
    staging = sql.Identifier("pg_temp", STAGING_TABLE)
    texts: dict[str, str | sql.Composed] = {
        "create": "select {s}.create_collection(%b::text, %b::int4, %b::text)::text",
        "get_or_create": "select {s}.get_or_create_collection(%b::text, %b::int4, %b::text)::text",
        "drop": "select {s}.drop_collection(%b::text)",
        "list": "select name, dimension, index_name, index_measure, vector_type from {s}.list_collections()",
        "find": (
            "select name, dimension, index_name, index_measure, vector_type from {s}.list_collections() "
            "where name = %b::text"
        ),
        "upsert": "select {s}.upsert(%b::text, %b::text[], %b::{vector}[], %b::jsonb[])",
        "staging": "create temp table {staging} (id text, vec {vector}, metadata jsonb) on commit drop",
        "copy": "copy {staging} (id, vec, metadata) from stdin with (format binary)",
        "upsert_from": "select {s}.upsert_from(%b::text, %b::regclass)",
        "check_upsert": "select dimension, direct_copy from {s}.check_upsert(%b::text)",
        "fetch": "select id, vec, metadata from {s}.fetch(%b::text, %b::text[])",
        "delete": "select * from {s}.delete(%b::text, %b::text[], %b::jsonb)",
        "count": "select {s}.count(%b::text)",
        "query": (
            "select id, distance, vec, metadata from {s}.query("
            "%b::text, %b::{vector}, %b::int4, %b::jsonb, %b::text, %b::bool, %b::bool, %b::bool, %b::int4, %b::int4, "
            "%b::int4)"
        ),
        "create_index": (
            "select {s}.create_index(%b::text, %b::text, %b::text, %b::jsonb, %b::bool, %b::jsonb, %b::text, %b::int4)"
        ),
        "indexes": "select index_name, kind from {s}.list_indexes(%b::text)",
        "list_indexes": "select index_name, kind, method, measure, key, filters, valid from {s}.list_indexes(%b::text)",
        "create_metadata_index": "select {s}.create_metadata_index(%b::text, variadic %b::text[])",
        "drop_metadata_index": "select {s}.drop_metadata_index(%b::text, variadic %b::text[])",
        # the configuration's name is resolved where the caller's session would resolve it
        "enable_text_search": "select {s}.enable_text_search(%b::text, %b::text, %b::text::regconfig)",
        "disable_text_search": "select {s}.disable_text_search(%b::text)",
        "describe": (
            "select name, dimension, text_search, text_key, text_config, text_index, vector_type "
            "from {s}.describe_collection(%b::text)"
        ),
        "hybrid_query": (
            "select id, score, text_rank, vector_rank, distance, metadata from {s}.hybrid_query("
            "%b::text, %b::text, %b::{vector}, %b::int4, %b::jsonb, %b::text, %b::int4, %b::float8, %b::float8, "
            "%b::int4, %b::text, %b::bool, %b::text, %b::int4, %b::int4)"
        ),
    }
    # per vector type: the staging table of a bulk upsert, fetch and query
    sqltypes = {
        "vector": vector,
        "halfvec": sql.Identifier(vector_schema, "halfvec"),
        "sparsevec": sql.Identifier(vector_schema, "sparsevec"),
        "bit": sql.SQL("pg_catalog.bit"),
    }
    for t, sqltype in sqltypes.items():
        # a staging column of type bit without a length would be bit(1): bit varying (the same binary form)
        column = sql.SQL("pg_catalog.varbit") if t == "bit" else sqltype
        texts[f"staging:{t}"] = sql.SQL(
            "create temp table {staging} (id text, vec {column}, metadata jsonb) on commit drop"
        ).format(staging=staging, column=column)
        texts[f"fetch:{t}"] = sql.SQL(
            "select id, vec, metadata from {s}.fetch(%b::text, %b::text[], NULL::{t})"
        ).format(s=s, t=sqltype)
        texts[f"query:{t}"] = sql.SQL(
            "select id, distance, vec, metadata from {s}.query("
            "%b::text, NULL::{vector}, %b::int4, %b::jsonb, %b::text, %b::bool, %b::bool, %b::bool, %b::int4, %b::int4, "
            "%b::int4, %b::{t})"
        ).format(s=s, vector=vector, t=sqltype)
    return {
        name: text if isinstance(text, sql.Composed) else sql.SQL(text).format(s=s, vector=vector, staging=staging)
        for name, text in texts.items()
    }


class Client:
    """A connection to a PostgreSQL database with pgvector, holding vector collections (as ``vecs.Client``).

    Connecting installs the vecs SQL layer into ``schema`` when it is absent or older. Use it as a
    context manager, or call ``disconnect()``; any later call reconnects.
    """

    def __init__(self, connection_string: Optional[str] = None, *, schema: str = "vecs", prepare: bool = True):
        """Connect to ``connection_string`` (postgresql://…, SQLAlchemy-style URLs accepted).

        Without one: $VECS_DATABASE_URL, else $DATABASE_URL, else the embedded server. ``prepare``
        uses server-side prepared statements; turn it off behind a transaction-mode pooler.
        """
        self.schema = schema
        self._dsn = _dsn.resolve(connection_string)
        self._prepare = prepare
        self._lock = threading.RLock()
        self._conn: Optional[psycopg.Connection] = None
        self._sql: dict[str, bytes] = {}
        self.vector_oid = 0
        self.type_oids: dict[str, int] = {}
        self.vector_version = ""
        with self._lock:
            self._connection()

    # ------------------------------------------------------------------ connection

    def _connect(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(self._dsn, autocommit=True)
        except psycopg.Error as e:
            raise exc.VecsException(f"could not connect to the database: {_message(e)}") from e
        if not self._prepare:
            conn.prepare_threshold = None  # nor automatically, after repeated use
        try:
            caps = _install.install(conn, self.schema).caps
            # The vector type is looked up where it lives, whatever the search_path says.
            info = TypeInfo.fetch(conn, sql.Identifier(caps.vector_schema, "vector"))
            register_vector_info(conn, info)
            oids = {"vector": info.oid}  # type: ignore[union-attr]  # the type exists: detect() found pgvector
            if caps.vector_types:
                oids |= _register_vector_types(conn, caps.vector_schema)
            set_json_loads(loads_metadata, conn)  # metadata too deep to decode: InvalidRecord, not RecursionError
        except psycopg.Error as e:
            err = _translate(e, conn)
            conn.close()
            raise err  # noqa: B904 - _translate sets the cause
        except BaseException:
            conn.close()
            raise
        self.vector_version = caps.pgvector
        self.vector_oid = oids["vector"]
        self.type_oids = oids  # vector type → oid (those this pgvector has)
        if not self._sql:
            self._sql = {k: q.as_bytes(conn) for k, q in _statements(self.schema, caps.vector_schema).items()}
        return conn

    def _connection(self) -> psycopg.Connection:
        """The open connection; a new one when there is none or the server has closed it."""
        conn, lost = self._conn, False
        if conn is not None and not _alive(conn):
            conn.close()
            self._conn, lost = None, True
        if self._conn is None:
            self._conn = self._connect()
            if lost:
                logger.warning("the database connection was closed by the server; reconnected")
        return self._conn

    def _execute(self, name: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (one round trip) and return its rows."""
        with self._lock:
            conn = self._connection()
            try:
                return conn.execute(self._sql[name], params, prepare=self._prepare, binary=True).fetchall()
            except psycopg.Error as e:
                raise _translate(e, conn)  # noqa: B904 - _translate sets the cause

    @contextmanager
    def _session(self) -> Iterator[psycopg.Connection]:
        """The connection, held for a call of several statements (threads take turns)."""
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except psycopg.Error as e:
                raise _translate(e, conn)  # noqa: B904 - _translate sets the cause

    # ------------------------------------------------------------------ vecs API

    def _supports_hnsw(self) -> bool:
        return parse_version(self.vector_version) >= (0, 5, 0)

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
        from .collection import Collection

        adapter_dimension = adapter.exported_dimension if adapter else None
        vector_type = _args.vector_type(vector_type, optional=True)
        found = None
        if vector_type is None:  # the existing collection's type, else vector
            rows = self._execute("find", (_args.collection_name(name),))
            found = rows[0][4] if rows else None
        dimension = _args.dimension(dimension, vector_type or found or "vector")
        collection = Collection(
            name=name, dimension=dimension or adapter_dimension, client=self, adapter=adapter,
            vector_type=vector_type or found or "vector",
        )  # fmt: skip
        try:
            self._execute("get_or_create", (name, collection.dimension, vector_type))
        except exc.MismatchedDimension as e:
            raise exc.MismatchedDimension(
                f"Dimensions reported by adapter, dimension, and existing collection do not match: {e}"
            ) from None
        if vector_type is None and found is None:
            # made just now, here or by a concurrent caller with its own type
            rows = self._execute("find", (name,))
            if rows:
                collection.vector_type = rows[0][4]
        return collection

    def create_collection(self, name: str, dimension: int, *, vector_type: str = "vector") -> Collection:
        """Deprecated: create collection ``name``; CollectionAlreadyExists when it exists."""
        _deprecated("create_collection")
        from .collection import Collection

        vector_type = _args.vector_type(vector_type)
        collection = Collection(name, dimension, self, vector_type=vector_type)
        try:
            self._execute("create", (name, dimension, vector_type))
        except exc.CollectionAlreadyExists:
            raise exc.CollectionAlreadyExists("Collection with requested name already exists") from None
        return collection

    def get_collection(self, name: str) -> Collection:
        """Deprecated: the existing collection ``name``; CollectionNotFound when there is none."""
        _deprecated("get_collection")
        from .collection import Collection

        rows = self._execute("find", (_args.collection_name(name),))
        if not rows:
            raise exc.CollectionNotFound("No collection found with requested name")
        return Collection._from_row(self, rows[0])

    def list_collections(self) -> list[Collection]:
        """Every collection in the schema."""
        from .collection import Collection

        return [Collection._from_row(self, row) for row in self._execute("list")]

    def delete_collection(self, name: str) -> None:
        """Drop collection ``name`` and its records; nothing happens when it does not exist."""
        self._execute("drop", (_args.collection_name(name),))

    def disconnect(self) -> None:
        """Close the connection; the next call opens a new one."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        self.disconnect()


class _BitBinaryLoader(Loader):
    """bit values (binary) as pgvector's Bit (pgvector-python dumps Bit, but loads no bit)."""

    format = pq.Format.BINARY

    def load(self, data: Any) -> Bit:
        return Bit.from_binary(bytes(data))


def _register_vector_types(conn: psycopg.Connection, vector_schema: str) -> dict[str, int]:
    """Register halfvec, sparsevec (looked up where pgvector lives) and bit; their oids."""
    oids = {}
    for name, register in (("halfvec", register_halfvec_info), ("sparsevec", register_sparsevec_info)):
        info = TypeInfo.fetch(conn, sql.Identifier(vector_schema, name))
        if info is not None:
            register(conn, info)
            oids[name] = info.oid
    bit = TypeInfo.fetch(conn, sql.Identifier("pg_catalog", "bit"))
    if bit is not None:
        register_bit_info(conn, bit)
        conn.adapters.register_loader(bit.oid, _BitBinaryLoader)
        oids["bit"] = bit.oid
    return oids


def _deprecated(method: str) -> None:
    # The text the `deprecated` package gives vecs's decorated methods.
    warnings.warn(
        f"Call to deprecated method {method}. (use Client.get_or_create_collection)",
        DeprecationWarning,
        stacklevel=3,
    )


def _alive(conn: psycopg.Connection) -> bool:
    """False when the server has closed an idle connection (its goodbye is waiting on the socket).

    A non-blocking poll, so a call never starts on a connection already known to be dead; a
    connection lost during a call is reported by that call instead.
    """
    if conn.closed or conn.broken:
        return False
    pgconn = conn.pgconn
    for _ in range(4):  # a final error message, then end of file
        if not _readable(pgconn.socket):
            break
        try:
            pgconn.consume_input()
        except psycopg.OperationalError:
            return False
    return pgconn.status == pq.ConnStatus.OK


def _readable(fd: int) -> bool:
    if hasattr(select, "poll"):  # select() cannot watch descriptors above 1023
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])


def _message(e: psycopg.Error) -> str:
    return e.diag.message_primary or str(e).strip() or type(e).__name__


def _translate(e: psycopg.Error, conn: psycopg.Connection) -> exc.VecsException:
    """The vecs_sqlgen.exc error for a psycopg error, with the server's message.

    A vecs error (SQLSTATE VX…) says all there is to say, so it hides the psycopg error; any other
    keeps it as the cause.
    """
    cls = exc.from_sqlstate(e.sqlstate)
    if cls is not None:
        err, cause = cls(_message(e)), None
    elif conn.closed or conn.broken:
        err, cause = (
            exc.ConnectionLost(
                f"the database connection was lost during the call, which may or may not have taken "
                f"effect ({_message(e)}); the next call reconnects"
            ),
            e,
        )
    else:
        err, cause = exc.VecsException(_message(e)), e
    err.__cause__, err.__suppress_context__ = cause, True
    return err
