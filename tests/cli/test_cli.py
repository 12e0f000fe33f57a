"""The vecs-sqlgen command, run as a user runs it (a subprocess), against the test server."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

SCHEMA = "cli_test"


def cli(*args, env=None, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "vecs_sqlgen.cli", *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr}")
    return result


@pytest.fixture
def fresh(server_dsn):
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {SCHEMA} cascade")
    yield server_dsn
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {SCHEMA} cascade")


def test_install_status_uninstall_roundtrip(fresh):
    out = cli("install", "--dsn", fresh, "--schema", SCHEMA).stdout
    assert f"installed in schema {SCHEMA}" in out
    assert "unchanged" in cli("install", "--dsn", fresh, "--schema", SCHEMA).stdout  # re-running is safe

    with psycopg.connect(fresh, autocommit=True) as conn:
        conn.execute(f"select {SCHEMA}.create_collection('kept', 2)")
        conn.execute(f"""select {SCHEMA}.upsert('kept', '[["a", [1, 2]]]')""")

    status = cli("status", "--dsn", fresh, "--schema", SCHEMA).stdout
    assert "pgvector:" in status and "vecs-sqlgen: 0." in status
    assert "kept: dimension 2, no vector index" in status

    out = cli("uninstall", "--dsn", fresh, "--schema", SCHEMA).stdout
    assert "collection tables kept" in out
    with psycopg.connect(fresh, autocommit=True) as conn:
        left = conn.execute(
            "select count(*) from pg_proc where pronamespace = %s::regnamespace", (SCHEMA,)
        ).fetchone()[0]
        assert left == 0
        assert conn.execute(f"select id from {SCHEMA}.kept").fetchall() == [("a",)]  # user data stays

    assert "not installed" in cli("status", "--dsn", fresh, "--schema", SCHEMA).stdout
    cli("install", "--dsn", fresh, "--schema", SCHEMA)
    with psycopg.connect(fresh, autocommit=True) as conn:  # the kept table is a collection again
        assert conn.execute(f"select {SCHEMA}.count('kept')").fetchone()[0] == 1

    cli("uninstall", "--dsn", fresh, "--schema", SCHEMA, "--drop-collections")
    with psycopg.connect(fresh, autocommit=True) as conn:
        assert conn.execute("select to_regnamespace(%s)", (SCHEMA,)).fetchone()[0] is None


def test_dry_run_prints_sql_and_changes_nothing(fresh):
    result = cli("install", "--dsn", fresh, "--schema", SCHEMA, "--dry-run")
    assert "CREATE OR REPLACE FUNCTION" in result.stdout
    assert "dry run" in result.stderr
    with psycopg.connect(fresh, autocommit=True) as conn:
        assert conn.execute("select to_regnamespace(%s)", (SCHEMA,)).fetchone()[0] is None


def test_dsn_from_environment_and_url_schemes(fresh):
    # postgres:// is accepted as well as postgresql:// (and SQLAlchemy-style +driver URLs)
    url = fresh.replace("postgresql://", "postgres://", 1)
    assert cli("status", "--schema", SCHEMA, env={"VECS_DATABASE_URL": url}).returncode == 0
    url = fresh.replace("postgresql://", "postgresql+psycopg2://", 1)
    assert cli("status", "--schema", SCHEMA, env={"VECS_DATABASE_URL": "", "DATABASE_URL": url}).returncode == 0


def test_render_writes_file_for_a_target(tmp_path):
    out = tmp_path / "install.sql"
    cli("render", "--schema", "my_vecs", "--pgvector", "0.6.2", "--vector-schema", "extensions", "-o", str(out))
    text = out.read_text()
    assert 'CREATE SCHEMA IF NOT EXISTS "my_vecs"' in text
    assert '"extensions".vector' in text and 'OPERATOR("extensions".<=>)' in text
    assert "<+>" not in text  # no l1 operator before pgvector 0.7


@pytest.mark.parametrize(
    "args, message",
    [
        (["status", "--dsn", "postgresql://nobody@127.0.0.1:1/none"], "cannot connect"),
        (["install", "--dsn", "postgresql://nobody@127.0.0.1:1/none"], "cannot connect"),
        (["render", "--schema", "bad-name"], "schema 'bad-name' is not supported"),
    ],
)
def test_failures_are_one_clear_line(args, message):
    result = cli(*args, check=False)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vecs-sqlgen: error:"), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_install_fails_clearly_without_permission(fresh):
    with psycopg.connect(fresh, autocommit=True) as conn:
        conn.execute("drop role if exists vecs_cli_nobody")
        conn.execute("create role vecs_cli_nobody login")
    try:
        dsn = psycopg.conninfo.make_conninfo(fresh, user="vecs_cli_nobody")
        result = cli("install", "--dsn", dsn, "--schema", SCHEMA, check=False)
        assert result.returncode == 1
        assert result.stderr.startswith("vecs-sqlgen: error: not permitted"), result.stderr
    finally:
        with psycopg.connect(fresh, autocommit=True) as conn:
            conn.execute("drop role vecs_cli_nobody")


def test_install_and_status_warn_about_roles_that_may_create_in_the_schema(fresh):
    """A role with CREATE on the schema could plant an overload (issue 10): install and status name it."""
    cli("install", "--dsn", fresh, "--schema", SCHEMA)
    assert "warning" not in cli("status", "--dsn", fresh, "--schema", SCHEMA).stderr
    with psycopg.connect(fresh, autocommit=True) as conn:
        conn.execute("drop role if exists vecs_cli_planter")
        conn.execute("create role vecs_cli_planter login")
        conn.execute(f"grant usage, create on schema {SCHEMA} to vecs_cli_planter")
    try:
        for command in ("install", "status"):
            result = cli(command, "--dsn", fresh, "--schema", SCHEMA)
            assert "warning: roles that are not the owner" in result.stderr, result.stderr
            assert f"REVOKE CREATE ON SCHEMA {SCHEMA} FROM vecs_cli_planter" in result.stderr
    finally:
        with psycopg.connect(fresh, autocommit=True) as conn:
            conn.execute("drop owned by vecs_cli_planter")
            conn.execute("drop role vecs_cli_planter")


def test_install_refuses_a_schema_holding_objects_of_other_roles(fresh):
    """A function pre-created by a role that once had CREATE (the earlier README's grant) would stay
    its owner's through CREATE OR REPLACE: install refuses and names it; status warns."""
    cli("install", "--dsn", fresh, "--schema", SCHEMA)
    with psycopg.connect(fresh, autocommit=True) as conn:
        conn.execute("drop role if exists vecs_cli_squatter")
        conn.execute("create role vecs_cli_squatter login")
        conn.execute(f"drop function {SCHEMA}.list_indexes(text)")
        conn.execute(f"grant usage, create on schema {SCHEMA} to vecs_cli_squatter")
        conn.execute("set role vecs_cli_squatter")
        conn.execute(f"create function {SCHEMA}.list_indexes(collection text) returns table(index_name text, kind text,"
                     " method text, measure text, valid boolean) language sql as 'select null, null, null, null, null::boolean'")
        conn.execute("reset role")
        conn.execute(f"revoke create on schema {SCHEMA} from vecs_cli_squatter")
    try:
        status = cli("status", "--dsn", fresh, "--schema", SCHEMA)
        assert f"function {SCHEMA}.list_indexes(text) (owner vecs_cli_squatter)" in status.stderr, status.stderr
        with psycopg.connect(fresh, autocommit=True) as conn:
            # an upgrade (build_info says an older version) is refused while the squatter's function is there
            conn.execute(f"create or replace function {SCHEMA}.build_info() returns jsonb language sql as $$select '{{\"version\": \"0.0.1\"}}'::jsonb$$")
        result = cli("install", "--dsn", fresh, "--schema", SCHEMA, check=False)
        assert result.returncode == 1
        assert "holds objects of other roles" in result.stderr and "list_indexes(text) (owner vecs_cli_squatter)" in result.stderr
        with psycopg.connect(fresh, autocommit=True) as conn:
            conn.execute(f"drop function {SCHEMA}.list_indexes(text)")
        assert "upgraded" in cli("install", "--dsn", fresh, "--schema", SCHEMA).stdout
    finally:
        with psycopg.connect(fresh, autocommit=True) as conn:
            conn.execute("drop owned by vecs_cli_squatter")
            conn.execute("drop role vecs_cli_squatter")
