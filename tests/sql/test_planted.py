"""Planted objects (issue 10, item 1): no function of the layer can be reached through an overload,
operator or type that another role created.

Two layers of proof, on a fresh database per install route (CLI and CREATE EXTENSION vecs):

1. A role with exactly the README's grants cannot create anything where the functions live (schema
   vecs) or where pgvector lives: every overload an untyped call could prefer — each argument
   replaced by text, varchar, name or anyelement, and all of them text — is refused (42501), and so
   are operators, types, tables and views.
2. Even where such objects exist anyway (planted here by a superuser, the worst case: an admin who
   granted CREATE), none is ever called: every internal call is exactly typed and every pgvector
   name is schema-qualified with exact types. Each planted function counts its calls in a sequence
   (not rolled back by the error it then raises); a workload of every function, from SQL as the
   superuser and as the application role and from the Python client, leaves the count at zero.
"""

from __future__ import annotations

import re

import psycopg
import pytest
from psycopg import sql

import vecs_sqlgen
from vecs_sqlgen import install, render

from .packaging import as_role, bundle_caps, scratch  # noqa: F401 - fixtures
from .test_roles import readme_grants

# The types an unknown literal (or an argument of another type) could make PostgreSQL prefer.
PREFERRED = ("text", "varchar", "name", "anyelement")
COUNTER = "public.vecs_planted_calls"


def signatures(conn: psycopg.Connection, schema: str = "vecs") -> list[tuple[str, list[str]]]:
    """Every installed function of ``schema``: (name, argument types as the catalog spells them)."""
    rows = conn.execute(
        "select p.proname::text, coalesce(array(select format_type(t, null) from unnest(p.proargtypes) as t), '{}')"
        " from pg_proc p where p.pronamespace = %s::regnamespace order by 1, 2",
        (schema,),
    ).fetchall()
    return [(name, list(types)) for name, types in rows]


def variants(types: list[str]) -> list[list[str]]:
    """The overloads an untyped or loosely typed call could resolve to instead of ``types``."""
    out = [types[:i] + [t] + types[i + 1:] for i in range(len(types)) for t in PREFERRED if t != types[i]]
    if types:
        out.append(["text"] * len(types))
        out.append(["anyelement"] * len(types))
    else:
        out.append(["text"])
    unique: list[list[str]] = []
    for v in out:
        if v != types and v not in unique:
            unique.append(v)
    return unique


def vector_functions(rendered_sql: str, vector_schema: str) -> set[str]:
    """The pgvector functions the layer calls (schema-qualified in the rendered SQL)."""
    return set(re.findall(rf'"{vector_schema}"\.(\w+)\(', rendered_sql))


@pytest.fixture(params=["cli", "extension"])
def planted_db(request, scratch, server_dsn):
    """A fresh database with the layer installed by one route, its pgvector schema and the README roles."""
    dsn = scratch.db("vecs_planted")
    with psycopg.connect(dsn, autocommit=True) as c:
        if request.param == "cli":
            install.install(c, "vecs")
        else:
            request.getfixturevalue("bundle_caps")
            c.execute("create extension vecs cascade")
        writer = scratch.role("vecs_planter")
        reader = scratch.role("vecs_reader")
        for statement in readme_grants():
            c.execute(statement.replace("app_reader", f'"{reader}"').replace("app_writer", f'"{writer}"'))
        vector_schema = c.execute(
            "select n.nspname::text from pg_extension e join pg_namespace n on n.oid = e.extnamespace"
            " where e.extname = 'vector'").fetchone()[0]
        funcs = signatures(c)
        rendered = render.render("vecs", install.detect(c)).sql
    yield {"dsn": dsn, "writer": writer, "route": request.param, "vector_schema": vector_schema,
           "functions": funcs, "vector_functions": vector_functions(rendered, vector_schema)}


def _refused(conn: psycopg.Connection, statement: sql.Composable) -> str | None:
    try:
        conn.execute(statement)
    except psycopg.Error as e:
        return e.sqlstate
    return None


def test_a_role_with_the_readme_grants_cannot_plant_anything(planted_db):
    db = planted_db
    vs = db["vector_schema"]
    attempts: list[sql.Composable] = []
    for name, types in db["functions"]:
        for v in variants(types):
            attempts.append(sql.SQL("create function {}({}) returns integer language sql as 'select 1'").format(
                sql.Identifier("vecs", name), sql.SQL(", ").join(sql.SQL(t) for t in v)))
    for name in sorted(db["vector_functions"]):
        attempts.append(sql.SQL("create function {}(text) returns integer language sql as 'select 1'").format(
            sql.Identifier(vs, name)))
    for schema in ("vecs", vs):
        s = sql.Identifier(schema)
        attempts += [
            sql.SQL("create operator {}.@> (function = pg_catalog.textcat, leftarg = text, rightarg = text)").format(s),
            sql.SQL("create operator {}.<=> (function = pg_catalog.textcat, leftarg = text, rightarg = text)").format(s),
            sql.SQL("create type {}.vector_planted as (a integer)").format(s),
            sql.SQL("create domain {}.jsonb as pg_catalog.text").format(s),
            sql.SQL("create table {}.\"_planted\" (id text)").format(s),
            sql.SQL("create view {}.planted_view as select 1 as one").format(s),
        ]
    assert len(attempts) > 8 * len(db["functions"])
    with psycopg.connect(as_role(db["dsn"], db["writer"]), autocommit=True) as c:
        outcomes = {a.as_string(c): _refused(c, a) for a in attempts}
        # and yet it may create collections, which it owns
        c.execute("select vecs.create_collection('mine', 3)")
        assert c.execute("select relowner::regrole::text from pg_class where oid = 'vecs.mine'::regclass").fetchone()[0] == db["writer"]
    allowed = [stmt for stmt, code in outcomes.items() if code != "42501"]
    assert not allowed, allowed[:5]


