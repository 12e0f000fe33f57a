"""The installed layer as the catalog shows it: comments, SECURITY INVOKER, pinned search_path, \\df+,
idempotent install, a second schema, pgvector in another schema, and privileges (issue 2)."""

from __future__ import annotations

import subprocess
import uuid

import psycopg
import pytest
from psycopg import sql

from vecs_sqlgen import install, render
from vecs_sqlgen.dsn import embedded_bin

from .helpers import raises

FUNCTIONS = list(render.render("vecs").functions)


def procs(conn, schema: str = "vecs") -> list[tuple]:
    return conn.execute(
        """select p.proname::text, p.oid::regprocedure::text, obj_description(p.oid, 'pg_proc'), p.prosecdef,
                  coalesce(p.proconfig, '{}')
           from pg_proc p where p.pronamespace = %s::regnamespace order by 2""",
        (schema,),
    ).fetchall()


def test_catalog_holds_exactly_the_rendered_functions(conn):
    assert sorted({p[0] for p in procs(conn)}) == FUNCTIONS
    # two upserts (JSON and arrays), one of everything else
    names = [p[0] for p in procs(conn)]
    assert names.count("upsert") == 2
    assert names.count("fetch") == 2  # vector, and any vector type (anyelement)
    assert all(names.count(n) == 1 for n in FUNCTIONS if n not in ("upsert", "fetch"))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_has_comment(conn, name):
    rows = [p for p in procs(conn) if p[0] == name]
    assert rows
    for _, signature, comment, _, _ in rows:
        assert comment and len(comment) > 20, f"{signature} has no COMMENT"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_is_security_invoker(conn, name):
    """Every function runs as its caller, except the two DDL helpers (render.DEFINER_FUNCTIONS)."""
    for _, signature, _, secdef, _ in [p for p in procs(conn) if p[0] == name]:
        assert secdef is (name in render.DEFINER_FUNCTIONS), f"{signature}: prosecdef {secdef}"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_has_pinned_settings(conn, name):
    rows = [p for p in procs(conn) if p[0] == name]
    assert rows
    pinned = {**render.PINNED_SETTINGS, **(render.DEFINER_PINNED_SETTINGS if name in render.DEFINER_FUNCTIONS else {})}
    expected = [f"{k}={v.strip(chr(39))}" for k, v in pinned.items()]
    for _, signature, _, _, config in rows:
        assert sorted(config) == sorted(expected), f"{signature}: proconfig {config}"


def test_only_granted_roles_may_create_collections(conn):
    """EXECUTE on the table-creating definer is not PUBLIC's; every other function's is."""
    rows = conn.execute(
        "select p.proname::text, has_function_privilege('public', p.oid, 'execute') from pg_proc p"
        " where p.pronamespace = 'vecs'::regnamespace").fetchall()
    assert {name for name, public in rows if not public} == set(render.RESTRICTED_FUNCTIONS)


