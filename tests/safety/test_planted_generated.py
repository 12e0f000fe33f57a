"""Generated planted objects and hostile settings (issue 10): hypothesis draws one function of the layer
(or a pgvector function or distance operator), an overload of it with argument types an untyped or
loosely typed call could prefer, a set of hostile session settings and a filter; the overload is
planted (as a superuser: the worst case, an admin who granted CREATE anyway) and the whole API is
run in the same transaction, which is then rolled back. A planted object that is called raises and
fails the case; the results must equal those of a clean session. tests/sql/test_planted.py plants
every variant at once, on both install routes, through SQL and Python."""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg import sql
from psycopg.types.json import Jsonb

from vecs_sqlgen import install

from ._support import CASES, budget, examples, outcome, ran

TYPES = ("text", "varchar", "name", "anyelement", '"char"', "json", "bigint", "numeric", "oid", "regclass",
         "text[]", "jsonb", "integer", "boolean")
HOSTILE = {
    "standard_conforming_strings": ["off"],
    "gin_fuzzy_search_limit": ["1", "5"],
    "plpgsql.extra_errors": ["all", "shadowed_variables"],
    "transform_null_equals": ["on"],
    "search_path": ["public, pg_temp", "pg_temp, vecs, public", "vecs"],
    "array_nulls": ["off"],
    "enable_seqscan": ["off"],
    "enable_indexscan": ["off"],
    "hnsw.ef_search": ["1"],
    "hnsw.iterative_scan": ["strict_order", "off"],
}
FILTERS = [
    {"tag": "x"},
    {"n": {"$gte": 250}},
    {"$or": [{"tag": "x"}, {"n": {"$in": list(range(12))}}]},
    {"n": {"$nin": [1, 2]}, "tag": {"$exists": True}},
    {"$not": {"tag": {"$like": "x%"}}},
]
COLLECTION = 'planted "target"'


