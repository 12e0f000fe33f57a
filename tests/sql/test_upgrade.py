"""Upgrades from the previous version (issue 5): install N-1, fill collections, upgrade — by
`vecs-sqlgen install` over the older install, and by ALTER EXTENSION vecs UPDATE with the generated
vecs--A--B.sql — then the functions are exactly a fresh install's and the data is untouched.

N-1 is simulated: version 0.0.9, rendered from a copy of the templates in which version() returns
another type (CREATE OR REPLACE cannot change it: dropped and created again, its grants kept) and an
extra function exists (gone in N: dropped)."""

from __future__ import annotations

import shutil

import psycopg
import pytest

from vecs_sqlgen import __version__, bundle, install, render

from .packaging import bundle_caps, catalog, execute_acl, extension_dir, members, plant_hostile_operators, scratch  # noqa: F401 - fixtures

OLD = "0.0.9"

OLD_VERSION_FUNCTION = """{% import "_macros.sql.j2" as m with context %}
CREATE OR REPLACE FUNCTION {{ S }}.version()
RETURNS character varying
LANGUAGE sql
{{ m.attributes("IMMUTABLE") }}
AS $function$ SELECT '{{ version }}'::character varying $function$;

COMMENT ON FUNCTION {{ S }}.version() IS
'The vecs-sqlgen version installed in this schema (as 0.0.9 declared it).';
"""

OBSOLETE_FUNCTION = """{% import "_macros.sql.j2" as m with context %}
CREATE OR REPLACE FUNCTION {{ S }}._obsolete(p_value integer)
RETURNS integer
LANGUAGE sql
{{ m.attributes("IMMUTABLE") }}
AS $function$ SELECT p_value $function$;

COMMENT ON FUNCTION {{ S }}._obsolete(integer) IS
'Internal: a helper the next version no longer has.';
"""


@pytest.fixture(scope="module")
def old_templates(tmp_path_factory):
    root = tmp_path_factory.mktemp("vecs-0.0.9") / "sql"
    shutil.copytree(render.sql_dir(), root, ignore=shutil.ignore_patterns("packaging"))
    (root / "internal" / "version.sql.j2").write_text(OLD_VERSION_FUNCTION)
    (root / "internal" / "_obsolete.sql.j2").write_text(OBSOLETE_FUNCTION)
    return root


def test_the_simulated_old_version_differs_as_intended(old_templates):
    old = render.render("vecs", version=OLD, templates=old_templates).manifest
    new = render.render("vecs").manifest
    assert set(old) - set(new) == {"_obsolete(integer)"}
    assert {s for s in new if old.get(s) != new[s]} == {"version()"}


def fill(conn) -> dict:
    """Collections made by the old version's functions; what they hold, read straight from the tables."""
    conn.execute("select vecs.create_collection('docs one', 3)")
    conn.execute("""select vecs.upsert('docs one', '[["a", [1, 0, 0], {"year": 1973}], ["b", [0, 1, 0], {"year": 2012}],
                                                     ["c", [0, 0, 1]]]')""")
    conn.execute("select vecs.create_index('docs one')")
    conn.execute("select vecs.create_collection('docs two', 2)")
    conn.execute("""select vecs.upsert('docs two', '[["x", [1, 2], {"k": "v"}]]')""")
    return snapshot(conn)


def snapshot(conn) -> dict:
    return {
        "rows": conn.execute("""select 'one', id, vec::text, metadata::text from vecs."docs one"
                                union all select 'two', id, vec::text, metadata::text from vecs."docs two" order by 1, 2""").fetchall(),
        "indexes": conn.execute("select indexrelid::regclass::text, pg_get_indexdef(indexrelid) from pg_index"
                                " where indrelid in ('vecs.\"docs one\"'::regclass, 'vecs.\"docs two\"'::regclass) order by 1").fetchall(),
        "tables": conn.execute("select oid::regclass::text, relowner::regrole::text from pg_class"
                               " where relnamespace = 'vecs'::regnamespace and relkind = 'r' order by 1").fetchall(),
    }


def grant(conn, reader: str) -> None:
    """Privileges set by an administrator on the old install."""
    conn.execute("revoke execute on function vecs.version() from public")  # redeclared in N
    conn.execute(f"grant execute on function vecs.version() to {reader} with grant option")
    conn.execute("revoke execute on function vecs.count(text) from public")  # replaced in place in N
    conn.execute(f"grant execute on function vecs.count(text) to {reader}")


