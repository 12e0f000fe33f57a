"""The metadata filter language from SQL (issue 2, docs/filters.md): every operator on a fixed
dataset, vecs's edge cases, paths, GIN use, error messages (server = client) and hostile input."""

from __future__ import annotations

import json
import re
import uuid

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from vecs_sqlgen.exc import FilterError
from vecs_sqlgen.filters import validate_filter

from .helpers import raises

# The dataset: id → metadata. Vectors are irrelevant to filters (all records get one).
DATA = {
    "r1": {"n": 1, "s": "apple", "tags": ["a", "b"], "obj": {"x": 1, "y": {"z": "deep"}}, "flag": True},
    "r2": {"n": 2.0, "s": "banana", "name": "Banana", "tags": ["b"], "obj": {"x": 2}, "flag": False, "ключ": "значение"},
    "r3": {"n": "3", "s": "cherry", "tags": "a", "nul": None},
    "r4": {"n": 1.0, "arr": [1, 2], "version.major": 3, "a": {"b": 5}, "version": {"major": 4}},
    "r5": {"n": 10, "s": "apple pie", "arr": [2, 1], "$price": 7, "back\\slash": 1, "a.b": 6},
    "r6": {},
    "r7": {"n": -5, "s": "", "tags": [], "obj": {"x": 1}, "flag": "true"},
    "r8": {"n": [1], "s": "a_b%c", "tags": ["a", 1, True], "quote": "it's \"q\" $$ ; --"},
}
ALL = sorted(DATA)


def but(*ids: str) -> list[str]:
    return [i for i in ALL if i not in ids]


