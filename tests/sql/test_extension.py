"""CREATE EXTENSION vecs from the bundle (issue 5): the same functions as every other install route,
and each route refuses, clearly, to take over the other's schema. The SQL-level suite also runs
on the extension (make test: VECS_TEST_INSTALL=extension), less this file, test_upgrade.py and
test_planted.py, which install into databases of their own on both routes."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

import vecs_sqlgen
from vecs_sqlgen import __version__, bundle, exc, install, render
from vecs_sqlgen.dsn import embedded_bin

from .helpers import raises
from .packaging import as_role, bundle_caps, catalog, members, plant_hostile_operators, scratch  # noqa: F401 - fixtures

pytestmark = [pytest.mark.usefixtures("bundle_caps"),
              pytest.mark.filterwarnings("ignore:Query does not have a covering index")]


def cli(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "vecs_sqlgen.cli", *args], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "VECS_DATABASE_URL": "", "DATABASE_URL": ""})
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr}")
    return result


def psql(dsn: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(embedded_bin("psql")), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, *args],
                          capture_output=True, text=True, timeout=120)


def test_every_route_installs_the_same_functions(scratch, tmp_path):
    """CLI, plain SQL, CREATE EXTENSION and the Python client give exactly the same functions."""
    dsns = {route: scratch.db(f"vecs_{route}") for route in ("cli", "sql", "extension", "python")}
    cli("install", "--dsn", dsns["cli"])
    with psycopg.connect(dsns["sql"], autocommit=True) as c:
        c.execute("create extension vector")
    cli("render", "--dsn", dsns["sql"], "-o", str(tmp_path / "install.sql"))
    assert psql(dsns["sql"], "-f", str(tmp_path / "install.sql")).returncode == 0
    done = psql(dsns["extension"], "-c", "create extension vecs cascade")
    assert done.returncode == 0, done.stderr
    vecs_sqlgen.create_client(dsns["python"]).disconnect()

    catalogs = {}
    for route, dsn in dsns.items():
        with psycopg.connect(dsn, autocommit=True) as c:
            catalogs[route] = catalog(c)
            catalogs[route]["schema comment"] = c.execute("select obj_description('vecs'::regnamespace)").fetchone()[0]
    assert len(catalogs["cli"]) == len(render.render().manifest) + 1
    for route in ("sql", "extension", "python"):
        assert catalogs[route] == catalogs["cli"], route


def test_extension_objects(scratch):
    dsn = scratch.db()
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("create extension vecs cascade")
        ext = c.execute("select extversion, extrelocatable, extnamespace::regnamespace::text from pg_extension"
                        " where extname = 'vecs'").fetchone()
        assert ext == (__version__, False, "vecs")
        assert c.execute("select vecs.version()").fetchone()[0] == __version__
        # every function is a member; the schema (made from the control file) and collections are not,
        # so DROP EXTENSION keeps the data, and pg_dump dumps the collections
        assert members(c) == set(catalog(c))
        c.execute("select vecs.create_collection('kept docs', 2)")
        c.execute("""select vecs.upsert('kept docs', '[["a", [1, 2]]]')""")
        assert c.execute("select count(*) from pg_depend where refobjid = (select oid from pg_extension"
                         " where extname = 'vecs') and classid <> 'pg_proc'::regclass").fetchone()[0] == 0
        c.execute("drop extension vecs")
        assert c.execute('select id from vecs."kept docs"').fetchall() == [("a",)]
        c.execute("create extension vecs")  # the schema exists and holds tables: fine
        assert c.execute("select vecs.count('kept docs')").fetchone()[0] == 1


def test_extension_script_resolves_nothing_through_its_search_path(scratch):
    """Trusted: the script runs as the bootstrap superuser with schemas vecs and public on its path."""
    dsn = scratch.db()
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("create extension vector")
        plant_hostile_operators(c)
        c.execute("create schema vecs")
        c.execute("set search_path = vecs, public")
        with raises("P0001", match="hijacked"):
            c.execute("select array[0, 8, 5] < array[0, 8, 0]")  # the trap works where it is looked up
        c.execute("reset search_path")
        c.execute("create extension vecs")
        assert c.execute("select vecs.version()").fetchone()[0] == __version__


def test_cli_refuses_an_extension_schema(scratch):
    dsn = scratch.db()
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("create extension vecs cascade")
        before = catalog(c)
    for command in (["install"], ["install", "--dry-run"], ["uninstall"]):
        result = cli(*command, "--dsn", dsn, check=False)
        assert result.returncode == 1, command
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("vecs-sqlgen: error: schema 'vecs' is managed by extension 'vecs'"), lines
        assert "ALTER EXTENSION vecs UPDATE" in lines[0] or "DROP EXTENSION vecs" in lines[0]
    assert f"extension:   vecs {__version__}" in cli("status", "--dsn", dsn).stdout
    with psycopg.connect(dsn, autocommit=True) as c:
        with pytest.raises(install.InstallError, match="managed by extension 'vecs'"):
            install.install(c, "vecs", force=True)
        # the library call used by the Python client leaves a current extension alone
        result = install.install(c, "vecs")
        assert (result.action, result.previous) == ("extension", __version__)
        assert catalog(c) == before
    # so the Python client works on it
    vx = vecs_sqlgen.create_client(dsn)
    try:
        docs = vx.get_or_create_collection("py docs", dimension=2)
        docs.upsert([("a", [1.0, 2.0], {"k": 1})])
        assert [r[0] for r in docs.query(data=[1.0, 2.0], limit=1)] == ["a"]
    finally:
        vx.disconnect()


def test_create_extension_over_a_cli_install_fails_clearly(scratch):
    dsn = scratch.db()
    with psycopg.connect(dsn, autocommit=True) as c:
        install.install(c, "vecs")
        c.execute("select vecs.create_collection('docs', 2)")
        before = catalog(c)
        with raises("42723", match=r'^schema "vecs" already holds the vecs functions, installed by vecs-sqlgen install') as e:
            c.execute("create extension vecs cascade")
        assert "vecs-sqlgen uninstall" in e.error.diag.message_hint
        assert c.execute("select count(*) from pg_extension where extname = 'vecs'").fetchone()[0] == 0
        assert catalog(c) == before
        # the way over: uninstall (collections kept), then CREATE EXTENSION
        install.uninstall(c, "vecs")
        c.execute("create extension vecs")
        assert c.execute("select name from vecs.list_collections()").fetchall() == [("docs",)]


def test_bundle_refuses_pgvector_in_another_schema(scratch):
    dsn = scratch.db()
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("create schema extensions")
        c.execute("create extension vector schema extensions")
        with raises("VX007", match=r'built for pgvector in schema "public", but this database has it in schema "extensions"') as e:
            c.execute("create extension vecs")
        assert "--vector-schema extensions" in e.error.diag.message_hint


@pytest.mark.parametrize("low, high, fails", [((99, 0, 0), None, True), ((0, 0, 0), (0, 1, 0), False)])
def test_guard_checks_the_pgvector_version(conn, low, high, fails):
    """The guard of every script: a pgvector older than rendered for fails; a newer level warns."""
    caps = install.detect(conn)
    guard = render.render_piece("extension_guard.sql.j2", "vecs", caps, install=False, min_pgvector=low,
                                next_pgvector=high, names=())
    if fails:
        with raises("VX007", match=r"needs at least 99\.0\.0; this database has pgvector"):
            conn.execute(guard)
    else:
        warnings = []
        conn.add_notice_handler(lambda d: warnings.append(d.message_primary))
        conn.execute(guard)
        assert any("which can do more" in w for w in warnings), warnings


def test_trusted_extension_for_a_non_superuser(scratch, server_dsn):
    """vecs is trusted: a role with CREATE on the database creates it, once a superuser has created
    pgvector (which is not trusted); the functions belong to the bootstrap superuser."""
    dsn = scratch.db()
    app = scratch.role("vecs_owner")
    other = scratch.role("vecs_other")
    dbname = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(server_dsn, autocommit=True) as admin:
        admin.execute(f'grant create on database "{dbname}" to {app}')
    with psycopg.connect(as_role(dsn, app), autocommit=True) as c:
        with raises("42501", match='permission denied to create extension "vector"'):
            c.execute("create extension vecs cascade")
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("create extension vector")
    with psycopg.connect(as_role(dsn, app), autocommit=True) as c:
        c.execute("create extension vecs")
        assert c.execute("select extowner::regrole::text from pg_extension where extname = 'vecs'").fetchone()[0] == app
        assert c.execute("select nspowner::regrole::text from pg_namespace where nspname = 'vecs'").fetchone()[0] == app
        # the functions belong to the bootstrap superuser, except the two definers: to the schema's
        # owner (a definer of the superuser would run whatever the schema's owner plants by name)
        owners = dict(c.execute(
            "select p.proname::text, r.rolname::text from pg_proc p join pg_roles r on r.oid = p.proowner"
            " where p.pronamespace = 'vecs'::regnamespace").fetchall())
        assert {n for n, o in owners.items() if o == app} == set(render.DEFINER_FUNCTIONS)
        assert {r[0] for r in c.execute(
            "select r.rolsuper from pg_proc p join pg_roles r on r.oid = p.proowner"
            " where p.pronamespace = 'vecs'::regnamespace and not p.prosecdef")} == {True}
        # the attack of issue 10's review: rename the schema, plant what a definer calls by name
        c.execute("alter schema vecs rename to vecs_orig")
        c.execute("create schema vecs")
        c.execute("create function vecs._check_collection_args(p_name text, p_dimension integer, p_vector_type text) returns void"
                  " language plpgsql as $$ begin execute format('alter role %I superuser', session_user); end $$")
        with raises("42501"):
            c.execute("select vecs_orig._create_table('x', 3, current_user::regrole)")
        c.execute("drop schema vecs cascade")
        c.execute("alter schema vecs_orig rename to vecs")
        assert c.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0] is False
        c.execute("select vecs.create_collection('docs', 2)")
        c.execute("""select vecs.upsert('docs', '[["a", [1, 2]]]')""")
        assert c.execute("select id from vecs.query('docs', '[1,2]')").fetchall() == [("a",)]
        # the extension's owner may let other roles create collections (README "Roles and grants"), once
        # it may act as them (it is not a superuser)
        c.execute(f"grant usage on schema vecs to {other}")
        c.execute(f"grant execute on function vecs._create_table to {other}")
    with psycopg.connect(server_dsn, autocommit=True) as admin:
        admin.execute(f"grant {other} to {app}")
    with psycopg.connect(as_role(dsn, other), autocommit=True) as c:
        c.execute("select vecs.create_collection('theirs', 2)")
        assert c.execute("select relowner::regrole::text from pg_class where oid = 'vecs.theirs'::regclass").fetchone()[0] == other
        assert c.execute("select vecs.create_index('theirs')").fetchone()[0].startswith("ix_vector_cosine_ops_hnsw")
        c.execute("select vecs.drop_collection('theirs')")
    with psycopg.connect(as_role(dsn, app), autocommit=True) as c:
        c.execute("drop extension vecs")  # the owner of the extension may drop it


def test_bundle_command(tmp_path, bundle_caps):
    out = tmp_path / "ext"
    result = cli("bundle", "-o", str(out), "--pgvector", "0.6.2", "--vector-schema", "extensions")
    assert "for pgvector 0.6.2 in schema extensions" in result.stdout
    control = (out / "vecs.control").read_text()
    assert f"default_version = '{__version__}'" in control and "(needs >= 0.5.0)" in control
    script = (out / f"vecs--{__version__}.sql").read_text()
    assert script.startswith('\\echo Use "CREATE EXTENSION vecs" to load this file. \\quit\n')
    assert "IF v_have OPERATOR(pg_catalog.<) ARRAY[0, 5, 0]" in script and "IF v_have OPERATOR(pg_catalog.>=) ARRAY[0, 7, 0]" in script
    assert '"extensions".vector' in script and "<+>" not in script
    # by default, for the pgvector of the server it is for
    result = cli("bundle", "-o", str(tmp_path / "default"))
    assert f"for pgvector {bundle.available_pgvector()} in schema public" in result.stdout
    bad = cli("bundle", "-o", str(tmp_path / "x"), "--upgrade-from", str(out / f"vecs--{__version__}.sql"), check=False)
    assert bad.returncode == 1 and "not older than" in bad.stderr


def test_permission_denied_maps_from_the_extension_too(scratch):
    """Errors keep their SQLSTATE through the extension's functions (checked fully by the suite run)."""
    dsn = scratch.db()
    stranger = scratch.role("vecs_stranger")
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("create extension vecs cascade")
        c.execute("select vecs.create_collection('secret', 2)")
        c.execute(f"grant usage on schema vecs to {stranger}")
    vx = vecs_sqlgen.create_client(as_role(dsn, stranger))
    try:
        with pytest.raises(exc.PermissionDenied):
            vx.get_or_create_collection("secret", dimension=2).query(data=[1.0, 2.0])
    finally:
        vx.disconnect()
