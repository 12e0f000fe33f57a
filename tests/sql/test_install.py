"""install(): no-op when current, upgrade when older, never a downgrade under a newer client."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from vecs_sqlgen import exc, install

SCHEMA = "vecs_install_test"


@pytest.fixture
def scratch(server_dsn):
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(SCHEMA)))
        yield conn
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(SCHEMA)))


def fake_version(conn, version: str) -> None:
    """Make the installed layer claim another version, as an older or newer release would."""
    info = install.build_info(conn, SCHEMA)
    info["version"] = version
    conn.execute(
        sql.SQL("create or replace function {}.build_info() returns jsonb language sql as {}").format(
            sql.Identifier(SCHEMA), sql.Literal(f"select {sql.Literal(psycopg.types.json.Jsonb(info)).as_string(conn)}")
        )
    )


def test_install_actions(scratch):
    assert install.install(scratch, SCHEMA).action == "installed"
    assert install.install(scratch, SCHEMA).action == "unchanged"

    fake_version(scratch, "0.0.1")
    result = install.install(scratch, SCHEMA)
    assert (result.action, result.previous) == ("upgraded", "0.0.1")
    assert install.installed_version(scratch, SCHEMA) == result.version

    fake_version(scratch, "99.0.0")
    result = install.install(scratch, SCHEMA)
    assert (result.action, result.previous) == ("newer", "99.0.0")
    assert install.installed_version(scratch, SCHEMA) == "99.0.0"  # left alone


def test_edited_templates_reinstall(scratch):
    install.install(scratch, SCHEMA)
    info = install.build_info(scratch, SCHEMA)
    info["digest"] = "something-else"
    scratch.execute(
        sql.SQL("create or replace function {}.build_info() returns jsonb language sql as {}").format(
            sql.Identifier(SCHEMA), sql.Literal(f"select {sql.Literal(psycopg.types.json.Jsonb(info)).as_string(scratch)}")
        )
    )
    assert install.install(scratch, SCHEMA).action == "reinstalled"
    assert install.install(scratch, SCHEMA).action == "unchanged"


def test_install_error_is_a_vecs_exception(scratch):
    assert issubclass(install.InstallError, exc.VecsException)
    with pytest.raises(ValueError):
        install.install(scratch, "bad-name")


def test_concurrent_installers_take_turns(server_dsn, scratch):
    import threading

    results, errors = [], []

    def run():
        try:
            with psycopg.connect(server_dsn, autocommit=True) as c:
                results.append(install.install(c, SCHEMA).action)
        except Exception as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == ["installed", "unchanged", "unchanged", "unchanged"]
