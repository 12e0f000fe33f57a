"""create_collection, get_or_create_collection, drop_collection, list_collections — from SQL (issue 2)."""

from __future__ import annotations

import re
import threading
import time
import uuid

import psycopg
import pytest

from .helpers import raises, table


def unique(prefix: str = "c") -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def exists_in_vecs(conn, name: str) -> bool:
    return conn.execute(
        "select exists (select 1 from pg_class where relname = %s and relnamespace = 'vecs'::regnamespace)", (name,)
    ).fetchone()[0]


# ----------------------------------------------------------------------------- create_collection


def test_create_collection_returns_regclass(conn):
    name = unique()
    try:
        cur = conn.execute("select vecs.create_collection(%s, 3)", (name,))
        assert cur.description[0].type_code == conn.adapters.types["regclass"].oid
        reg = cur.fetchone()[0]
        assert reg == f'vecs."{name}"'
        # the regclass is the table in schema vecs
        oid_schema = conn.execute("select relnamespace::regnamespace::text from pg_class where oid = %s::regclass", (reg,)).fetchone()[0]
        assert oid_schema == "vecs"
    finally:
        conn.execute("select vecs.drop_collection(%s)", (name,))


def test_create_collection_named_notation(conn):
    name = unique()
    try:
        reg = conn.execute(
            "select vecs.create_collection(name => %s, dimension => 3)::text", (name,)
        ).fetchone()[0]
        assert reg == f'vecs."{name}"'
        assert conn.execute("select vecs.drop_collection(name => %s)", (name,)).fetchone()[0] is True
        reg = conn.execute(
            "select vecs.get_or_create_collection(dimension => 5, name => %s)::text", (name,)
        ).fetchone()[0]
        assert reg == f'vecs."{name}"'
        assert conn.execute(
            "select dimension from vecs.list_collections() where name = %s", (name,)
        ).fetchone()[0] == 5
    finally:
        conn.execute("select vecs.drop_collection(%s)", (name,))


def test_create_existing_is_vx004(conn, collection):
    with raises("VX004", f'collection "{collection}" already exists'):
        conn.execute("select vecs.create_collection(%s, 3)", (collection,))
    with raises("VX004"):  # also with another dimension
        conn.execute("select vecs.create_collection(%s, 7)", (collection,))


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a" * 64,
        "é" * 32,  # 32 characters, 64 bytes
        "_private",
        "_",
        None,
    ],
    ids=["empty", "64-ascii", "64-bytes-utf8", "underscore", "lone-underscore", "null"],
)
def test_create_collection_bad_name_is_vx001(conn, name):
    with raises("VX001"):
        conn.execute("select vecs.create_collection(%s, 3)", (name,))
    with raises("VX001"):
        conn.execute("select vecs.get_or_create_collection(%s, 3)", (name,))
    if name:
        assert not exists_in_vecs(conn, name)
        assert not exists_in_vecs(conn, name.encode()[:63].decode(errors="ignore"))  # never truncated


@pytest.mark.parametrize("dimension", [0, -1, 16001, None])
def test_create_collection_bad_dimension_is_vx001(conn, dimension):
    name = unique()
    with raises("VX001"):
        conn.execute("select vecs.create_collection(%s, %s::integer)", (name, dimension))
    with raises("VX001"):
        conn.execute("select vecs.get_or_create_collection(%s, %s::integer)", (name, dimension))
    assert not exists_in_vecs(conn, name)


@pytest.mark.parametrize("dimension", [1, 16000])
def test_create_collection_dimension_bounds_ok(conn, dimension):
    name = unique()
    try:
        conn.execute("select vecs.create_collection(%s, %s)", (name, dimension))
        assert conn.execute("select dimension from vecs.list_collections() where name = %s", (name,)).fetchone() == (dimension,)
    finally:
        conn.execute("select vecs.drop_collection(%s)", (name,))


