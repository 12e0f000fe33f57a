"""Argument checks for the Python API: a wrong type or value is an ArgError before anything is sent.

The server checks every argument too, but some mistakes never reach it in a form it can name: a
value out of int4's range fails while being bound, a lone surrogate cannot be encoded, ``3.5`` would
be rounded to 4 and ``b"abc"`` stored as ``\\x616263``. Messages follow the server's where both check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, Optional, TypeVar

import numpy as np

from .exc import ArgError
from .limits import MAX_DIMENSIONS, MAX_FILTER_DEPTH, VECTOR_TYPES

E = TypeVar("E", bound=Enum)


def text(value: Any, what: str) -> str:
    """A str that Postgres text can hold: no NUL, no lone surrogate."""
    if not isinstance(value, str):
        raise ArgError(f"{what} must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise ArgError(f"{what} must not contain NUL characters")
    if not _encodable(value):
        raise ArgError(f"{what} must be valid Unicode (lone surrogate)")
    return value


def collection_name(value: Any) -> str:
    return text(value, "collection name")


def key_path(keys: tuple[Any, ...]) -> list[str]:
    """A metadata key path: 1 to MAX_FILTER_DEPTH keys (as the server checks it)."""
    if not 1 <= len(keys) <= MAX_FILTER_DEPTH:
        raise ArgError(
            f"key must be 1 to {MAX_FILTER_DEPTH} non-NULL keys (a path into nested objects), got {len(keys)}"
        )
    return [text(k, "key") for k in keys]


def integer(value: Any, what: str, low: int, high: int) -> int:
    """An int (numpy integers included, bools not) in [low, high]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ArgError(f"{what} must be an integer, got {type(value).__name__}")
    number = int(value)
    if not low <= number <= high:
        raise ArgError(f"{what} must be between {low} and {high}, got {number}")
    return number


def optional_integer(value: Any, what: str, low: int, high: int) -> Optional[int]:
    return None if value is None else integer(value, what, low, high)


def dimension(value: Any, vector_type: str = "vector") -> Optional[int]:
    """A collection dimension, or None when the adapter is to give it."""
    return optional_integer(value, "dimension", 1, MAX_DIMENSIONS[vector_type])


def vector_type(value: Any, *, optional: bool = False) -> Any:
    """A collection's storage type (one of limits.VECTOR_TYPES), or None when optional."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or value not in VECTOR_TYPES:
        raise ArgError(f'unknown vector_type "{value}" (expected one of: {", ".join(VECTOR_TYPES)})')
    return value


def flag(value: Any, what: str) -> bool:
    """True or False (None, 0 and 1 too: vecs tests these flags for truth)."""
    if value is None:
        return False
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
        return bool(value)
    raise ArgError(f"{what} must be True or False, got {_shown(value)}")


def ids(value: Any) -> list[str]:
    """A list of ids from any iterable of strings (a single str is a mistake, not a list of characters)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ArgError(f"ids must be a list of strings, got {type(value).__name__}")
    out = list(value)
    for id_ in out:
        if not isinstance(id_, str):
            raise ArgError(f"ids must be a list of strings, got an element of type {type(id_).__name__}")
        text(id_, "ids")
    return out


def records(value: Any) -> Iterable[Any]:
    """The iterable of records an upsert takes (a str, bytes or dict is not one)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ArgError(f"records must be an iterable of (id, vector, metadata) tuples, got {type(value).__name__}")
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def choice(enum: type[E], value: Any, message: str) -> E:
    """A member of a str Enum, from the member or its value; ArgError(message) for anything else."""
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            pass
    raise ArgError(message)
