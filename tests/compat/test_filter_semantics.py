"""Every filter vecs 0.4.5 accepts selects the rows vecs selects (issue 10, item 7; docs/filters.md,
"Deviations from vecs", lists the exceptions: range operators, values instead of operator objects,
{} elements).

vecs itself is not importable next to this package (it pins SQLAlchemy and psycopg2), so ``vecs_sql``
below transcribes vecs/collection.py ``build_filters`` clause by clause into the SQL SQLAlchemy emits
for it (checked against vecs 0.4.5 + SQLAlchemy 2.1 compiling the same filters), and the rows it
selects from the collection table are compared with vecs.query's.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.types.json import Jsonb

VECS_OPS = ("$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$contains")


class VecsRefuses(Exception):
    """vecs raised FilterError."""


def vecs_sql(filters: Any) -> tuple[sql.Composable | None, list[Any]]:
    """vecs's WHERE clause for a filter and its parameters; None where vecs's build_filters returns None."""
    params: list[Any] = []

    def build(f: Any) -> sql.Composable | None:
        if not isinstance(f, dict):
            raise VecsRefuses("filters must be a dict")
        if len(f) > 1:
            raise VecsRefuses("max 1 entry per filter")
        for key, value in f.items():
            if not isinstance(key, str):
                raise VecsRefuses("*filters* keys must be strings")
            if key in ("$and", "$or"):
                if not isinstance(value, list):
                    raise VecsRefuses("$and/$or filters must have associated list of conditions")
                parts = [build(sub) for sub in value]
                if not parts:
                    return sql.SQL("true")  # and_() / or_() without arguments: no condition
                return sql.SQL(" AND " if key == "$and" else " OR ").join(
                    sql.SQL("({})").format(p if p is not None else sql.SQL("NULL")) for p in parts)
            if isinstance(value, dict):
                if len(value) > 1:
                    raise VecsRefuses("only one operator permitted")
                for op, clause in value.items():
                    if op not in VECS_OPS:
                        raise VecsRefuses("unknown operator")
                    if op == "$eq" and not hasattr(clause, "__len__"):
                        params.append(Jsonb({key: clause}))
                        return sql.SQL("t.metadata @> %s::jsonb")
                    if op == "$in":
                        if not isinstance(clause, list):
                            raise VecsRefuses("argument to $in filter must be a list")
                        if any(not isinstance(e, (int, str, float)) for e in clause):
                            raise VecsRefuses("argument to $in filter must be a list of scalars")
                        if not clause:
                            return sql.SQL("false")  # SQLAlchemy's empty IN
                        params.append(key)
                        params.extend(Jsonb(e) for e in clause)
                        return sql.SQL("(t.metadata -> %s) IN ({})").format(sql.SQL(", ").join(sql.SQL("%s::jsonb") for _ in clause))
                    if op == "$contains":
                        if not isinstance(clause, (int, str, float)):
                            raise VecsRefuses("argument to $contains filter must be a scalar")
                        params.extend([key, Jsonb(clause), key])
                        return sql.SQL("((t.metadata -> %s) @> %s::jsonb) AND jsonb_typeof(t.metadata -> %s) = 'array'")
                    params.extend([key, Jsonb(clause)])
                    return sql.SQL("(t.metadata -> %s) {} %s::jsonb").format(sql.SQL(
                        {"$eq": "=", "$ne": "!=", "$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}[op]))
        return None

    return build(filters), params


# Records whose keys vecs takes literally and the old dotted syntax did not: dots, $, backslashes, "".
RECORDS = {
    "lit": {"user.email": "x@y.z", "$price": 3, "a\\b": 1, "": "empty", "$not": 1, "tags": ["a", 1, True]},
    "nest": {"user": {"email": "x@y.z"}, "price": 3, "a": {"b": 1}, "tags": [["a"], 2]},
    "arr": {"user.email": ["x@y.z"], "$price": [3], "tags": "a", "n": 1.0, "": None},
    "typed": {"user.email": None, "$price": "3", "n": "1", "flag": False, "obj": {"x": 1}},
    "num": {"n": 1, "$price": 3.0, "flag": True, "obj": {"x": 1, "y": 2}, "tags": []},
    "none": {},
}
KEYS = ["user.email", "$price", "a\\b", "", "$not", "tags", "user", "a", "n", "flag", "obj", "price", "missing", "$and!"]
SCALARS = ["x@y.z", "empty", "a", "3", "1", 1, 1.0, 2, 3, 3.0, True, False]
VALUES = SCALARS + [None, ["x@y.z"], [3], ["a", 1, True], [], {"x": 1}, {"email": "x@y.z"}, {"x": 1, "y": 2}]


def _clause(key: str):
    return st.one_of(
        st.sampled_from(VALUES).map(lambda v: {key: {"$eq": v}}),
        st.sampled_from(VALUES).map(lambda v: {key: {"$ne": v}}),
        st.lists(st.sampled_from(SCALARS), max_size=10).map(lambda v: {key: {"$in": v}}),
        st.sampled_from(SCALARS).map(lambda v: {key: {"$contains": v}}),
    )


CLAUSES = st.sampled_from(KEYS).flatmap(_clause)
FILTERS = st.recursive(
    CLAUSES,
    lambda inner: st.tuples(st.sampled_from(["$and", "$or"]), st.lists(inner, min_size=1, max_size=3)).map(lambda t: {t[0]: t[1]}),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def table(dsn):
    name = f"vecs semantics {uuid.uuid4().hex[:6]}"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("select vecs.create_collection(%s, 2)", (name,))
        c.execute("select vecs.upsert(%s, %s)", (name, Jsonb([[k, [1, i + 1], m] for i, (k, m) in enumerate(RECORDS.items())])))
        yield c, name
        c.execute("select vecs.drop_collection(%s)", (name,))


def _ours(conn, name: str, filters: dict) -> list[str]:
    rows = conn.execute("select id from vecs.query(%s, '[1,1]', k => 1000, filters => %s)", (name, Jsonb(filters)))
    return sorted(r[0] for r in rows)


def _vecs(conn, name: str, filters: dict) -> list[str]:
    where, params = vecs_sql(filters)
    if where is None:
        where = sql.SQL("NULL")
    query = sql.SQL("select t.id from vecs.{} as t where {}").format(sql.Identifier(name), where)
    return sorted(r[0] for r in conn.execute(query, params))


ISSUE_CASES = [
    ({"user.email": {"$eq": "x@y.z"}}, ["lit"]),  # the literal key, not user -> email
    ({"$price": {"$eq": 3}}, ["lit", "num"]),  # a key starting with $ (was a FilterError)
    ({"a\\b": {"$eq": 1}}, ["lit"]),  # a backslash in a key (matched nothing)
    ({"": {"$eq": "empty"}}, ["lit"]),  # the empty key (was a FilterError)
    ({"$not": {"$eq": 1}}, ["lit"]),  # the key "$not" (was a FilterError)
    ({"user.email": {"$ne": None}}, ["arr", "lit"]),
    ({"$price": {"$in": [3, "3"]}}, ["lit", "num", "typed"]),
    ({"tags": {"$contains": "a"}}, ["lit"]),
    ({"$or": [{"$price": {"$eq": 3}}, {"a\\b": {"$eq": 1}}]}, ["lit", "num"]),
]


@pytest.mark.parametrize(("filters", "expected"), ISSUE_CASES, ids=[json.dumps(f) for f, _ in ISSUE_CASES])
def test_issue_cases_select_what_vecs_selects(table, filters, expected):
    conn, name = table
    assert _vecs(conn, name, filters) == expected
    assert _ours(conn, name, filters) == expected


def test_nested_objects_are_paths_vecs_refuses(table):
    conn, name = table
    filters = {"user": {"email": {"$eq": "x@y.z"}}}
    with pytest.raises(VecsRefuses):
        vecs_sql(filters)
    assert _ours(conn, name, filters) == ["nest"]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(filters=FILTERS)
def test_every_vecs_filter_selects_what_vecs_selects(table, filters):
    conn, name = table
    assert _ours(conn, name, filters) == _vecs(conn, name, filters), filters
