"""validate_filter / normalize_filters against docs/filters.md (no database)."""

import datetime
import decimal

import numpy as np
import pytest

from vecs_sqlgen.exc import FilterError
from vecs_sqlgen.filters import MAX_DEPTH, normalize_filters, validate_filter
from vecs_sqlgen.limits import MAX_FILTER_BYTES, MAX_FILTER_OBJECTS, MAX_FILTER_VALUES, MAX_METADATA_DEPTH

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
    {"$or": [{"a": 1}, {"b": 2}]},
    {"$not": {"a": 1}},  # a filter object (vecs refuses it): the complement
    {"$not": {}},
    {"$and": [{"$or": [{"$not": {"a": {"$not": {"$eq": 1}}}}]}]},
    # keys are literal, as in vecs: dots, backslashes, a leading $ and "" are part of the key
    {"a.b.c": 1},
    {"a\\b": 1},
    {"$price": {"$gt": 0}},
    {"": 1},
    {"$": 1},
    {"$foo": {"$in": [1]}},
    {"$not": {"$eq": 1}},  # an operator object: the metadata key "$not", as in vecs
    {"$not": {"$not": {"$bad": 1}}},  # no operator inside: complements, of {"$bad": 1} at the end
    {"$not": 1},
    # nested objects step into metadata objects
    {"user": {"email": {"$eq": "x@y.z"}}},
    {"user": {"email": "x@y.z", "$exists": True}},
    {"a": {"b": {"c": {"$not": {"d": 1}}}}},
    {"a": {"": {".": 1}}},
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
    ({"$and": []}, "filter: $and expects a non-empty array of non-empty filter objects"),
    ({"$or": []}, "filter: $or expects a non-empty array of non-empty filter objects"),
    ({"$and": {"a": 1}}, "filter: $and expects a non-empty array of non-empty filter objects"),
    ({"$or": "x"}, "filter: $or expects a non-empty array of non-empty filter objects"),
    ({"$and": None}, "filter: $and expects a non-empty array of non-empty filter objects"),
    ({"$and": [{"a": 1}, 2]}, "filter: $and expects a non-empty array of non-empty filter objects"),
    ({"$or": [[{"a": 1}]]}, "filter: $or expects a non-empty array of non-empty filter objects"),
    # {} inside $and / $or: vecs compiles it to NULL (no match), so it is refused rather than "all"
    ({"$or": [{"a": 1}, {}]}, "filter: $or expects a non-empty array of non-empty filter objects"),
    ({"$and": [{}]}, "filter: $and expects a non-empty array of non-empty filter objects"),
    # top-level keys other than $and / $or are metadata keys: their values are checked as such
    ({"$foo": {"$bar": 1}}, 'filter on "$foo": unknown operator "$bar"'),
    ({"$not": {"$exists": 1}}, 'filter on "$not": $exists expects true or false, got number'),
    ({"$not": {"$eq": 1, "a": {}}}, 'filter on "$not"."a": empty operator object'),
    ({"": {}}, 'filter on "": empty operator object'),
    # operator objects and nested keys
    ({"a": {}}, 'filter on "a": empty operator object'),
    ({"a": {"$not": {}}}, 'filter on "a": empty operator object'),
    ({"a": {"$foo": 1}}, 'filter on "a": unknown operator "$foo"'),
    ({"a": {"b": {}}}, 'filter on "a"."b": empty operator object'),
    ({"a": {"$and": [{"b": 1}]}}, 'filter on "a": unknown operator "$and"'),
    ({"a.b": {"$regex": "x"}}, 'filter on "a.b": unknown operator "$regex"'),
    ({"a": {"b": {"c": {"$gt": None}}}}, 'filter on "a"."b"."c": $gt expects a number or a string, got null'),
    ({"a": {"$eq": 1, "b": {"$x": 1}}}, 'filter on "a"."b": unknown operator "$x"'),
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
    ({"$not": {"$not": {"$eq": 1, "$bad": 1}}}, 'filter on "$not": unknown operator "$bad"'),
    ({"$not": {"$eq": 1, "$bad": 1}}, 'filter on "$not": unknown operator "$bad"'),
    ({"$not": {"b": {"$not": {"$bad": 1}}}}, 'filter on "b": unknown operator "$bad"'),
    ({"$not": {"$not": {"$not": {"x": {}}}}}, 'filter on "x": empty operator object'),
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
        ({"$and": [], "$or": []}, "filter: $or expects a non-empty array of non-empty filter objects"),
        ({"$and": [], "b": {}}, 'filter on "b": empty operator object'),
        ({"$not": {}, "$foo": {}}, 'filter on "$foo": empty operator object'),
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
    with pytest.raises(FilterError, match=r'^filter on "\$foo": unknown operator "\$x"$'):
        validate_filter({"$and": [{"$or": [{"$foo": {"$x": 1}}]}, 5]})
    with pytest.raises(FilterError, match=r"^filter: \$and expects"):
        validate_filter({"$and": [5, {"$foo": {"$x": 1}}]})


