"""vecs-sqlgen: supabase vecs's API, with the work done by plpgsql functions in Postgres + pgvector.

``import vecs_sqlgen as vecs`` replaces ``import vecs`` (0.4.5).
"""

from typing import Optional

from . import adapter, exc
from ._version import __version__
from .client import Client
from .collection import Collection, HybridMatch, IndexArgsHNSW, IndexArgsIVFFlat, IndexMeasure, IndexMethod

__project__ = "vecs-sqlgen"

__all__ = [
    "IndexArgsIVFFlat",
    "IndexArgsHNSW",
    "IndexMethod",
    "IndexMeasure",
    "Collection",
    "HybridMatch",
    "Client",
    "adapter",
    "create_client",
    "exc",
    "__version__",
]


def create_client(connection_string: Optional[str] = None, *, schema: str = "vecs", prepare: bool = True) -> Client:
    """A Client for ``connection_string``; without one, $VECS_DATABASE_URL, $DATABASE_URL or the embedded server."""
    return Client(connection_string, schema=schema, prepare=prepare)