CASES: list[tuple[dict, list[str]]] = [
    # ------------------------------------------------------------------ empty filter
    ({}, ALL),
    # ------------------------------------------------------------------ $eq and the value shorthand
    ({"n": 1}, ["r1", "r4"]),  # 1 equals 1.0
    ({"n": 1.0}, ["r1", "r4"]),
    ({"n": {"$eq": 1}}, ["r1", "r4"]),
    ({"n": {"$eq": 2}}, ["r2"]),  # stored as 2.0
    ({"n": {"$eq": "3"}}, ["r3"]),
    ({"n": 3}, []),  # no cross-type equality
    ({"s": "apple"}, ["r1"]),
    ({"s": ""}, ["r7"]),
    ({"flag": True}, ["r1"]),
    ({"flag": False}, ["r2"]),
    ({"flag": "true"}, ["r7"]),
    ({"nul": None}, ["r3"]),
    ({"ключ": "значение"}, ["r2"]),
    ({"quote": "it's \"q\" $$ ; --"}, ["r8"]),
    ({"tags": "a"}, ["r3"]),  # $eq on a scalar never matches an array holding it
    ({"arr": [1, 2]}, ["r4"]),  # arrays compare whole, in order
    ({"arr": {"$eq": [1.0, 2.0]}}, ["r4"]),
    ({"arr": {"$eq": [2, 1]}}, ["r5"]),
    ({"arr": [1]}, []),
    ({"tags": []}, ["r7"]),
    ({"n": [1]}, ["r8"]),
    ({"obj": {"$eq": {"x": 1}}}, ["r7"]),  # objects compare whole: r1's obj has y too
    ({"obj": {"$eq": {"x": 1, "y": {"z": "deep"}}}}, ["r1"]),
    ({"obj": {"$eq": {}}}, []),
    # ------------------------------------------------------------------ $ne
    ({"n": {"$ne": 1}}, ["r2", "r3", "r5", "r7", "r8"]),  # missing key (r6) does not match
    ({"n": {"$ne": 1.0}}, ["r2", "r3", "r5", "r7", "r8"]),
    ({"flag": {"$ne": True}}, ["r2", "r7"]),
    ({"arr": {"$ne": [1, 2]}}, ["r5"]),
    ({"obj": {"$ne": {"x": 1}}}, ["r1", "r2"]),
    ({"nul": {"$ne": None}}, []),
    ({"s": {"$ne": "apple"}}, ["r2", "r3", "r5", "r7", "r8"]),
    # ------------------------------------------------------------------ $gt $gte $lt $lte (same JSON type only)
    ({"n": {"$gt": 1}}, ["r2", "r5"]),  # not "3" (a string), not [1]
    ({"n": {"$gt": 1.0}}, ["r2", "r5"]),
    ({"n": {"$gte": 1}}, ["r1", "r2", "r4", "r5"]),
    ({"n": {"$lt": 1}}, ["r7"]),
    ({"n": {"$lte": 1}}, ["r1", "r4", "r7"]),
    ({"n": {"$lte": 1.5}}, ["r1", "r4", "r7"]),
    ({"n": {"$gt": "2"}}, ["r3"]),  # strings with strings
    ({"n": {"$lt": "9"}}, ["r3"]),
    ({"s": {"$gte": "banana"}}, ["r2", "r3"]),
    ({"s": {"$lt": "b"}}, ["r1", "r5", "r7", "r8"]),
    ({"flag": {"$gt": 0}}, []),  # booleans are not numbers
    ({"n": {"$gte": 1, "$lt": 10}}, ["r1", "r2", "r4"]),  # several operators: implicit AND
    ({"n": {"$gt": -100, "$lt": 100}}, ["r1", "r2", "r4", "r5", "r7"]),
    # ------------------------------------------------------------------ $in / $nin (scalars)
    ({"n": {"$in": [1, "3"]}}, ["r1", "r3", "r4"]),
    ({"n": {"$in": [1.0]}}, ["r1", "r4"]),
    ({"n": {"$in": []}}, []),
    ({"arr": {"$in": [1, 2]}}, []),  # matches scalar values only, never an array holding one
    ({"tags": {"$in": ["a"]}}, ["r3"]),
    ({"flag": {"$in": [True, "true"]}}, ["r1", "r7"]),
    ({"n": {"$nin": [1, "3"]}}, ["r2", "r5", "r7", "r8"]),  # missing key (r6) does not match
    ({"n": {"$nin": []}}, but("r6")),
    ({"flag": {"$nin": [False]}}, ["r1", "r7"]),
    # ------------------------------------------------------------------ $contains (arrays holding a scalar)
    ({"tags": {"$contains": "a"}}, ["r1", "r8"]),  # not r3, whose tags is the scalar "a"
    ({"tags": {"$contains": "b"}}, ["r1", "r2"]),
    ({"tags": {"$contains": 1}}, ["r8"]),
    ({"tags": {"$contains": 1.0}}, ["r8"]),
    ({"tags": {"$contains": True}}, ["r8"]),
    ({"arr": {"$contains": 2}}, ["r4", "r5"]),
    ({"tags": {"$contains": "zz"}}, []),
    ({"s": {"$contains": "apple"}}, []),
    # ------------------------------------------------------------------ $exists
    ({"nul": {"$exists": True}}, ["r3"]),  # a JSON null is present
    ({"nul": {"$exists": False}}, but("r3")),
    ({"s": {"$exists": True}}, ["r1", "r2", "r3", "r5", "r7", "r8"]),
    ({"s": {"$exists": False}}, ["r4", "r6"]),
    ({"obj": {"y": {"$exists": True}}}, ["r1"]),
    # ------------------------------------------------------------------ $like / $ilike (strings only)
    ({"s": {"$like": "apple%"}}, ["r1", "r5"]),
    ({"s": {"$like": "%an%"}}, ["r2"]),
    ({"name": {"$like": "ban%"}}, []),
    ({"name": {"$ilike": "BAN%"}}, ["r2"]),
    ({"s": {"$like": "a\\_b\\%c"}}, ["r8"]),  # escaped _ and %
    ({"s": {"$like": "a_b%"}}, ["r8"]),
    ({"s": {"$like": "_____"}}, ["r1", "r8"]),  # apple, a_b%c
    ({"s": {"$like": ""}}, ["r7"]),
    ({"n": {"$like": "3"}}, ["r3"]),
    ({"n": {"$like": "1%"}}, []),  # numbers are not strings
    ({"tags": {"$like": "%"}}, ["r3"]),
    # ------------------------------------------------------------------ $not
    ({"n": {"$not": {"$gt": 1}}}, ["r1", "r3", "r4", "r6", "r7", "r8"]),  # missing keys match
    ({"n": {"$not": {"$eq": 1}}}, but("r1", "r4")),
    ({"n": {"$not": {"$ne": 1}}}, ["r1", "r4", "r6"]),
    ({"n": {"$not": {"$not": {"$eq": 1}}}}, ["r1", "r4"]),
    ({"n": {"$lte": 2, "$not": {"$eq": 1}}}, ["r2", "r7"]),
    ({"tags": {"$not": {"$contains": "a"}}}, but("r1", "r8")),
    ({"$not": {"n": 1}}, but("r1", "r4")),
    ({"$not": {"s": {"$exists": True}}}, ["r4", "r6"]),
    ({"$not": {}}, []),
    ({"$not": {"$not": {"n": 1}}}, ["r1", "r4"]),
    # ------------------------------------------------------------------ $and / $or / implicit AND, nesting
    ({"n": {"$gte": 1}, "s": {"$like": "apple%"}}, ["r1", "r5"]),
    ({"n": 1, "flag": True}, ["r1"]),
    ({"$and": [{"n": {"$gte": 1}}, {"tags": {"$contains": "b"}}]}, ["r1", "r2"]),
    ({"$or": [{"n": 10}, {"s": "cherry"}]}, ["r3", "r5"]),
    ({"$or": [{"$and": [{"n": 1}, {"flag": True}]}, {"$not": {"s": {"$exists": True}}}]}, ["r1", "r4", "r6"]),
    ({"$and": [{"$or": [{"n": 1}, {"n": 2}]}, {"$or": [{"flag": False}, {"arr": [1, 2]}]}]}, ["r2", "r4"]),
    ({"$and": [{"n": {"$gt": 0}}], "$or": [{"s": "apple"}, {"s": "banana"}], "flag": {"$exists": True}}, ["r1", "r2"]),
    ({"$not": {"$or": [{"n": 1}, {"s": {"$exists": False}}]}}, ["r2", "r3", "r5", "r7", "r8"]),
    # ------------------------------------------------------------------ keys: literal, as in vecs
    ({"a.b": 6}, ["r5"]),  # the key "a.b", not the path a -> b
    ({"a.b": {"$eq": 6}}, ["r5"]),
    ({"version.major": 3}, ["r4"]),
    ({"version.major": {"$gte": 3}}, ["r4"]),
    ({"$price": {"$gt": 0}}, ["r5"]),
    ({"$price": 7}, ["r5"]),
    ({"back\\slash": 1}, ["r5"]),
    ({"back\\slash": {"$in": [1, 2]}}, ["r5"]),
    ({"": {"$exists": True}}, []),
    ({"$not": {"$eq": 1}}, []),  # the metadata key "$not" (an operator object), as in vecs
    # ------------------------------------------------------------------ nested objects: paths
    ({"obj": {"x": 1}}, ["r1", "r7"]),
    ({"obj": {"x": {"$gt": 1}}}, ["r2"]),
    ({"obj": {"y": {"z": "deep"}}}, ["r1"]),
    ({"obj": {"y": {"z": {"$in": ["deep", "x"]}}}}, ["r1"]),
    ({"obj": {"y": {"z": {"$ne": "deep"}}}}, []),
    ({"obj": {"nope": {"$exists": False}}}, ALL),
    ({"obj": {"x": 1, "y": {"$exists": True}}}, ["r1"]),  # several keys: AND
    ({"obj": {"$exists": True, "x": {"$not": {"$eq": 1}}}}, ["r2"]),
    ({"obj": {"$not": {"x": 1}}}, but("r1", "r7")),
    ({"a": {"b": 5}}, ["r4"]),  # the path a -> b, not the key "a.b"
    ({"version": {"major": 4}}, ["r4"]),
    ({"version": {"major": 3}}, []),
    ({"tags": {"0": "a"}}, []),  # paths go into objects only
]