def _nested(kind: str, levels: int) -> dict:
    if kind == "op_not":
        ops: dict = {"$eq": 1}
        for _ in range(levels):
            ops = {"$not": ops}
        return {"a": ops}
    if kind == "path":
        value: object = 1
        for _ in range(levels):
            value = {"p": value}
        return {"a": value}
    f: dict = {"a": 1}
    for i in range(levels):
        if kind == "mixed":
            f = [{"$and": [f]}, {"$or": [f]}, {"$not": f}][i % 3]
        else:
            f = {"$not": f} if kind == "$not" else {kind: [f]}
    return f


@pytest.mark.parametrize("kind", ["$and", "$or", "$not", "op_not", "path", "mixed"])
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
    f: dict = {"a": {"$not": 5}}
    for _ in range(MAX_DEPTH):
        f = {"$and": [f]}
    with pytest.raises(FilterError, match=r"\$not expects an operator object, got number"):
        validate_filter(f)


PYTHON_ONLY = [
    ({1: 2}, "filter: keys must be strings, got int"),
    ({"a": {("x",): 1}}, "filter: keys must be strings, got tuple"),
    ({"a": {"$eq": {None: 1}}}, "filter: keys must be strings, got NoneType"),
    ({"a": float("nan")}, 'filter on "a": values must be finite numbers'),
    ({"a": {"$gt": float("inf")}}, 'filter on "a": values must be finite numbers'),
    ({"a": {"$in": [1, float("-inf")]}}, 'filter on "a": values must be finite numbers'),
    ({"$and": [{"b": {"c": {"$not": {"$lt": np.float64("nan")}}}}]}, 'filter on "b"."c": values must be finite numbers'),
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
    ({"$not": {1, 2}}, 'filter on "$not": unsupported value of type set'),
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


# ----------------------------------------------------------------------------- the work limits (issue 10, item 5)


def _or_of_in(clauses: int, values: int) -> dict:
    return {"$or": [{"n": {"$in": list(range(i * values, (i + 1) * values))}} for i in range(clauses)]}


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (_or_of_in(999, 100), f"filter: holds 1999 JSON objects, more than {MAX_FILTER_OBJECTS} (use $in for a long list of values)"),
        (_or_of_in(300, 1000), f"filter: holds 300000 values, more than {MAX_FILTER_VALUES}"),
        (_or_of_in(499, 21), f"filter: holds 10479 values, more than {MAX_FILTER_VALUES}"),
        ({"n": {"$in": list(range(MAX_FILTER_VALUES + 1))}}, f"filter: holds {MAX_FILTER_VALUES + 1} values, more than {MAX_FILTER_VALUES}"),
        ({"s": "x" * MAX_FILTER_BYTES}, f"filter: larger than {MAX_FILTER_BYTES} bytes as jsonb"),
        ({"s": {"$in": ["y" * 200] * 5300}}, f"filter: larger than {MAX_FILTER_BYTES} bytes as jsonb"),
    ],
    ids=["issue-999x100", "issue-300x1000", "values", "one-in", "bytes", "bytes-in"],
)
def test_work_limits(filters, message):
    with pytest.raises(FilterError) as info:
        validate_filter(filters)
    assert str(info.value) == message


def test_at_the_work_limits_is_fine():
    validate_filter(_or_of_in(499, 20))  # 999 objects, 9980 values
    validate_filter({"n": {"$in": list(range(MAX_FILTER_VALUES))}})
    validate_filter({"s": "x" * (MAX_FILTER_BYTES - 100)})


def _deep_list(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value  # `levels` levels of arrays


def test_operand_nested_too_deeply_is_a_filter_error():
    """A filter value nested 5,000 deep: FilterError, never RecursionError (issue 10, item 6)."""
    assert validate_filter({"k": {"$eq": _deep_list(MAX_METADATA_DEPTH)}})
    for levels in (MAX_METADATA_DEPTH + 1, 5000):
        for filters in ({"k": {"$eq": _deep_list(levels)}}, {"k": _deep_list(levels)}, {"k": {"$ne": _deep_list(levels)}}):
            with pytest.raises(FilterError, match=rf'^filter on "k": value nested deeper than {MAX_METADATA_DEPTH} levels$'):
                validate_filter(filters)
    deep: object = 1
    for _ in range(5000):
        deep = {"p": deep}
    with pytest.raises(FilterError, match="JSON objects|nested deeper than 32 levels"):
        validate_filter({"k": deep})
    with pytest.raises(FilterError, match="nested deeper than 32 levels"):
        validate_filter({"k": _deep_nested_keys(40)})


def _deep_nested_keys(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = {"p": value}
    return value


def test_keys_are_literal_as_in_vecs():
    """What vecs 0.4.5 accepts passes through unchanged: no key is split or unescaped."""
    for key in ("user.email", "$price", "a\\b", "", "a..b", "\\", "$not", "$in"):
        assert validate_filter({key: {"$eq": 1}}) == {key: {"$eq": 1}}
