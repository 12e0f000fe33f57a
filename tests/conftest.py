"""Test servers: VECS_TEST_DSN if set; else a Docker container when an engine is reachable; else an
embedded PostgreSQL + pgvector started for the session. Every database test runs against a real
server; nothing is skipped for lack of Docker.
"""

from __future__ import annotations

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
        from testcontainers.postgres import PostgresContainer

        image = os.environ.get("VECS_TEST_IMAGE", "pgvector/pgvector:pg17")
        with PostgresContainer(image, driver=None) as pg:
            yield pg.get_connection_url()
        return
    from vecs_sqlgen import dsn as _dsn

    data = Path(tempfile.mkdtemp(prefix="vecs-test-pg-"))
    server = _dsn.embedded_server(data, keep_running=True)
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        subprocess.run([str(_dsn.embedded_bin("pg_ctl")), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def dsn(server_dsn):
    """The server with the vecs SQL layer installed in schema vecs, the way users install it."""
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        _install.install(conn, "vecs")
    return server_dsn


@pytest.fixture
def conn(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        yield c


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