@pytest.fixture(scope="module")
def mconn(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        yield c


@pytest.fixture(scope="module")
def dataset(mconn):
    name = f"filters {uuid.uuid4().hex[:6]}"
    mconn.execute("select vecs.create_collection(%s, 2)", (name,))
    records = [[rid, [i + 1, 1], meta] for i, (rid, meta) in enumerate(sorted(DATA.items()))]
    assert mconn.execute("select vecs.upsert(%s, %s)", (name, Jsonb(records))).fetchone()[0] == len(DATA)
    yield name
    mconn.execute("select vecs.drop_collection(%s)", (name,))


def query_ids(conn, name: str, filters) -> list[str]:
    return sorted(
        r[0] for r in conn.execute("select id from vecs.query(%s, '[1,1]', k => 1000, filters => %s)", (name, Jsonb(filters)))
    )


def delete_ids(conn, name: str, filters) -> list[str]:
    """The ids delete would remove (the transaction is rolled back)."""
    try:
        with conn.transaction():
            got = sorted(r[0] for r in conn.execute("select * from vecs.delete(%s, filters => %s)", (name, Jsonb(filters))))
            raise _Rollback(got)
    except _Rollback as r:
        return r.ids


class _Rollback(Exception):
    def __init__(self, ids):
        self.ids = ids


@pytest.mark.parametrize("filters,expected", CASES, ids=[json.dumps(c[0], ensure_ascii=False) for c in CASES])
def test_filter_query(mconn, dataset, filters, expected):
    assert query_ids(mconn, dataset, filters) == sorted(expected)


@pytest.mark.parametrize("filters,expected", CASES, ids=[json.dumps(c[0], ensure_ascii=False) for c in CASES])
def test_filter_delete(mconn, dataset, filters, expected):
    # one compiler serves query and delete; {} deletes nothing (vecs)
    assert delete_ids(mconn, dataset, filters) == ([] if filters == {} else sorted(expected))
    assert mconn.execute("select vecs.count(%s)", (dataset,)).fetchone()[0] == len(DATA)


def _padded(node):
    """``node`` with every $in / $nin list grown past 8 values by values no record holds."""
    if isinstance(node, list):
        return [_padded(x) for x in node]
    if not isinstance(node, dict):
        return node
    pad = [f"\u0001pad{i}" for i in range(10)] + [-1e300]
    return {k: (v + pad if k in ("$in", "$nin") and isinstance(v, list) else _padded(v)) for k, v in node.items()}


IN_CASES = [(_padded(f), expected) for f, expected in CASES if "$in" in json.dumps(f)]


@pytest.mark.parametrize("filters,expected", IN_CASES, ids=[json.dumps(c[0])[:60] for c in IN_CASES])
def test_long_in_lists_hash_with_the_same_result(mconn, dataset, filters, expected):
    """More than 8 values compile to hashed equality instead of containment; results do not change."""
    assert query_ids(mconn, dataset, filters) == sorted(expected)
    assert delete_ids(mconn, dataset, filters) == sorted(expected)
    sql = compiled(mconn, filters)[0]
    assert "= ANY ($2[" in sql and "@> ANY" not in sql, sql


def test_cases_are_valid_client_side():
    for filters, _ in CASES:
        assert validate_filter(filters) == filters


def test_filter_with_exact_search_threshold_zero(mconn, dataset):
    # without the exact-search shortcut the result is the same
    with mconn.transaction():
        mconn.execute("set local vecs.exact_search_threshold = 0")
        for filters, expected in CASES[:40]:
            assert query_ids(mconn, dataset, filters) == sorted(expected), filters


def test_filters_null_means_no_filter(mconn, dataset):
    got = mconn.execute("select id from vecs.query(%s, '[1,1]', k => 1000, filters => null)", (dataset,)).fetchall()
    assert sorted(r[0] for r in got) == ALL


def test_large_numbers_and_precision(conn, collection):
    conn.execute(
        "select vecs.upsert(%s, '[[\"big\", [1,1,1], {\"v\": 12345678901234567890}], [\"dec\", [1,1,1], {\"v\": 0.1}]]')",
        (collection,),
    )
    ids = lambda f: sorted(r[0] for r in conn.execute("select id from vecs.query(%s, '[1,1,1]', filters => %s)", (collection, f)))  # noqa: E731
    assert ids('{"v": 12345678901234567890}') == ["big"]
    assert ids('{"v": 12345678901234567891}') == []
    assert ids('{"v": {"$gt": 12345678901234567889}}') == ["big"]
    assert ids('{"v": 0.10}') == ["dec"]
    assert ids('{"v": {"$in": [0.1000]}}') == ["dec"]


# ----------------------------------------------------------------------------- the GIN index


def compiled(conn, filters) -> tuple[str, list, list]:
    row = conn.execute("select sql, keys, vals from vecs._compile_filter(%s)", (Jsonb(filters),)).fetchone()
    return row[0], row[1], row[2]


def plan(conn, name: str, filters) -> str:
    """EXPLAIN of the compiled filter over the collection, its keys and operands bound as $1 and $2."""
    sql, keys, vals = compiled(conn, filters)
    with conn.transaction():
        conn.execute("set local enable_seqscan = off")
        cur = psycopg.RawCursor(conn)
        cur.execute(
            # $1 (the keys) is typed here: containment-only filters do not mention it
            f'explain (costs off) select t.id from vecs."{name}" as t where cardinality($1::text[]) >= 0 and {sql}',
            (keys, [Jsonb(v) for v in vals]),
        )
        return "\n".join(r[0] for r in cur.fetchall())


@pytest.mark.parametrize(
    "filters",
    [
        {"n": 1},
        {"n": {"$eq": "3"}},
        {"flag": True},
        {"nul": None},
        {"obj": {"y": {"z": "deep"}}},
        {"tags": {"$contains": "a"}},
        {"tags": {"$contains": 1}},
        {"n": {"$in": [1, 2]}},
        {"n": 1, "tags": {"$contains": "a"}},
    ],
    ids=json.dumps,
)
def test_gin_index_used(mconn, dataset, filters):
    text = plan(mconn, dataset, filters)
    assert re.search(r"Bitmap Index Scan on ix_meta_[0-9a-f_]{7}\b", text), text
    # containment, which jsonb_path_ops answers
    assert "@>" in compiled(mconn, filters)[0]


def test_compiled_sql_holds_no_user_data(mconn):
    hostile = {"k'; drop table x; --": {"$eq": "v'); delete from y; --"}, "a.b\\.c": {"d'--": {"$gt": "$$ $1 %s"}}}
    sql, keys, vals = compiled(mconn, hostile)
    for fragment in ("drop", "delete", "$$", "%s", "k'", "a.b"):
        assert fragment not in sql
    assert "'" not in sql.replace("'{}'", "").replace("'string'", ""), sql
    assert "k'; drop table x; --" in keys and "a.b\\.c" in keys and "d'--" in keys


# ----------------------------------------------------------------------------- errors (docs/filters.md)

def deep_list(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


ERRORS: list[tuple[object, str]] = [
    (5, "filters must be a JSON object, got number"),
    ([], "filters must be a JSON object, got array"),
    ([{"a": 1}], "filters must be a JSON object, got array"),
    ("a = 1", "filters must be a JSON object, got string"),
    (True, "filters must be a JSON object, got boolean"),
    ({"$and": []}, "filter: $and expects a non-empty array of non-empty filter objects"),
    ({"$or": []}, "filter: $or expects a non-empty array of non-empty filter objects"),
    ({"$and": {"a": 1}}, "filter: $and expects a non-empty array of non-empty filter objects"),
    ({"$or": [1]}, "filter: $or expects a non-empty array of non-empty filter objects"),
    ({"$and": [{"a": 1}, "b"]}, "filter: $and expects a non-empty array of non-empty filter objects"),
    ({"$or": [None]}, "filter: $or expects a non-empty array of non-empty filter objects"),
    ({"$or": [{"n": 1}, {}]}, "filter: $or expects a non-empty array of non-empty filter objects"),
    ({"$and": [{}]}, "filter: $and expects a non-empty array of non-empty filter objects"),
    ({"$foo": {"$x": 1}}, 'filter on "$foo": unknown operator "$x"'),
    ({"$not": {"$exists": 1}}, 'filter on "$not": $exists expects true or false, got number'),
    ({"": {}}, 'filter on "": empty operator object'),
    ({"a..b": {"$x": 1}}, 'filter on "a..b": unknown operator "$x"'),
    ({"a": {}}, 'filter on "a": empty operator object'),
    ({"a": {"$foo": 1}}, 'filter on "a": unknown operator "$foo"'),
    ({"a": {"b": {}}}, 'filter on "a"."b": empty operator object'),
    ({"a": {"b": {"c": {"$in": 1}}}}, 'filter on "a"."b"."c": $in expects an array of scalars'),
    ({"a": {"$eq": 1, "b": {"$bad": 1}}}, 'filter on "a"."b": unknown operator "$bad"'),
    ({"a": {"$and": [{"b": 1}]}}, 'filter on "a": unknown operator "$and"'),
    ({"a": {"$gt": True}}, 'filter on "a": $gt expects a number or a string, got boolean'),
    ({"a": {"$gte": None}}, 'filter on "a": $gte expects a number or a string, got null'),
    ({"a": {"$lt": [1]}}, 'filter on "a": $lt expects a number or a string, got array'),
    ({"a": {"$lte": {}}}, 'filter on "a": $lte expects a number or a string, got object'),
    ({"a": {"$in": 1}}, 'filter on "a": $in expects an array of scalars'),
    ({"a": {"$in": [[1]]}}, 'filter on "a": $in expects an array of scalars'),
    ({"a": {"$in": [None]}}, 'filter on "a": $in expects an array of scalars'),
    ({"a": {"$nin": "x"}}, 'filter on "a": $nin expects an array of scalars'),
    ({"a": {"$nin": [{"b": 1}]}}, 'filter on "a": $nin expects an array of scalars'),
    ({"a": {"$contains": [1]}}, 'filter on "a": $contains expects a scalar, got array'),
    ({"a": {"$contains": None}}, 'filter on "a": $contains expects a scalar, got null'),
    ({"a": {"$contains": {}}}, 'filter on "a": $contains expects a scalar, got object'),
    ({"a": {"$exists": 1}}, 'filter on "a": $exists expects true or false, got number'),
    ({"a": {"$exists": "true"}}, 'filter on "a": $exists expects true or false, got string'),
    ({"a": {"$like": 1}}, 'filter on "a": $like expects a string pattern, got number'),
    ({"a": {"$ilike": None}}, 'filter on "a": $ilike expects a string pattern, got null'),
    ({"a": {"$like": "50%\\"}}, 'filter on "a": $like pattern must not end with the escape character \\'),
    ({"a": {"$ilike": "\\\\\\"}}, 'filter on "a": $ilike pattern must not end with the escape character \\'),
    ({"a": {"$not": 1}}, 'filter on "a": $not expects an operator object, got number'),
    ({"a": {"$not": {}}}, 'filter on "a": empty operator object'),
    ({"a": {"$not": {"$bad": 1}}}, 'filter on "a": unknown operator "$bad"'),
    ({"a.b": {"$not": {"$gt": []}}}, 'filter on "a.b": $gt expects a number or a string, got array'),
    ({"a\\.b": {}}, 'filter on "a\\.b": empty operator object'),
    ({"a": {"$eq": deep_list(513)}}, 'filter on "a": value nested deeper than 512 levels'),
    ({"a": deep_list(700)}, 'filter on "a": value nested deeper than 512 levels'),
    ({'say "hi"': {}}, 'filter on "say "hi"": empty operator object'),
    ({"ключ": {"$in": {}}}, 'filter on "ключ": $in expects an array of scalars'),
    # the first fault wins: keys in jsonb order (shorter first, then bytewise), arrays in order, depth first
    ({"b": {"$foo": 1}, "a": {}}, 'filter on "a": empty operator object'),
    ({"aa": {}, "b": {"$foo": 1}}, 'filter on "b": unknown operator "$foo"'),
    ({"a": {"$in": 1, "$gt": None}}, 'filter on "a": $gt expects a number or a string, got null'),
    ({"a": {"$lte": [], "$in": 5}}, 'filter on "a": $in expects an array of scalars'),
    ({"$and": [{"x": {}}, {"$foo": {"$bar": 1}}]}, 'filter on "x": empty operator object'),
    ({"$or": [{"x": 1}, {"y": {"$nope": 1}}], "$and": []}, 'filter on "y": unknown operator "$nope"'),
    ({"$and": [{"x": 1}], "$or": [], "a": {}}, 'filter on "a": empty operator object'),
    ({"$and": [{"$or": [{"$not": {"k": {"$exists": 0}}}]}]}, 'filter on "k": $exists expects true or false, got number'),
    ({"zz": {}, "$foo": {}}, 'filter on "zz": empty operator object'),
]


def nested(levels: int, op: str) -> dict:
    f: dict = {"a": 1}
    for _ in range(levels):
        f = {"$not": f} if op == "$not" else {op: [f]}
    return f


def nested_path(levels: int) -> dict:
    value: object = 1
    for _ in range(levels):
        value = {"p": value}
    return {"a": value}


def nested_key_not(levels: int) -> dict:
    ops: dict = {"$eq": 1}
    for _ in range(levels):
        ops = {"$not": ops}
    return {"a": ops}


DEPTH_ERRORS = [
    (nested(33, "$and"), "filter: nested deeper than 32 levels"),
    (nested(33, "$or"), "filter: nested deeper than 32 levels"),
    (nested(33, "$not"), "filter: nested deeper than 32 levels"),
    (nested_key_not(33), "filter: nested deeper than 32 levels"),
    (nested_path(33), "filter: nested deeper than 32 levels"),
]
DEPTH_OK = [nested(32, "$and"), nested(32, "$or"), nested(32, "$not"), nested_key_not(32), nested_path(32)]


def conditions(n: int, op: str = "$or") -> dict:
    """``op`` over n conditions: 2n + 1 JSON objects."""
    return {op: [{"a": {"$gt": i}} for i in range(n)]}


def or_of_in(clauses: int, values: int) -> dict:
    return {"$or": [{"n": {"$in": list(range(i * values, (i + 1) * values))}} for i in range(clauses)]}


# The work limits (1,000 JSON objects, 10,000 values, 1 MiB) are checked before anything else,
# even a bad operator; the first two filters are issue 10's (seconds to compile and run before).
SIZE_ERRORS = [
    (or_of_in(999, 100), "filter: holds 1999 JSON objects, more than 1000 (use $in for a long list of values)"),
    (or_of_in(300, 1000), "filter: holds 300000 values, more than 10000"),
    (conditions(500), "filter: holds 1001 JSON objects, more than 1000 (use $in for a long list of values)"),
    (conditions(1500, "$and"), "filter: holds 3001 JSON objects, more than 1000 (use $in for a long list of values)"),
    ({"$bad": 1, "a": {"$contains": [{} for _ in range(1000)]}},
     "filter: holds 1002 JSON objects, more than 1000 (use $in for a long list of values)"),
    ({"a": {"$in": list(range(10001))}}, "filter: holds 10001 values, more than 10000"),
    ({"a": {"$bad": ["x"] * 10001}}, "filter: holds 10001 values, more than 10000"),
    ({"a": "x" * (1024 * 1024)}, "filter: larger than 1048576 bytes as jsonb"),
    ({"a": {"$in": ["y" * 200] * 5300}}, "filter: larger than 1048576 bytes as jsonb"),
]
SIZE_OK = [conditions(499), or_of_in(499, 20), {"a": {"$in": list(range(10000))}}, {"a": "x" * (1024 * 1024 - 100)}]

def _shown(f) -> str:
    try:
        return json.dumps(f, ensure_ascii=False)[:60]
    except RecursionError:
        return "deep"


ERROR_IDS = (
    [_shown(f) for f, _ in ERRORS]
    + [f"depth-{i}" for i in range(len(DEPTH_ERRORS))]
    + [f"size-{i}" for i in range(len(SIZE_ERRORS))]
)


@pytest.mark.parametrize("filters,message", ERRORS + DEPTH_ERRORS + SIZE_ERRORS, ids=ERROR_IDS)
def test_bad_filter_is_vx002_with_documented_message(mconn, dataset, filters, message):
    with raises("VX002", message):
        mconn.execute("select vecs._compile_filter(%s)", (Jsonb(filters),))
    with raises("VX002", message):
        mconn.execute("select * from vecs.query(%s, '[1,1]', filters => %s)", (dataset, Jsonb(filters)))
    with raises("VX002", message):
        mconn.execute("select * from vecs.delete(%s, filters => %s)", (dataset, Jsonb(filters)))
    assert mconn.execute("select vecs.count(%s)", (dataset,)).fetchone()[0] == len(DATA)


@pytest.mark.parametrize("filters,message", ERRORS + DEPTH_ERRORS + SIZE_ERRORS, ids=ERROR_IDS)
def test_client_and_server_agree(mconn, filters, message):
    """vecs_sqlgen.filters.validate_filter raises FilterError with exactly the server's message."""
    with pytest.raises(FilterError) as client:
        validate_filter(filters)
    with raises("VX002") as server:
        mconn.execute("select vecs._compile_filter(%s)", (Jsonb(filters),))
    assert str(client.value) == server.message == message


@pytest.mark.parametrize("filters", DEPTH_OK, ids=["and", "or", "not", "key-not", "path"])
def test_depth_32_is_fine(mconn, dataset, filters):
    validate_filter(filters)
    mconn.execute("select * from vecs.query(%s, '[1,1]', filters => %s)", (dataset, Jsonb(filters))).fetchall()


@pytest.mark.parametrize("filters", SIZE_OK, ids=["499-conditions", "499x20-in", "in-10000", "1MB"])
def test_size_below_the_limit_is_fine(mconn, dataset, filters):
    validate_filter(filters)
    mconn.execute("select * from vecs.query(%s, '[1,1]', filters => %s)", (dataset, Jsonb(filters))).fetchall()


def test_sql_null_filter_to_compiler(mconn):
    with raises("VX002", "filters must be a JSON object, got NULL"):
        mconn.execute("select vecs._compile_filter(null)")
    with raises("VX002", "filters must be a JSON object, got null"):
        mconn.execute("select vecs._compile_filter('null'::jsonb)")


def test_filter_errors_never_postgres_syntax_errors(mconn, dataset):
    # keys and values that would break SQL if they were spliced in
    for filters in (
        {"a'": 1},
        {"a\"": {"$gt": "'"}},
        {"a$$": {"$like": "$$"}},
        {"\\$$": {"$ne": "$$"}},
        {"a); drop table x; --": {"$in": ["'", "\\", ";"]}},
        {"%I %L %s": {"$contains": "%s"}},
    ):
        mconn.execute("select * from vecs.query(%s, '[1,1]', filters => %s)", (dataset, Jsonb(filters))).fetchall()


# ----------------------------------------------------------------------------- hostile input, property-based

HOSTILE = st.sampled_from(
    ["'", '"', "\\", "$$", "$1", ";", "--", "/*", "*/", "%s", "%I", "%%", ".", "\\.", "$", "\u200f", "\u202e",
     "שלום", "\u0301", "e\u0301", "😀", "\t", "\n", "ß", "NULL", "drop table x", " ", "{}", "[]", ")"]
)
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=6)
STRINGS = st.lists(st.one_of(HOSTILE, TEXT), min_size=0, max_size=3).map("".join)
SCALARS = st.one_of(STRINGS, st.integers(-(10**20), 10**20), st.floats(allow_nan=False, allow_infinity=False, width=32), st.booleans())
JSON = st.recursive(
    st.one_of(st.none(), SCALARS),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(STRINGS, inner, max_size=3)),
    max_leaves=6,
)
VALID_OPS = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains", "$exists", "$like", "$ilike", "$not"]
OPS = st.one_of(st.sampled_from(VALID_OPS), st.sampled_from(VALID_OPS), st.sampled_from(VALID_OPS + ["$bogus", "$", "x"]))
# keys are literal: hostile strings, and the dataset's keys
KEYS = st.one_of(
    STRINGS.map(lambda k: "k" + k),
    STRINGS,
    st.sampled_from(["a", "a.b", "a\\.b", "$x", "$not", "$price", "obj", "tags", "n", "s", "a..b", "x\\", ""]),
)
ARRAYS = st.lists(st.one_of(st.none(), SCALARS), max_size=3)


