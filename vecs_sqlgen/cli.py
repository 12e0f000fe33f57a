"""The ``vecs-sqlgen`` command: install, render, bundle, status, uninstall, dsn, psql.

Every failure ends in one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import psycopg

from . import dsn as _dsn
from . import install as _install
from . import render as _render
from ._version import __version__
from .exc import VecsException


def _connect(dsn: str | None) -> psycopg.Connection:
    return psycopg.connect(_dsn.resolve(dsn), autocommit=True)


def cmd_install(args: argparse.Namespace) -> int:
    with _connect(args.dsn) as conn:
        result = _install.install(conn, args.schema, dry_run=args.dry_run)
        if result.action == "extension":  # CREATE EXTENSION vecs made it: only ALTER EXTENSION changes it
            # action "extension" always comes with the extension's version in previous
            raise _install.InstallError(_install.extension_message(args.schema, "vecs", result.previous))  # type: ignore[arg-type]
        if args.dry_run:
            rendered, *_ = _install.plan(conn, args.schema)
            sys.stdout.write(rendered.sql)
            print(
                f"-- dry run: would have {result.action} vecs-sqlgen {result.version} in schema {args.schema}; nothing was changed",
                file=sys.stderr,
            )
            return 0
    if result.action == "newer":
        print(
            f"schema {result.schema} has vecs-sqlgen {result.previous}, newer than this package "
            f"({result.version}): nothing changed"
        )
        return 0
    previous = f" (was {result.previous})" if result.previous and result.previous != result.version else ""
    print(
        f"vecs-sqlgen {result.version} {result.action} in schema {result.schema}{previous} "
        f"(pgvector {result.caps.pgvector} in schema {result.caps.vector_schema})"
    )
    _warn_creators(args)
    return 0


def _warn_creators(args: argparse.Namespace) -> None:
    """Warn (stderr) about roles that may plant objects next to the functions."""
    with _connect(args.dsn) as conn:
        roles = _install.schema_creators(conn, args.schema)
        foreign = _install.foreign_objects(conn, args.schema)
    if roles:
        print(f"vecs-sqlgen: warning: {_install.creators_warning(args.schema, roles)}", file=sys.stderr)
    if foreign:
        print(
            f"vecs-sqlgen: warning: objects of other roles in schema {args.schema}: {'; '.join(foreign)}",
            file=sys.stderr,
        )


def cmd_render(args: argparse.Namespace) -> int:
    if args.dsn:
        with _connect(args.dsn) as conn:
            caps = _install.detect(conn)
    else:
        caps = _render.Capabilities(pgvector=args.pgvector, vector_schema=args.vector_schema)
    text = _render.render(args.schema, caps).sql
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from . import bundle as _bundle

    if args.dsn:
        with _connect(args.dsn) as conn:
            caps = _install.detect(conn)
    else:
        # the pgvector of the server the bundle is for: --pg-config's installation, else the embedded one
        caps = _render.Capabilities(
            pgvector=args.pgvector or _bundle.available_pgvector(args.pg_config), vector_schema=args.vector_schema
        )
    files = _bundle.write(args.output, args.schema, caps, upgrade_from=args.upgrade_from)
    print(
        f"vecs-sqlgen {__version__} extension bundle for pgvector {caps.pgvector} in schema {caps.vector_schema}: "
        + ", ".join(str(f) for f in files)
    )
    if args.install:
        copied = _bundle.install_files(files, args.pg_config)
        print(f"copied {len(copied)} files into {copied[0].parent}; then: CREATE EXTENSION {_bundle.EXTENSION} CASCADE")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with _connect(args.dsn) as conn:
        server = conn.execute("select current_setting('server_version')").fetchone()[0]  # type: ignore[index]  # one row
        vector = conn.execute("select extversion from pg_extension where extname = 'vector'").fetchone()
        info = _install.build_info(conn, args.schema)
        print(f"server:      PostgreSQL {server}")
        print(f"pgvector:    {vector[0] if vector else 'not installed'}")
        if info is None:
            print(f"vecs-sqlgen: not installed in schema {args.schema} (run: vecs-sqlgen install)")
            return 0
        print(f"vecs-sqlgen: {info['version']} in schema {args.schema} (this package: {__version__})")
        owner = _install.extension_managed(conn, args.schema)
        if owner:
            print(
                f"extension:   {owner} {_install.extension_version(conn, owner)} (upgrade with ALTER EXTENSION {owner} UPDATE)"
            )
        from psycopg import sql

        rows = conn.execute(
            sql.SQL(
                "select name, dimension, index_method, index_measure, estimated_rows from {}.list_collections()"
            ).format(sql.Identifier(args.schema))
        ).fetchall()
        print(f"collections: {len(rows)}")
        for name, dim, method, measure, est in rows:
            index = f"{method} ({measure})" if method else "no vector index"
            rows_text = f"~{est} rows" if est is not None else "rows not yet estimated"
            print(f"  {name}: dimension {dim}, {index}, {rows_text}")
    _warn_creators(args)
    return 0


def cmd_uninstall(args: argparse.Namespace) -> int:
    with _connect(args.dsn) as conn:
        dropped = _install.uninstall(conn, args.schema, drop_collections=args.drop_collections)
    what = "schema and all collections" if args.drop_collections else "functions (collection tables kept)"
    print(f"removed vecs-sqlgen from schema {args.schema}: {len(dropped)} {what}")
    return 0


def cmd_dsn(args: argparse.Namespace) -> int:
    print(_dsn.embedded())
    return 0


def cmd_psql(args: argparse.Namespace) -> int:
    target = _dsn.resolve(args.dsn)
    psql = str(_dsn.embedded_bin("psql"))
    os.execv(psql, [psql, target, *args.psql_args])
    return 0  # pragma: no cover - execv does not return


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vecs-sqlgen", description="Install and manage the vecs SQL layer in Postgres + pgvector."
    )
    p.add_argument("--version", action="version", version=f"vecs-sqlgen {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def with_dsn(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument(
            "--dsn", help="connection string (default: $VECS_DATABASE_URL, $DATABASE_URL, else the embedded server)"
        )
        return sp

    def with_schema(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--schema", default="vecs", help="schema of the functions and collections (default: vecs)")
        return sp

    sp = with_schema(with_dsn(sub.add_parser("install", help="install or upgrade the SQL layer (one transaction)")))
    sp.add_argument("--dry-run", action="store_true", help="print the SQL and roll back")
    sp.set_defaults(func=cmd_install)

    sp = with_schema(sub.add_parser("render", help="print the install SQL (for review or psql -f)"))
    sp.add_argument("-o", "--output", help="write to this file instead of stdout")
    sp.add_argument("--dsn", help="read pgvector's version and schema from this server instead of the options below")
    sp.add_argument(
        "--pgvector", default=_render.Capabilities.pgvector, help="target pgvector version (default: %(default)s)"
    )
    sp.add_argument(
        "--vector-schema",
        default=_render.Capabilities.vector_schema,
        help="schema pgvector lives in (default: %(default)s)",
    )
    sp.set_defaults(func=cmd_render)

    sp = with_schema(
        sub.add_parser(
            "bundle", help="write the extension bundle (vecs.control, vecs--VERSION.sql) for CREATE EXTENSION vecs"
        )
    )
    sp.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="folder to write into (make extension: extension/)"
    )
    sp.add_argument(
        "--pgvector",
        help="target pgvector version (default: the one --pg-config's server installs, "
        "else the embedded server's); rebuild the bundle for each pgvector version",
    )
    sp.add_argument(
        "--vector-schema",
        default=_render.Capabilities.vector_schema,
        help="schema pgvector lives in (default: %(default)s)",
    )
    sp.add_argument(
        "--pg-config", metavar="PATH", help="pg_config of the target server (default: the embedded server's)"
    )
    sp.add_argument("--dsn", help="read pgvector's version and schema from this database instead")
    sp.add_argument(
        "--upgrade-from",
        action="append",
        default=[],
        metavar="OLD.sql",
        help="also write vecs--OLD--NEW.sql from the script that installed the older version (repeatable)",
    )
    sp.add_argument("--install", action="store_true", help="copy the files into $(pg_config --sharedir)/extension")
    sp.set_defaults(func=cmd_bundle)

    sp = with_schema(with_dsn(sub.add_parser("status", help="server, pgvector and vecs-sqlgen versions; collections")))
    sp.set_defaults(func=cmd_status)

    sp = with_schema(with_dsn(sub.add_parser("uninstall", help="remove the functions (collections are kept)")))
    sp.add_argument("--drop-collections", action="store_true", help="also drop the schema and every collection in it")
    sp.set_defaults(func=cmd_uninstall)

    sp = sub.add_parser("dsn", help="print the embedded server's DSN, starting it if needed")
    sp.set_defaults(func=cmd_dsn)

    sp = with_dsn(sub.add_parser("psql", help="open the bundled psql on the database"))
    sp.add_argument("psql_args", nargs=argparse.REMAINDER, help="extra psql arguments")
    sp.set_defaults(func=cmd_psql)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("vecs-sqlgen: interrupted", file=sys.stderr)
        return 130
    except (_install.InstallError, VecsException, ValueError, FileNotFoundError) as e:
        print(f"vecs-sqlgen: error: {e}", file=sys.stderr)
    except psycopg.OperationalError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"vecs-sqlgen: error: cannot connect: {first}", file=sys.stderr)
    except psycopg.Error as e:
        msg = e.diag.message_primary or str(e).strip().splitlines()[0]
        print(f"vecs-sqlgen: error: {msg}", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