@pytest.fixture(scope="module")
def target(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("select vecs.drop_collection(%s)", (COLLECTION,))
        c.execute("select vecs.create_collection(%s, 3)", (COLLECTION,))
        records = [[f"r{i}", [1.0, i / 500, 0.5], {"n": i, **({"tag": "x"} if i % 7 == 0 else {})}] for i in range(500)]
        c.execute("select vecs.upsert(%s, %s)", (COLLECTION, Jsonb(records)))
        c.execute("select vecs.create_index(%s)", (COLLECTION,))
        c.execute(sql.SQL("analyze {}").format(sql.Identifier("vecs", COLLECTION)))
        funcs = c.execute(
            "select p.proname::text, array(select format_type(t, null) from unnest(p.proargtypes) as t)"
            " from pg_proc p where p.pronamespace = 'vecs'::regnamespace order by 1, 2").fetchall()
        vector_schema = install.detect(c).vector_schema
    yield {"functions": funcs, "vector_schema": vector_schema}
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("select vecs.drop_collection(%s)", (COLLECTION,))


def workload(c: psycopg.Connection, flt: dict, vector_schema: str) -> list:
    """Every kind of call, on the target and on a collection made for the case; returns the results."""
    v = f'"{vector_schema}".vector'
    out = []
    for threshold in ("0", "100000"):
        c.execute("select set_config('vecs.exact_search_threshold', %s, true)", (threshold,))
        out.append(c.execute(f"select id from vecs.query(%s::text, '[1,0.5,0.5]'::{v}, 40::integer, %s::jsonb)",
                             (COLLECTION, Jsonb(flt))).fetchall())
    out.append(sorted(c.execute("select * from vecs.delete(%s::text, null::text[], %s::jsonb)", (COLLECTION, Jsonb(flt))).fetchall()))
    out.append(c.execute("select id, metadata from vecs.fetch(%s::text, array['r1', 'r7']::text[])", (COLLECTION,)).fetchall())
    out.append(c.execute("select vecs.count(%s::text)", (COLLECTION,)).fetchall())
    c.execute("select vecs.create_collection('planted case'::text, 3::integer)")
    out.append(c.execute("""select vecs.upsert('planted case'::text, '[["a", [1, 0, 0], {"n": 1}], ["b", [0, 1, 0], {"n": 300}]]'::jsonb)""").fetchall())
    out.append(c.execute(f"select vecs.upsert('planted case'::text, array['c']::text[], array['[0,0,1]']::{v}[], array['{{}}']::jsonb[])").fetchall())
    c.execute("select vecs.create_index('planted case'::text)")
    out.append(c.execute("select kind, method from vecs.list_indexes('planted case'::text) order by 1, 2").fetchall())
    out.append(c.execute(f"select id from vecs.query('planted case'::text, '[1,0,0]'::{v}, 2::integer, %s::jsonb)", (Jsonb(flt),)).fetchall())
    out.append(c.execute("select vecs.drop_collection('planted case'::text)").fetchall())
    return out


@st.composite
def plantings(draw, functions: list) -> tuple:
    name, types = draw(st.sampled_from(functions))
    types = list(types) or ["text"]
    positions = draw(st.sets(st.integers(0, len(types) - 1), min_size=1))
    variant = [draw(st.sampled_from(TYPES)) if i in positions else t for i, t in enumerate(types)]
    settings = draw(st.dictionaries(st.sampled_from(sorted(HOSTILE)), st.just(None), max_size=4))
    chosen = {k: draw(st.sampled_from(HOSTILE[k])) for k in settings}
    return name, variant, chosen, draw(st.sampled_from(FILTERS)), draw(st.booleans())


def test_generated_plantings_are_never_called(dsn, target):
    test = "planted overloads and hostile settings"
    body = "begin raise exception 'PLANTED object called (as %)', current_user; end"
    expected = {}
    with psycopg.connect(dsn) as clean:
        for i, f in enumerate(FILTERS):  # each in a transaction of its own, rolled back as the cases are
            expected[i] = workload(clean, f, target["vector_schema"])
            clean.rollback()

    @budget(examples(40))
    @given(plantings(target["functions"]))
    def case(drawn):
        name, variant, settings, flt, vector_side = drawn
        CASES[test] += 1
        vs = target["vector_schema"]
        with psycopg.connect(dsn) as c:
            if vector_side:  # an overload next to pgvector's functions and operators instead
                c.execute(sql.SQL("create function {}(text, text) returns integer language plpgsql as {}").format(
                    sql.Identifier(vs, "planted"), sql.Literal(body)))
                for op in ("<=>", "<->", "<#>"):
                    c.execute(sql.SQL("create operator {}.{} (function = {}, leftarg = text, rightarg = text)").format(
                        sql.Identifier(vs), sql.SQL(op), sql.Identifier(vs, "planted")))
                c.execute(sql.SQL("create function {}(text) returns integer language plpgsql as {}").format(
                    sql.Identifier(vs, "vector_dims"), sql.Literal(body)))
            returns = "anyelement" if "anyelement" in variant else "integer"
            try:
                c.execute(sql.SQL("create function {}({}) returns {} language plpgsql as {}").format(
                    sql.Identifier("vecs", name), sql.SQL(", ").join(sql.SQL(t) for t in variant), sql.SQL(returns),
                    sql.Literal(body)))
                outcome(test, "planted")
            except psycopg.errors.DuplicateFunction:  # the variant is the function itself
                c.rollback()
                outcome(test, "same signature")
                return
            for setting, value in settings.items():
                c.execute("select set_config(%s, %s, true)", (setting, value))
            got, want = workload(c, flt, vs), expected[FILTERS.index(flt)]
            # the index path is approximate (planner settings may make it exact): complete, same size
            assert len(got[0]) == len(want[0]), (name, variant, settings)
            assert got[1:] == want[1:], (name, variant, settings)
            c.rollback()  # nothing planted stays

    case()
    ran(test, examples(40))
