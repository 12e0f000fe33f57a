"""validate_filter / parse_key / normalize_filters against docs/filters.md (no database)."""

import datetime
import decimal

import numpy as np
import pytest

from vecs_sqlgen.exc import FilterError
from vecs_sqlgen.filters import MAX_DEPTH, normalize_filters, parse_key, validate_filter

ACCEPTED = [
    {},
    {"a": 1},
    {"a": "x", "b": None, "c": [1, "two", {"three": 3}], "d": True},  # shorthand $eq, any value
    {"a": {"$eq": {"nested": [1, 2]}}},
    {"a": {"$ne": None}},
    {"a": {"$gt": 1}},
    {"a": {"$gte": 1.5}},
    {"a": {"$lt": "m"}},
    {"a": {"$lte": -3}},
    {"a": {"$in": [1, "x", True, 2.5]}},
    {"a": {"$in": []}},  # matches nothing, but is valid
    {"a": {"$nin": ["x"]}},
    {"a": {"$contains": "tag"}},
    {"a": {"$contains": False}},
    {"a": {"$exists": True}},
    {"a": {"$exists": False}},
    {"a": {"$like": "ab%"}},
    {"a": {"$ilike": "AB\\_%"}},
    {"a": {"$not": {"$gt": 5}}},
    {"a": {"$not": {"$not": {"$in": [1]}}}},
    {"a": {"$gte": 1, "$lt": 5}},  # implicit AND of operators
    {"a": 1, "b": 2},  # implicit AND of clauses
    {"$and": [{"a": 1}, {"b": {"$ne": 2}}]},
    {"$or": [{"a": 1}, {}]},
    {"$not": {"a": 1}},
    {"$not": {}},
    {"$and": [{"$or": [{"$not": {"a": {"$not": {"$eq": 1}}}}]}]},
    {"a.b.c": 1},
    {"version\\.major": 3},
    {"\\$price": {"$gt": 0}},
    {"back\\\\slash": 1},
    {"a.$b": 1},  # only a top-level key starting with $ is an operator
]


@pytest.mark.parametrize("filters", ACCEPTED, ids=repr)
def test_accepts(filters):
    assert validate_filter(filters) == filters


@pytest.mark.parametrize("filters", [None, {}])
def test_empty_filters(filters):
    assert validate_filter(filters) == {}
    assert normalize_filters(filters) == {}


