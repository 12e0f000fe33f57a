"""Exceptions, named as in vecs 0.4.5 (``vecs.exc``) plus a few more precise subclasses.

Every error raised by a ``vecs.*`` SQL function carries a ``VX`` SQLSTATE (see ``errors.py``);
``from_sqlstate`` maps it to the class a vecs user already catches.
"""

from __future__ import annotations

from .errors import SQLSTATE

__all__ = [
    "VecsException",
    "CollectionAlreadyExists",
    "CollectionNotFound",
    "ArgError",
    "FilterError",
    "IndexNotFound",
    "MismatchedDimension",
    "InvalidRecord",
    "UnsupportedFeature",
    "PermissionDenied",
    "ConnectionLost",
    "PoolExhausted",
    "MissingDependency",
    "Unreachable",
    "BuildMemoryWarning",
    "from_sqlstate",
]


class VecsException(Exception):
    """Base class of every vecs_sqlgen error."""


class CollectionAlreadyExists(VecsException):
    """A collection with the requested name already exists."""


class CollectionNotFound(VecsException):
    """No collection with the requested name exists."""


class ArgError(VecsException):
    """An argument is invalid."""


class MismatchedDimension(ArgError):
    """A vector's length, or a requested dimension, differs from the collection's dimension."""


class InvalidRecord(ArgError):
    """A record is malformed: bad id, non-finite vector values, or metadata that is not an object."""


class UnsupportedFeature(ArgError):
    """The installed pgvector lacks the requested feature (e.g. HNSW before 0.5, l1 before 0.7)."""


class FilterError(VecsException):
    """A metadata filter is malformed."""


class IndexNotFound(VecsException):
    """An index that was expected does not exist."""


class PermissionDenied(VecsException):
    """The database role lacks a privilege the operation needs (functions run as the caller)."""


class ConnectionLost(VecsException):
    """The connection dropped during a call, which may or may not have taken effect; the next call reconnects."""


class PoolExhausted(VecsException):
    """No pooled connection came free within the pool's timeout: every one is held by another call
    (raise ``pool_size`` or ``pool_timeout``), or the server cannot be reached. Nothing was sent."""


class MissingDependency(VecsException, ImportError):
    """An optional dependency is missing; the message says what to install."""


class Unreachable(VecsException):
    """Raised where the code's own logic says it cannot get to."""


class BuildMemoryWarning(UserWarning):
    """An HNSW index build's graph does not fit its build memory (maintenance_work_mem, as
    ``create_index`` sizes it under ``vecs.max_build_memory``): the build writes it to disk and takes
    far longer. Issued before the build (the server's estimate, SQLSTATE ``01VX1``) and, should the
    graph outgrow the memory anyway, when pgvector says so. Raise the cap with
    ``SET vecs.max_build_memory = '4GB'`` (for the session or role)."""

    sqlstate = SQLSTATE["build_memory"]


_BY_SQLSTATE: dict[str, type[VecsException]] = {
    SQLSTATE["arg"]: ArgError,
    SQLSTATE["filter"]: FilterError,
    SQLSTATE["not_found"]: CollectionNotFound,
    SQLSTATE["exists"]: CollectionAlreadyExists,
    SQLSTATE["dimension"]: MismatchedDimension,
    SQLSTATE["record"]: InvalidRecord,
    SQLSTATE["unsupported"]: UnsupportedFeature,
    SQLSTATE["index_exists"]: ArgError,
    "42501": PermissionDenied,  # insufficient_privilege, raised by the server for the invoker
}


def from_sqlstate(sqlstate: str | None) -> type[VecsException] | None:
    """The exception class for a server error's SQLSTATE, or None when it is not a vecs error."""
    return _BY_SQLSTATE.get(sqlstate or "")