def test_df_plus_shows_every_function_with_its_description(dsn, conn):
    out = subprocess.run(
        [str(embedded_bin("psql")), "-X", "--no-psqlrc", "-A", "-F", "\x1f", "-0", "-P", "footer=off",
         "-c", r"\df+ vecs.*", dsn],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    records = [r.split("\x1f") for r in out.split("\x00") if r.strip()]
    records = records[[len(r) > 1 for r in records].index(True):]  # after the title line
    header, rows = [h.strip() for h in records[0]], records[1:]
    col = {h: header.index(h) for h in ("Schema", "Name", "Security", "Description")}
    shown = {}
    for r in rows:
        shown.setdefault(r[col["Name"]], []).append((r[col["Schema"]], r[col["Security"]], r[col["Description"]]))
    assert sorted(shown) == FUNCTIONS
    comments: dict[str, set] = {}
    for p in procs(conn):
        comments.setdefault(p[0], set()).add(p[2])
    for name, entries in shown.items():
        for schema, security, description in entries:
            assert schema == "vecs"
            assert security == ("definer" if name in render.DEFINER_FUNCTIONS else "invoker"), name
            assert description.strip() and description in comments[name], (name, description)


def test_public_functions_comments_have_examples(conn):
    public = [p for p in procs(conn) if not p[0].startswith("_") and p[0] not in ("version", "build_info")]
    for name, signature, comment, _, _ in public:
        assert "Example" in comment and f"vecs.{name}(" in comment, signature


# ----------------------------------------------------------------------------- install


def test_install_again_is_unchanged(conn, cli_route):
    before = procs(conn)
    result = install.install(conn, "vecs")
    assert result.action == "unchanged"
    assert procs(conn) == before
    assert conn.execute("select vecs.version()").fetchone()[0] == result.version


def test_install_into_second_schema(conn, collection, cli_route):
    schema = "vecs_alt"
    conn.execute(f"drop schema if exists {schema} cascade")
    try:
        result = install.install(conn, schema)
        assert result.action == "installed"
        assert install.install(conn, schema).action == "unchanged"
        assert sorted({p[0] for p in procs(conn, schema)}) == FUNCTIONS
        # the functions of vecs_alt work on vecs_alt's tables, and nothing else
        assert conn.execute("select vecs_alt.create_collection('docs', 2)::text").fetchone()[0] == "vecs_alt.docs"
        conn.execute("select vecs_alt.upsert('docs', '[[\"a\", [1, 2], {\"k\": 1}]]')")
        assert conn.execute("select id from vecs_alt.query('docs', '[1,2]', filters => '{\"k\": 1}')").fetchall() == [("a",)]
        assert conn.execute("select vecs_alt.create_index('docs')").fetchone()[0].startswith("ix_vector_cosine_ops_hnsw")
        assert [r[0] for r in conn.execute("select name from vecs_alt.list_collections()")] == ["docs"]
        assert "docs" not in [r[0] for r in conn.execute("select name from vecs.list_collections()")]
        assert collection not in [r[0] for r in conn.execute("select name from vecs_alt.list_collections()")]
        with raises("VX003"):
            conn.execute("select vecs.count('docs')")
        with raises("VX003"):
            conn.execute("select vecs_alt.count(%s)", (collection,))
        assert conn.execute("select vecs_alt.build_info()->>'schema'").fetchone()[0] == schema
        # vecs was not touched
        assert install.install(conn, "vecs").action == "unchanged"
    finally:
        conn.execute(f"drop schema if exists {schema} cascade")
    assert conn.execute("select vecs.count(%s)", (collection,)).fetchone()[0] == 0


# ----------------------------------------------------------------------------- pgvector in another schema


@pytest.fixture
def extensions_db(server_dsn):
    """A fresh database whose pgvector lives in schema extensions (as on Supabase), with vecs installed."""
    dbname = f"vecs_ext_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
    info = psycopg.conninfo.conninfo_to_dict(server_dsn)
    info["dbname"] = dbname
    dsn = psycopg.conninfo.make_conninfo(**info)
    try:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("create schema extensions")
            c.execute("create extension vector schema extensions")
            result = install.install(c, "vecs")
            assert result.action == "installed"
            assert result.caps.vector_schema == "extensions"
        yield dsn
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname)))