def _operand(op: str):
    """Mostly operands the operator takes (so that many filters run), sometimes anything."""
    if op in ("$in", "$nin"):
        valid = st.lists(SCALARS, max_size=3)
    elif op == "$exists":
        valid = st.booleans()
    elif op == "$not":
        return st.one_of(st.deferred(lambda: OPERATORS), JSON)
    elif op in ("$gt", "$gte", "$lt", "$lte", "$like", "$ilike", "$contains"):
        valid = SCALARS
    else:
        valid = st.one_of(SCALARS, st.none(), ARRAYS)
    return st.one_of(valid, valid, JSON)


OPERATORS = st.dictionaries(OPS, st.just(None), min_size=1, max_size=2).flatmap(
    lambda d: st.fixed_dictionaries({op: _operand(op) for op in d})
)


def _filters(inner):
    key_clause = st.tuples(KEYS, st.one_of(OPERATORS, OPERATORS, SCALARS, ARRAYS, JSON))
    clause = st.one_of(
        key_clause,
        key_clause,
        key_clause,
        st.tuples(st.sampled_from(["$and", "$or"]), st.one_of(st.lists(inner, min_size=1, max_size=3), JSON)),
        st.tuples(st.just("$not"), st.one_of(inner, inner, JSON)),
        st.tuples(st.sampled_from(["$bad", "$", "$$", "$1"]), JSON),
    )
    return st.lists(clause, max_size=3).map(dict)