@pytest.mark.parametrize(
    "name",
    [
        'say "hi"',
        "it's",
        "with space",
        "UPPER lower",
        "ünïcödé ✓ 名前",
        "שלום עולם",  # right-to-left
        "x\u0301",  # combining mark
        "pg_catalog.pg_class",
        "public.t",
        'x"; drop table vecs.t; --',
        "a" * 63,
        "é" * 31 + "a",  # 63 bytes
        "名" * 21,  # 63 bytes
        "$1",
        "%s %I %L",
    ],
)
def test_names_are_quoted_identifiers(conn, name):
    """Any string Postgres takes as a quoted identifier names a collection in schema vecs, nowhere else."""
    pg_class_before = conn.execute("select count(*) from pg_catalog.pg_class").fetchone()[0]
    try:
        reg = conn.execute("select vecs.create_collection(%s, 3)::oid", (name,)).fetchone()[0]
        assert conn.execute(
            "select relname, relnamespace::regnamespace::text from pg_class where oid = %s", (reg,)
        ).fetchone() == (name, "vecs")
        assert conn.execute("select vecs.upsert(%s, '[[\"a\", [1, 2, 3], {\"k\": 1}]]')", (name,)).fetchone()[0] == 1
        assert conn.execute("select id, vec::text, metadata from vecs.fetch(%s, array['a'])", (name,)).fetchall() == [
            ("a", "[1,2,3]", {"k": 1})
        ]
        assert conn.execute("select vecs.count(%s)", (name,)).fetchone()[0] == 1
        assert conn.execute("select id from vecs.query(%s, '[1,2,3]', filters => '{\"k\": 1}')", (name,)).fetchall() == [("a",)]
        assert conn.execute("select name from vecs.list_collections() where name = %s", (name,)).fetchall() == [(name,)]
        assert conn.execute("select vecs.get_or_create_collection(%s, 3)::oid", (name,)).fetchone()[0] == reg
        assert conn.execute("select * from vecs.delete(%s, ids => array['a'])", (name,)).fetchall() == [("a",)]
    finally:
        assert conn.execute("select vecs.drop_collection(%s)", (name,)).fetchone()[0] is True
    assert not exists_in_vecs(conn, name)
    # pg_catalog.pg_class (or public.t) was never touched: only the collection came and went
    assert conn.execute("select count(*) from pg_catalog.pg_class").fetchone()[0] == pg_class_before
    assert conn.execute("select to_regclass('pg_catalog.pg_class') is not null").fetchone()[0]


def test_dotted_name_never_reaches_another_schema(conn):
    conn.execute("create table if not exists public.vecs_dotted_probe (id text primary key, vec vector(3) not null, metadata jsonb not null default '{}')")
    try:
        conn.execute("insert into public.vecs_dotted_probe values ('keep', '[1,1,1]', '{}') on conflict do nothing")
        name = "public.vecs_dotted_probe"
        # it is not a collection of schema vecs, so nothing reaches public.vecs_dotted_probe
        assert conn.execute("select vecs.drop_collection(%s)", (name,)).fetchone()[0] is False
        with raises("VX003"):
            conn.execute("select vecs.count(%s)", (name,))
        with raises("VX003"):
            conn.execute("select * from vecs.delete(%s, ids => array['keep'])", (name,))
        with raises("VX003"):
            conn.execute("select vecs.upsert(%s, '[[\"x\", [1,2,3]]]')", (name,))
        assert name not in [r[0] for r in conn.execute("select name from vecs.list_collections()")]
        assert conn.execute("select id from public.vecs_dotted_probe").fetchall() == [("keep",)]
    finally:
        conn.execute("drop table public.vecs_dotted_probe")


# ----------------------------------------------------------------------------- table shape


def test_table_shape_is_vecs(conn, collection):
    reg = table(conn, collection)
    cols = conn.execute(
        """select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
           from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
           where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum""",
        (reg,),
    ).fetchall()
    assert [(c[0], c[1].rsplit(".", 1)[-1], c[2], c[3]) for c in cols] == [
        ("id", "text", True, None),
        ("vec", "vector(3)", True, None),
        ("metadata", "jsonb", True, "'{}'::jsonb"),
    ]
    pk = conn.execute(
        "select pg_get_constraintdef(oid) from pg_constraint where conrelid = %s::regclass and contype = 'p'", (reg,)
    ).fetchall()
    assert pk == [("PRIMARY KEY (id)",)]
    indexes = conn.execute(
        """select i.relname, am.amname, pg_get_indexdef(x.indexrelid), x.indisprimary
           from pg_index x join pg_class i on i.oid = x.indexrelid join pg_am am on am.oid = i.relam
           where x.indrelid = %s::regclass order by x.indisprimary, i.relname""",
        (reg,),
    ).fetchall()
    assert len(indexes) == 2
    gin, pkey = indexes
    assert pkey[3] is True and pkey[1] == "btree"
    assert gin[1] == "gin"
    assert re.fullmatch(r"ix_meta_[0-9a-f_]{7}", gin[0]), gin[0]
    assert gin[2].endswith("USING gin (metadata jsonb_path_ops)"), gin[2]
    # no other constraints (no checks, no foreign keys; PostgreSQL 18 lists NOT NULL as contype n)
    assert conn.execute(
        "select count(*) from pg_constraint where conrelid = %s::regclass and contype <> 'n'", (reg,)
    ).fetchone()[0] == 1


def test_each_collection_gets_its_own_meta_index_name(conn, make_collection):
    a, b = make_collection(), make_collection()
    names = conn.execute(
        "select i.relname from pg_index x join pg_class i on i.oid = x.indexrelid "
        "where x.indrelid in (%s::regclass, %s::regclass) and i.relname like 'ix\\_meta\\_%%'",
        (table(conn, a), table(conn, b)),
    ).fetchall()
    assert len(names) == 2 and names[0] != names[1]


