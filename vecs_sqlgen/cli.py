"""The ``vecs-sqlgen`` command: install, render, bundle, status, uninstall, dsn, psql, and the two
long operations, load and create-index, which draw the Python API's progress bars on stderr.

Every failure ends in one line on stderr and a non-zero exit, never a traceback; warnings (e.g. an
index build that will not fit its build memory) are one line each on stderr too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Optional, TextIO, Union

import psycopg

from . import _progress
from . import dsn as _dsn
from . import install as _install
from . import render as _render
from ._version import __version__
from .exc import BuildMemoryWarning, VecsException


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


def _progress_mode(args: argparse.Namespace) -> tuple[bool, bool]:
    """(progress, force) from --progress / --no-progress: by default a bar when stderr is a
    terminal; --progress draws it anywhere (e.g. into a CI log); --no-progress never."""
    return args.progress is not False, args.progress is True


def _client(args: argparse.Namespace) -> Any:
    from .client import Client

    return Client(_dsn.resolve(args.dsn), schema=args.schema)


def _existing(vx: Any, name: str, hint: str = "") -> Any:
    """The collection ``name`` of the client's schema; CollectionNotFound when there is none."""
    from .exc import CollectionNotFound

    for collection in vx.list_collections():
        if collection.name == name:
            return collection
    raise CollectionNotFound(f'collection "{name}" does not exist in schema {vx.schema}{hint}')


