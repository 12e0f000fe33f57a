"""Test servers: VECS_TEST_DSN if set; else a container of the Dockerfile.postgres image (PostgreSQL +
pgvector + CREATE EXTENSION vecs) when a Docker engine is reachable; else an embedded PostgreSQL +
pgvector started for the session. Every database test runs against a real server; nothing is skipped
for lack of Docker.

Install route of the session's schema vecs (the ``dsn`` fixture): ``vecs-sqlgen install`` by default;
VECS_TEST_INSTALL=extension: CREATE EXTENSION vecs CASCADE in a fresh database, from the bundle copied
into the server's extension directory (found with VECS_TEST_PG_CONFIG, else the embedded server's
pg_config); the Docker image's database has the extension already.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from vecs_sqlgen import install as _install

ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=1)
def _docker_reachable() -> bool:
    if os.environ.get("VECS_TEST_NO_DOCKER") or not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def server_dsn():
    """A DSN of a server with pgvector available, for the whole session."""
    if os.environ.get("VECS_TEST_DSN"):
        yield os.environ["VECS_TEST_DSN"]
        return
    if _docker_reachable():
        from testcontainers.core.image import DockerImage
        from testcontainers.postgres import PostgresContainer

        from vecs_sqlgen import bundle, render

        # the image of Dockerfile.postgres, with the bundle rendered for its pgvector (its build argument)
        pgvector = os.environ.get("VECS_TEST_PGVECTOR", "0.8.1")
        bundle.write(ROOT / "extension", caps=render.Capabilities(pgvector=pgvector))
        with DockerImage(path=ROOT, dockerfile_path="Dockerfile.postgres", tag="vecs-sqlgen-postgres:test",
                         buildargs={"PGVECTOR": pgvector}) as image:
            with PostgresContainer(str(image), driver=None) as pg:
                yield pg.get_connection_url()
        return
    from vecs_sqlgen import dsn as _dsn

    data = Path(tempfile.mkdtemp(prefix="vecs-test-pg-"))
    # cleanup_mode "stop": cleanup() stops the server as the OS user it runs as (pg_ctl refuses root)
    server = _dsn.embedded_server(data, keep_running=False)
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_config():
    """pg_config of the test server's installation when its extension directory is on this machine
    (VECS_TEST_PG_CONFIG, else the embedded server's), else None (VECS_TEST_DSN, Docker)."""
    if os.environ.get("VECS_TEST_PG_CONFIG"):
        return Path(os.environ["VECS_TEST_PG_CONFIG"])
    if os.environ.get("VECS_TEST_DSN") or _docker_reachable():
        return None
    from vecs_sqlgen import bundle

    return bundle.embedded_pg_config()


@pytest.fixture(scope="session")
def dsn(server_dsn, pg_config, tmp_path_factory):
    """The server with the vecs SQL layer installed in schema vecs, the way users install it (see above)."""
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        if _install.extension_managed(conn, "vecs"):
            return server_dsn  # the Docker image created the extension at init
        if os.environ.get("VECS_TEST_INSTALL", "cli") == "extension":
            return _extension_database(conn, server_dsn, pg_config, tmp_path_factory.mktemp("bundle"))
        _install.install(conn, "vecs")
    return server_dsn


def _extension_database(admin, server_dsn: str, pg_config, folder: Path) -> str:
    from vecs_sqlgen import bundle, render

    if pg_config is None:
        raise RuntimeError("VECS_TEST_INSTALL=extension needs the server's extension directory: set VECS_TEST_PG_CONFIG")
    caps = render.Capabilities(pgvector=bundle.available_pgvector(pg_config))
    bundle.install_files(bundle.write(folder, caps=caps), pg_config)
    admin.execute("drop database if exists vecs_extension_test")
    admin.execute("create database vecs_extension_test")
    dsn = psycopg.conninfo.make_conninfo(server_dsn, dbname="vecs_extension_test")
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("create extension vecs cascade")
    return dsn


@pytest.fixture
def cli_route(conn):
    """For tests that run `vecs-sqlgen install` over the session's schema vecs: skipped where an
    extension manages it (the CLI-route run covers them)."""
    if _install.extension_managed(conn, "vecs"):
        pytest.skip("schema vecs is managed by CREATE EXTENSION vecs here; the CLI-route run covers this test")


@pytest.fixture
def conn(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        yield c


@pytest.fixture
def vx(dsn):
    """A Python client on the session's server."""
    import vecs_sqlgen

    client = vecs_sqlgen.create_client(dsn)
    yield client
    client.disconnect()


@pytest.fixture
def collection(conn):
    """A fresh 3-dimensional collection; its name has a quote and a space to keep quoting honest."""
    name = f'c "{uuid.uuid4().hex[:8]}" x'
    conn.execute("select vecs.create_collection(%s, 3)", (name,))
    yield name
    conn.execute("select vecs.drop_collection(%s)", (name,))


@pytest.fixture(scope="session")
def pgvector_version(dsn):
    with psycopg.connect(dsn) as c:
        return tuple(int(x) for x in c.execute("select extversion from pg_extension where extname='vector'").fetchone()[0].split(".")[:3])


def pytest_configure(config):
    config.addinivalue_line("markers", "pgvector(min): needs at least this pgvector version, e.g. pgvector('0.8.0')")


@pytest.fixture(autouse=True)
def _pgvector_min(request):
    marker = request.node.get_closest_marker("pgvector")
    if marker is None:
        return
    have = request.getfixturevalue("pgvector_version")
    need = tuple(int(x) for x in marker.args[0].split("."))
    request.node.user_properties.append(("pgvector", have))
    if have < need:
        pytest.skip(f"needs pgvector >= {marker.args[0]}; the server has {'.'.join(map(str, have))} (its absence is tested separately)")


def q(name: str) -> sql.Composable:
    """A quoted identifier for test SQL."""
    return sql.Identifier(name)
