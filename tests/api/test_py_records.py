"""Collection records: upsert (checks, streaming, atomicity), fetch, __getitem__, __len__, delete."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import vecs_sqlgen as vecs
from vecs_sqlgen import exc


def test_repr_and_len(docs, name):
    assert repr(docs) == f'vecs.Collection(name="{name}", dimension=3)'
    assert len(docs) == 0


def test_upsert_lists_tuples_and_numpy(docs):
    assert docs.upsert(
        records=[
            ("list", [0.1, 0.2, 0.3], {"year": 1973}),
            ("tuple", (1, 2, 3), {}),
            ("f64", np.array([0.7, 0.8, 0.9]), {"year": 2012}),
            ("f32", np.array([1, 2, 3], dtype=np.float32), None),
            ("ints", np.arange(3), {"k": np.int64(5), "v": np.float32(0.5), "arr": np.array([1, 2])}),
        ]
    ) is None
    assert len(docs) == 5
    id_, vec, meta = docs["f64"]
    assert id_ == "f64" and meta == {"year": 2012}
    assert isinstance(vec, np.ndarray) and vec.dtype == np.float32
    np.testing.assert_allclose(vec, [0.7, 0.8, 0.9], rtol=1e-6)
    assert docs["f32"][2] == {}
    assert docs["ints"][2] == {"k": 5, "v": 0.5, "arr": [1, 2]}


def test_upsert_replaces_and_last_duplicate_wins(docs):
    docs.upsert([("a", [1, 1, 1], {"v": 1})])
    docs.upsert([("a", [2, 2, 2], {"v": 2}), ("b", [3, 3, 3], {}), ("a", [4, 4, 4], {"v": 4})])
    assert len(docs) == 2
    assert docs["a"][2] == {"v": 4}
    np.testing.assert_array_equal(docs["a"][1], [4, 4, 4])


def test_upsert_nothing(docs):
    docs.upsert([])
    docs.upsert(iter(()))
    assert len(docs) == 0


def test_upsert_unicode_and_odd_ids(docs):
    ids = ["", " ", "ünïcødé", "emoji 🎉", 'quote "x"', "back\\slash", "a" * 1000]
    docs.upsert([(i, [1, 2, 3], {"name": i, "ключ": "значение"}) for i in ids])
    assert [r[0] for r in docs.fetch(ids)] == ids
    assert docs["ünïcødé"][2] == {"name": "ünïcødé", "ключ": "значение"}


@pytest.mark.parametrize(
    "record, error, message",
    [
        (("x", [1, 2], {}), exc.MismatchedDimension, 'record 2 (id "x"): vector has 2 dimensions, collection "{name}" has 3'),
        (("x", [1, 2, float("nan")], {}), exc.InvalidRecord, 'record 2 (id "x"): vector values must be finite'),
        (("x", [1, 2, math.inf], {}), exc.InvalidRecord, "must be finite"),
        (("x", [1, 2, 1e39], {}), exc.InvalidRecord, "must be finite"),  # overflows single precision
        (("x", ["a", "b", "c"], {}), exc.InvalidRecord, 'record 2 (id "x"): vector must be a sequence of numbers'),
        (("x", "abc", {}), exc.InvalidRecord, "vector must be a sequence of numbers, got str"),
        (("x", None, {}), exc.InvalidRecord, "vector must not be None"),
        (("x", [[1, 2, 3]], {}), exc.InvalidRecord, "vector must be one-dimensional, got shape (1, 3)"),
        (("x", [1, 2, 3], [1]), exc.InvalidRecord, 'record 2 (id "x"): metadata must be a JSON object, got array'),
        (("x", [1, 2, 3], "m"), exc.InvalidRecord, "metadata must be a JSON object, got string"),
        (("x", [1, 2, 3], {"k": float("nan")}), exc.InvalidRecord, "metadata is not JSON"),
        (("x", [1, 2, 3], {"k": {1, 2}}), exc.InvalidRecord, "metadata is not JSON: Object of type set"),
        (("x", [1, 2, 3], {"k": "a\x00b"}), exc.InvalidRecord, "metadata must not contain NUL characters"),
        (("x", [1, 2, 3], {"a\x00": 1}), exc.InvalidRecord, "metadata must not contain NUL characters"),
        (("x", [1, 2, 3], {"k": "\ud800"}), exc.InvalidRecord, "lone surrogate"),
        ((7, [1, 2, 3], {}), exc.InvalidRecord, "record 2: id must be a string, got int"),
        ((None, [1, 2, 3], {}), exc.InvalidRecord, "record 2: id must be a string, got NoneType"),
        (("x\x00", [1, 2, 3], {}), exc.InvalidRecord, "record 2: id must not contain NUL characters"),
        (("\ud800", [1, 2, 3], {}), exc.InvalidRecord, "record 2: id must be valid Unicode (lone surrogate)"),
        (("x",), exc.InvalidRecord, "record 2: must be a tuple (id, vector, metadata)"),
        (("x", [1, 2, 3]), exc.InvalidRecord, "record 2: must be a tuple (id, vector, metadata)"),
        ("xyz", exc.InvalidRecord, "record 2: must be a tuple"),
    ],
)
def test_bad_records_are_named_before_anything_is_sent(vx, docs, record, error, message):
    vx.disconnect()
    with pytest.raises(error) as info:
        docs.upsert([("ok", [1, 2, 3], {}), record], skip_adapter=True)
    assert message.format(name=docs.name) in str(info.value)
    assert not vx.session.connected  # found client-side: no round trip was made
    assert len(docs) == 0


def test_text_through_the_default_adapter_is_an_invalid_record(docs):
    with pytest.raises(exc.InvalidRecord, match="vector must be a sequence of numbers"):
        docs.upsert([("a", "some text", {})])


def test_no_metadata_check_is_skipped_by_the_server_form(docs):
    # the metadata "null" JSON value is stored as {} like a missing one
    docs.upsert([("a", [1, 2, 3], None)], skip_adapter=True)
    assert docs["a"][2] == {}


def _stream(n, bad_at=None, dimension=3):
    for i in range(n):
        vec = [float(i), 1.0, 2.0] if i != bad_at else [1.0, 2.0]
        yield (f"id{i}", vec[:dimension] if i != bad_at else vec, {"i": i})


def test_streaming_upsert_from_a_generator(docs):
    seen = []
    docs.upsert(_stream(12_345), batch_size=5000, progress=seen.append)
    assert len(docs) == 12_345
    assert seen == [5000, 10_000, 12_345]
    assert docs["id12344"][2] == {"i": 12_344}
    np.testing.assert_array_equal(docs["id7"][1], [7, 1, 2])


def test_small_upsert_progress(docs):
    seen = []
    docs.upsert(_stream(3), progress=seen.append)
    assert seen == [3]


def test_streaming_upsert_duplicates_last_wins(docs):
    docs.upsert(("same" if i % 2 else f"u{i}", [i, 1, 1], {"i": i}) for i in range(1001))
    assert docs["same"][2] == {"i": 999}
    assert len(docs) == 501 + 1


@pytest.mark.parametrize("n, bad_at", [(3000, 2499), (300, 250), (3000, 0)])
def test_a_bad_record_anywhere_writes_nothing(docs, n, bad_at):
    docs.upsert([("keep", [1, 2, 3], {})])
    with pytest.raises(exc.MismatchedDimension, match=rf'record {bad_at + 1} \(id "id{bad_at}"\)'):
        docs.upsert(_stream(n, bad_at), batch_size=1000)
    assert len(docs) == 1
    assert [r[0] for r in docs.fetch(["keep", "id0", f"id{n - 1}"])] == ["keep"]


def test_an_error_in_the_source_writes_nothing(docs):
    def source():
        yield from _stream(2000)
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError, match="source failed"):
        docs.upsert(source(), batch_size=500)
    assert len(docs) == 0


def test_upsert_into_a_missing_collection(vx):
    ghost = vecs.Collection("no such collection", 3, vx)
    with pytest.raises(exc.CollectionNotFound):
        ghost.upsert([("a", [1, 2, 3], {})])
    with pytest.raises(exc.CollectionNotFound):
        ghost.upsert(_stream(1000))


def test_upsert_batch_size_must_be_positive(docs):
    with pytest.raises(exc.ArgError, match="batch_size must be a positive integer"):
        docs.upsert([], batch_size=0)


def test_upsert_memory_stays_flat(docs):
    """A generator is streamed: peak client memory does not grow with the number of records."""

    def peak(n):
        tracemalloc.start()
        try:
            docs.upsert(_stream(n), batch_size=1000)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(3_000), peak(24_000)
    assert len(docs) == 24_000
    assert large < small * 1.5, (small, large)


def test_fetch(docs):
    docs.upsert([("a", [1, 2, 3], {"x": 1}), ("b", [4, 5, 6], {})])
    rows = docs.fetch(["b", "missing", "a", "b"])
    assert [r[0] for r in rows] == ["b", "a"]  # request order, unknown ids skipped, duplicates once
    assert all(isinstance(r, tuple) and len(r) == 3 for r in rows)
    assert rows[1][2] == {"x": 1}
    assert docs.fetch([]) == []
    assert [r[0] for r in docs.fetch(iter(["a"]))] == ["a"]


def test_fetch_argument_errors(docs):
    with pytest.raises(exc.ArgError, match="ids must be a list of strings"):
        docs.fetch("a")
    with pytest.raises(exc.ArgError, match="ids must be a list of strings"):
        docs.fetch([1])
    with pytest.raises(exc.ArgError, match="ids must not contain NUL"):
        docs.fetch(["a\x00"])


def test_getitem(docs):
    docs.upsert([("a", [1, 2, 3], {"x": 1})])
    id_, vec, meta = docs["a"]
    assert (id_, meta) == ("a", {"x": 1})
    np.testing.assert_array_equal(vec, [1, 2, 3])
    with pytest.raises(KeyError, match="no item found with requested id"):
        docs["missing"]
    with pytest.raises(exc.ArgError, match="items must be a string id"):
        docs[1]


def test_delete_by_ids(filled):
    assert sorted(filled.delete(ids=["a", "b", "missing"])) == ["a", "b"]
    assert len(filled) == 2
    assert filled.delete(ids=[]) == []
    assert filled.delete(["c"]) == ["c"]


def test_delete_by_filters(filled):
    assert filled.delete(filters={"year": {"$eq": 2012}}) == ["b"]
    assert sorted(filled.delete(filters="genre = 'drama'")) == ["a", "c"]
    assert filled.delete(filters={}) == []  # an empty filter deletes nothing, as in vecs
    assert len(filled) == 1


def test_delete_argument_errors(vx, filled):
    vx.disconnect()
    with pytest.raises(exc.ArgError, match=r"^Either ids or filters must be provided\.$"):
        filled.delete()
    with pytest.raises(exc.ArgError, match=r"^Either ids or filters must be provided, not both\.$"):
        filled.delete(ids=["a"], filters={"year": 1})
    with pytest.raises(exc.ArgError, match="ids must be a list of strings"):
        filled.delete(ids="a")
    with pytest.raises(exc.FilterError, match='filter on "year": unknown operator "\\$foo"'):
        filled.delete(filters={"year": {"$foo": 1}})
    with pytest.raises(exc.FilterError, match="unsupported SQL in filter: function call"):
        filled.delete(filters="lower(genre) = 'x'")
    assert not vx.session.connected  # every one found client-side
    assert len(filled) == 4
