"""Install, inspect and remove the SQL layer in a database.

Everything happens in one transaction under an advisory lock, so concurrent installers (two clients
connecting to a fresh database at once) take turns and a failed install leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from . import render as _render
from . import upgrade as _upgrade
from ._version import __version__
from .exc import VecsException

# Any constant works; it only has to be the same for every installer.
_INSTALL_LOCK = 0x7665_6373  # "vecs"


class InstallError(VecsException):
    """The SQL layer could not be installed or removed; the message says why and what to do."""


@dataclass(frozen=True)
class InstallResult:
    action: str  # "installed", "upgraded", "reinstalled", "unchanged", "newer" (left alone) or "extension"
    schema: str
    version: str
    previous: str | None
    caps: _render.Capabilities


def detect(conn: psycopg.Connection) -> _render.Capabilities:
    """The installed pgvector's version and schema (the extension must exist)."""
    row = conn.execute(
        "select e.extversion, n.nspname, current_setting('server_version_num')::int"
        " from pg_extension e join pg_namespace n on n.oid = e.extnamespace"
        " where e.extname = 'vector'"
    ).fetchone()
    if row is None:
        raise InstallError("the pgvector extension (vector) is not installed in this database")
    return _render.Capabilities(pgvector=row[0], vector_schema=row[1], server_version_num=row[2])


def build_info(conn: psycopg.Connection[Any], schema: str = "vecs") -> dict[str, Any] | None:
    """What the installed layer was rendered for (version, pgvector), or None when absent."""
    exists = _value(conn.execute("select to_regprocedure(format('%%I.build_info()', %s::text)) is not null", (schema,)))
    if not exists:
        return None
    info: dict[str, Any] = _value(conn.execute(sql.SQL("select {}.build_info()").format(sql.Identifier(schema))))
    return info


def installed_version(conn: psycopg.Connection, schema: str = "vecs") -> str | None:
    info = build_info(conn, schema)
    return info["version"] if info else None


def extension_managed(conn: psycopg.Connection, schema: str) -> str | None:
    """The name of the extension that owns ``schema``'s functions, if any (CREATE EXTENSION vecs)."""
    row = conn.execute(
        "select e.extname from pg_depend d"
        " join pg_extension e on e.oid = d.refobjid and d.refclassid = 'pg_extension'::regclass"
        " join pg_proc p on p.oid = d.objid and d.classid = 'pg_proc'::regclass"
        " where p.pronamespace = (select oid from pg_namespace where nspname = %s) and d.deptype = 'e'"
        " limit 1",
        (schema,),
    ).fetchone()
    return row[0] if row else None


def extension_version(conn: psycopg.Connection, extension: str) -> str:
    return str(_value(conn.execute("select extversion from pg_extension where extname = %s", (extension,))))


def extension_message(schema: str, extension: str, version: str) -> str:
    return (
        f"schema {schema!r} is managed by extension {extension!r} ({version}): upgrade it with "
        f"ALTER EXTENSION {extension} UPDATE (after installing the new bundle), not with vecs-sqlgen install"
    )


def _ensure_vector(conn: psycopg.Connection) -> None:
    if conn.execute("select 1 from pg_extension where extname = 'vector'").fetchone():
        return
    available = conn.execute("select 1 from pg_available_extensions where name = 'vector'").fetchone()
    if not available:
        raise InstallError(
            "pgvector is not available on this server: install the pgvector package for its "
            "PostgreSQL version (the 'vector' extension), then retry"
        )
    try:
        with conn.transaction():  # a savepoint, so the error text can be replaced by ours
            conn.execute("create extension if not exists vector")
    except psycopg.errors.InsufficientPrivilege as e:
        raise InstallError(
            "not permitted to create the pgvector extension (it is not a trusted extension): ask a "
            f"superuser to run CREATE EXTENSION vector in this database ({e.diag.message_primary})"
        ) from None


def plan(
    conn: psycopg.Connection, schema: str = "vecs"
) -> tuple[_render.Rendered, str, str | None, dict[str, Any] | None]:
    """What install would do: the SQL, the action, the previous version and build info."""
    caps = detect(conn)
    rendered = _render.render(schema, caps)
    info = build_info(conn, schema)
    if info is None:
        action = "installed"
    elif _render.parse_version(info.get("version", "0")) > _render.parse_version(__version__):
        # a newer client installed it: never downgrade under it
        action = "newer"
    elif info.get("version") != __version__:
        action = "upgraded"
    elif info.get("digest") != rendered.digest:
        # same version, other SQL: pgvector changed under us (re-render for what it can do now),
        # or the templates were edited (a development install)
        action = "reinstalled"
    else:
        action = "unchanged"
    return rendered, action, (info or {}).get("version"), info