# ----------------------------------------------------------------------------- get_or_create_collection


def test_get_or_create_is_idempotent(conn):
    name = unique()
    try:
        first = conn.execute("select vecs.get_or_create_collection(%s, 4)::oid", (name,)).fetchone()[0]
        conn.execute("select vecs.upsert(%s, '[[\"a\", [1,2,3,4]]]')", (name,))
        second = conn.execute("select vecs.get_or_create_collection(%s, 4)::oid", (name,)).fetchone()[0]
        assert first == second
        assert conn.execute("select vecs.count(%s)", (name,)).fetchone()[0] == 1  # data kept
        assert conn.execute("select vecs.get_or_create_collection(%s, 4)::text", (name,)).fetchone()[0] == f'vecs."{name}"'
    finally:
        conn.execute("select vecs.drop_collection(%s)", (name,))


def test_get_or_create_other_dimension_is_vx005(conn, collection):
    with raises("VX005", f'collection "{collection}" has dimension 3, not 4'):
        conn.execute("select vecs.get_or_create_collection(%s, 4)", (collection,))


def test_get_or_create_over_a_non_collection_table_is_an_error(conn):
    name = unique("plain")
    conn.execute(f'create table vecs."{name}" (x int)')
    try:
        with raises("VX004"):
            conn.execute("select vecs.get_or_create_collection(%s, 3)", (name,))
        with raises("VX004"):
            conn.execute("select vecs.create_collection(%s, 3)", (name,))
        # and drop_collection does not drop what is not a collection
        assert conn.execute("select vecs.drop_collection(%s)", (name,)).fetchone()[0] is False
        assert exists_in_vecs(conn, name)
    finally:
        conn.execute(f'drop table vecs."{name}"')


