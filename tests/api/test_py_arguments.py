"""Argument checks of the Python API: wrong types and out-of-range values are ArgErrors that say what
was wrong, before anything reaches the server; values of the right kind in another form still work."""

from __future__ import annotations

import numpy as np
import pytest

from vecs_sqlgen import exc


@pytest.fixture
def quiet(filled):
    filled.create_index()  # no "no covering index" warning
    return filled


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"limit": "5"}, "limit must be an integer, got str"),
        ({"limit": None}, "limit must be an integer, got NoneType"),
        ({"limit": True}, "limit must be an integer, got bool"),
        ({"limit": 2.0}, "limit must be an integer, got float"),
        ({"limit": -(2**40)}, "limit must be between 1 and 1000, got -1099511627776"),
        ({"ef_search": 2**40}, "ef_search must be between 1 and 1000, got 1099511627776"),
        ({"ef_search": "x"}, "ef_search must be an integer, got str"),
        ({"probes": 2**40}, "probes must be between 1 and 32768, got 1099511627776"),
        ({"probes": 2.5}, "probes must be an integer"),
        ({"include_value": "maybe"}, "include_value must be True or False, got 'maybe'"),
        ({"include_metadata": b"x"}, "include_metadata must be True or False, got b'x'"),
        ({"include_vector": 2}, "include_vector must be True or False, got 2"),
        ({"measure": 5}, "Invalid index measure"),
    ],
)
def test_query_argument_errors(quiet, kwargs, message):
    with pytest.raises(exc.ArgError) as raised:
        quiet.query([1, 2, 3], **kwargs)
    assert str(raised.value) == message


def test_query_takes_numpy_integers_and_truthy_flags(quiet):
    rows = quiet.query([1, 0, 0], limit=np.int64(2), ef_search=np.int32(50), include_value=1, include_metadata=np.True_)
    assert [r[0] for r in rows] == ["a", "d"]
    assert [len(r) for r in rows] == [3, 3]
    assert quiet.query([1, 0, 0], limit=1, include_value=None) == ["a"]


@pytest.mark.parametrize(
    "ids, message",
    [
        (5, "ids must be a list of strings, got int"),
        (None, "ids must be a list of strings, got NoneType"),
        ("abc", "ids must be a list of strings, got str"),
        ({"a": 1}, "ids must be a list of strings, got dict"),
        ([1], "ids must be a list of strings, got an element of type int"),
        (["a\x00"], "ids must not contain NUL characters"),
        (["a\ud800"], "ids must be valid Unicode (lone surrogate)"),
    ],
)
def test_fetch_and_delete_id_errors(filled, ids, message):
    with pytest.raises(exc.ArgError) as raised:
        filled.fetch(ids)
    assert str(raised.value) == message
    if ids is not None:  # delete(ids=None) means "no ids given"
        with pytest.raises(exc.ArgError) as raised:
            filled.delete(ids=ids)
        assert str(raised.value) == message
    assert len(filled) == 4


def test_ids_from_any_iterable(filled):
    assert [r[0] for r in filled.fetch(iter(["b", "a"]))] == ["b", "a"]
    assert filled.delete(ids=("a",)) == ["a"]


def test_getitem_errors(filled):
    with pytest.raises(exc.ArgError, match="^items must be a string id$"):
        filled[5]
    with pytest.raises(exc.ArgError, match=r"^items must be valid Unicode \(lone surrogate\)$"):
        filled["a\ud800"]


@pytest.mark.parametrize(
    "records, error, message",
    [
        (5, exc.ArgError, "records must be an iterable of (id, vector, metadata) tuples, got int"),
        (None, exc.ArgError, "records must be an iterable of (id, vector, metadata) tuples, got NoneType"),
        ("abc", exc.ArgError, "records must be an iterable of (id, vector, metadata) tuples, got str"),
        ({"a": 1}, exc.ArgError, "records must be an iterable of (id, vector, metadata) tuples, got dict"),
        ([5], exc.InvalidRecord, "record 1: must be a tuple (id, vector, metadata)"),
        ([("ok", [1, 2, 3], {}), ("x", [1, 2, 3])], exc.InvalidRecord, "record 2: must be a tuple (id, vector, metadata)"),
        (
            [("m", [1, 2, 3], np.array([[1.0, 2.0]]))],
            exc.InvalidRecord,
            'record 1 (id "m"): metadata must be a JSON object, got ndarray',
        ),
        ([("s", [1, 2, 3], "text")], exc.InvalidRecord, 'record 1 (id "s"): metadata must be a JSON object, got string'),
    ],
)
def test_upsert_argument_errors(filled, records, error, message):
    with pytest.raises(error) as raised:
        filled.upsert(records)
    assert str(raised.value) == message
    assert len(filled) == 4  # nothing written