REJECTED = [
    # filters not an object
    ([], "filters must be a JSON object, got array"),
    ((), "filters must be a JSON object, got array"),
    ("a = 1", "filters must be a JSON object, got string"),
    (1, "filters must be a JSON object, got number"),
    (1.5, "filters must be a JSON object, got number"),
    (True, "filters must be a JSON object, got boolean"),
    # $and / $or
    ({"$and": []}, "filter: $and expects a non-empty array of filter objects"),
    ({"$or": []}, "filter: $or expects a non-empty array of filter objects"),
    ({"$and": {"a": 1}}, "filter: $and expects a non-empty array of filter objects"),
    ({"$or": "x"}, "filter: $or expects a non-empty array of filter objects"),
    ({"$and": None}, "filter: $and expects a non-empty array of filter objects"),
    ({"$and": [{"a": 1}, 2]}, "filter: $and expects a non-empty array of filter objects"),
    ({"$or": [[{"a": 1}]]}, "filter: $or expects a non-empty array of filter objects"),
    # top-level $not
    ({"$not": []}, "filter: $not expects a filter object, got array"),
    ({"$not": None}, "filter: $not expects a filter object, got null"),
    ({"$not": "a"}, "filter: $not expects a filter object, got string"),
    ({"$not": 1}, "filter: $not expects a filter object, got number"),
    ({"$not": False}, "filter: $not expects a filter object, got boolean"),
    # unknown top-level operator
    ({"$foo": 1}, 'filter: unknown operator "$foo"'),
    ({"$eq": 1}, 'filter: unknown operator "$eq"'),
    ({"$": 1}, 'filter: unknown operator "$"'),
    ({"$AND": [{"a": 1}]}, 'filter: unknown operator "$AND"'),
    # bad keys
    ({"": 1}, 'filter on "": invalid key (empty path segment)'),
    ({"a..b": 1}, 'filter on "a..b": invalid key (empty path segment)'),
    ({".a": 1}, 'filter on ".a": invalid key (empty path segment)'),
    ({"a.": {"$gt": 1}}, 'filter on "a.": invalid key (empty path segment)'),
    ({"a\\": 1}, 'filter on "a\\": invalid key (trailing backslash)'),
    ({"a.b\\": {}}, 'filter on "a.b\\": invalid key (trailing backslash)'),
    ({"a..b\\": 1}, 'filter on "a..b\\": invalid key (empty path segment)'),  # left to right
    # operator objects
    ({"a": {}}, 'filter on "a": empty operator object'),
    ({"a": {"$not": {}}}, 'filter on "a": empty operator object'),
    ({"a": {"$foo": 1}}, 'filter on "a": unknown operator "$foo"'),
    ({"a": {"b": 1}}, 'filter on "a": unknown operator "b"'),
    ({"a": {"$and": [{"b": 1}]}}, 'filter on "a": unknown operator "$and"'),
    ({"a.b": {"$regex": "x"}}, 'filter on "a.b": unknown operator "$regex"'),
    ({"version\\.major": {"$x": 1}}, 'filter on "version\\.major": unknown operator "$x"'),
    # range operators
    ({"a": {"$gt": None}}, 'filter on "a": $gt expects a number or a string, got null'),
    ({"a": {"$gte": True}}, 'filter on "a": $gte expects a number or a string, got boolean'),
    ({"a": {"$lt": [1]}}, 'filter on "a": $lt expects a number or a string, got array'),
    ({"a": {"$lte": {"x": 1}}}, 'filter on "a": $lte expects a number or a string, got object'),
    # $in / $nin
    ({"a": {"$in": 1}}, 'filter on "a": $in expects an array of scalars'),
    ({"a": {"$in": "abc"}}, 'filter on "a": $in expects an array of scalars'),
    ({"a": {"$in": [1, None]}}, 'filter on "a": $in expects an array of scalars'),
    ({"a": {"$in": [[1]]}}, 'filter on "a": $in expects an array of scalars'),
    ({"a": {"$nin": [{"x": 1}]}}, 'filter on "a": $nin expects an array of scalars'),
    ({"a": {"$nin": None}}, 'filter on "a": $nin expects an array of scalars'),
    # $contains
    ({"a": {"$contains": [1]}}, 'filter on "a": $contains expects a scalar, got array'),
    ({"a": {"$contains": None}}, 'filter on "a": $contains expects a scalar, got null'),
    ({"a": {"$contains": {}}}, 'filter on "a": $contains expects a scalar, got object'),
    # $exists
    ({"a": {"$exists": 1}}, 'filter on "a": $exists expects true or false, got number'),
    ({"a": {"$exists": "true"}}, 'filter on "a": $exists expects true or false, got string'),
    ({"a": {"$exists": None}}, 'filter on "a": $exists expects true or false, got null'),
    # $like / $ilike
    ({"a": {"$like": 1}}, 'filter on "a": $like expects a string pattern, got number'),
    ({"a": {"$ilike": None}}, 'filter on "a": $ilike expects a string pattern, got null'),
    ({"a": {"$like": ["%"]}}, 'filter on "a": $like expects a string pattern, got array'),
    ({"a": {"$like": "50%\\"}}, 'filter on "a": $like pattern must not end with the escape character \\'),
    ({"a": {"$ilike": "\\\\\\"}}, 'filter on "a": $ilike pattern must not end with the escape character \\'),
    # operator-level $not
    ({"a": {"$not": 5}}, 'filter on "a": $not expects an operator object, got number'),
    ({"a": {"$not": [{"$eq": 1}]}}, 'filter on "a": $not expects an operator object, got array'),
    ({"a": {"$not": None}}, 'filter on "a": $not expects an operator object, got null'),
    ({"a": {"$not": {"$not": {"$gt": None}}}}, 'filter on "a": $gt expects a number or a string, got null'),
    # faults deep inside
    ({"$and": [{"$or": [{"a": {"$in": 5}}]}]}, 'filter on "a": $in expects an array of scalars'),
    ({"$not": {"$not": {"$bad": 1}}}, 'filter: unknown operator "$bad"'),
]


