"""Fixtures of the safety suite (issue 6): the canary, clients, roles, fresh collections."""

from __future__ import annotations

import uuid

import pytest
from psycopg import sql


from ._support import CASES, OUTCOMES, RESULTS, Canary


def pytest_configure(config):
    config.addinivalue_line("markers", "safety_fixed(name): a repro test of a safety bug that has been fixed")


def pytest_terminal_summary(terminalreporter):
    for name, result in RESULTS.items():
        terminalreporter.write_sep("-", f"safety: {name}")
        terminalreporter.write_line("  " + ", ".join(f"{k}: {v}" for k, v in result.items()))
    if CASES:
        total = sum(CASES.values())
        terminalreporter.write_sep("-", f"safety: {total} generated hostile cases in {len(CASES)} property tests")
        for name, n in sorted(CASES.items()):
            ends = ", ".join(f"{label}: {k}" for label, k in OUTCOMES[name].most_common(6))
            terminalreporter.write_line(f"  {n:6d}  {name}" + (f"  ({ends})" if ends else ""))


@pytest.fixture(scope="module")
def canary(dsn):
    """A table in its own schema that no hostile input may read or write (checked by each test)."""
    c = Canary(dsn)
    yield c
    c.drop()


@pytest.fixture
def fresh_name(conn):
    """Factory of fresh collection names (with a quote and a space); every one is dropped after."""
    made: list[str] = []

    def make(prefix: str = "s") -> str:
        name = f'{prefix} "{uuid.uuid4().hex[:8]}"'
        made.append(name)
        return name

    yield make
    for name in made:
        conn.execute("select vecs.drop_collection(%s)", (name,))


@pytest.fixture
def make_collection(conn, fresh_name):
    """Factory: make_collection(dimension=3) → the name of a fresh collection made with SQL; dropped after."""

    def make(dimension: int = 3) -> str:
        name = fresh_name()
        conn.execute("select vecs.create_collection(%s, %s)", (name, dimension))
        return name

    return make


@pytest.fixture
def role(conn):
    """Factory: role(*grants) → a fresh role with USAGE on schema vecs; dropped after.

    Connect as it with ``_support.as_role(dsn, name)``.
    """
    made: list[str] = []

    def make() -> str:
        name = f"vecs_safety_{uuid.uuid4().hex[:8]}"
        conn.execute(sql.SQL("create role {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("grant usage on schema vecs to {}").format(sql.Identifier(name)))
        made.append(name)
        return name

    yield make
    for name in made:
        conn.execute(sql.SQL("drop owned by {} cascade").format(sql.Identifier(name)))
        conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))

