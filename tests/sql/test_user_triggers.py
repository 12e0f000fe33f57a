"""A user's trigger on a collection (docs/migrating.md, "Triggers"): every vecs function pins
search_path = pg_catalog, pg_temp, and a trigger fired by its statements runs under that path. A
trigger function that names a table without its schema works under vecs (the caller's path) and
fails here; schema-qualified, or with its own SET search_path, it works."""

from __future__ import annotations

import uuid

import pytest
from psycopg import sql

from .helpers import raises

BODY = """begin insert into {audit} (id) values (new.id); return new; end"""


@pytest.fixture
def audited(conn, make_collection):
    """A collection, a table public.<audit> and a factory for a trigger writing to it."""
    name = make_collection()
    audit = f"audit_{uuid.uuid4().hex[:8]}"
    conn.execute(sql.SQL("create table public.{} (id text)").format(sql.Identifier(audit)))
    functions: list[str] = []

    def trigger(table_ref: sql.Composable, setting: str = "") -> str:
        fn = f"audit_fn_{uuid.uuid4().hex[:8]}"
        functions.append(fn)
        conn.execute(sql.SQL("create function public.{fn}() returns trigger language plpgsql {setting} as {body}").format(
            fn=sql.Identifier(fn), setting=sql.SQL(setting),
            body=sql.Literal(BODY.format(audit=table_ref.as_string(conn)))))
        conn.execute(sql.SQL("create trigger audit before insert on vecs.{t} for each row execute function public.{fn}()").format(
            t=sql.Identifier(name), fn=sql.Identifier(fn)))
        return fn

    yield name, audit, trigger
    conn.execute(sql.SQL("drop table public.{}").format(sql.Identifier(audit)))
    for fn in functions:
        conn.execute(sql.SQL("drop function if exists public.{} cascade").format(sql.Identifier(fn)))


def _audited_ids(conn, audit: str) -> list[str]:
    return [r[0] for r in conn.execute(sql.SQL("select id from public.{} order by id").format(sql.Identifier(audit)))]


def test_unqualified_table_in_a_trigger_fails_as_documented(conn, audited):
    name, audit, trigger = audited
    trigger(sql.Identifier(audit))
    # what vecs does: a plain INSERT under the caller's search_path (public on it) fires it fine
    conn.execute(sql.SQL("insert into vecs.{} (id, vec, metadata) values ('plain', '[1,2,3]', '{{}}')").format(sql.Identifier(name)))
    assert _audited_ids(conn, audit) == ["plain"]
    # through vecs.upsert the path is pg_catalog, pg_temp: the table is not found and nothing is written
    with raises("42P01", f'relation "{audit}" does not exist'):
        conn.execute("select vecs.upsert(%s, '[[\"a\", [1,2,3], {}]]')", (name,))
    assert conn.execute("select vecs.count(%s)", (name,)).fetchone()[0] == 1


@pytest.mark.parametrize("fix", ["qualified", "set search_path"])
def test_fixed_trigger_works_through_every_write(conn, audited, fix):
    name, audit, trigger = audited
    if fix == "qualified":
        trigger(sql.Identifier("public", audit))
    else:
        trigger(sql.Identifier(audit), "set search_path = public")
    conn.execute("select vecs.upsert(%s, '[[\"a\", [1,2,3], {}]]')", (name,))
    conn.execute("select vecs.upsert(%s, array['b'], array['[1,2,3]']::vector[])", (name,))
    conn.execute("create temp table staging (id text, vec vector, metadata jsonb)")
    try:
        conn.execute("insert into staging values ('c', '[1,2,3]', '{}')")
        conn.execute("select vecs.upsert_from(%s, 'staging')", (name,))
    finally:
        conn.execute("drop table staging")
    assert _audited_ids(conn, audit) == ["a", "b", "c"]