@pytest.mark.parametrize(("filters", "message"), REJECTED, ids=repr)
def test_rejects_with_spec_message(filters, message):
    with pytest.raises(FilterError) as info:
        validate_filter(filters)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        # shorter keys first: "z" before "aa"
        ({"aa": {}, "z": {"$x": 1}}, 'filter on "z": unknown operator "$x"'),
        # equal length: bytewise, so "B" (0x42) before "a" (0x61)
        ({"a": {}, "B": {}}, 'filter on "B": empty operator object'),
        # length counts UTF-8 bytes: "é" is 2 bytes, sorts after 1-byte "z" and bytewise after "ab"
        ({"é": {}, "z": {}}, 'filter on "z": empty operator object'),
        ({"é": {}, "ab": {}}, 'filter on "ab": empty operator object'),
        # operators are keys too: "$or" (3 bytes) before "$and" (4), "b" before both
        ({"$and": [], "$or": []}, "filter: $or expects a non-empty array of filter objects"),
        ({"$and": [], "b": {}}, 'filter on "b": empty operator object'),
        ({"$not": 1, "$foo": 1}, 'filter: unknown operator "$foo"'),
        # inside an operator object: "$gt" before "$like"
        ({"a": {"$like": 1, "$gt": None}}, 'filter on "a": $gt expects a number or a string, got null'),
        ({"a": {"$ne": 1, "$in": 1}}, 'filter on "a": $in expects an array of scalars'),
    ],
    ids=repr,
)
def test_jsonb_key_order(filters, message):
    with pytest.raises(FilterError) as info:
        validate_filter(filters)
    assert str(info.value) == message


def test_array_elements_in_order_depth_first():
    # element 0's nested fault is found before element 1's shape fault
    with pytest.raises(FilterError, match=r'^filter: unknown operator "\$foo"$'):
        validate_filter({"$and": [{"$or": [{"$foo": 1}]}, 5]})
    with pytest.raises(FilterError, match=r"^filter: \$and expects"):
        validate_filter({"$and": [5, {"$foo": 1}]})


def _nested(kind: str, levels: int) -> dict:
    if kind == "op_not":
        ops: dict = {"$eq": 1}
        for _ in range(levels):
            ops = {"$not": ops}
        return {"a": ops}
    f: dict = {"a": 1}
    for i in range(levels):
        if kind == "mixed":
            f = [{"$and": [f]}, {"$or": [f]}, {"$not": f}][i % 3]
        else:
            f = {"$not": f} if kind == "$not" else {kind: [f]}
    return f


@pytest.mark.parametrize("kind", ["$and", "$or", "$not", "op_not", "mixed"])
def test_depth_limit(kind):
    assert validate_filter(_nested(kind, MAX_DEPTH)) == _nested(kind, MAX_DEPTH)
    with pytest.raises(FilterError) as info:
        validate_filter(_nested(kind, MAX_DEPTH + 1))
    assert str(info.value) == "filter: nested deeper than 32 levels"


def test_depth_counts_top_level_and_operator_level_together():
    inner = {"a": {"$not": {"$eq": 1}}}  # one operator-level level
    ok, bad = inner, {"$not": inner}
    for _ in range(MAX_DEPTH - 1):
        ok = {"$and": [ok]}
        bad = {"$and": [bad]}
    validate_filter(ok)
    with pytest.raises(FilterError, match="nested deeper than 32 levels"):
        validate_filter(bad)


def test_type_fault_reported_before_depth():
    f: dict = {"$not": 5}
    for _ in range(MAX_DEPTH):
        f = {"$and": [f]}
    with pytest.raises(FilterError, match=r"\$not expects a filter object, got number"):
        validate_filter(f)


@pytest.mark.parametrize(
    ("key", "segments"),
    [
        ("a", ["a"]),
        ("a.b.c", ["a", "b", "c"]),
        ("version\\.major", ["version.major"]),
        ("a\\\\b", ["a\\b"]),
        ("a\\\\.b", ["a\\", "b"]),
        ("\\$price", ["$price"]),
        ("$price", ["$price"]),
        ("\\x", ["x"]),  # any escaped character is literal
        ("a.\\.", ["a", "."]),
        ("日本.語", ["日本", "語"]),
        (" ", [" "]),
    ],
)
def test_parse_key(key, segments):
    assert parse_key(key) == segments


