"""Helpers and fixtures of the packaging tests (extension bundle, upgrades, roles): scratch databases
and roles on the session's server, the bundle installed into its extension directory, the catalog."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from vecs_sqlgen import __version__, bundle, render


class Scratch:
    """Databases and login roles made for one test; dropped after it (databases first)."""

    def __init__(self, server_dsn: str):
        self.server_dsn = server_dsn
        self.databases: list[str] = []
        self.roles: list[str] = []

    def db(self, prefix: str = "vecs_t") -> str:
        """A fresh database; its DSN."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.server_dsn, autocommit=True) as c:
            c.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        self.databases.append(name)
        return psycopg.conninfo.make_conninfo(self.server_dsn, dbname=name)

    def role(self, prefix: str, *attributes: str) -> str:
        """A login role (not a superuser); its name. Its DSN: as_role(dsn, name)."""
        name = f"{prefix}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(self.server_dsn, autocommit=True) as c:
            c.execute(sql.SQL("create role {} login password {} " + " ".join(attributes)).format(
                sql.Identifier(name), sql.Literal(PASSWORD)))
        self.roles.append(name)
        return name

    def close(self) -> None:
        with psycopg.connect(self.server_dsn, autocommit=True) as c:
            for name in self.databases:
                c.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
            for name in self.roles:
                c.execute(sql.SQL("drop owned by {}").format(sql.Identifier(name)))
                c.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(name)))


PASSWORD = "vecs-test-password"  # for servers that check passwords (Docker); the embedded one trusts


def as_role(dsn: str, role: str) -> str:
    return psycopg.conninfo.make_conninfo(dsn, user=role, password=PASSWORD)


@pytest.fixture
def scratch(server_dsn):
    s = Scratch(server_dsn)
    yield s
    s.close()


@pytest.fixture(scope="session")
def bundle_caps(server_dsn, pg_config, tmp_path_factory) -> render.Capabilities:
    """The current bundle, rendered for the server's pgvector, available to CREATE EXTENSION vecs:
    copied into the server's extension directory (as make install-extension does), or already there
    (the Docker image)."""
    if pg_config is not None:
        caps = render.Capabilities(pgvector=bundle.available_pgvector(pg_config))
        bundle.install_files(bundle.write(tmp_path_factory.mktemp("bundle"), caps=caps), pg_config)
        return caps
    with psycopg.connect(server_dsn, autocommit=True) as c:
        row = c.execute("select default_version from pg_available_extensions where name = 'vecs'").fetchone()
        vector = c.execute("select default_version from pg_available_extensions where name = 'vector'").fetchone()
    if row is None or row[0] != __version__:
        pytest.skip("the server's extension directory is not on this machine (set VECS_TEST_PG_CONFIG) "
                    "and it has no vecs bundle of this version")
    return render.Capabilities(pgvector=vector[0])


@pytest.fixture(scope="session")
def extension_dir(pg_config):
    """pg_config of a server whose extension directory the test may write into."""
    if pg_config is None:
        pytest.skip("the server's extension directory is not on this machine (set VECS_TEST_PG_CONFIG)")
    return pg_config


def catalog(conn: psycopg.Connection, schema: str = "vecs") -> dict[str, tuple[str, str]]:
    """Every function of ``schema``: signature → (pg_get_functiondef, comment)."""
    return {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            "select p.oid::regprocedure::text, pg_get_functiondef(p.oid), obj_description(p.oid, 'pg_proc')"
            " from pg_proc p where p.pronamespace = %s::regnamespace",
            (schema,),
        )
    }


def members(conn: psycopg.Connection, extension: str = "vecs") -> set[str]:
    """The functions that are members of ``extension``."""
    return {
        r[0]
        for r in conn.execute(
            "select d.objid::regprocedure::text from pg_depend d join pg_extension e on e.oid = d.refobjid"
            " where d.refclassid = 'pg_extension'::regclass and d.classid = 'pg_proc'::regclass"
            " and d.deptype = 'e' and e.extname = %s",
            (extension,),
        )
    }


def execute_acl(conn: psycopg.Connection, signature: str) -> set[str]:
    """Who may execute a function: role names, 'PUBLIC' for everyone."""
    return {
        r[0]
        for r in conn.execute(
            "select case a.grantee when 0::oid then 'PUBLIC' else pg_get_userbyid(a.grantee)::text end"
            " from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a"
            " where p.oid = to_regprocedure(%s)::oid and a.privilege_type = 'EXECUTE'",
            (signature,),
        )
    }


HOSTILE = """
create function public.vecs_test_hijack(integer[], integer[]) returns boolean language plpgsql
    as $$ begin raise exception 'hijacked: ran a function of another role as %', current_user; end $$;
create function public.vecs_test_hijack_cat(integer[], integer[]) returns integer[] language plpgsql
    as $$ begin raise exception 'hijacked: ran a function of another role as %', current_user; end $$;
create function public.vecs_test_hijack_oid(oid, integer) returns boolean language plpgsql
    as $$ begin raise exception 'hijacked: ran a function of another role as %', current_user; end $$;
create function public.vecs_test_hijack_proc(oid, regprocedure) returns boolean language plpgsql
    as $$ begin raise exception 'hijacked: ran a function of another role as %', current_user; end $$;
create operator public.< (function = public.vecs_test_hijack, leftarg = integer[], rightarg = integer[]);
create operator public.>= (function = public.vecs_test_hijack, leftarg = integer[], rightarg = integer[]);
create operator public.|| (function = public.vecs_test_hijack_cat, leftarg = integer[], rightarg = integer[]);
create operator public.= (function = public.vecs_test_hijack_oid, leftarg = oid, rightarg = integer);
create operator public.= (function = public.vecs_test_hijack_proc, leftarg = oid, rightarg = regprocedure);
"""


def plant_hostile_operators(conn: psycopg.Connection) -> None:
    """Operators in schema public (on the search_path of extension scripts, and writable by every role
    before PostgreSQL 15) that match the guard's and upgrade steps' operands better than the built-in
    polymorphic ones: a script that picks one of them fails."""
    conn.execute(HOSTILE)