def _plant_everything(conn: psycopg.Connection, db: dict) -> int:
    """As a superuser: every variant of every function in vecs, and overloads of the pgvector
    functions and distance operators in pgvector's schema, each counting its calls. Returns how many."""
    conn.execute(f"create sequence {COUNTER}")
    conn.execute(f"grant usage, update, select on sequence {COUNTER} to public")
    body = (f"begin perform pg_catalog.nextval('{COUNTER}'); "
            "raise exception 'PLANTED object called (as %)', current_user; end")
    planted = 0

    def plant(schema: str, name: str, types: list[str]) -> None:
        nonlocal planted
        returns = "anyelement" if "anyelement" in types else "integer"
        conn.execute(sql.SQL("create function {}({}) returns {} language plpgsql as {}").format(
            sql.Identifier(schema, name), sql.SQL(", ").join(sql.SQL(t) for t in types), sql.SQL(returns),
            sql.Literal(body)))
        planted += 1

    for name, types in db["functions"]:
        for v in variants(types):
            plant("vecs", name, v)
    vs = db["vector_schema"]
    vector = f'"{vs}".vector'
    for name in sorted(db["vector_functions"]):
        for v in (["text"], ["varchar"], ["anyelement"]):
            plant(vs, f"{name}", v)
    plant(vs, "planted_distance", [vector, "text"])
    plant(vs, "planted_distance", ["text", vector])
    for op in ("<=>", "<->", "<#>", "<+>"):
        for left, right in ((vector, "text"), ("text", vector)):
            conn.execute(sql.SQL("create operator {}.{} (function = {}, leftarg = {}, rightarg = {})").format(
                sql.Identifier(vs), sql.SQL(op), sql.Identifier(vs, "planted_distance"), sql.SQL(left), sql.SQL(right)))
            planted += 1
    # types named like the ones the functions use, where pgvector lives
    for t in ("jsonb", "regclass", "regrole"):
        conn.execute(sql.SQL("create domain {} as pg_catalog.text").format(sql.Identifier(vs, t)))
        planted += 1
    return planted


# Every function, called as the Python client calls it (typed); @V@ is pgvector's schema.
WORKLOAD = [
    """select vecs.create_collection(%s::text, 3::integer)""",
    """select vecs.get_or_create_collection(%s::text, 3::integer)""",
    """select vecs.upsert_from(%s::text, 'pg_temp.stage'::regclass)""",
    """select vecs.upsert(%s::text, '[["a", [1, 0, 0], {"n": 1, "tag": "x"}], ["b", [0, 1, 0], {"n": 2}]]'::jsonb)""",
    """select vecs.upsert(%s::text, array['c', 'd']::text[], array['[0,0,1]', '[1,1,0]']::@V@.vector[],
                          array['{"n": 3}', '{"n": 4, "l": [1]}']::jsonb[])""",
    """select * from vecs.check_upsert(%s::text)""",
    """select * from vecs.fetch(%s::text, array['a', 'b']::text[])""",
    """select vecs.count(%s::text)""",
    """select * from vecs.query(%s::text, '[1,0,0]'::@V@.vector, 3::integer)""",
    """select * from vecs.query(%s::text, '[1,0,0]'::@V@.vector, 3::integer, '{"n": 1}'::jsonb)""",
    """select vecs.create_index(%s::text)""",
    """select * from vecs.query(%s::text, '[1,0,0]'::@V@.vector, 3::integer,
                                '{"n": {"$gte": 2}, "tag": {"$exists": false}}'::jsonb, 'l2_distance'::text, true, true, true)""",
    """select * from vecs.query(%s::text, '[1,0,0]'::@V@.vector, 3::integer,
                                '{"$or": [{"n": {"$in": [1,2,3,4,5,6,7,8,9,10]}}, {"tag": {"$like": "x%%"}}],
                                  "$not": {"l": {"$contains": 1}}}'::jsonb)""",
    """select vecs.create_index(%s::text, 'l2_distance'::text, 'ivfflat'::text, '{"n_lists": 1}'::jsonb)""",
    """select vecs.create_index(%s::text, 'cosine_distance'::text, 'hnsw'::text, '{"m": 8}'::jsonb, true)""",
    """select vecs.create_metadata_index(%s::text, variadic array['n']::text[])""",
    """select vecs.create_index(%s::text, 'cosine_distance'::text, 'hnsw'::text, null::jsonb, true, '{"n": 1}'::jsonb)""",
    """select * from vecs.query(%s::text, '[1,0,0]'::@V@.vector, 3::integer, '{"n": 1, "tag": {"$ne": "y"}}'::jsonb)""",
    """select vecs.drop_metadata_index(%s::text, variadic array['n']::text[])""",
    """select * from vecs.list_indexes(%s::text)""",
    """select vecs.enable_text_search(%s::text, 'tag'::text, 'english'::regconfig)""",
    """select * from vecs.describe_collection(%s::text)""",
    """select * from vecs.hybrid_query(%s::text, 'x or y'::text, '[1,0,0]'::@V@.vector, 3::integer,
                                       '{"n": {"$gte": 1}}'::jsonb, 'weighted'::text)""",
    """select * from vecs.hybrid_query(%s::text, 'x'::text, null::@V@.vector, 3::integer, null::jsonb, 'rrf'::text,
                                       60::integer, 1::float8, 1::float8, 10::integer, 'plain'::text, true)""",
    """select vecs.disable_text_search(%s::text)""",
    """select * from vecs.query(%s::text, '[1,0,0]'::@V@.vector, 2::integer, '{"n": {"$ne": 3}}'::jsonb)""",
    """select * from vecs.delete(%s::text, array['d']::text[])""",
    """select * from vecs.delete(%s::text, null::text[], '{"n": {"$gt": 2}}'::jsonb)""",
    """select * from vecs.list_collections() where name <> %s::text""",
    """select vecs.version() <> %s::text, vecs.build_info()""",
    """select vecs.drop_collection(%s::text)""",
]