def _records(lines: Iterator[str], source: str) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """The records of a JSON Lines stream: ``[id, vector]``, ``[id, vector, metadata]`` or
    ``{"id": …, "vector": […], "metadata": {…}}`` per line; blank lines are skipped."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{source}:{number}: not JSON ({e.msg})") from None
        if isinstance(item, list) and len(item) in (2, 3):
            record = (item[0], item[1], item[2] if len(item) == 3 else {})
        elif isinstance(item, dict) and "id" in item and "vector" in item and set(item) <= {"id", "vector", "metadata"}:
            record = (item["id"], item["vector"], item.get("metadata", {}))
        else:
            raise ValueError(
                f'{source}:{number}: expected [id, vector, metadata] or {{"id", "vector", "metadata"}}, got {line.strip()[:80]}'
            )
        yield record


def _count_lines(path: Path) -> int:
    """Non-blank lines of a file (the progress bar's total): a quick read before the load."""
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def cmd_load(args: argparse.Namespace) -> int:
    progress, force = _progress_mode(args)
    stream: Union[TextIO, IO[str]]
    if args.file == "-":
        stream, total, source = sys.stdin, None, "<stdin>"
    else:
        path = Path(args.file)
        stream, source = path.open(encoding="utf-8"), args.file
        total = _count_lines(path) if progress and (force or _progress._is_terminal(sys.stderr)) else None
    loaded = 0

    def counted() -> Iterator[tuple[str, Any, dict[str, Any]]]:
        nonlocal loaded
        for record in _records(iter(stream), source):
            loaded += 1
            yield record

    try:
        with _client(args) as vx:
            created = False
            if args.dimension is not None:
                created = args.collection not in {c.name for c in vx.list_collections()}
                collection = vx.get_or_create_collection(args.collection, dimension=args.dimension)
            else:
                collection = _existing(vx, args.collection, " (give --dimension to create it)")
            desc = f"load {args.collection}"
            try:
                with _progress.reporter(progress, total=total, desc=desc, unit="records", force=force) as report:
                    collection.upsert(counted(), batch_size=args.batch_size, progress=report)
            except BaseException:
                # all or nothing: a collection this command made goes with the records it refused
                if created:
                    vx.delete_collection(args.collection)
                raise
            count = len(collection)
    finally:
        if stream is not sys.stdin:
            stream.close()
    print(f"loaded {loaded} records into collection {args.collection} ({count} records now)")
    return 0


def cmd_create_index(args: argparse.Namespace) -> int:
    from .collection import IndexArgsHNSW, IndexArgsIVFFlat

    progress, force = _progress_mode(args)
    arguments: Optional[Union[IndexArgsHNSW, IndexArgsIVFFlat]] = None
    if args.m is not None or args.ef_construction is not None:
        arguments = IndexArgsHNSW(m=args.m, ef_construction=args.ef_construction)
    if args.n_lists is not None:
        if arguments is not None:
            raise ValueError("--n-lists (ivfflat) and --m / --ef-construction (hnsw) do not go together")
        arguments = IndexArgsIVFFlat(n_lists=args.n_lists)
    with _client(args) as vx:
        collection = _existing(vx, args.collection)
        desc = f"create_index {args.collection}"
        with _progress.index_reporter(progress, desc=desc, force=force) as report:
            collection.create_index(
                measure=args.measure,
                method=args.method,
                index_arguments=arguments,
                replace=not args.no_replace,
                progress=report,
                quantization=args.quantization,
                dimensions=args.dimensions,
            )
        print(f"built index {collection.index} on collection {args.collection} ({args.measure})")
    return 0


def _show_warning(
    message: Union[Warning, str],
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Optional[TextIO] = None,
    line: Optional[str] = None,
) -> None:
    """A warning as one line on stderr, clear of any progress bar."""
    from tqdm import tqdm

    with tqdm.external_write_mode(file=sys.stderr):
        print(f"vecs-sqlgen: warning: {message}", file=sys.stderr)


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

    def with_progress(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="a progress bar on stderr (default: when stderr is a terminal; --progress: always)",
        )
        return sp

    sp = with_progress(
        with_schema(with_dsn(sub.add_parser("load", help="upsert records from a JSON Lines file (bulk COPY)")))
    )
    sp.add_argument("collection", help="the collection (created with --dimension when missing)")
    sp.add_argument(
        "file", help='JSON Lines: [id, vector, metadata] or {"id", "vector", "metadata"} per line; - for stdin'
    )
    sp.add_argument("--dimension", type=int, help="create the collection with this dimension if it does not exist")
    sp.add_argument("--batch-size", type=int, default=5000, help="records per COPY batch (default: %(default)s)")
    sp.set_defaults(func=cmd_load)

    sp = with_progress(
        with_schema(with_dsn(sub.add_parser("create-index", help="build a collection's vector index (progress shown)")))
    )
    sp.add_argument("collection", help="the collection")
    sp.add_argument("--measure", default="cosine_distance", help="distance measure (default: %(default)s)")
    sp.add_argument(
        "--method", default="auto", choices=("auto", "hnsw", "ivfflat"), help="index method (default: %(default)s)"
    )
    sp.add_argument("--m", type=int, help="hnsw: connections per node (default 16)")
    sp.add_argument("--ef-construction", type=int, help="hnsw: candidate list size (default 64)")
    sp.add_argument("--n-lists", type=int, help="ivfflat: number of lists")
    sp.add_argument("--quantization", choices=("binary", "halfvec"), help="index a reduced representation")
    sp.add_argument("--dimensions", type=int, help="index the first N dimensions (Matryoshka embeddings)")
    sp.add_argument("--no-replace", action="store_true", help="fail if the collection has a vector index")
    sp.set_defaults(func=cmd_create_index)

    sp = sub.add_parser("dsn", help="print the embedded server's DSN, starting it if needed")
    sp.set_defaults(func=cmd_dsn)

    sp = with_dsn(sub.add_parser("psql", help="open the bundled psql on the database"))
    sp.add_argument("psql_args", nargs=argparse.REMAINDER, help="extra psql arguments")
    sp.set_defaults(func=cmd_psql)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", BuildMemoryWarning)
            warnings.showwarning = _show_warning
            return int(args.func(args))
    except KeyboardInterrupt:
        print("vecs-sqlgen: interrupted", file=sys.stderr)
        return 130
    except (_install.InstallError, VecsException, ValueError) as e:
        print(f"vecs-sqlgen: error: {e}", file=sys.stderr)
    except OSError as e:  # a file that cannot be read: missing, a directory, no permission
        print(
            f"vecs-sqlgen: error: {e.strerror or e}: {e.filename}" if e.filename else f"vecs-sqlgen: error: {e}",
            file=sys.stderr,
        )
    except psycopg.OperationalError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"vecs-sqlgen: error: cannot connect: {first}", file=sys.stderr)
    except psycopg.Error as e:
        msg = e.diag.message_primary or str(e).strip().splitlines()[0]
        print(f"vecs-sqlgen: error: {msg}", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