def test_get_or_create_concurrently_from_two_connections(dsn):
    """Two sessions racing to create the same new collection both succeed and get the same table."""
    name = unique("race")
    results: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def worker(tag: str) -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as c:
                barrier.wait(timeout=10)
                results[tag] = c.execute("select vecs.get_or_create_collection(%s, 3)::oid", (name,)).fetchone()[0]
        except Exception as e:  # noqa: BLE001 - reported below
            results[tag] = e

    threads = [threading.Thread(target=worker, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with psycopg.connect(dsn, autocommit=True) as c:
        try:
            assert not isinstance(results.get("a"), Exception), results
            assert not isinstance(results.get("b"), Exception), results
            assert results["a"] == results["b"] is not None
        finally:
            c.execute("select vecs.drop_collection(%s)", (name,))


def test_get_or_create_waits_for_a_concurrent_creator(dsn, conn, conn2):
    """Deterministic race: B calls while A's creating transaction is still open; B waits, then gets A's table."""
    name = unique("race")
    result: dict[str, object] = {}

    def b() -> None:
        try:
            result["b"] = conn2.execute("select vecs.get_or_create_collection(%s, 3)::oid", (name,)).fetchone()[0]
        except Exception as e:  # noqa: BLE001
            result["b"] = e

    try:
        with conn.transaction():
            result["a"] = conn.execute("select vecs.get_or_create_collection(%s, 3)::oid", (name,)).fetchone()[0]
            t = threading.Thread(target=b)
            t.start()
            time.sleep(0.3)
            assert t.is_alive(), f"B did not wait for A: {result}"
        t.join(10)
        assert result["b"] == result["a"], result
    finally:
        conn.execute("select vecs.drop_collection(%s)", (name,))


# ----------------------------------------------------------------------------- drop_collection


def test_drop_collection_true_then_false(conn):
    name = unique()
    conn.execute("select vecs.create_collection(%s, 3)", (name,))
    conn.execute("select vecs.upsert(%s, '[[\"a\", [1,2,3]]]')", (name,))
    conn.execute("select vecs.create_index(%s)", (name,))
    assert conn.execute("select vecs.drop_collection(%s)", (name,)).fetchone()[0] is True
    assert not exists_in_vecs(conn, name)
    assert conn.execute("select vecs.drop_collection(%s)", (name,)).fetchone()[0] is False
    assert conn.execute("select vecs.drop_collection(name => %s)", (unique("never"),)).fetchone()[0] is False
    with raises("VX003"):
        conn.execute("select vecs.count(%s)", (name,))


def test_drop_collection_never_drops_internal_objects(conn):
    name = "_internal_" + uuid.uuid4().hex[:6]
    conn.execute(f'create table vecs."{name}" (id text primary key, vec vector(3) not null, metadata jsonb not null default \'{{}}\')')
    try:
        assert conn.execute("select vecs.drop_collection(%s)", (name,)).fetchone()[0] is False
        assert exists_in_vecs(conn, name)
        with raises("VX003"):
            conn.execute("select vecs.count(%s)", (name,))
    finally:
        conn.execute(f'drop table vecs."{name}"')


# ----------------------------------------------------------------------------- list_collections


def test_list_collections_columns(conn):
    cur = conn.execute("select * from vecs.list_collections() limit 0")
    cols = [d.name for d in cur.description]
    assert cols[:2] == ["name", "dimension"]
    assert {"index_name", "index_method", "index_measure"} <= set(cols)
    types = {d.name: d.type_code for d in cur.description}
    assert types["name"] == conn.adapters.types["text"].oid
    assert types["dimension"] == conn.adapters.types["int4"].oid


def test_list_collections_contents(conn, make_collection):
    a = make_collection(3)
    b = make_collection(5, name=f"b 'q\" {uuid.uuid4().hex[:6]}")
    internal = "_hidden_" + uuid.uuid4().hex[:6]
    plain = "plain " + uuid.uuid4().hex[:6]
    made_by_vecs = "vecs made " + uuid.uuid4().hex[:6]
    conn.execute(f'create table vecs."{internal}" (id text primary key, vec vector(3) not null, metadata jsonb not null default \'{{}}\')')
    conn.execute(f'create table vecs."{plain}" (id text primary key, metadata jsonb)')
    # a table made by vecs itself (same shape, its own index names) is a collection too
    conn.execute(f'create table vecs."{made_by_vecs}" (id text primary key, vec vector(2) not null, metadata jsonb not null default \'{{}}\')')
    try:
        listed = {r[0]: r for r in conn.execute("select name, dimension, index_name, index_method, index_measure from vecs.list_collections()")}
        assert listed[a] == (a, 3, None, None, None)
        assert listed[b] == (b, 5, None, None, None)
        assert listed[made_by_vecs] == (made_by_vecs, 2, None, None, None)
        assert internal not in listed
        assert plain not in listed
        assert not [n for n in listed if n.startswith("_")]

        index = conn.execute("select vecs.create_index(%s, measure => 'l2_distance', method => 'hnsw')", (a,)).fetchone()[0]
        row = conn.execute(
            "select name, dimension, index_name, index_method, index_measure from vecs.list_collections() where name = %s", (a,)
        ).fetchone()
        assert row == (a, 3, index, "hnsw", "l2_distance")
        # sorted by name, one row per collection
        names = [r[0] for r in conn.execute("select name from vecs.list_collections()")]
        assert len(names) == len(set(names))
    finally:
        for t in (internal, plain, made_by_vecs):
            conn.execute(f'drop table vecs."{t}"')


def test_list_collections_ignores_other_schemas(conn):
    schema = "other_" + uuid.uuid4().hex[:6]
    conn.execute(f"create schema {schema}")
    try:
        conn.execute(f"create table {schema}.t (id text primary key, vec vector(3) not null, metadata jsonb not null default '{{}}')")
        assert "t" not in [r[0] for r in conn.execute("select name from vecs.list_collections()")]
        with raises("VX003"):
            conn.execute("select vecs.count('t')")
    finally:
        conn.execute(f"drop schema {schema} cascade")


def test_create_collection_race_loser_gets_vx004(conn, conn2):
    """Two create_collection calls racing on one name: the second waits, then gets VX004 (not a raw
    unique-violation or duplicate-table error)."""
    name = unique("race")
    result: dict[str, object] = {}

    def b() -> None:
        try:
            result["b"] = conn2.execute("select vecs.create_collection(%s, 3)::oid", (name,)).fetchone()[0]
        except psycopg.Error as e:
            result["b"] = e

    try:
        with conn.transaction():
            conn.execute("select vecs.create_collection(%s, 3)", (name,))
            t = threading.Thread(target=b)
            t.start()
            time.sleep(0.3)
            assert t.is_alive(), f"B did not wait for A: {result}"
        t.join(10)
        assert isinstance(result["b"], psycopg.Error), result
        assert result["b"].sqlstate == "VX004", (result["b"].sqlstate, str(result["b"]))
    finally:
        conn.execute("select vecs.drop_collection(%s)", (name,))


def test_drop_while_creating_waits(conn, conn2):
    """drop_collection takes the same per-name lock, so it sees the committed collection."""
    name = unique("race")
    result: dict[str, object] = {}

    def b() -> None:
        result["b"] = conn2.execute("select vecs.drop_collection(%s)", (name,)).fetchone()[0]

    with conn.transaction():
        conn.execute("select vecs.create_collection(%s, 3)", (name,))
        t = threading.Thread(target=b)
        t.start()
        time.sleep(0.3)
        assert t.is_alive()
    t.join(10)
    assert result["b"] is True
    assert not exists_in_vecs(conn, name)
