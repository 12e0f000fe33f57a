"""An application role that is not a superuser and does not own schema vecs, with the minimal grants
of README "Roles and grants" (issue 5). Runs on the session's install, whichever route made it."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

import vecs_sqlgen
from vecs_sqlgen import exc, install

from .helpers import raises
from .packaging import as_role, scratch  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.filterwarnings("ignore:Query does not have a covering index")

NAME = 'roles "docs" x'


def readme_grants() -> list[str]:
    """The statements of README "Roles and grants" that the installer runs (its first SQL block)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Roles and grants"):]
    block = section[section.index("```sql") + 6: section.index("```", section.index("```sql") + 6)]
    code = "\n".join(line.split("--")[0] for line in block.splitlines())
    return [s.strip() for s in code.split(";") if s.strip()]


@pytest.fixture
def roles(dsn, conn, scratch):
    """app (app_writer): the README's grants — USAGE on schema vecs and EXECUTE on _create_table;
    reader (app_reader) and stranger: USAGE only. The schema belongs to someone else (the installer)."""
    made = {kind: scratch.role(f"vecs_{kind}") for kind in ("app", "reader", "stranger", "outsider")}
    statements = readme_grants()
    assert any("_create_table" in s for s in statements) and not any("create on schema" in s.lower() for s in statements)
    for statement in statements:
        # the README's role names become this test's roles (quoted: they are identifiers)
        conn.execute(statement.replace("app_reader", f'"{made["reader"]}"').replace("app_writer", f'"{made["app"]}"'))
    conn.execute(sql.SQL("grant usage on schema vecs to {}").format(sql.Identifier(made["stranger"])))
    owner = conn.execute("select nspowner::regrole::text from pg_namespace where nspname = 'vecs'").fetchone()[0]
    assert owner not in made.values()
    for name in made.values():
        assert not conn.execute("select has_schema_privilege(%s, 'vecs', 'create')", (name,)).fetchone()[0]
    yield {kind: as_role(dsn, name) for kind, name in made.items()} | {"names": made}
    # tables the roles made are dropped with them (drop owned by); their grants on schema vecs too
    for name in made.values():
        conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(name)))


def connect(dsn):
    return psycopg.connect(dsn, autocommit=True)


def test_app_role_manages_its_own_collections(roles):
    with connect(roles["app"]) as c:
        assert c.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0] is False
        c.execute("select vecs.create_collection(%s, 3)", (NAME,))
        assert c.execute("select vecs.upsert(%s, %s)", (NAME, '[["a", [1, 0, 0], {"k": 1}], ["b", [0, 1, 0], {"k": 2}]]')).fetchone()[0] == 2
        assert c.execute("select vecs.upsert(%s, array['c'], array['[0,0,1]']::vector[])", (NAME,)).fetchone()[0] == 1
        c.execute("create temp table stage (id text, vec vector, metadata jsonb)")
        c.execute("insert into stage values ('d', '[1,1,0]', '{}')")
        assert c.execute("select vecs.upsert_from(%s, 'stage')", (NAME,)).fetchone()[0] == 1
        assert c.execute("select vecs.create_index(%s)", (NAME,)).fetchone()[0].startswith("ix_vector_cosine_ops_")
        assert c.execute("select id from vecs.query(%s, '[1,0,0]', k => 1)", (NAME,)).fetchall() == [("a",)]
        assert c.execute("select id from vecs.query(%s, '[1,0,0]', filters => '{\"k\": 2}')", (NAME,)).fetchall() == [("b",)]
        assert c.execute("select id from vecs.fetch(%s, array['b', 'a'])", (NAME,)).fetchall() == [("b",), ("a",)]
        assert c.execute("select vecs.count(%s)", (NAME,)).fetchone()[0] == 4
        assert NAME in [r[0] for r in c.execute("select name from vecs.list_collections()")]
        assert c.execute("select * from vecs.delete(%s, ids => array['d'])", (NAME,)).fetchall() == [("d",)]
        assert c.execute("select vecs.get_or_create_collection(%s, 3)::text", (NAME,)).fetchone()[0] == f'vecs."{NAME.replace(chr(34), chr(34) * 2)}"'
        owner = c.execute("select relowner::regrole::text from pg_class where oid = vecs.get_or_create_collection(%s, 3)", (NAME,)).fetchone()[0]
        assert owner == roles["names"]["app"]
        assert c.execute("select vecs.drop_collection(%s)", (NAME,)).fetchone()[0] is True
    # and from Python, the same role
    vx = vecs_sqlgen.create_client(roles["app"])
    try:
        docs = vx.get_or_create_collection(NAME, dimension=3)
        docs.upsert([("a", [1.0, 0.0, 0.0], {"year": 2001})])
        assert [r[0] for r in docs.query(data=[1.0, 0.0, 0.0], limit=1)] == ["a"]
        vx.delete_collection(NAME)
    finally:
        vx.disconnect()