def _run_workload(conn: psycopg.Connection, db: dict, name: str) -> None:
    conn.execute("set vecs.exact_search_threshold = 0")  # the index path too, not only exact searches
    conn.execute(f'create temp table if not exists stage (id text, vec "{db["vector_schema"]}".vector(3), metadata jsonb)')
    conn.execute("insert into stage values ('s', '[1,2,3]', '{}')")
    for statement in WORKLOAD:
        conn.execute(statement.replace("@V@", f'"{db["vector_schema"]}"'), (name,)).fetchall()
    conn.execute("reset vecs.exact_search_threshold")


def _python_workload(dsn: str) -> None:
    with vecs_sqlgen.create_client(dsn) as vx:
        docs = vx.get_or_create_collection("py docs", dimension=3)
        docs.upsert([("a", [1.0, 0.0, 0.0], {"n": 1}), ("b", [0.0, 1.0, 0.0], {"n": 2})])
        docs.upsert([(f"r{i}", [1.0, float(i), 0.0], {"n": i}) for i in range(600)])  # the COPY path
        docs.create_index()
        docs.create_index(measure=vecs_sqlgen.IndexMeasure.l2_distance)
        assert docs.query(data=[1.0, 0.0, 0.0], limit=1, filters={"n": {"$lte": 1}})
        assert docs.query(data=[1.0, 0.0, 0.0], limit=2, filters="n >= 1 and n < 3", include_metadata=True)
        docs.fetch(["a", "b"])
        docs.delete(ids=["a"])
        docs.delete(filters={"n": {"$gt": 500}})
        assert len(docs) == 2 + 600 - 1 - 99  # a deleted, r501..r599 deleted
        vx.list_collections()
        vx.delete_collection("py docs")


def test_planted_objects_are_never_called(planted_db):
    db = planted_db
    with psycopg.connect(db["dsn"], autocommit=True) as admin:
        planted = _plant_everything(admin, db)
        assert planted > 8 * len(db["functions"])
        _run_workload(admin, db, "as superuser")
    with psycopg.connect(as_role(db["dsn"], db["writer"]), autocommit=True) as c:
        _run_workload(c, db, "as the application role")
    _python_workload(db["dsn"])
    _python_workload(as_role(db["dsn"], db["writer"]))
    with psycopg.connect(db["dsn"], autocommit=True) as admin:
        calls = admin.execute(f"select case when is_called then last_value else 0 end from {COUNTER}").fetchone()[0]
    assert calls == 0, f"{calls} calls of planted objects"


def test_the_counter_sees_a_planted_call(planted_db):
    """The detector works: an untyped call as a psql user writes it reaches a planted (text, text)."""
    db = planted_db
    with psycopg.connect(db["dsn"], autocommit=True) as admin:
        _plant_everything(admin, db)
        admin.execute("select vecs.create_collection('docs', 3)")
        with pytest.raises(psycopg.errors.RaiseException, match="PLANTED"):
            admin.execute("select vecs.upsert('docs', '[[\"a\", [1, 2, 3]]]')")
        assert admin.execute(f"select last_value from {COUNTER}").fetchone()[0] == 1
