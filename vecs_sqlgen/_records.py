"""Client-side record checks: a bad record is named (position and id) before anything is sent.

The messages follow the server's (``record 3 (id "abc"): …``), so an error reads the same whichever
side finds it; positions count from 1 over the whole upsert, after the adapter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from .exc import ArgError, InvalidRecord, MismatchedDimension
from .limits import MAX_HALF, MAX_ID_BYTES, MAX_METADATA_DEPTH

# jsonb rejects \u0000; json.dumps writes a NUL (in a key or a value) as that escape. An escaped
# backslash followed by the text "u0000" is an even run of backslashes and does not count.
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


# id, vector (a float32 array for vector and halfvec collections, a pgvector SparseVector or Bit
# for the others), metadata as UTF-8 JSON
Row = tuple[str, Any, bytes]


def checked(
    records: Iterable[Any],
    dimension: int,
    collection: str,
    start: int = 1,
    vector_type: str = "vector",
    nnz: int | None = None,
) -> Iterator[Row]:
    """Yield each record as ``(id, vector, metadata JSON)``, raising on the first bad one; positions
    count from ``start`` (an async upsert checks batch by batch).

    ``nnz``: the most non-zero values a sparse vector may have (the collection has an HNSW index)."""
    for position, record in enumerate(records, start):
        yield check_record(position, record, dimension, collection, vector_type, nnz)


def shaped(records: Iterable[Any], start: int = 1) -> Iterator[Any]:
    """The records as given, each checked to be ``(id, media, metadata)`` before an adapter unpacks it."""
    for position, record in enumerate(records, start):
        _check_shape(position, record)
        metadata = record[2]
        # adapters take falsy metadata for {} (as vecs's do), which needs a truth value
        if not isinstance(metadata, Mapping) and _truth(metadata) is None:
            where = _check_id(position, record[0])  # a bad id is reported first, as check_record would
            raise InvalidRecord(f"{where}: metadata must be a JSON object, got {_json_type(metadata)}")
        yield record


def _check_shape(position: int, record: Any) -> None:
    if not isinstance(record, (tuple, list)) or len(record) != 3:
        raise InvalidRecord(f"record {position}: must be a tuple (id, vector, metadata)")


def check_record(
    position: int, record: Any, dimension: int, collection: str, vector_type: str = "vector", nnz: int | None = None
) -> Row:
    _check_shape(position, record)
    id_, vec, metadata = record
    where = _check_id(position, id_)
    value = as_typed(vec, where, vector_type, dimension, collection, nnz, InvalidRecord)
    return id_, value, _metadata_json(metadata, where)


def as_typed(
    vec: Any,
    where: str,
    vector_type: str,
    dimension: int,
    collection: str,
    nnz: int | None = None,
    error: type[ArgError] = InvalidRecord,
) -> Any:
    """``vec`` as a collection of ``vector_type`` takes it, with the server's checks and messages:
    a float32 array (vector, halfvec: within half range), a SparseVector or a Bit."""
    if vector_type == "sparsevec":
        value: Any = as_sparse(vec, where, dimension, error)
        length, count = value.dimensions(), len(value.indices())
        if nnz is not None and count > nnz:
            raise error(
                f"{where}: sparse vector has {count} non-zero values; the collection's HNSW index takes at most {nnz}"
            )
    elif vector_type == "bit":
        value = as_bits(vec, where, error)
        length = len(value.to_text())
    else:
        value = as_vector(vec, where, error)
        length = len(value)
        if vector_type == "halfvec" and length and float(np.abs(value).max()) > MAX_HALF:
            raise error(
                f"{where}: vector values must be within half-precision range (|x| <= {int(MAX_HALF)}) in a halfvec collection"
            )
    if length != dimension:
        raise MismatchedDimension(f'{where}: vector has {length} dimensions, collection "{collection}" has {dimension}')
    return value


def as_sparse(vec: Any, where: str, dimension: int, error: type[ArgError] = ArgError) -> Any:
    """A sparse vector: a pgvector SparseVector, a ``{index: value}`` dict (indices from 0, of the
    collection's dimension) or a scipy.sparse row; values finite single-precision numbers."""
    from ._pgvector import SparseVector

    if isinstance(vec, SparseVector):
        value = vec
    elif isinstance(vec, Mapping):
        items = list(vec.items())
        for index, _ in items:
            if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
                raise error(f"{where}: sparse vector indices must be integers, got {type(index).__name__}")
            if not 0 <= index < dimension:
                raise error(f"{where}: sparse vector index {index} is out of range (0 to {dimension - 1})")
        try:
            value = SparseVector({int(i): float(v) for i, v in items}, dimension)
        except (TypeError, ValueError):
            raise error(f"{where}: sparse vector values must be numbers") from None
    elif hasattr(vec, "tocoo"):  # scipy.sparse
        try:
            value = SparseVector(vec)
        except ValueError as e:
            raise error(f"{where}: sparse vector must be one row: {e}") from None
    else:
        raise error(
            f"{where}: vector must be a sparse vector (a dict of index to value, a scipy.sparse row or a "
            f"pgvector SparseVector), got {type(vec).__name__}"
        )
    values = np.asarray(value.values(), dtype=np.float64)
    with np.errstate(over="ignore"):
        if not np.isfinite(values.astype(np.float32)).all():
            raise error(f"{where}: vector values must be finite single-precision numbers (|x| <= 3.4e38)")
    return value


def as_bits(vec: Any, where: str, error: type[ArgError] = ArgError) -> Any:
    """A binary vector: a pgvector Bit, a string of 0s and 1s, or a sequence / numpy array of booleans (or 0 and 1)."""
    from ._pgvector import Bit

    if isinstance(vec, Bit):
        return vec
    if isinstance(vec, str):
        if not vec or vec.strip("01"):
            raise error(f'{where}: vector must be a string of 0s and 1s, e.g. "1011"')
        return Bit(vec)
    try:
        array = np.asarray(vec)
    except (TypeError, ValueError):
        array = np.asarray([])
    if array.ndim != 1 or array.size == 0 or not (array.dtype == np.bool_ or np.isin(array, (0, 1)).all()):
        raise error(f"{where}: vector must be a sequence of booleans (or 0 and 1), a string of 0s and 1s or a Bit")
    return Bit(array.astype(bool))


def _check_id(position: int, id_: Any) -> str:
    """Check a record's id; the record as messages name it."""
    if not isinstance(id_, str):
        raise InvalidRecord(f"record {position}: id must be a string, got {type(id_).__name__}")
    if "\x00" in id_:
        raise InvalidRecord(f"record {position}: id must not contain NUL characters")
    try:
        size = len(id_.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidRecord(f"record {position}: id must be valid Unicode (lone surrogate)") from None
    where = f'record {position} (id "{_shown(id_)}")'
    if size > MAX_ID_BYTES:
        raise InvalidRecord(f"{where}: id is too long ({size} bytes; at most {MAX_ID_BYTES})")
    return where


def as_vector(vec: Any, where: str, error: type[ArgError] = ArgError) -> np.ndarray:
    """``vec`` (list, tuple or numpy array of numbers, float16 included; a pgvector HalfVector or
    Vector) as a 1-D float32 array of finite values."""
    if hasattr(vec, "to_numpy") and not isinstance(vec, np.ndarray):  # pgvector's Vector, HalfVector
        vec = vec.to_numpy()
    if type(vec) is np.ndarray and vec.dtype == np.float32 and vec.ndim == 1:
        # already what pgvector sends (the common case: no copy, no casting)
        if not np.isfinite(vec).all():
            raise error(f"{where}: vector values must be finite single-precision numbers (|x| <= 3.4e38)")
        return vec
    if vec is None:
        raise error(f"{where}: vector must not be None")
    if isinstance(vec, (str, bytes, dict)):
        raise error(f"{where}: vector must be a sequence of numbers, got {type(vec).__name__}")
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow shows up as inf below
            array = np.asarray(vec, dtype=np.float32)
    except (TypeError, ValueError):
        raise error(f"{where}: vector must be a sequence of numbers") from None
    if array.ndim != 1:
        raise error(f"{where}: vector must be one-dimensional, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise error(f"{where}: vector values must be finite single-precision numbers (|x| <= 3.4e38)")
    return array


def _metadata_json(metadata: Any, where: str) -> bytes:
    if metadata is None:
        return b"{}"
    if not isinstance(metadata, dict):
        if isinstance(metadata, Mapping):
            metadata = dict(metadata)
        elif _truth(metadata) is False:
            return b"{}"  # vecs's adapters take any falsy metadata for {}
        else:
            raise InvalidRecord(f"{where}: metadata must be a JSON object, got {_json_type(metadata)}")
    try:
        text = _ENCODER.encode(metadata)
    except (TypeError, ValueError) as e:
        raise InvalidRecord(f"{where}: metadata is not JSON: {e}") from None
    except RecursionError:
        text = ""  # deeper than this Python stack: deeper than the limit too, or reported as such
    # a text nested d levels deep has at least 2d brackets: the walk is only needed for long ones
    if not text or (len(text) > 2 * MAX_METADATA_DEPTH and depth(metadata) > MAX_METADATA_DEPTH):
        raise InvalidRecord(f"{where}: metadata is nested deeper than {MAX_METADATA_DEPTH} levels")
    if "\\u0000" in text and _NUL_ESCAPE.search(text):
        raise InvalidRecord(f"{where}: metadata must not contain NUL characters")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRecord(f"{where}: metadata strings must be valid Unicode (lone surrogate)") from None


def depth(value: Any) -> int:
    """Nesting of objects and arrays in a JSON value ({} and [] are 1 level), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, np.ndarray):
            node = node.tolist()
        if isinstance(node, Mapping):
            node = list(node.values())
        if isinstance(node, (list, tuple)):
            deepest = max(deepest, level)
            stack.extend((x, level + 1) for x in node if isinstance(x, (Mapping, list, tuple, np.ndarray)))
    return deepest


def loads_metadata(data: bytes | str) -> Any:
    """json.loads for what the server returns: metadata nested deeper than this Python stack can
    decode (written before the depth limit, or by other clients) is an InvalidRecord, not a
    RecursionError."""
    try:
        return json.loads(data)
    except RecursionError:
        raise InvalidRecord(
            f"a record's metadata is nested too deeply to decode here (more than {MAX_METADATA_DEPTH} levels "
            "are refused on write; read it with SQL, e.g. vecs.fetch)"
        ) from None


def _truth(value: Any) -> bool | None:
    """bool(value), or None when it has none (a numpy array's truth is ambiguous)."""
    try:
        return bool(value)
    except Exception:
        return None


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays in metadata become plain JSON numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json_type(value: Any) -> str:
    """jsonb_typeof's name, as the server's message has it."""
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _shown(id_: str) -> str:
    """An id as messages show it (the server's rule): whole when short, else its first 60 characters."""
    return id_ if len(id_) <= 64 else id_[:60] + "..."


# One encoder for every record (json.dumps with options builds one per call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_json_default)