def test_select_only_role_reads_but_cannot_write(roles):
    with connect(roles["app"]) as c:
        c.execute("select vecs.create_collection(%s, 3)", (NAME,))
        c.execute("select vecs.upsert(%s, %s)", (NAME, '[["a", [1, 0, 0], {"k": 1}]]'))
        c.execute(sql.SQL("grant select on {} to {}").format(sql.Identifier("vecs", NAME), sql.Identifier(roles["names"]["reader"])))
    with connect(roles["reader"]) as c:
        assert c.execute("select id from vecs.query(%s, '[1,0,0]', filters => '{\"k\": 1}')", (NAME,)).fetchall() == [("a",)]
        assert c.execute("select id, vec::text from vecs.fetch(%s, array['a'])", (NAME,)).fetchall() == [("a", "[1,0,0]")]
        assert c.execute("select vecs.count(%s)", (NAME,)).fetchone()[0] == 1
        for statement in (
            "select vecs.upsert(%s, '[[\"b\", [0, 1, 0]]]')",
            "select * from vecs.delete(%s, ids => array['a'])",
            "select * from vecs.delete(%s, filters => '{\"k\": 1}')",
            "select vecs.create_index(%s)",
            "select vecs.drop_collection(%s)",
        ):
            with raises("42501"):
                c.execute(statement, (NAME,))
        with raises("42501", match="permission denied for function _create_table"):
            c.execute("select vecs.create_collection('mine', 3)")  # no EXECUTE on the creation path
    with connect(roles["app"]) as c:
        assert c.execute("select vecs.count(%s)", (NAME,)).fetchone()[0] == 1


def test_role_without_select_cannot_read_a_collection(roles):
    with connect(roles["app"]) as c:
        c.execute("select vecs.create_collection(%s, 3)", (NAME,))
        c.execute("select vecs.upsert(%s, %s)", (NAME, '[["a", [1, 0, 0], {"k": 1}]]'))
        c.execute("select vecs.create_index(%s)", (NAME,))
    with connect(roles["stranger"]) as c:
        for statement in (
            "select * from vecs.query(%s, '[1,0,0]')",
            "select * from vecs.query(%s, '[1,0,0]', filters => '{\"k\": 1}')",
            "select * from vecs.fetch(%s, array['a'])",
            "select vecs.count(%s)",
        ):
            with raises("42501", match="permission denied for table"):
                c.execute(statement, (NAME,))
    vx = vecs_sqlgen.create_client(roles["stranger"])
    try:
        docs = vx.get_or_create_collection(NAME, dimension=3)
        with pytest.raises(exc.PermissionDenied):
            docs.query(data=[1.0, 0.0, 0.0])
        with pytest.raises(exc.PermissionDenied):
            docs.fetch(["a"])
        with pytest.raises(exc.PermissionDenied):
            docs.upsert([("b", [0.0, 1.0, 0.0], {})])
    finally:
        vx.disconnect()


def test_role_without_usage_on_the_schema(roles):
    with connect(roles["outsider"]) as c:
        with raises("42501", match="permission denied for schema vecs"):
            c.execute("select vecs.count('anything')")


def test_execute_can_be_restricted(roles, conn):
    """Locking the functions down (REVOKE EXECUTE … FROM PUBLIC) stops a role without its own grant."""
    signature = "vecs.list_collections()"
    with conn.transaction():
        conn.execute(f"revoke execute on function {signature} from public")
        conn.execute(sql.SQL("grant execute on function vecs.list_collections() to {}").format(
            sql.Identifier(roles["names"]["app"])))
    try:
        with connect(roles["reader"]) as c:
            with raises("42501", match="permission denied for function list_collections"):
                c.execute("select * from vecs.list_collections()")
        with connect(roles["app"]) as c:
            c.execute("select * from vecs.list_collections()")
    finally:
        conn.execute(f"grant execute on function {signature} to public")
        conn.execute(sql.SQL("revoke execute on function vecs.list_collections() from {}").format(
            sql.Identifier(roles["names"]["app"])))
    assert install.build_info(conn, "vecs") is not None


def _grant(c, privileges: str, role: str) -> None:
    c.execute(sql.SQL("grant {} on {} to {}").format(sql.SQL(privileges), sql.Identifier("vecs", NAME), sql.Identifier(role)))


def _bulk(n: int, tag: int) -> list[tuple]:
    return [(f"n{i}", [1.0, float(i), 0.0], {"tag": tag}) for i in range(n)]


