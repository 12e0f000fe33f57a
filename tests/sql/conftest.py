"""Shared fixtures of the SQL-level tests: they call the vecs.* functions the way a psql user does."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from .helpers import drop_collections


@pytest.fixture
def make_collection(conn):
    """Factory: make_collection(dimension=3, name=None) → a fresh collection name; all dropped after."""
    made: list[str] = []

    def make(dimension: int = 3, name: str | None = None) -> str:
        name = name or f"t {uuid.uuid4().hex[:10]}"
        conn.execute("select vecs.create_collection(%s, %s)", (name, dimension))
        made.append(name)
        return name

    yield make
    drop_collections(conn, made)


@pytest.fixture
def conn2(dsn):
    """A second autocommit connection, for concurrency and transaction tests."""
    with psycopg.connect(dsn, autocommit=True) as c:
        yield c


@pytest.fixture
def legacy_schema(conn):
    """Factory: legacy_schema("0.6.2") → a schema holding the layer rendered for that older pgvector.

    The functions are rendered the way install renders them for a server whose pgvector is that
    version (same vector schema as this server), so the clear errors for what an old pgvector lacks
    are tested on every server, not only on old ones.
    """
    import dataclasses

    from vecs_sqlgen import install, render

    made: list[str] = []

    def make(pgvector: str) -> str:
        schema = "vecs_pgv" + pgvector.replace(".", "")
        caps = dataclasses.replace(install.detect(conn), pgvector=pgvector)
        conn.execute(f"drop schema if exists {schema} cascade")
        made.append(schema)
        with conn.transaction():
            conn.execute(render.render(schema, caps).sql)
        return schema

    yield make
    for schema in made:
        conn.execute(f"drop schema if exists {schema} cascade")
