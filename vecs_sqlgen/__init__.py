"""vecs-sqlgen: supabase vecs's API, with the work done by plpgsql functions in Postgres + pgvector.

``import vecs_sqlgen as vecs`` replaces ``import vecs`` (0.4.5).
"""

from collections.abc import Sequence
from typing import Optional, Union

from . import adapter, exc
from ._progress import IndexBuildProgress
from ._version import __version__
from .async_client import AsyncClient, create_async_client
from .async_collection import AsyncCollection
from .client import Client
from .collection import Collection, HybridMatch, IndexArgsHNSW, IndexArgsIVFFlat, IndexMeasure, IndexMethod
from .limits import DEFAULT_POOL_SIZE, DEFAULT_POOL_TIMEOUT

__project__ = "vecs-sqlgen"

__all__ = [
    "IndexArgsIVFFlat",
    "IndexArgsHNSW",
    "IndexMethod",
    "IndexMeasure",
    "Collection",
    "HybridMatch",
    "IndexBuildProgress",
    "Client",
    "AsyncClient",
    "AsyncCollection",
    "adapter",
    "create_client",
    "create_async_client",
    "exc",
    "__version__",
]


def create_client(
    connection_string: Optional[str] = None,
    *,
    schema: str = "vecs",
    prepare: bool = True,
    pool_size: int = DEFAULT_POOL_SIZE,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    read_dsn: Union[str, Sequence[str], None] = None,
    read_your_writes: float = 0.0,
) -> Client:
    """A Client for ``connection_string``; without one, $VECS_DATABASE_URL, $DATABASE_URL or the embedded server.

    ``pool_size`` connections at most (1: one connection that threads take turns on), waited for
    ``pool_timeout`` seconds (PoolExhausted); ``read_dsn``: read replicas; ``read_your_writes``:
    seconds after a write during which this client's reads stay on the primary.
    """
    return Client(
        connection_string,
        schema=schema,
        prepare=prepare,
        pool_size=pool_size,
        pool_timeout=pool_timeout,
        read_dsn=read_dsn,
        read_your_writes=read_your_writes,
    )
