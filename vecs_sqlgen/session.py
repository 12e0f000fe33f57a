"""The session layer shared by Client and AsyncClient: pooled connections, the statement catalog and
error translation. Collections talk to a session, never to a client's internals.

A session installs the SQL layer once (``bootstrap``), then keeps a psycopg_pool of connections to
the primary, and one per read replica. Each call takes a connection for its duration; a connection
found dead when taken is replaced transparently. Server errors become ``vecs_sqlgen.exc`` classes
through their SQLSTATE.
"""

from __future__ import annotations

import asyncio
import logging
import select
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, Optional, Union

import psycopg
from pgvector.psycopg.bit import register_bit_info
from pgvector.psycopg.halfvec import register_halfvec_info
from pgvector.psycopg.sparsevec import register_sparsevec_info
from pgvector.psycopg.vector import register_vector_info
from psycopg import pq, sql
from psycopg.adapt import Loader
from psycopg.types import TypeInfo
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from . import _args, exc
from . import install as _install
from ._pgvector import Bit
from ._records import loads_metadata
from .limits import DEFAULT_POOL_SIZE, DEFAULT_POOL_TIMEOUT, REPLICA_RETRY, REPLICA_WAIT
from .render import parse_version
from .routing import Router
from .statements import READS, WRITES, statements

logger = logging.getLogger("vecs_sqlgen")

Rows = list[tuple[Any, ...]]
AnyConnection = Union[psycopg.Connection[Any], psycopg.AsyncConnection[Any]]

# A replica's errors after which the read is retried on the primary: the replica is going away
# (admin_shutdown, crash_shutdown, cannot_connect_now) or replay cancelled the query
# (serialization_failure: "canceling statement due to conflict with recovery").
_REPLICA_RETRY_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "40001"})


@dataclass(frozen=True)
class Options:
    """How a client connects: checked once, shared by the sync and async sessions."""

    dsn: str
    schema: str = "vecs"
    prepare: bool = True
    pool_size: int = DEFAULT_POOL_SIZE
    pool_timeout: float = DEFAULT_POOL_TIMEOUT
    read_dsn: tuple[str, ...] = ()
    read_your_writes: float = 0.0

    @classmethod
    def checked(
        cls,
        dsn: str,
        *,
        schema: str,
        prepare: bool,
        pool_size: int,
        pool_timeout: float,
        read_dsn: Union[str, Sequence[str], None],
        read_your_writes: float,
    ) -> Options:
        from . import dsn as _dsn

        replicas = (read_dsn,) if isinstance(read_dsn, str) else tuple(read_dsn or ())
        return cls(
            dsn=dsn,
            schema=schema,
            prepare=_args.flag(prepare, "prepare"),
            pool_size=_args.integer(pool_size, "pool_size", 1, 10000),
            pool_timeout=_seconds(pool_timeout, "pool_timeout", positive=True),
            read_dsn=tuple(_dsn.normalize(_args.text(r, "read_dsn")) for r in replicas),
            read_your_writes=_seconds(read_your_writes, "read_your_writes", positive=False),
        )


@dataclass(frozen=True)
class Setup:
    """What bootstrap learned on the primary: pgvector's version and types, and the statements as bytes."""

    vector_version: str
    vector_schema: str
    vector_info: TypeInfo
    sql: dict[str, bytes]
    # vector type → its TypeInfo: vector, and halfvec, sparsevec and bit when this pgvector has them
    type_infos: dict[str, TypeInfo]


def bootstrap(options: Options) -> Setup:
    """Connect once, install the SQL layer when it is absent or older, and look up the vector type."""
    try:
        conn = psycopg.connect(options.dsn, autocommit=True)
    except psycopg.Error as e:
        raise exc.VecsException(f"could not connect to the database: {message(e)}") from e
    with conn:
        try:
            caps = _install.install(conn, options.schema).caps
            # The vector type is looked up where it lives, whatever the search_path says.
            infos = _type_infos(conn, caps.vector_schema, _TYPES if caps.vector_types else ("vector",))
        except psycopg.Error as e:
            raise translate(e, conn)  # noqa: B904 - translate sets the cause
        catalog = {k: q.as_bytes(conn) for k, q in statements(options.schema, caps.vector_schema).items()}
    return Setup(caps.pgvector, caps.vector_schema, infos["vector"], catalog, infos)


