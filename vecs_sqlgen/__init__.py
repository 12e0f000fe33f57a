"""vecs-sqlgen: supabase vecs's API, with the work done by plpgsql functions in Postgres + pgvector."""

from . import exc
from ._version import __version__

__all__ = ["exc", "__version__"]