def test_bulk_upsert_of_new_records_still_needs_update(roles):
    """Records the table lacks are copied straight in, but the call keeps upsert's privileges."""
    with connect(roles["app"]) as c:
        c.execute("select vecs.create_collection(%s, 3)", (NAME,))
        _grant(c, "select, insert", roles["names"]["stranger"])
    with connect(roles["stranger"]) as c:
        with raises("42501"):
            c.execute("select * from vecs.check_upsert(%s)", (NAME,))
    vx = vecs_sqlgen.create_client(roles["stranger"])
    try:
        docs = vecs_sqlgen.Collection(NAME, 3, vx)
        with pytest.raises(exc.PermissionDenied):
            docs.upsert(_bulk(1200, 1), batch_size=400)
        assert len(docs) == 0
        with connect(roles["app"]) as c:
            _grant(c, "update", roles["names"]["stranger"])
        docs.upsert(_bulk(1200, 2), batch_size=400)
        assert len(docs) == 1200 and docs["n1199"][2] == {"tag": 2}
    finally:
        vx.disconnect()


def test_bulk_upsert_under_row_level_security(roles):
    """COPY FROM is refused where row-level security applies: check_upsert says so and the client
    stages the records; the policies then apply to every record."""
    with connect(roles["app"]) as c:
        c.execute("select vecs.create_collection(%s, 3)", (NAME,))
        _grant(c, "select, insert, update", roles["names"]["stranger"])
        c.execute(sql.SQL("alter table {} enable row level security").format(sql.Identifier("vecs", NAME)))
        c.execute(sql.SQL("create policy tagged on {} to {} using (metadata ->> 'tag' <> 'secret') "
                          "with check (metadata ->> 'tag' <> 'secret')").format(
            sql.Identifier("vecs", NAME), sql.Identifier(roles["names"]["stranger"])))
        assert c.execute("select * from vecs.check_upsert(%s)", (NAME,)).fetchone() == (3, True)  # the owner
    with connect(roles["stranger"]) as c:
        assert c.execute("select * from vecs.check_upsert(%s)", (NAME,)).fetchone() == (3, False)
    vx = vecs_sqlgen.create_client(roles["stranger"])
    try:
        docs = vecs_sqlgen.Collection(NAME, 3, vx)
        docs.upsert(_bulk(1200, 1), batch_size=400)
        assert len(docs) == 1200
        with pytest.raises(exc.PermissionDenied, match="row-level security"):
            docs.upsert(_bulk(1000, 2) + [("s", [1.0, 1.0, 1.0], {"tag": "secret"})])
        assert {r[2]["tag"] for r in docs.fetch([f"n{i}" for i in range(1000)])} == {1}
    finally:
        vx.disconnect()


def test_a_non_superuser_installer_needs_the_role_it_gives_tables_to(scratch, server_dsn):
    """Installed by a role that is not a superuser (it owns schema vecs), _create_table can give a table
    only to a role it may act as: until GRANT app TO installer, creating a collection says so (42501,
    with that hint) and leaves nothing behind; afterwards the app role creates, indexes and drops its
    own collections, and it never holds CREATE on the schema."""
    db = scratch.db("vecs_owner")
    installer = scratch.role("vecs_installer")
    app = scratch.role("vecs_app")
    with psycopg.connect(db, autocommit=True) as admin:
        admin.execute("create extension if not exists vector")
        admin.execute(sql.SQL("grant create on database {} to {}").format(
            sql.Identifier(psycopg.conninfo.conninfo_to_dict(db)["dbname"]), sql.Identifier(installer)))
    with psycopg.connect(as_role(db, installer), autocommit=True) as c:
        install.install(c, "vecs")
        for statement in readme_grants():
            c.execute(statement.replace("app_reader", f'"{app}"').replace("app_writer", f'"{app}"'))
    with psycopg.connect(as_role(db, app), autocommit=True) as c:
        with raises("42501", match=f'cannot give collection "docs" to role {app}') as info:
            c.execute("select vecs.create_collection('docs', 3)")
        assert info.error.diag.message_hint == f"GRANT {app} TO {installer};"
        assert c.execute("select to_regclass('vecs.docs')").fetchone()[0] is None
    with psycopg.connect(db, autocommit=True) as admin:
        admin.execute(sql.SQL("grant {} to {}").format(sql.Identifier(app), sql.Identifier(installer)))
    with psycopg.connect(as_role(db, app), autocommit=True) as c:
        c.execute("select vecs.create_collection('docs', 3)")
        assert c.execute("select relowner::regrole::text from pg_class where oid = 'vecs.docs'::regclass").fetchone()[0] == app
        c.execute("""select vecs.upsert('docs', '[["a", [1, 0, 0]]]')""")
        assert c.execute("select vecs.create_index('docs')").fetchone()[0].startswith("ix_vector_cosine_ops_hnsw")
        assert not c.execute("select has_schema_privilege('vecs', 'create')").fetchone()[0]
        assert c.execute("select vecs.drop_collection('docs')").fetchone()[0] is True
    with psycopg.connect(db, autocommit=True) as admin:
        admin.execute("drop schema vecs cascade")