# Where each vector type lives: pgvector's schema, except bit (a built-in type).
_TYPES = ("vector", "halfvec", "sparsevec", "bit")


def _type_name(vector_schema: str, name: str) -> sql.Identifier:
    return sql.Identifier("pg_catalog" if name == "bit" else vector_schema, name)


def _type_infos(conn: psycopg.Connection[Any], vector_schema: str, names: Sequence[str]) -> dict[str, TypeInfo]:
    """The TypeInfo of each vector type in ``names`` that the server has (looked up where it lives,
    whatever the search_path says); vector must be there."""
    infos = {}
    for name in names:
        info = TypeInfo.fetch(conn, _type_name(vector_schema, name))
        if info is not None:
            infos[name] = info
    if "vector" not in infos:  # pragma: no cover - install() has found or created pgvector
        raise exc.UnsupportedFeature("the pgvector type vector is not installed")
    return infos


async def _async_type_infos(
    conn: psycopg.AsyncConnection[Any], vector_schema: str, names: Sequence[str]
) -> dict[str, TypeInfo]:
    """``_type_infos`` on an async connection."""
    infos = {}
    for name in names:
        info = await TypeInfo.fetch(conn, _type_name(vector_schema, name))
        if info is not None:
            infos[name] = info
    if "vector" not in infos:  # pragma: no cover - a replica of the primary has the type
        raise exc.UnsupportedFeature("the pgvector type vector is not installed on a read replica")
    return infos


class _BitBinaryLoader(Loader):
    """bit values (binary) as pgvector's Bit (pgvector-python dumps Bit, but loads no bit)."""

    format = pq.Format.BINARY

    def load(self, data: Any) -> Bit:
        return Bit.from_binary(bytes(data))


_REGISTER = {"halfvec": register_halfvec_info, "sparsevec": register_sparsevec_info}


class _Base:
    """What both sessions share: options, setup, routing and the statements."""

    def __init__(self, options: Options, setup: Setup):
        self.options = options
        self.dsn = options.dsn
        self.schema = options.schema
        self.prepare = options.prepare
        self.vector_version = setup.vector_version
        self.vector_oid = setup.vector_info.oid
        self.type_oids = {name: info.oid for name, info in setup.type_infos.items()}  # those this pgvector has
        self.sql = setup.sql
        self._info = setup.type_infos
        self._vector_schema = setup.vector_schema
        self._router = Router(len(options.read_dsn), read_your_writes=options.read_your_writes)
        self._lock = threading.Lock()  # opening and closing pools
        # A call ended with ConnectionLost: the pool replaced the connection; the next call says so.
        self._lost = False

    def supports_hnsw(self) -> bool:
        return parse_version(self.vector_version) >= (0, 5, 0)

    def _configure(self, conn: AnyConnection, infos: dict[str, TypeInfo]) -> None:
        if not self.prepare:
            conn.prepare_threshold = None  # nor automatically, after repeated use
        for name, info in infos.items():
            if name == "vector":
                register_vector_info(conn, info)
            elif name == "bit":
                register_bit_info(conn, info)
                conn.adapters.register_loader(info.oid, _BitBinaryLoader)
            else:
                _REGISTER[name](conn, info)
        set_json_loads(loads_metadata, conn)  # metadata too deep to decode: InvalidRecord, not RecursionError

    def _taken(self) -> None:
        """A call has a live connection: report a replaced one, as a single client connection did."""
        if self._lost:
            self._lost = False
            logger.warning("the database connection was lost during an earlier call; reconnected")

    def _replica_down(self, replica: int) -> None:
        logger.warning(
            "read replica %d cannot be reached; reading from the primary for %g s", replica + 1, REPLICA_RETRY
        )
        self._router.down(replica)

    def _exhausted(self, timeout: float, pool: Any, errors_before: int) -> exc.PoolExhausted:
        stats = pool.get_stats()
        if stats.get("connections_errors", 0) > errors_before:
            why = "the server could not be reached"
        else:
            why = (
                f"all {pool.max_size} connections of the pool are held by other calls (raise pool_size or pool_timeout)"
            )
        return exc.PoolExhausted(f"no database connection came free within {timeout:g} s: {why}")