def install(
    conn: psycopg.Connection, schema: str = "vecs", *, dry_run: bool = False, force: bool = False
) -> InstallResult:
    """Install or upgrade the SQL layer into ``schema``; a no-op when it is current.

    Creates the vector extension when missing. With ``dry_run`` everything is rolled back.
    ``conn`` must not be inside a transaction; it is left in autocommit state as found.

    A schema managed by CREATE EXTENSION vecs is left to ALTER EXTENSION: action "extension" (and
    ``previous`` its version) when it is as new as this package, InstallError when it is older or
    with ``force``. The CLI refuses both (cli.cmd_install); the Python client uses a current one.
    """
    _render.check_name("schema", schema)
    try:
        with conn.transaction(force_rollback=dry_run):
            conn.execute("select pg_advisory_xact_lock(%s)", (_INSTALL_LOCK,))
            _ensure_vector(conn)
            owner = extension_managed(conn, schema)
            previous: str | None
            if owner:
                action, previous = "extension", extension_version(conn, owner)
                if force or _render.parse_version(previous) < _render.parse_version(__version__):
                    raise InstallError(extension_message(schema, owner, previous))
            else:
                rendered, action, previous, info = plan(conn, schema)
            if action in ("installed", "upgraded", "reinstalled") or (force and action != "extension"):
                foreign = foreign_objects(conn, schema)
                if foreign:
                    raise InstallError(
                        f"schema {schema!r} holds objects of other roles, which keep control of them through "
                        f"any install: {'; '.join(foreign)}. Drop them (or, after checking them, ALTER … OWNER "
                        f"TO the schema's owner), revoke CREATE on the schema from their owners, then install again"
                    )
                # over an older install, first drop the functions this version no longer has or
                # declares differently (upgrade.py); CREATE OR REPLACE keeps the others' grants
                before, after = _upgrade.steps(
                    schema, detect(conn), (info or {}).get("functions"), rendered, version=__version__
                )
                conn.execute(before + rendered.sql + after)
    except psycopg.errors.InsufficientPrivilege as e:
        raise InstallError(f"not permitted to install into schema {schema!r}: {e.diag.message_primary}") from None
    return InstallResult(action, schema, __version__, previous, detect(conn))


def schema_creators(conn: psycopg.Connection, schema: str = "vecs") -> list[str]:
    """Roles other than the schema's owner (and its members) and superusers that may create objects in
    ``schema``: each could plant a function there that runs with the privileges of the next caller.
    None should: collections are created through vecs._create_table (README "Roles and grants")."""
    return [
        r[0]
        for r in conn.execute(
            "select r.rolname::text from pg_roles r, pg_namespace n"
            " where n.nspname = %s and not r.rolsuper and r.rolname !~ '^pg_'"
            " and has_schema_privilege(r.oid, n.oid, 'CREATE') and not pg_has_role(r.oid, n.nspowner, 'USAGE')"
            " order by 1",
            (schema,),
        )
    ]


def foreign_objects(conn: psycopg.Connection, schema: str = "vecs") -> list[str]:
    """Functions, operators and types in ``schema`` that belong to neither its owner, a superuser nor the
    installing role: made by a role that once could create there (an earlier README said to grant
    that). Such an owner keeps control of its object through any reinstall (it may ALTER it), so
    install refuses while any exists."""
    return [
        r[0]
        for r in conn.execute(
            "select format('%%s %%s (owner %%s)', x.kind, x.name, pg_get_userbyid(x.owner)) from pg_namespace n,"
            " lateral (select 'function' as kind, p.oid::regprocedure::text as name, p.proowner as owner"
            "          from pg_proc p where p.pronamespace = n.oid"
            "          union all select 'operator', o.oid::regoperator::text, o.oprowner from pg_operator o"
            "          where o.oprnamespace = n.oid"
            "          union all select 'type', t.oid::regtype::text, t.typowner from pg_type t"
            "          left join pg_class c on c.oid = t.typrelid"
            "          where t.typnamespace = n.oid and (t.typrelid = 0 or c.relkind = 'c')) as x"
            " where n.nspname = %s and x.owner <> n.nspowner and x.owner <> current_user::regrole"
            " and not (select r.rolsuper from pg_roles r where r.oid = x.owner)"
            " order by 1",
            (schema,),
        )
    ]


def creators_warning(schema: str, roles: list[str]) -> str:
    names = ", ".join(roles)
    return (
        f"roles that are not the owner of schema {schema!r} may create objects in it ({names}): each could "
        f"plant a function that runs as whoever calls vecs next. Run: REVOKE CREATE ON SCHEMA {schema} FROM "
        f"{names}; and GRANT EXECUTE ON FUNCTION {schema}._create_table TO the roles that create collections"
    )


def uninstall(conn: psycopg.Connection, schema: str = "vecs", *, drop_collections: bool = False) -> list[str]:
    """Remove the functions (and, with ``drop_collections``, the schema with every collection).

    Without ``drop_collections`` the collection tables stay; so does the schema if it holds any.
    Returns the signatures of the functions dropped.
    """
    _render.check_name("schema", schema)
    names = set(_render.render(schema).functions)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_INSTALL_LOCK,))
        # and those of the installed version (an older one may have others)
        names |= {s.split("(", 1)[0] for s in ((build_info(conn, schema) or {}).get("functions") or {})}
        ordered = sorted(names)
        owner = extension_managed(conn, schema)
        if owner:
            raise InstallError(f"schema {schema!r} is managed by extension {owner!r}: use DROP EXTENSION {owner}")
        procs = [
            r[0]
            for r in conn.execute(
                "select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
                " where n.nspname = %s and p.proname = any(%s) order by 1",
                (schema, ordered),
            )
        ]
        if drop_collections:
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
            return procs
        for proc in procs:
            # regprocedure text is the server's own quoting of the signature
            conn.execute(sql.SQL("drop function if exists {}").format(sql.SQL(proc)))
        empty = _value(
            conn.execute(
                "select not exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = %s)"
                " and not exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = %s)",
                (schema, schema),
            )
        )
        if empty:
            conn.execute(sql.SQL("drop schema if exists {}").format(sql.Identifier(schema)))
    return procs


def _value(cur: psycopg.Cursor[Any]) -> Any:
    """The first column of the one row a statement always returns."""
    row = cur.fetchone()
    assert row is not None
    return row[0]
