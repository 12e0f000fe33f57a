"""Privilege boundaries (issue 6): every vecs function runs as its caller (SECURITY INVOKER), so a role
reaches exactly what its own grants allow; a collection argument only ever names a collection table
in schema vecs. tests/sql/test_catalog.py checks prosecdef/proconfig and the basic 42501 for a role
without SELECT; these tests prove the behaviour with row-level security, column grants, grants that
stop short (INSERT without UPDATE, DELETE without SELECT), ownership, decoy objects and a hijacked
search_path."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

import vecs_sqlgen as vecs
from vecs_sqlgen import exc

from ._support import as_role, known_bug

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

DOCS = [["a", [1, 0, 0], {"owner": "alice", "year": 2001}],
        ["b", [0, 1, 0], {"owner": "bob", "year": 2002}],
        ["c", [0, 0, 1], {"owner": "alice", "year": 2003}]]


def _ident(*parts: str) -> sql.Composable:
    return sql.Identifier(*parts)


def _grant(conn, privileges: str, table: str, role: str) -> None:
    conn.execute(sql.SQL("grant " + privileges + " on {} to {}").format(_ident("vecs", table), _ident(role)))


@pytest.fixture
def docs(conn, make_collection):
    name = make_collection(3)
    conn.execute("select vecs.upsert(%s, %s)", (name, Jsonb(DOCS)))
    conn.execute("select vecs.create_index(%s)", (name,))
    conn.execute(sql.SQL("analyze {}").format(_ident("vecs", name)))
    return name


def _code(conn, stmt: str, params: tuple = ()) -> str | None:
    """The SQLSTATE a statement fails with, or None when it succeeds (its rows are discarded)."""
    try:
        conn.execute(stmt, params).fetchall()
    except psycopg.Error as e:
        return e.sqlstate
    return None


# ----------------------------------------------------------------------------- SECURITY INVOKER, proven


def test_row_level_security_applies_inside_every_function(dsn, conn, docs, role):
    """With RLS on the collection, a role sees and deletes only its own rows through vecs.*: the
    functions run as the caller (a SECURITY DEFINER function owned by the superuser would see all)."""
    alice = role()
    _grant(conn, "select, insert, update, delete", docs, alice)
    t = _ident("vecs", docs)
    conn.execute(sql.SQL("alter table {} enable row level security").format(t))
    conn.execute(sql.SQL("create policy own on {} to {} using (metadata->>'owner' = 'alice') with check (metadata->>'owner' = 'alice')").format(t, _ident(alice)))
    with as_role(dsn, alice) as c:
        assert c.execute("select current_user").fetchone()[0] == alice
        assert sorted(r[0] for r in c.execute("select id from vecs.query(%s, '[1,1,1]', k => 10)", (docs,))) == ["a", "c"]
        assert sorted(r[0] for r in c.execute(
            "select id from vecs.query(%s, '[1,1,1]', filters => '{\"year\": {\"$gte\": 2000}}')", (docs,))) == ["a", "c"]
        with c.transaction():  # the index path too
            c.execute("set local vecs.exact_search_threshold = 0")
            c.execute("set local enable_seqscan = off")
            assert sorted(r[0] for r in c.execute("select id from vecs.query(%s, '[0,1,0]', k => 3)", (docs,))) == ["a", "c"]
        assert [r[0] for r in c.execute("select id from vecs.fetch(%s, array['a','b','c'])", (docs,))] == ["a", "c"]
        assert c.execute("select vecs.count(%s)", (docs,)).fetchone()[0] == 2
        assert sorted(r[0] for r in c.execute("select * from vecs.delete(%s, filters => '{\"year\": {\"$gt\": 0}}')", (docs,))) == ["a", "c"]
        assert c.execute("select * from vecs.delete(%s, ids => array['b'])", (docs,)).fetchall() == []
        # writing a row the policy does not allow is refused (42501: new row violates row-level security)
        assert _code(c, "select vecs.upsert(%s, '[[\"x\", [1,1,1], {\"owner\": \"bob\"}]]')", (docs,)) == "42501"
        assert c.execute("select vecs.upsert(%s, '[[\"x\", [1,1,1], {\"owner\": \"alice\"}]]')", (docs,)).fetchone()[0] == 1
    assert sorted(r[0] for r in conn.execute("select id from vecs.fetch(%s, array['a','b','c','x'])", (docs,))) == ["b", "x"]


def test_a_role_without_select_reads_nothing(dsn, conn, docs, make_collection, role):
    """No SELECT on the collection: every read path (exact, index, filtered, fetch, delete's RETURNING,
    upsert_from's source) is 42501 — from SQL and from the Python client (PermissionDenied)."""
    reader = role()
    target = make_collection(3)
    _grant(conn, "select, insert, update", target, reader)  # a collection it may write, to try to copy into
    with as_role(dsn, reader) as c:
        for stmt in (
            "select * from vecs.query(%s, '[1,2,3]')",
            "select * from vecs.query(%s, '[1,2,3]', filters => '{\"owner\": \"alice\"}')",
            "select * from vecs.query(%s, '[1,2,3]', k => 1, ef_search => 10)",
            "select * from vecs.fetch(%s, array['a'])",
            "select vecs.count(%s)",
            "select * from vecs.delete(%s, ids => array['a'])",
            "select * from vecs.delete(%s, filters => '{\"owner\": \"alice\"}')",
            "select vecs.create_index(%s)",
        ):
            assert _code(c, stmt, (docs,)) == "42501", stmt
        # copying the collection into one it may write needs SELECT on the source
        assert _code(c, "select vecs.upsert_from(%s, %s::regclass)", (target, f"vecs.{sql_quote(docs)}")) == "42501"
    assert conn.execute("select vecs.count(%s)", (target,)).fetchone()[0] == 0
    assert conn.execute("select vecs.count(%s)", (docs,)).fetchone()[0] == 3

    with vecs.create_client(f"{dsn}{'&' if '?' in dsn else '?'}options=-c%20role%3D{reader}") as vx:
        with vx.session.connection() as c:
            assert c.execute("select current_user").fetchone()[0] == reader
        coll = vx.get_or_create_collection(docs, dimension=3)  # exists: harmless, reads no rows
        for call in (lambda: coll.query([1, 2, 3]), lambda: coll.fetch(["a"]), lambda: len(coll),
                     lambda: coll.delete(ids=["a"]), lambda: coll.delete(filters={"owner": "alice"}),
                     lambda: coll.upsert([("z", [1, 2, 3], {})]), lambda: coll.create_index()):
            with pytest.raises(exc.PermissionDenied):
                call()
    assert conn.execute("select vecs.count(%s)", (docs,)).fetchone()[0] == 3


def sql_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def test_list_collections_shows_only_what_the_catalog_shows(dsn, conn, docs, role):
    """A role without SELECT sees a collection's name, dimension, index and row *estimate* — exactly
    what pg_class/pg_index already show it — and no ids, vectors or metadata."""
    reader = role()
    with as_role(dsn, reader) as c:
        listed = {r[0]: r for r in c.execute("select * from vecs.list_collections()")}
        assert listed[docs][1:] == c.execute(
            """select a.atttypmod, i.relname::text, am.amname::text, %s, nullif(t.reltuples, -1)::bigint,
                      format_type(a.atttypid, NULL)
               from pg_class t join pg_attribute a on a.attrelid = t.oid and a.attname = 'vec'
               join pg_index x on x.indrelid = t.oid join pg_class i on i.oid = x.indexrelid
               join pg_am am on am.oid = i.relam
               where t.oid = %s::regclass and am.amname = 'hnsw'""",
            (listed[docs][4], f"vecs.{sql_quote(docs)}"),
        ).fetchone()
        assert listed[docs][5] == 3  # the planner's estimate after ANALYZE, not a count it could not make
        assert _code(c, "select vecs.count(%s)", (docs,)) == "42501"


def test_column_privileges_are_respected(dsn, conn, docs, role):
    """SELECT on id alone: query and fetch (which read vec and metadata) are refused; count(*) is what
    the role could run itself."""
    reader = role()
    conn.execute(sql.SQL("grant select (id) on {} to {}").format(_ident("vecs", docs), _ident(reader)))
    with as_role(dsn, reader) as c:
        assert _code(c, "select * from vecs.query(%s, '[1,2,3]')", (docs,)) == "42501"
        assert _code(c, "select * from vecs.fetch(%s, array['a'])", (docs,)) == "42501"
        assert c.execute("select vecs.count(%s)", (docs,)).fetchone()[0] == c.execute(
            sql.SQL("select count(*) from {}").format(_ident("vecs", docs))).fetchone()[0] == 3


def test_column_grants_enough_for_an_upsert_are_enough_for_a_bulk_one(dsn, conn, docs, role):
    """check_upsert asks for exactly what INSERT … ON CONFLICT (id) DO UPDATE SET vec, metadata needs
    (SELECT on the updated columns included): column grants that let vecs.upsert through let a bulk
    upsert through; one fewer stops both."""
    writer = role()
    table = _ident("vecs", docs)
    conn.execute(sql.SQL("grant select (id, vec, metadata), insert (id, vec, metadata), update (vec, metadata) on {} to {}").format(
        table, _ident(writer)))
    with as_role(dsn, writer) as c:
        assert c.execute("select vecs.upsert(%s, '[[\"new\", [1,1,1]]]')", (docs,)).fetchone()[0] == 1
        assert c.execute("select * from vecs.check_upsert(%s)", (docs,)).fetchone() == (3, True)
    with vecs.create_client(psycopg.conninfo.make_conninfo(dsn, options=f"-c role={writer}")) as vx:
        vecs.Collection(docs, 3, vx).upsert([(f"bulk{i}", [1, 2, 3], {}) for i in range(600)])
    assert conn.execute(sql.SQL("select count(*) from {} where id like 'bulk%%'").format(table)).fetchone()[0] == 600
    for revoke in ("update (metadata)", "select (vec)", "insert (metadata)"):
        conn.execute(sql.SQL("revoke {} on {} from {}").format(sql.SQL(revoke), table, _ident(writer)))
        with as_role(dsn, writer) as c:
            assert _code(c, "select vecs.upsert(%s, '[[\"new2\", [1,1,1]]]')", (docs,)) == "42501", revoke
            assert _code(c, "select * from vecs.check_upsert(%s)", (docs,)) == "42501", revoke
        conn.execute(sql.SQL("grant {} on {} to {}").format(sql.SQL(revoke), table, _ident(writer)))


@pytest.mark.parametrize(
    "privileges, stmt, code",
    [
        ("insert", "select vecs.upsert(%s, '[[\"new\", [1,1,1]]]')", "42501"),  # ON CONFLICT DO UPDATE needs UPDATE
        ("insert, update", "select vecs.upsert(%s, '[[\"new\", [1,1,1]]]')", "42501"),  # and SELECT (it reads the row)
        ("select, insert", "select vecs.upsert(%s, array['a', 'new'], array['[1,1,1]','[2,2,2]']::vector[])", "42501"),
        ("insert", "select * from vecs.check_upsert(%s)", "42501"),  # what a bulk upsert asks first
        ("insert, update", "select * from vecs.check_upsert(%s)", "42501"),
        ("select, insert", "select * from vecs.check_upsert(%s)", "42501"),
        ("delete", "select * from vecs.delete(%s, ids => array['a'])", "42501"),  # RETURNING id needs SELECT
        ("select, insert, update", "select * from vecs.delete(%s, ids => array['a'])", "42501"),
        ("select, insert, update, delete", "select vecs.create_index(%s)", "42501"),  # owner only
        ("select, insert, update, delete", "select vecs.drop_collection(%s)", "42501"),  # owner only
        ("select", "select vecs.create_collection(%s || ' 2', 3)", "42501"),  # no CREATE on schema vecs
        ("select", "select vecs.get_or_create_collection(%s || ' 3', 3)", "42501"),
    ],
)
def test_grants_that_stop_short_stop_the_call(dsn, conn, docs, role, privileges, stmt, code):
    """Nothing in vecs lets a role exceed its grants; a refused call writes nothing."""
    actor = role()
    _grant(conn, privileges, docs, actor)
    before = conn.execute("select id, vec::text, metadata from vecs.fetch(%s, array['a','b','c','new'])", (docs,)).fetchall()
    indexes = conn.execute("select index_name from vecs.list_collections() where name = %s", (docs,)).fetchall()
    with as_role(dsn, actor) as c:
        assert _code(c, stmt, (docs,)) == code
    assert conn.execute("select id, vec::text, metadata from vecs.fetch(%s, array['a','b','c','new'])", (docs,)).fetchall() == before
    assert conn.execute("select index_name from vecs.list_collections() where name = %s", (docs,)).fetchall() == indexes
    assert conn.execute("select count(*) from vecs.list_collections() where name like %s", (docs + " _",)).fetchone()[0] == 0


def test_granted_privileges_are_enough(dsn, conn, docs, role):
    """The positive control: with the grants a call needs, the same role succeeds."""
    actor = role()
    _grant(conn, "select, insert, update, delete", docs, actor)
    with as_role(dsn, actor) as c:
        assert c.execute("select vecs.upsert(%s, '[[\"new\", [1,1,1]]]')", (docs,)).fetchone()[0] == 1
        assert c.execute("select * from vecs.check_upsert(%s)", (docs,)).fetchone() == (3, True)
        assert c.execute("select * from vecs.delete(%s, ids => array['new'])", (docs,)).fetchall() == [("new",)]
    conn.execute(sql.SQL("alter table {} owner to {}").format(_ident("vecs", docs), _ident(actor)))
    conn.execute(sql.SQL("grant create on schema vecs to {}").format(_ident(actor)))  # an index lives in the schema
    with as_role(dsn, actor) as c:
        assert c.execute("select vecs.create_index(%s, 'l2_distance')", (docs,)).fetchone()[0].startswith("ix_vector_l2_ops")
        assert c.execute("select vecs.drop_collection(%s)", (docs,)).fetchone()[0] is True


def test_without_usage_on_the_schema_nothing_is_reachable(dsn, conn, docs):
    outsider = f"vecs_outsider_{uuid.uuid4().hex[:8]}"
    conn.execute(sql.SQL("create role {}").format(_ident(outsider)))
    try:
        conn.execute(sql.SQL("grant select on {} to {}").format(_ident("vecs", docs), _ident(outsider)))
        with as_role(dsn, outsider) as c:
            for stmt in ("select vecs.count(%s)", "select * from vecs.fetch(%s, array['a'])", "select * from vecs.query(%s, '[1,2,3]')"):
                assert _code(c, stmt, (docs,)) == "42501"
    finally:
        conn.execute(sql.SQL("drop owned by {}").format(_ident(outsider)))
        conn.execute(sql.SQL("drop role {}").format(_ident(outsider)))


# ----------------------------------------------------------------------------- a collection argument names a collection in vecs


@pytest.fixture
def decoys(conn, docs):
    """Objects a collection argument must never reach: a collection-shaped table in public, one in vecs
    named with a leading underscore, a view, a materialized view, a sequence in vecs, and the
    collection's own indexes. The public one is watched like the canary."""
    tag = uuid.uuid4().hex[:6]
    public_t, hidden, view, matview, seq = f"decoy_{tag}", f"_decoy_{tag}", f"v_{tag}", f"mv_{tag}", f"seq_{tag}"
    shape = "(id text primary key, vec vector(3), metadata jsonb not null default '{}')"
    conn.execute(f"create table public.{public_t} {shape}")
    conn.execute(f"insert into public.{public_t} values ('p', '[1,2,3]', '{{\"secret\": 1}}')")
    conn.execute(f"create table vecs.{hidden} {shape}")
    conn.execute(f"insert into vecs.{hidden} values ('h', '[1,2,3]', '{{\"secret\": 2}}')")
    conn.execute(sql.SQL("create view {} as select * from {}").format(_ident("vecs", view), _ident("vecs", docs)))
    conn.execute(sql.SQL("create materialized view {} as select * from {}").format(_ident("vecs", matview), _ident("vecs", docs)))
    conn.execute(sql.SQL("create sequence {}").format(_ident("vecs", seq)))
    indexes = [r[0] for r in conn.execute(
        "select indexrelid::regclass::text from pg_index where indrelid = %s::regclass", (f"vecs.{sql_quote(docs)}",))]
    names = {
        "qualified catalog": "pg_catalog.pg_authid", "catalog": "pg_authid", "catalog 2": "pg_class",
        "catalog 3": "pg_statistic", "public table": f"public.{public_t}", "public table unqualified": public_t,
        "qualified collection": f"vecs.{docs}", "quoted qualified": f'"vecs"."{docs}"', "path": f"../{docs}",
        "leading underscore": hidden, "view": view, "matview": matview, "sequence": seq,
        "upper case": docs.upper(), "trailing space": docs + " ",
        **{f"index {i}": ix.split(".", 1)[1].strip('"') for i, ix in enumerate(indexes)},
    }
    yield names, public_t
    conn.execute(f"drop table public.{public_t}")
    conn.execute(f"drop table vecs.{hidden}")
    conn.execute(sql.SQL("drop materialized view {}").format(_ident("vecs", matview)))
    conn.execute(sql.SQL("drop view {}").format(_ident("vecs", view)))
    conn.execute(sql.SQL("drop sequence {}").format(_ident("vecs", seq)))


READS = [
    ("count", "select vecs.count(%s)"),
    ("fetch", "select * from vecs.fetch(%s, array['a', 'p', 'h'])"),
    ("query", "select * from vecs.query(%s, '[1,2,3]', include_metadata => true)"),
    ("query filtered", "select * from vecs.query(%s, '[1,2,3]', filters => '{\"secret\": {\"$exists\": true}}')"),
    ("delete ids", "select * from vecs.delete(%s, ids => array['a', 'p', 'h'])"),
    ("delete filter", "select * from vecs.delete(%s, filters => '{\"secret\": {\"$exists\": true}}')"),
    ("upsert json", "select vecs.upsert(%s, '[[\"p\", [9,9,9], {\"pwned\": true}]]')"),
    ("upsert arrays", "select vecs.upsert(%s, array['p'], array['[9,9,9]']::vector[])"),
    ("create_index", "select vecs.create_index(%s)"),
    ("check_upsert", "select * from vecs.check_upsert(%s)"),
]


def test_a_collection_argument_only_names_a_collection_in_vecs(dsn, conn, docs, decoys, role):
    names, public_t = decoys
    watched = f"public.{public_t}"
    relid = conn.execute("select %s::regclass::oid", (watched,)).fetchone()[0]

    def counters() -> tuple:
        conn.execute("select pg_stat_force_next_flush()")
        conn.execute("select pg_stat_clear_snapshot()")
        return conn.execute("select seq_scan, idx_scan, n_tup_ins, n_tup_upd, n_tup_del from pg_stat_user_tables where relid = %s", (relid,)).fetchone()

    before_rows = {t: conn.execute(f"select * from {t}").fetchall() for t in (watched, f"vecs._decoy_{public_t[6:]}")}
    before_docs = conn.execute("select id, metadata from vecs.fetch(%s, array['a','b','c'])", (docs,)).fetchall()
    stats = counters()
    for label, name in names.items():
        for what, stmt in READS:
            code = _code(conn, stmt, (name,))
            assert code == "VX003", (label, name, what, code)
        assert conn.execute("select vecs.drop_collection(%s)", (name,)).fetchone()[0] is False, label
        for make in ("create_collection", "get_or_create_collection"):
            try:
                made = conn.execute(f"select vecs.{make}(%s, 3)::text", (name,)).fetchone()[0]
            except psycopg.Error as e:
                assert e.sqlstate in ("VX001", "VX004", "VX005"), (label, make, e.sqlstate, e.diag.message_primary)
            else:  # a new collection named like that: always in vecs, never the object named
                assert conn.execute("select relnamespace::regnamespace::text, relname::text from pg_class where oid = %s::regclass",
                                    (made,)).fetchone() == ("vecs", name), (label, made)
                assert conn.execute("select vecs.count(%s)", (name,)).fetchone()[0] == 0
                assert conn.execute("select vecs.drop_collection(%s)", (name,)).fetchone()[0] is True

    # the same through the Python client: CollectionNotFound only
    with vecs.create_client(dsn) as vx:
        for label, name in names.items():
            ghost = vecs.Collection(name, 3, vx)
            for call in (lambda: len(ghost), lambda: ghost.fetch(["a", "p"]), lambda: ghost.query([1, 2, 3]),
                         lambda: ghost.delete(ids=["a", "p"]), lambda: ghost.delete(filters={"secret": 1}),
                         lambda: ghost.upsert([("p", [9, 9, 9], {})]), lambda: ghost.create_index(),
                         lambda: ghost.upsert([(f"p{i}", [9, 9, 9], {}) for i in range(600)])):  # the COPY path
                with pytest.raises(exc.CollectionNotFound):
                    call()
            vx.delete_collection(name)
        with vx.session.connection() as c:
            c.execute("select pg_stat_force_next_flush()")
    assert counters() == stats, "the public decoy was read or written"
    for t, rows in before_rows.items():
        assert conn.execute(f"select * from {t}").fetchall() == rows
    assert conn.execute("select id, metadata from vecs.fetch(%s, array['a','b','c'])", (docs,)).fetchall() == before_docs


@known_bug("foreign-table-in-schema")
def test_a_non_collection_table_with_a_vec_column_is_not_a_collection(conn):
    """A table someone put in schema vecs with a vector column named vec but not vecs's shape."""
    table = f"odd_{uuid.uuid4().hex[:6]}"
    conn.execute(f"create table vecs.{table} (id int, vec vector(3))")
    try:
        for stmt in ("select * from vecs.query(%s, '[1,2,3]')", "select * from vecs.fetch(%s, array['1'])",
                     "select vecs.upsert(%s, '[[\"1\", [1,2,3]]]')"):
            assert _code(conn, stmt, (table,)) == "VX003", stmt
    finally:
        conn.execute(f"drop table vecs.{table}")


# ----------------------------------------------------------------------------- a hijacked search_path


def test_a_hijacked_search_path_reaches_nothing(dsn, conn, docs, role):
    """A role puts functions, operators and a table named like the ones vecs uses first on its
    search_path, and a temp table named like the collection: vecs resolves none of them."""
    evil = role()
    schema = f"evil_{uuid.uuid4().hex[:6]}"
    _grant(conn, "select, insert, update, delete", docs, evil)
    conn.execute(sql.SQL("create schema {} authorization {}").format(_ident(schema), _ident(evil)))
    with as_role(dsn, evil) as c:
        c.execute(f"""create function {schema}.trojan() returns boolean language plpgsql as
                      $$ begin raise exception using errcode = 'TROJ1', message = 'trojan ran'; end $$""")
        for fn, args in (("jsonb_typeof", "jsonb"), ("format", "text"), ("vector_dims", "vector"), ("lower", "text"),
                         ("left", "text, integer"), ("coalesce", "jsonb"), ("array_agg", "text")):
            if fn in ("coalesce", "array_agg"):
                continue  # not functions one can shadow
            c.execute(f"create function {schema}.{fn}({args}) returns text language sql as $$ select {schema}.trojan()::text $$")
        c.execute(f"""create function {schema}.eq(text, text) returns boolean language sql as $$ select {schema}.trojan() $$""")
        c.execute(f"create operator {schema}.= (leftarg = text, rightarg = text, function = {schema}.eq)")
        c.execute(f"create function {schema}.contains(jsonb, jsonb) returns boolean language sql as $$ select {schema}.trojan() $$")
        c.execute(f"create operator {schema}.@> (leftarg = jsonb, rightarg = jsonb, function = {schema}.contains)")
        c.execute(f"create table {schema}.{sql_quote(docs)} (id text, vec vector(3), metadata jsonb)")
        c.execute(f"create temp table {sql_quote(docs)} (id text, vec vector(3), metadata jsonb)")
        c.execute(f"insert into pg_temp.{sql_quote(docs)} values ('temp', '[1,2,3]', '{{}}')")
        c.execute(f"set search_path = {schema}, pg_temp, public")
        assert c.execute("select vecs.count(%s)", (docs,)).fetchone()[0] == 3
        assert [r[0] for r in c.execute("select id from vecs.fetch(%s, array['a', 'temp'])", (docs,))] == ["a"]
        assert sorted(r[0] for r in c.execute(
            "select id from vecs.query(%s, '[1,1,1]', filters => '{\"owner\": {\"$eq\": \"alice\"}}')", (docs,))) == ["a", "c"]
        assert c.execute("select vecs.upsert(%s, '[[\"d\", [1,1,1], {\"owner\": \"eve\"}]]')", (docs,)).fetchone()[0] == 1
        assert c.execute("select * from vecs.delete(%s, filters => '{\"owner\": \"eve\"}')", (docs,)).fetchall() == [("d",)]
        assert c.execute("select name from vecs.list_collections() where name = %s", (docs,)).fetchall() == [(docs,)]
        assert c.execute("select current_setting('search_path')").fetchone()[0] == f"{schema}, pg_temp, public"
    conn.execute(sql.SQL("drop schema {} cascade").format(_ident(schema)))