class Session(_Base):
    """The session of a sync Client: a thread-safe ConnectionPool per server."""

    def __init__(self, options: Options, setup: Optional[Setup] = None):
        super().__init__(options, setup or bootstrap(options))
        self._pool: Optional[ConnectionPool[psycopg.Connection[Any]]] = None
        self._replicas: list[Optional[ConnectionPool[psycopg.Connection[Any]]]] = [None] * len(options.read_dsn)
        self._pools()

    @property
    def connected(self) -> bool:
        """True while the session holds pools (False after close, until the next call)."""
        return self._pool is not None

    def _pools(self) -> ConnectionPool[psycopg.Connection[Any]]:
        with self._lock:
            if self._pool is None:
                self._pool = self._new_pool(self.dsn, self.options.pool_size, min_size=1, info=self._info)
                for i, dsn in enumerate(self.options.read_dsn):
                    self._replicas[i] = self._new_pool(dsn, self.options.pool_size, min_size=0, info=None)
            return self._pool

    def _new_pool(
        self, dsn: str, size: int, *, min_size: int, info: Optional[dict[str, TypeInfo]]
    ) -> ConnectionPool[psycopg.Connection[Any]]:
        known = [info]

        def configure(conn: psycopg.Connection[Any]) -> None:
            found = known[0]
            if found is None:  # a replica: its types, looked up on its first connection
                found = known[0] = _type_infos(conn, self._vector_schema, list(self.type_oids))
            self._configure(conn, found)

        pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            dsn,
            kwargs={"autocommit": True},
            min_size=min(min_size, size),
            max_size=size,
            open=False,
            configure=configure,
            timeout=self.options.pool_timeout,
            name=f"vecs_sqlgen {'primary' if info is not None else 'replica'}",
        )
        # the primary's first connection is made now, so single-threaded calls all take that one
        # (the pool only grows when a call finds every connection busy)
        try:
            pool.open(wait=min_size > 0, timeout=self.options.pool_timeout)
        except PoolTimeout:
            pool.close()
            raise exc.VecsException(
                f"could not connect to the database within {self.options.pool_timeout:g} s (pool_timeout)"
            ) from None
        return pool

    def close(self) -> None:
        """Close every pool; the next call opens them again."""
        with self._lock:
            pools = [self._pool, *self._replicas]
            self._pool, self._replicas = None, [None] * len(self._replicas)
        for pool in pools:
            if pool is not None:
                pool.close()

    # ------------------------------------------------------------------ calls

    def execute(self, name: str, params: Sequence[Any] = ()) -> Rows:
        """Run one statement of the catalog (one round trip) and return its rows; a read may go to a replica."""
        if name in READS:
            for replica in self._router.order():
                rows = self._read_on_replica(replica, name, params)
                if rows is not None:
                    return rows
        with self.connection(write=name in WRITES) as conn:
            return self.run(conn, name, params)

    def run(self, conn: psycopg.Connection[Any], name: str, params: Sequence[Any] = ()) -> Rows:
        """Run one statement of the catalog on a connection held with ``connection()``."""
        try:
            return conn.execute(self.sql[name], params, prepare=self.prepare, binary=True).fetchall()
        except psycopg.Error as e:
            raise translate(e, conn)  # noqa: B904 - translate sets the cause

    @contextmanager
    def connection(self, *, write: bool = True) -> Iterator[psycopg.Connection[Any]]:
        """A connection to the primary, held for a call (of several statements, for upserts and
        index builds); psycopg errors raised in the body are translated. A ``write`` starts the
        read-your-writes window (a read that fell back to the primary does not)."""
        pool = self._pools()
        conn = self._take(pool, self.options.pool_timeout)
        self._taken()
        try:
            yield conn
        except psycopg.Error as e:
            err = translate(e, conn)
            self._lost = self._lost or isinstance(err, exc.ConnectionLost)
            raise err  # noqa: B904 - translate sets the cause
        except exc.ConnectionLost:
            self._lost = True
            raise
        finally:
            pool.putconn(conn)
            if write:
                self._router.wrote()

    def _take(self, pool: ConnectionPool[psycopg.Connection[Any]], timeout: float) -> psycopg.Connection[Any]:
        """A live connection from ``pool``: one the server has closed is handed back (the pool replaces it)."""
        deadline, errors = time.monotonic() + timeout, pool.get_stats().get("connections_errors", 0)
        while True:
            try:
                conn = pool.getconn(timeout=max(deadline - time.monotonic(), 0.001))
            except PoolTimeout:
                raise self._exhausted(timeout, pool, errors) from None
            if alive(conn):
                return conn
            conn.close()
            pool.putconn(conn)
            logger.warning("the database connection was closed by the server; reconnected")

    def _read_on_replica(self, replica: int, name: str, params: Sequence[Any]) -> Optional[Rows]:
        """The rows of a read on a replica, or None when it must go elsewhere (the replica is down or busy)."""
        pool = self._replicas[replica]
        if pool is None:
            return None
        # A busy replica is waited for as the primary would be; one that cannot be reached (a
        # connection attempt failed while waiting, or pool_timeout ran out) is left out for a while.
        deadline = time.monotonic() + self.options.pool_timeout
        while True:
            errors = pool.get_stats().get("connections_errors", 0)
            try:
                conn = self._take(pool, min(REPLICA_WAIT, max(deadline - time.monotonic(), 0.001)))
                break
            except exc.PoolExhausted:
                if pool.get_stats().get("connections_errors", 0) > errors or time.monotonic() >= deadline:
                    self._replica_down(replica)
                    return None
        try:
            return conn.execute(self.sql[name], params, prepare=self.prepare, binary=True).fetchall()
        except psycopg.Error as e:
            if conn.broken or conn.closed or e.sqlstate in _REPLICA_RETRY_SQLSTATES:
                logger.warning("read replica %d failed (%s); reading from the primary", replica + 1, message(e))
                if conn.broken or conn.closed or (e.sqlstate or "").startswith("57P"):
                    self._router.down(replica)
                return None
            raise translate(e, conn)  # noqa: B904 - translate sets the cause
        finally:
            pool.putconn(conn)