FILTERS = st.recursive(st.just({}), _filters, max_leaves=8)


@pytest.fixture(scope="module")
def canary(mconn):
    schema = f"canary_{uuid.uuid4().hex[:6]}"
    mconn.execute(f"create schema {schema}")
    mconn.execute(f"create table {schema}.t (id int primary key, secret text)")
    mconn.execute(f"insert into {schema}.t values (1, 'untouched')")
    yield schema
    mconn.execute(f"drop schema {schema} cascade")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(filters=FILTERS)
def test_hostile_filters_return_rows_or_vx002(mconn, dataset, canary, filters):
    try:
        client_error = None
        validate_filter(filters)
    except FilterError as e:
        client_error = str(e)
    for sql in (
        "select id from vecs.query(%s, '[1,1]', k => 1000, filters => %s)",
        "select * from vecs.delete(%s, filters => %s)",
    ):
        try:
            with mconn.transaction():
                got = mconn.execute(sql, (dataset, Jsonb(filters))).fetchall()
                assert {r[0] for r in got} <= set(DATA)
                raise _Rollback(None)  # never delete
        except _Rollback:
            assert client_error is None, f"server accepted what the client rejects: {client_error}"
        except psycopg.Error as e:
            assert e.sqlstate == "VX002", f"{e.sqlstate}: {e.diag.message_primary}"
            assert e.diag.message_primary == client_error
    assert mconn.execute(f"select id, secret from {canary}.t").fetchall() == [(1, "untouched")]
    assert mconn.execute("select vecs.count(%s)", (dataset,)).fetchone()[0] == len(DATA)