@pytest.mark.parametrize(
    ("key", "fault"),
    [
        ("", "empty path segment"),
        (".", "empty path segment"),
        ("a.", "empty path segment"),
        (".a", "empty path segment"),
        ("a..b", "empty path segment"),
        ("\\", "trailing backslash"),
        ("a\\", "trailing backslash"),
        ("a\\\\\\", "trailing backslash"),
        ("a.\\", "trailing backslash"),
        (".\\", "empty path segment"),
    ],
)
def test_parse_key_errors(key, fault):
    with pytest.raises(FilterError) as info:
        parse_key(key)
    assert str(info.value) == f'filter on "{key}": invalid key ({fault})'


PYTHON_ONLY = [
    ({1: 2}, "filter: keys must be strings, got int"),
    ({"a": {("x",): 1}}, "filter: keys must be strings, got tuple"),
    ({"a": {"$eq": {None: 1}}}, "filter: keys must be strings, got NoneType"),
    ({"a": float("nan")}, 'filter on "a": values must be finite numbers'),
    ({"a": {"$gt": float("inf")}}, 'filter on "a": values must be finite numbers'),
    ({"a": {"$in": [1, float("-inf")]}}, 'filter on "a": values must be finite numbers'),
    ({"$and": [{"b.c": {"$not": {"$lt": np.float64("nan")}}}]}, 'filter on "b.c": values must be finite numbers'),
    ({"a": datetime.date(2020, 1, 1)}, 'filter on "a": unsupported value of type date'),
    ({"a": {"$in": {1, 2}}}, 'filter on "a": unsupported value of type set'),
    ({"a": {"$eq": b"x"}}, 'filter on "a": unsupported value of type bytes'),
    ({"a": {"$gt": decimal.Decimal(1)}}, 'filter on "a": unsupported value of type Decimal'),
    ({"a": {"$eq": {"k": object()}}}, 'filter on "a": unsupported value of type object'),
    ({"a": np.datetime64("2020-01-01")}, 'filter on "a": unsupported value of type date'),
    ({"a\x00": 1}, "filter: NUL characters are not allowed"),
    ({"a": "x\x00"}, "filter: NUL characters are not allowed"),
    ({"a": {"$in": ["\x00"]}}, "filter: NUL characters are not allowed"),
    ({"a": {"$eq": {"k\x00": 1}}}, "filter: NUL characters are not allowed"),
    ({"a": {"$x\x00": 1}}, "filter: NUL characters are not allowed"),
    ({"a": "\ud800"}, "filter: strings must be valid Unicode (lone surrogate)"),
    ({"$not": {1, 2}}, "filter: $not expects a filter object, got set"),
]


@pytest.mark.parametrize(("filters", "message"), PYTHON_ONLY, ids=repr)
def test_python_only_faults(filters, message):
    with pytest.raises(FilterError) as info:
        validate_filter(filters)
    assert str(info.value) == message


def test_returns_plain_json():
    out = validate_filter(
        {
            "a": {"$in": (np.int64(1), np.float32(2.5), np.bool_(True), np.str_("s"))},
            "b": np.array([1, 2]),
            "c": {"$eq": {"k": (1, (2, 3))}},
            "$or": ({"d": np.int32(7)},),
        }
    )
    assert out == {"a": {"$in": [1, 2.5, True, "s"]}, "b": [1, 2], "c": {"$eq": {"k": [1, [2, 3]]}}, "$or": [{"d": 7}]}
    assert [type(v) for v in out["a"]["$in"]] == [int, float, bool, str]
    assert type(out["$or"][0]["d"]) is int and type(out["$or"]) is list


def test_does_not_mutate_input():
    filters = {"a": {"$in": (1, 2)}}
    validate_filter(filters)
    assert filters == {"a": {"$in": (1, 2)}}


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ([{"a": 1}], "filters must be a JSON object, got array"),
        (5, "filters must be a JSON object, got number"),
        (False, "filters must be a JSON object, got boolean"),
        ({1, 2}, "filters must be a JSON object, got set"),
        (b"a = 1", "filters must be a JSON object, got bytes"),
    ],
)
def test_normalize_filters_rejects_other_types(filters, message):
    with pytest.raises(FilterError) as info:
        normalize_filters(filters)
    assert str(info.value) == message


def test_normalize_filters_dispatches():
    assert normalize_filters({"a": (1,)}) == {"a": [1]}
    assert normalize_filters("a = 1") == {"a": {"$eq": 1}}
    with pytest.raises(FilterError, match="unknown operator"):
        normalize_filters({"a": {"$nope": 1}})