class AsyncSession(_Base):
    """The session of an AsyncClient: an AsyncConnectionPool per server. Made with ``await AsyncSession.open(…)``."""

    def __init__(self, options: Options, setup: Setup):
        super().__init__(options, setup)
        self._pool: Optional[AsyncConnectionPool[psycopg.AsyncConnection[Any]]] = None
        self._replicas: list[Optional[AsyncConnectionPool[psycopg.AsyncConnection[Any]]]] = [None] * len(
            options.read_dsn
        )
        self._alock = asyncio.Lock()

    @classmethod
    async def open(cls, options: Options) -> AsyncSession:
        # the install runs once, on a sync connection in a worker thread: one install code path
        session = cls(options, await asyncio.to_thread(bootstrap, options))
        await session._pools()
        return session

    @property
    def connected(self) -> bool:
        return self._pool is not None

    async def _pools(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        async with self._alock:
            if self._pool is None:
                self._pool = await self._new_pool(self.dsn, self.options.pool_size, min_size=1, info=self._info)
                for i, dsn in enumerate(self.options.read_dsn):
                    self._replicas[i] = await self._new_pool(dsn, self.options.pool_size, min_size=0, info=None)
            return self._pool

    async def _new_pool(
        self, dsn: str, size: int, *, min_size: int, info: Optional[dict[str, TypeInfo]]
    ) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        known = [info]

        async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
            found = known[0]
            if found is None:  # a replica: its types, looked up on its first connection
                found = known[0] = await _async_type_infos(conn, self._vector_schema, list(self.type_oids))
            self._configure(conn, found)

        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            dsn,
            kwargs={"autocommit": True},
            min_size=min(min_size, size),
            max_size=size,
            open=False,
            configure=configure,
            timeout=self.options.pool_timeout,
            name=f"vecs_sqlgen async {'primary' if info is not None else 'replica'}",
        )
        try:
            await pool.open(wait=min_size > 0, timeout=self.options.pool_timeout)
        except PoolTimeout:
            await pool.close()
            raise exc.VecsException(
                f"could not connect to the database within {self.options.pool_timeout:g} s (pool_timeout)"
            ) from None
        return pool

    async def close(self) -> None:
        async with self._alock:
            pools = [self._pool, *self._replicas]
            self._pool, self._replicas = None, [None] * len(self._replicas)
        for pool in pools:
            if pool is not None:
                await pool.close()

    async def execute(self, name: str, params: Sequence[Any] = ()) -> Rows:
        if name in READS:
            for replica in self._router.order():
                rows = await self._read_on_replica(replica, name, params)
                if rows is not None:
                    return rows
        async with self.connection(write=name in WRITES) as conn:
            return await self.run(conn, name, params)

    async def run(self, conn: psycopg.AsyncConnection[Any], name: str, params: Sequence[Any] = ()) -> Rows:
        try:
            cur = await conn.execute(self.sql[name], params, prepare=self.prepare, binary=True)
            return await cur.fetchall()
        except psycopg.Error as e:
            raise translate(e, conn)  # noqa: B904 - translate sets the cause

    @asynccontextmanager
    async def connection(self, *, write: bool = True) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        pool = await self._pools()
        conn = await self._take(pool, self.options.pool_timeout)
        self._taken()
        try:
            yield conn
        except psycopg.Error as e:
            err = translate(e, conn)
            self._lost = self._lost or isinstance(err, exc.ConnectionLost)
            raise err  # noqa: B904 - translate sets the cause
        except exc.ConnectionLost:
            self._lost = True
            raise
        finally:
            await pool.putconn(conn)
            if write:
                self._router.wrote()

    async def _take(
        self, pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], timeout: float
    ) -> psycopg.AsyncConnection[Any]:
        deadline, errors = time.monotonic() + timeout, pool.get_stats().get("connections_errors", 0)
        while True:
            try:
                conn = await pool.getconn(timeout=max(deadline - time.monotonic(), 0.001))
            except PoolTimeout:
                raise self._exhausted(timeout, pool, errors) from None
            if alive(conn):
                return conn
            await conn.close()
            await pool.putconn(conn)
            logger.warning("the database connection was closed by the server; reconnected")

    async def _read_on_replica(self, replica: int, name: str, params: Sequence[Any]) -> Optional[Rows]:
        pool = self._replicas[replica]
        if pool is None:
            return None
        deadline = time.monotonic() + self.options.pool_timeout
        while True:
            errors = pool.get_stats().get("connections_errors", 0)
            try:
                conn = await self._take(pool, min(REPLICA_WAIT, max(deadline - time.monotonic(), 0.001)))
                break
            except exc.PoolExhausted:
                if pool.get_stats().get("connections_errors", 0) > errors or time.monotonic() >= deadline:
                    self._replica_down(replica)
                    return None
        try:
            cur = await conn.execute(self.sql[name], params, prepare=self.prepare, binary=True)
            return await cur.fetchall()
        except psycopg.Error as e:
            if conn.broken or conn.closed or e.sqlstate in _REPLICA_RETRY_SQLSTATES:
                logger.warning("read replica %d failed (%s); reading from the primary", replica + 1, message(e))
                if conn.broken or conn.closed or (e.sqlstate or "").startswith("57P"):
                    self._router.down(replica)
                return None
            raise translate(e, conn)  # noqa: B904 - translate sets the cause
        finally:
            await pool.putconn(conn)


def _seconds(value: Any, what: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise exc.ArgError(f"{what} must be a number of seconds, got {type(value).__name__}")
    if value < 0 or (positive and value == 0):
        raise exc.ArgError(f"{what} must be {'positive' if positive else '>= 0'}, got {value}")
    return float(value)


def alive(conn: AnyConnection) -> bool:
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


def message(e: psycopg.Error) -> str:
    return e.diag.message_primary or str(e).strip() or type(e).__name__


def translate(e: psycopg.Error, conn: AnyConnection) -> exc.VecsException:
    """The vecs_sqlgen.exc error for a psycopg error, with the server's message.

    A vecs error (SQLSTATE VX…) says all there is to say, so it hides the psycopg error; any other
    keeps it as the cause.
    """
    cls = exc.from_sqlstate(e.sqlstate)
    if cls is not None:
        err, cause = cls(message(e)), None
    elif conn.closed or conn.broken:
        err, cause = (
            exc.ConnectionLost(
                f"the database connection was lost during the call, which may or may not have taken "
                f"effect ({message(e)}); the next call reconnects"
            ),
            e,
        )
    else:
        err, cause = exc.VecsException(message(e)), e
    err.__cause__, err.__suppress_context__ = cause, True
    return err