def test_pgvector_in_another_schema(extensions_db):
    with psycopg.connect(extensions_db, autocommit=True) as c:
        c.execute("set search_path = public")  # the vector type is not on the caller's path
        with raises("42704"):
            c.execute("select '[1,2,3]'::vector")
        assert c.execute("select vecs.build_info()->'pgvector'->>'vector_schema'").fetchone()[0] == "extensions"
        assert c.execute("select vecs.create_collection('docs', 3)::text").fetchone()[0] == "vecs.docs"
        assert c.execute(
            "select format_type(atttypid, atttypmod) from pg_attribute where attrelid = 'vecs.docs'::regclass and attname = 'vec'"
        ).fetchone()[0] == "extensions.vector(3)"
        assert c.execute(
            "select vecs.upsert('docs', '[[\"a\", [1, 0, 0], {\"year\": 2001}], [\"b\", [0, 1, 0], {\"year\": 1999}], [\"c\", [0, 0, 1]]]')"
        ).fetchone()[0] == 3
        assert c.execute(
            "select vecs.upsert('docs', array['d'], array['[1,1,0]']::extensions.vector[], array['{\"year\": 2020}'::jsonb])"
        ).fetchone()[0] == 1
        src = "stage"
        c.execute(f"create temp table {src} (id text, vec extensions.vector, metadata jsonb)")
        c.execute(f"insert into {src} values ('e', '[0,1,1]', '{{}}')")
        assert c.execute("select vecs.upsert_from('docs', %s)", (src,)).fetchone()[0] == 1
        assert c.execute("select vecs.count('docs')").fetchone()[0] == 5
        for measure in ("cosine_distance", "l2_distance", "max_inner_product"):
            got = c.execute(
                "select id from vecs.query('docs', '[1,0,0]', k => 2, measure => %s, filters => '{\"year\": {\"$gte\": 2000}}')",
                (measure,),
            ).fetchall()
            assert got == [("a",), ("d",)], measure
        name = c.execute("select vecs.create_index('docs')").fetchone()[0]
        assert name.startswith("ix_vector_cosine_ops_hnsw_m16_efc64_")
        assert c.execute("select index_name, index_method, dimension from vecs.list_collections()").fetchall() == [(name, "hnsw", 3)]
        with c.transaction():
            c.execute("set local vecs.exact_search_threshold = 0")
            c.execute("set local enable_seqscan = off")
            got = c.execute("select id, vec::text from vecs.query('docs', '[1,0,0]', k => 1, include_vector => true)").fetchall()
            assert got == [("a", "[1,0,0]")]
            assert c.execute(
                "select id from vecs.query('docs', '[1,0,0]', k => 5, filters => '{\"year\": {\"$lt\": 2000}}')"
            ).fetchall() == [("b",)]
        ivf = c.execute("select vecs.create_index('docs', 'l2_distance', 'ivfflat')").fetchone()[0]
        assert ivf.startswith("ix_vector_l2_ops_ivfflat_nl30_")
        assert c.execute("select id from vecs.fetch('docs', array['c', 'a'])").fetchall() == [("c",), ("a",)]
        assert sorted(c.execute("select * from vecs.delete('docs', filters => '{\"year\": {\"$exists\": true}}')").fetchall()) == [
            ("a",), ("b",), ("d",)
        ]
        assert c.execute("select vecs.get_or_create_collection('docs', 3)::text").fetchone()[0] == "vecs.docs"
        assert c.execute("select vecs.drop_collection('docs')").fetchone()[0] is True
        assert c.execute("select current_setting('search_path')").fetchone()[0] == "public"


# ----------------------------------------------------------------------------- privileges


@pytest.fixture
def reader_role(conn):
    role = f"vecs_reader_{uuid.uuid4().hex[:8]}"
    conn.execute(sql.SQL("create role {} login").format(sql.Identifier(role)))
    conn.execute(sql.SQL("grant usage on schema vecs to {}").format(sql.Identifier(role)))
    yield role
    conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
    conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def test_role_without_select_gets_42501(dsn, conn, collection, reader_role):
    conn.execute("select vecs.upsert(%s, '[[\"a\", [1, 2, 3], {\"k\": 1}]]')", (collection,))
    with psycopg.connect(dsn, autocommit=True, options=f"-c role={reader_role}") as c:
        assert c.execute("select current_user").fetchone()[0] == reader_role
        for stmt in (
            "select * from vecs.query(%s, '[1,2,3]')",
            "select * from vecs.query(%s, '[1,2,3]', filters => '{\"k\": 1}')",
            "select * from vecs.fetch(%s, array['a'])",
            "select vecs.count(%s)",
            "select vecs.upsert(%s, '[[\"b\", [1, 2, 3]]]')",
            "select * from vecs.delete(%s, ids => array['a'])",
        ):
            with raises("42501"):
                c.execute(stmt, (collection,))
    # granted SELECT, the same role reads through the functions (they run as the caller)
    conn.execute(sql.SQL("grant select on {} to {}").format(
        sql.Identifier("vecs", collection), sql.Identifier(reader_role)))
    with psycopg.connect(dsn, autocommit=True, options=f"-c role={reader_role}") as c:
        assert c.execute("select id from vecs.query(%s, '[1,2,3]')", (collection,)).fetchall() == [("a",)]
        assert c.execute("select id from vecs.fetch(%s, array['a'])", (collection,)).fetchall() == [("a",)]
        with raises("42501"):
            c.execute("select vecs.upsert(%s, '[[\"b\", [1, 2, 3]]]')", (collection,))
    assert conn.execute("select vecs.count(%s)", (collection,)).fetchone()[0] == 1