def test_canary_still_there_after_hostile_filters(mconn, canary, dataset):
    assert mconn.execute(f"select id, secret from {canary}.t").fetchall() == [(1, "untouched")]
    assert mconn.execute("select count(*) from pg_namespace where nspname = %s", (canary,)).fetchone()[0] == 1
    assert query_ids(mconn, dataset, {}) == ALL


# ----------------------------------------------------------------------------- valid filters against a reference

MISSING = object()


def _jtype(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def _equal(a, b) -> bool:
    if _jtype(a) != _jtype(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return a == b


def _like(value: str, pattern: str, ci: bool) -> bool:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(out), value, re.DOTALL | (re.IGNORECASE if ci else 0)) is not None


def _lookup(meta, path: tuple[str, ...]):
    v = meta
    for seg in path:
        if not isinstance(v, dict) or seg not in v:
            return MISSING
        v = v[seg]
    return v


def _cond(meta, path: tuple[str, ...], cond) -> bool:
    """A key's value or object: operators on the value at ``path``, other keys one level deeper."""
    if not isinstance(cond, dict):
        return _op(_lookup(meta, path), "$eq", arg=cond)
    for key, arg in cond.items():
        if key == "$not":
            ok = not _cond(meta, path, arg)
        elif key.startswith("$"):
            ok = _op(_lookup(meta, path), key, arg)
        else:
            ok = _cond(meta, (*path, key), arg)
        if not ok:
            return False
    return True


def _op(v, op: str, arg) -> bool:
    present = v is not MISSING
    if op == "$eq":
        return present and _equal(v, arg)
    if op == "$ne":
        return present and not _equal(v, arg)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if not present or _jtype(v) != _jtype(arg):
            return False
        return {"$gt": v > arg, "$gte": v >= arg, "$lt": v < arg, "$lte": v <= arg}[op]
    if op == "$in":
        return present and any(_equal(v, x) for x in arg)
    if op == "$nin":
        return present and not any(_equal(v, x) for x in arg)
    if op == "$contains":
        return present and isinstance(v, list) and any(_equal(x, arg) for x in v)
    if op == "$exists":
        return present == arg
    if op in ("$like", "$ilike"):
        return present and isinstance(v, str) and _like(v, arg, op == "$ilike")
    raise AssertionError(op)


OPERATOR_NAMES = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains", "$exists", "$like", "$ilike"}


def reference_match(meta: dict, filters: dict) -> bool:
    """docs/filters.md, in Python (two-valued: a missing key makes a comparison false)."""
    for key, value in filters.items():
        if key == "$and":
            ok = all(reference_match(meta, f) for f in value)
        elif key == "$or":
            ok = any(reference_match(meta, f) for f in value)
        elif key == "$not" and isinstance(value, dict) and not OPERATOR_NAMES & value.keys():
            ok = not reference_match(meta, value)
        else:  # a metadata key, literal
            ok = _cond(meta, (key,), value)
        if not ok:
            return False
    return True


def test_reference_agrees_with_table():
    for filters, expected in CASES:
        assert sorted(i for i in ALL if reference_match(DATA[i], filters)) == sorted(expected), filters


# key paths: a top-level key (literal, as in vecs) and the nested keys below it
KEY_POOL = [("n",), ("s",), ("tags",), ("arr",), ("obj",), ("obj", "x"), ("obj", "y"), ("obj", "y", "z"), ("flag",),
            ("nul",), ("a",), ("a", "b"), ("a.b",), ("version",), ("version", "major"), ("version.major",), ("$price",),
            ("back\\slash",), ("quote",), ("missing",), ("ключ",), ("",), ("$not",)]
SCALAR_POOL = [0, 1, 1.0, 2, 2.5, -5, 10, "3", "a", "b", "apple", "banana", "cherry", "", "значение", True, False,
               "it's \"q\" $$ ; --"]
VALUE_POOL = SCALAR_POOL + [None, [1, 2], [2, 1], [], [1], ["b"], {"x": 1}, {}, {"major": 4}]
# strings whose order is the same under every collation (lowercase ASCII words, digits, empty)
RANGE_POOL = [-5, 0, 1, 1.0, 1.5, 2, 10, 11, "", "3", "a", "apple", "b", "banana", "c", "cherry", "z"]
LIKE_POOL = ["apple%", "%an%", "a\\_b\\%c", "a_b%", "_____", "", "%", "BAN%", "3", "%e", "a%", "%\\%%", "it''s%"]
VALID_OP_NAMES = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains", "$exists", "$like", "$ilike", "$not"]


def _values_at(key: tuple[str, ...]) -> list:
    return [v for v in (_lookup(DATA[i], key) for i in ALL) if v is not MISSING]


def _pool(key: tuple[str, ...], general: list, keep=lambda v: True):
    """Mostly values the dataset has at ``key`` (so that filters select some records), else ``general``."""
    local = [v for v in _values_at(key) if keep(v)]
    general = [v for v in general if keep(v)]
    if not local:
        return st.sampled_from(general)
    return st.one_of(st.sampled_from(local), st.sampled_from(local), st.sampled_from(general))


def _is_scalar(v) -> bool:
    return _jtype(v) in ("string", "number", "boolean")


def _range_safe(v) -> bool:
    # numbers, and strings that every collation orders the same way
    return _jtype(v) == "number" or (isinstance(v, str) and re.fullmatch("[a-z0-9]*", v) is not None)


def _valid_operand(key: tuple[str, ...], op: str):
    if op in ("$eq", "$ne"):
        return _pool(key, VALUE_POOL)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return _pool(key, RANGE_POOL, _range_safe)
    if op in ("$in", "$nin"):
        # up to 8 values compile to containment, more to hashed equality: both forms are drawn
        return st.lists(_pool(key, SCALAR_POOL, _is_scalar), max_size=12)
    if op == "$contains":
        elements = [x for v in _values_at(key) if isinstance(v, list) for x in v if _is_scalar(x)]
        return st.sampled_from(elements + SCALAR_POOL) if elements else st.sampled_from(SCALAR_POOL)
    if op == "$exists":
        return st.booleans()
    if op in ("$like", "$ilike"):
        prefixes = [v[:2] + "%" for v in _values_at(key) if isinstance(v, str)]
        return st.sampled_from(prefixes + LIKE_POOL)
    return _valid_operators(key)  # $not


def _valid_operators(key: tuple[str, ...]):
    return st.lists(st.sampled_from(VALID_OP_NAMES), min_size=1, max_size=2, unique=True).flatmap(
        lambda ops: st.fixed_dictionaries({op: st.deferred(lambda op=op: _valid_operand(key, op)) for op in ops})
    )


def _nest_in(path: tuple[str, ...], cond):
    for name in reversed(path[1:]):
        cond = {name: cond}
    return cond


def _key_clause(key: tuple[str, ...]):
    shorthand = _pool(key, VALUE_POOL, lambda v: not isinstance(v, dict))
    return st.one_of(_valid_operators(key), shorthand).map(lambda cond: (key[0], _nest_in(key, cond)))


KEY_CLAUSE = st.sampled_from(KEY_POOL).flatmap(_key_clause)
VALID_FILTERS = st.recursive(
    st.lists(KEY_CLAUSE, min_size=1, max_size=2).map(dict),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda fs: {"$or": fs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda fs: {"$and": fs}),
        inner.map(lambda f: {"$not": f}),
        st.tuples(inner, inner).map(lambda t: {**t[0], **{k: v for k, v in t[1].items() if k not in t[0]}}),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(filters=VALID_FILTERS)
def test_valid_filters_match_reference(mconn, dataset, filters):
    assert validate_filter(filters) == filters
    expected = sorted(i for i in ALL if reference_match(DATA[i], filters))
    assert query_ids(mconn, dataset, filters) == expected


@pytest.mark.parametrize("op", ["$like", "$ilike"])
def test_like_pattern_ending_in_backslash_is_rows_or_vx002(mconn, dataset, op):
    filters = {"s": {op: "%\\"}}  # every string reaches the escape character
    for stmt in (
        "select id from vecs.query(%s, '[1,1]', k => 1000, filters => %s)",
        "select * from vecs.delete(%s, filters => %s)",
    ):
        try:
            with mconn.transaction():
                mconn.execute(stmt, (dataset, Jsonb(filters))).fetchall()
                raise _Rollback(None)
        except _Rollback:
            pass
        except psycopg.Error as e:
            assert e.sqlstate == "VX002", f"{e.sqlstate}: {e.diag.message_primary}"
            assert '"s"' in e.diag.message_primary and op in e.diag.message_primary
    assert mconn.execute("select vecs.count(%s)", (dataset,)).fetchone()[0] == len(DATA)


SHORTCUT = [
    {"k": "v"}, {"k": 1}, {"k": 1.5}, {"k": True}, {"k": None}, {"k": {"$eq": "v"}}, {"k": {"$eq": None}},
    {"ключ 'x'": "v'); drop table x; --"}, {"k": ""}, {"a.b": 1}, {"a\\.b": 1}, {"": 1}, {"$price": {"$eq": 3}},
    {"$not": 1},
    # not the shortcut: the general compiler's result either way
    {"k": [1]}, {"k": {"$gt": 1}}, {"k": {"$eq": [1]}}, {"k": {"$eq": 1, "$ne": 2}}, {"a": {"b": 1}},
    {"k": {"$ne": 1}}, {"a": 1, "b": 2}, {"$and": [{"a": 1}]}, {"$not": {"a": 1}},
]
SHORTCUT_TAKEN = 14


@pytest.mark.parametrize("n", range(len(SHORTCUT)), ids=[json.dumps(f, ensure_ascii=False) for f in SHORTCUT])
def test_single_key_shortcut_compiles_as_the_general_compiler(mconn, n):
    """_compile_filter's shortcut for {"key": scalar} gives exactly what _filter_clauses gives; the
    first SHORTCUT_TAKEN filters take it (the general compiler is not called), the others do not."""
    filters = Jsonb(SHORTCUT[n])

    def general_calls() -> int:
        return mconn.execute("select coalesce(sum(calls), 0) from pg_stat_xact_user_functions "
                             "where schemaname = 'vecs' and funcname = '_filter_clauses'").fetchone()[0]

    with mconn.transaction():
        mconn.execute("set local track_functions = 'pl'")
        before = general_calls()
        fast = mconn.execute("select * from vecs._compile_filter(%s)", (filters,)).fetchone()
        assert (general_calls() == before) == (n < SHORTCUT_TAKEN)
    general = mconn.execute("select * from vecs._filter_clauses(%s)", (filters,)).fetchone()
    assert fast == general


@pytest.mark.parametrize("filters, message", [({"$and": 1}, "filter: $and expects a non-empty array of non-empty filter objects"),
                                               ({"$or": "x"}, "filter: $or expects a non-empty array of non-empty filter objects"),
                                               ({"k": "x" * (1024 * 1024)}, "filter: larger than 1048576 bytes as jsonb"),
                                               ({"k": {"$eq": "x" * (1024 * 1024)}}, "filter: larger than 1048576 bytes as jsonb")])
def test_single_key_shortcut_leaves_errors_to_the_compiler(mconn, filters, message):
    with raises("VX002", message):
        mconn.execute("select * from vecs._compile_filter(%s)", (Jsonb(filters),))
