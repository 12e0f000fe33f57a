"""The caller's settings cannot change what the functions mean (issue 10, item 4): every function pins
search_path, standard_conforming_strings, gin_fuzzy_search_limit and plpgsql.extra_errors
(render.PINNED_SETTINGS). A session or a role with hostile values gets the same results; the
layer's own settings (vecs.*) are checked and a bad value is VX001 naming the setting."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

import vecs_sqlgen
from vecs_sqlgen import exc

from .helpers import raises
from .packaging import as_role, scratch  # noqa: F401 - fixtures

# Settings a caller may set (USERSET) that change how SQL is read or what a scan returns.
HOSTILE = {
    "standard_conforming_strings": "off",
    "gin_fuzzy_search_limit": "1",
    "plpgsql.extra_errors": "all",
    "plpgsql.extra_warnings": "all",
    "transform_null_equals": "on",
    "search_path": "pg_temp, public",
    "array_nulls": "off",
}

FILTERS = [
    {"tag": "x"},
    {"n": {"$gte": 100}},
    {"tag": {"$like": "x\\%"}},  # a backslash in a pattern: read differently with standard strings off
    {"$or": [{"tag": "x"}, {"n": {"$in": list(range(10))}}]},
    {"n": {"$nin": [1, 2, 3]}, "tag": {"$exists": True}},
    {"$not": {"tag": "x"}},
]


@pytest.fixture
def tagged(conn, collection):
    """2,000 records, every tenth tagged x; GIN-indexed and analyzed, with a vector index."""
    records = [[f"r{i}", [1.0, i / 2000, 0.5], {"n": i, **({"tag": "x"} if i % 10 == 0 else {})}] for i in range(2000)]
    conn.execute("select vecs.upsert(%s, %s)", (collection, Jsonb(records)))
    conn.execute("select vecs.create_index(%s)", (collection,))
    conn.execute(sql.SQL("analyze {}").format(sql.Identifier("vecs", collection)))
    return collection


def _results(c: psycopg.Connection, name: str) -> list:
    out = []
    for f in FILTERS:
        for threshold in ("0", "100000"):  # the index path and the exact path
            with c.transaction():
                c.execute(f"set local vecs.exact_search_threshold = {threshold}")
                c.execute("set local enable_seqscan = off")  # the GIN index answers containment
                out.append(c.execute("select id from vecs.query(%s, '[1,0.5,0.5]', k => 300, filters => %s)",
                                     (name, Jsonb(f))).fetchall())
        out.append(c.execute("select count(*) from vecs.delete(%s, filters => %s) where false", (name, Jsonb(f))).fetchall())
    return out


def test_hostile_session_settings_change_nothing(conn, tagged):
    expected = _results(conn, tagged)
    assert [len(r) for r in expected[:2]] == [200, 200]
    with conn.transaction(force_rollback=True):
        for name, value in HOSTILE.items():
            conn.execute(sql.SQL("select set_config({}, {}, true)").format(sql.Literal(name), sql.Literal(value)))
        assert conn.execute("show standard_conforming_strings").fetchone()[0] == "off"
        assert _results(conn, tagged) == expected
        # the read paths that take no filter too
        assert len(conn.execute("select * from vecs.fetch(%s, array['r1','r2'])", (tagged,)).fetchall()) == 2
        assert conn.execute("select vecs.count(%s)", (tagged,)).fetchone()[0] == 2000
        conn.execute("select vecs.upsert(%s, %s)", (tagged, Jsonb([["q\\'", [1, 2, 3], {"k": "a\\b"}]])))
        assert conn.execute("select metadata from vecs.fetch(%s, array[%s])", (tagged, "q\\'")).fetchone()[0] == {"k": "a\\b"}


def test_hostile_role_settings_change_nothing(dsn, conn, tagged, scratch):
    """The same settings on the calling role (ALTER ROLE … SET), from SQL and from the Python client."""
    expected = _results(conn, tagged)
    role = scratch.role("vecs_settings")
    conn.execute(sql.SQL("grant usage on schema vecs to {}").format(sql.Identifier(role)))
    conn.execute(sql.SQL("grant select, insert, update, delete on {} to {}").format(
        sql.Identifier("vecs", tagged), sql.Identifier(role)))
    for name, value in HOSTILE.items():
        conn.execute(sql.SQL("alter role {} set {} = {}").format(sql.Identifier(role), sql.Identifier(*name.split(".")),
                                                                  sql.Literal(value)))
    try:
        with psycopg.connect(as_role(dsn, role), autocommit=True) as c:
            assert c.execute("show standard_conforming_strings").fetchone()[0] == "off"
            assert _results(c, tagged) == expected
        with vecs_sqlgen.create_client(as_role(dsn, role)) as vx:
            docs = vx.get_or_create_collection(tagged, dimension=3)
            for f in FILTERS:
                assert len(docs.query(data=[1, 0.5, 0.5], limit=300, filters=f)) == len(expected[3 * FILTERS.index(f)])
    finally:  # its grants live in this database, which may not be the one scratch cleans
        conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))


def test_a_bad_exact_search_threshold_is_an_argument_error(conn, tagged, vx):
    for value in ("abc", "-1", "1e3", "99999999999999999999"):
        with conn.transaction(force_rollback=True):
            conn.execute("select set_config('vecs.exact_search_threshold', %s, true)", (value,))
            with raises("VX001", match=f'setting vecs.exact_search_threshold must be a non-negative integer, got "{value}"'):
                conn.execute("select * from vecs.query(%s, '[1,0,0]', filters => '{\"n\": 1}')", (tagged,))
    conn.execute("set vecs.exact_search_threshold = ' 500 '")  # spaces are fine
    assert conn.execute("select count(*) from vecs.query(%s, '[1,0,0]', filters => '{\"n\": 1}')", (tagged,)).fetchone()[0] == 1
    conn.execute("reset vecs.exact_search_threshold")
    with vx.session.connection() as c:  # the pool's one connection, which the next call takes
        c.execute("set vecs.exact_search_threshold = 'many'")
    with pytest.raises(exc.ArgError, match="vecs.exact_search_threshold"):
        vx.get_or_create_collection(tagged, dimension=3).query([1, 0, 0], filters={"n": 1})


def test_a_bad_exact_search_share_is_an_argument_error(conn, tagged):
    for value in ("abc", "-0.1", "1.5", "2", "1e-3", "0.1234567"):
        with conn.transaction(force_rollback=True):
            conn.execute("select set_config('vecs.exact_search_share', %s, true)", (value,))
            with raises("VX001", match=f'setting vecs.exact_search_share must be a fraction between 0 and 1, got "{value}"'):
                conn.execute("select * from vecs.query(%s, '[1,0,0]', filters => '{\"n\": 1}')", (tagged,))
    for value in ("0", ".5", "0.25", " 1 ", "1.0"):
        with conn.transaction(force_rollback=True):
            conn.execute("select set_config('vecs.exact_search_share', %s, true)", (value,))
            assert conn.execute("select count(*) from vecs.query(%s, '[1,0,0]', filters => '{\"n\": 1}')", (tagged,)).fetchone()[0] == 1


def test_a_bad_max_build_memory_is_an_argument_error(conn, tagged, vx):
    for value in ("lots", "-1GB", "1 parsec", "0"):
        with conn.transaction(force_rollback=True):
            conn.execute("select set_config('vecs.max_build_memory', %s, true)", (value,))
            with raises("VX001", match=f'setting vecs.max_build_memory must be a size such as 1GB or 512MB, got "{value}"'):
                conn.execute("select vecs.create_index(%s)", (tagged,))
    with vx.session.connection() as c:
        c.execute("set vecs.max_build_memory = 'plenty'")
    with pytest.raises(exc.ArgError, match="vecs.max_build_memory"):
        vx.get_or_create_collection(tagged, dimension=3).create_index()