def check_upgraded(conn, before: dict, reader: str, fresh: dict) -> None:
    assert conn.execute("select vecs.version(), pg_typeof(vecs.version())::text").fetchone() == (__version__, "text")
    assert conn.execute("select to_regprocedure('vecs._obsolete(integer)')").fetchone()[0] is None
    assert catalog(conn) == fresh  # exactly the functions of a fresh install
    assert snapshot(conn) == before  # the data, the indexes and the tables' owners are untouched
    assert conn.execute("select id from vecs.query('docs one', '[1, 0.1, 0]', k => 2)").fetchall() == [("a",), ("b",)]
    assert conn.execute("""select id from vecs.query('docs one', '[0, 1, 0]', filters => '{"year": {"$gt": 2000}}')""").fetchall() == [("b",)]
    assert conn.execute("select vecs.count('docs two')").fetchone()[0] == 1
    # privileges survive: the redeclared function's are put back, the replaced one's are kept
    owner = conn.execute("select proowner::regrole::text from pg_proc where oid = 'vecs.version()'::regprocedure::oid").fetchone()[0]
    assert execute_acl(conn, "vecs.version()") == {owner, reader}
    assert conn.execute("select bool_or(a.is_grantable) from pg_proc p, aclexplode(p.proacl) a"
                        " where p.oid = 'vecs.version()'::regprocedure::oid and a.grantee = %s::regrole::oid", (reader,)).fetchone()[0]
    assert execute_acl(conn, "vecs.count(text)") == {owner, reader}
    assert "PUBLIC" in execute_acl(conn, "vecs.query(text,vector,integer,jsonb,text,boolean,boolean,boolean,integer,integer,integer,anyelement)")


def test_cli_install_over_the_previous_version(scratch, old_templates):
    reader = scratch.role("vecs_reader")
    fresh_dsn, dsn = scratch.db("vecs_fresh"), scratch.db("vecs_old")
    with psycopg.connect(fresh_dsn, autocommit=True) as c:
        install.install(c, "vecs")
        fresh = catalog(c)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("create extension vector")
        caps = install.detect(c)
        with c.transaction():  # what the 0.0.9 installer did
            c.execute(render.render("vecs", caps, version=OLD, templates=old_templates).sql)
        assert c.execute("select vecs.version()").fetchone()[0] == OLD
        before = fill(c)
        grant(c, reader)

        plant_hostile_operators(c)
        c.execute("set search_path = vecs, public")  # the installer's session: whatever it is
        result = install.install(c, "vecs")
        c.execute("reset search_path")
        assert (result.action, result.previous, result.version) == ("upgraded", OLD, __version__)
        check_upgraded(c, before, reader, fresh)
        assert install.install(c, "vecs").action == "unchanged"


def test_alter_extension_update_from_the_previous_version(scratch, old_templates, extension_dir, bundle_caps, tmp_path):
    caps = bundle_caps
    old_files = bundle.write(tmp_path / "old", caps=caps, version=OLD, templates=old_templates)
    old_script = tmp_path / "old" / f"vecs--{OLD}.sql"
    new_files = bundle.write(tmp_path / "new", caps=caps, upgrade_from=[old_script])
    upgrade = tmp_path / "new" / f"vecs--{OLD}--{__version__}.sql"
    assert upgrade in new_files
    text = upgrade.read_text()
    assert text.startswith(f"\\echo Use \"ALTER EXTENSION vecs UPDATE TO '{__version__}'\" to load this file. \\quit\n")
    assert "-- dropped: _obsolete(integer); dropped and created again: version()" in text
    assert "CREATE SCHEMA" not in text
    installed = [old_script.name, upgrade.name]
    bundle.install_files([old_script, *new_files], extension_dir)
    try:
        reader = scratch.role("vecs_reader")
        fresh_dsn, dsn = scratch.db("vecs_fresh"), scratch.db("vecs_old")
        with psycopg.connect(fresh_dsn, autocommit=True) as c:
            c.execute("create extension vecs cascade")
            fresh = catalog(c)
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f"create extension vecs version '{OLD}' cascade")
            assert c.execute("select vecs.version()").fetchone()[0] == OLD
            assert "vecs._obsolete(integer)" in members(c)
            before = fill(c)
            grant(c, reader)

            plant_hostile_operators(c)  # the upgrade steps resolve nothing through the search path
            c.execute("alter extension vecs update")
            assert c.execute("select extversion from pg_extension where extname = 'vecs'").fetchone()[0] == __version__
            check_upgraded(c, before, reader, fresh)
            assert members(c) == set(catalog(c))  # the re-created function is a member again
    finally:
        bundle.remove_files(installed, extension_dir)
    assert [f.name for f in old_files] == ["vecs.control", f"vecs--{OLD}.sql"]


def test_uninstall_removes_the_functions_of_an_older_version(scratch, old_templates):
    dsn = scratch.db()
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("create extension vector")
        with c.transaction():
            c.execute(render.render("vecs", install.detect(c), version=OLD, templates=old_templates).sql)
        c.execute("select vecs.create_collection('kept', 2)")
        dropped = install.uninstall(c, "vecs")
        assert "vecs._obsolete(integer)" in dropped
        assert catalog(c) == {}
        assert c.execute("select count(*) from vecs.kept").fetchone()[0] == 0  # the collection stays