def test_upsert_falsy_metadata_is_empty(docs):
    # vecs's adapters take any falsy metadata for {}
    docs.upsert([("a", [1, 2, 3], []), ("b", [1, 2, 3], ""), ("c", [1, 2, 3], None)])
    assert [r[2] for r in docs.fetch(["a", "b", "c"])] == [{}, {}, {}]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": np.array([1, 2])}, "invalid index method"),
        ({"method": "btree"}, "invalid index method"),
        ({"measure": None}, "Unknown index measure"),
        ({"method": "hnsw", "index_arguments": "abc"}, "index_arguments must be IndexArgsHNSW, IndexArgsIVFFlat or a dict, got str"),
        ({"method": "hnsw", "index_arguments": [1]}, "index_arguments must be IndexArgsHNSW, IndexArgsIVFFlat or a dict, got list"),
        ({"method": "hnsw", "index_arguments": 5}, "index_arguments must be IndexArgsHNSW, IndexArgsIVFFlat or a dict, got int"),
        ({"method": "hnsw", "index_arguments": {"m": "16"}}, "index argument m must be an integer, got str"),
        ({"method": "hnsw", "index_arguments": {"m": 2**40}}, "index argument m must be between 1 and 2147483647, got 1099511627776"),
        ({"method": "hnsw", "index_arguments": {"m\x00": 16}}, "an index argument name must not contain NUL characters"),
        ({"replace": "yes"}, "replace must be True or False, got 'yes'"),
    ],
)
def test_create_index_argument_errors(filled, kwargs, message):
    with pytest.raises(exc.ArgError) as raised:
        filled.create_index(**kwargs)
    assert str(raised.value) == message
    assert filled.index is None


def test_create_index_takes_a_dict_and_method_strings(filled):
    filled.create_index(method="hnsw", index_arguments={"m": 8, "ef_construction": None})
    assert filled.index is not None and filled.is_indexed_for_measure("cosine_distance")
    assert not filled.is_indexed_for_measure(np.array([1]))


@pytest.mark.parametrize(
    "name, message",
    [
        (b"abc", "collection name must be a string, got bytes"),
        (["a"], "collection name must be a string, got list"),
        (5, "collection name must be a string, got int"),
        (None, "collection name must be a string, got NoneType"),
        ("a\x00b", "collection name must not contain NUL characters"),
        ("a\ud800", "collection name must be valid Unicode (lone surrogate)"),
    ],
)
def test_collection_name_errors(vx, name, message):
    before = {c.name for c in vx.list_collections()}
    for call in (
        lambda: vx.get_or_create_collection(name, dimension=3),
        lambda: vx.delete_collection(name),
    ):
        with pytest.raises(exc.ArgError) as raised:
            call()
        assert str(raised.value) == message
    with pytest.warns(DeprecationWarning), pytest.raises(exc.ArgError, match="collection name must"):
        vx.get_collection(name)
    assert {c.name for c in vx.list_collections()} == before


@pytest.mark.parametrize(
    "dimension, message",
    [
        (3.5, "dimension must be an integer, got float"),
        (float("nan"), "dimension must be an integer, got float"),
        ("3", "dimension must be an integer, got str"),
        (True, "dimension must be an integer, got bool"),
        (2**31, "dimension must be between 1 and 16000, got 2147483648"),
        (-1, "dimension must be between 1 and 16000, got -1"),
        (16001, "dimension must be between 1 and 16000, got 16001"),
    ],
)
def test_dimension_errors(vx, name, dimension, message):
    with pytest.raises(exc.ArgError) as raised:
        vx.get_or_create_collection(name, dimension=dimension)
    assert str(raised.value) == message
    assert name not in {c.name for c in vx.list_collections()}


def test_numpy_dimension(vx, name):
    coll = vx.get_or_create_collection(name, dimension=np.int64(3))
    assert type(coll.dimension) is int and coll.dimension == 3
    assert [c.dimension for c in vx.list_collections() if c.name == name] == [3]
