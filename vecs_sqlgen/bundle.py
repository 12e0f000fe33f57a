"""The extension bundle: ``vecs.control`` and the scripts of ``CREATE EXTENSION vecs`` and ``ALTER
EXTENSION vecs UPDATE``, rendered by the same render() as ``vecs-sqlgen install``, in PGXS layout:

    DIR/vecs.control           requires vector; default_version from _version.py; schema vecs
    DIR/vecs--B.sql            the install script: the functions of a CLI install, without CREATE SCHEMA
    DIR/vecs--A--B.sql         an upgrade script (from --upgrade-from the script that installed A)

The functions depend on pgvector's version (what it can do) and schema, so a bundle is built for
one target, by default the pgvector of the server it is for: rebuild it for each pgvector version.
Every script checks the target first and refuses, saying how to rebuild, when the database's
pgvector does not fit.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import render as _render
from . import upgrade as _upgrade
from ._version import __version__

EXTENSION = "vecs"
# pgvector versions at which what the rendered functions use changes (see render.Capabilities)
LEVELS = ((0, 5, 0), (0, 7, 0), (0, 8, 0))

_BUILD_INFO = re.compile(
    r"\.build_info\(\)\s+RETURNS jsonb.*?\$function\$ SELECT '(\{.*?\})'::jsonb \$function\$", re.S
)


def pgvector_range(caps: _render.Capabilities) -> tuple[tuple[int, int, int], tuple[int, int, int] | None]:
    """The pgvector versions with exactly the capabilities ``caps`` renders for: [low, high)."""
    have = caps.version_tuple
    low = max([(0, 0, 0), *(v for v in LEVELS if v <= have)])
    high = min((v for v in LEVELS if v > have), default=None)
    return low, high


def control(schema: str = "vecs", caps: _render.Capabilities | None = None, *, version: str = __version__) -> str:
    """vecs.control. Trusted: a role with CREATE on the database may create it once pgvector (which
    is not trusted) exists; the script then runs as the bootstrap superuser, which is safe because it
    creates SECURITY INVOKER functions with pinned settings, takes over no object, and gives the two
    SECURITY DEFINER helpers to the schema's owner (the extension's owner), never to the superuser."""
    caps = caps or _render.Capabilities()
    _render.check_name("schema", schema)
    low, _ = pgvector_range(caps)
    return (
        f"# vecs-sqlgen {version}, built by vecs-sqlgen bundle for pgvector {caps.pgvector} (needs >= "
        f"{'.'.join(map(str, low))}) in schema {caps.vector_schema}: rebuild per pgvector version\n"
        "comment = 'vecs (supabase vecs API): vector collections, upsert, metadata filters and similarity search as SQL functions'\n"
        f"default_version = '{version}'\n"
        "requires = 'vector'\n"
        "relocatable = false\n"
        f"schema = '{schema}'\n"
        "trusted = true\n"
    )


def _guard(rendered: _render.Rendered, schema: str, caps: _render.Capabilities, version: str, *, install: bool) -> str:
    low, high = pgvector_range(caps)
    return _render.render_piece(
        "extension_guard.sql.j2",
        schema,
        caps,
        version=version,
        install=install,
        min_pgvector=low,
        next_pgvector=high,
        names=rendered.functions,
    )


def install_script(
    schema: str = "vecs",
    caps: _render.Capabilities | None = None,
    *,
    version: str = __version__,
    templates: Path | None = None,
) -> str:
    """vecs--VERSION.sql: the psql guard line, the target check, then the install SQL without CREATE SCHEMA."""
    caps = caps or _render.Capabilities()
    rendered = _render.render(schema, caps, version=version, extension=True, templates=templates)
    return (
        f'\\echo Use "CREATE EXTENSION {EXTENSION}" to load this file. \\quit\n'
        f"-- vecs-sqlgen {version}: the script of CREATE EXTENSION {EXTENSION}, for pgvector {caps.pgvector} in schema "
        f"{caps.vector_schema}.\n-- Built by vecs-sqlgen bundle from sql/ (the templates of vecs-sqlgen install): do not edit.\n\n"
        + _guard(rendered, schema, caps, version, install=True)
        + "\n"
        + rendered.sql
    )


@dataclass(frozen=True)
class ScriptInfo:
    version: str
    schema: str
    vector_schema: str
    manifest: dict[str, Any]


def script_info(text: str) -> ScriptInfo:
    """What an install or upgrade script (or install SQL) leaves installed: version, schema, functions."""
    m = _BUILD_INFO.search(text)
    if not m:
        raise ValueError("not a vecs-sqlgen script: it defines no build_info()")
    info = json.loads(m.group(1))
    vector_schema = info["pgvector"]["vector_schema"]
    return ScriptInfo(info["version"], info["schema"], vector_schema, _render.manifest(text, vector_schema))


def upgrade_script(
    old: str,
    schema: str = "vecs",
    caps: _render.Capabilities | None = None,
    *,
    version: str = __version__,
    templates: Path | None = None,
) -> tuple[str, str]:
    """vecs--A--VERSION.sql from ``old``, the text of the script that installed A (an install script,
    or an upgrade script ending at A): the target check, the DROPs of the functions VERSION no longer
    has or declares differently (upgrade.py), then every function of VERSION (CREATE OR REPLACE).
    Returns (A, text)."""
    caps = caps or _render.Capabilities()
    before = script_info(old)
    if before.schema != schema:
        raise ValueError(f"the old script installs into schema {before.schema!r}, not {schema!r}")
    if _render.parse_version(before.version) >= _render.parse_version(version):
        raise ValueError(f"the old script installs {before.version}, not older than {version}")
    rendered = _render.render(schema, caps, version=version, extension=True, templates=templates)
    plan = _upgrade.plan(before.manifest, rendered.manifest)
    drop, grants = _upgrade.steps(schema, caps, before.manifest, rendered, version=version)
    header = (
        f"\\echo Use \"ALTER EXTENSION {EXTENSION} UPDATE TO '{version}'\" to load this file. \\quit\n"
        f"-- vecs-sqlgen {before.version} -> {version}: the script of ALTER EXTENSION {EXTENSION} UPDATE, for pgvector "
        f"{caps.pgvector} in schema {caps.vector_schema}.\n"
        f"-- Built by vecs-sqlgen bundle --upgrade-from (the {before.version} script); do not edit once released.\n"
        f"-- dropped: {', '.join(plan.removed) or 'none'}; dropped and created again: {', '.join(plan.redeclared) or 'none'}\n\n"
    )
    return before.version, header + _guard(
        rendered, schema, caps, version, install=False
    ) + "\n" + drop + rendered.sql + grants


def committed_upgrades() -> list[Path]:
    """The upgrade scripts committed in the checkout's extension/ folder (none when installed from a wheel)."""
    folder = _render.sql_dir().parent / "extension"
    return sorted(folder.glob(f"{EXTENSION}--*--*.sql")) if folder.is_dir() else []


def write(
    out_dir: str | os.PathLike[str],
    schema: str = "vecs",
    caps: _render.Capabilities | None = None,
    *,
    version: str = __version__,
    upgrade_from: Sequence[str | os.PathLike[str]] = (),
    templates: Path | None = None,
) -> list[Path]:
    """Write the bundle into ``out_dir``; returns the files, control file first."""
    caps = caps or _render.Capabilities()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        out / f"{EXTENSION}.control": control(schema, caps, version=version),
        out / f"{EXTENSION}--{version}.sql": install_script(schema, caps, version=version, templates=templates),
    }
    for path in committed_upgrades():
        if path.resolve().parent != out.resolve():
            files.setdefault(out / path.name, path.read_text())
    for old in upgrade_from:
        old_version, text = upgrade_script(Path(old).read_text(), schema, caps, version=version, templates=templates)
        files[out / f"{EXTENSION}--{old_version}--{version}.sql"] = text
    for path, text in files.items():
        _write_atomically(path, text)
    return list(files)


# ----------------------------------------------------------------------------- a server's extension directory


def embedded_pg_config() -> Path:
    from .dsn import embedded_bin

    return embedded_bin("pg_config")


def sharedir(pg_config: str | os.PathLike[str] | None = None) -> Path:
    """``pg_config --sharedir`` (default: the embedded server's)."""
    exe = str(pg_config or embedded_pg_config())
    try:
        out = subprocess.run([exe, "--sharedir"], capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise FileNotFoundError(f"cannot run {exe} --sharedir: {e}") from None
    return Path(out.strip())


def available_pgvector(pg_config: str | os.PathLike[str] | None = None) -> str:
    """The version CREATE EXTENSION vector installs on that installation (vector.control's default)."""
    control_file = sharedir(pg_config) / "extension" / "vector.control"
    if not control_file.is_file():
        raise FileNotFoundError(f"pgvector is not installed there: no {control_file}")
    m = re.search(r"^\s*default_version\s*=\s*'([^']+)'", control_file.read_text(), re.M)
    if not m:
        raise ValueError(f"no default_version in {control_file}")
    return m.group(1)


def install_files(
    files: Sequence[str | os.PathLike[str]], pg_config: str | os.PathLike[str] | None = None
) -> list[Path]:
    """Copy bundle files into ``$(pg_config --sharedir)/extension`` (what make install-extension does)."""
    target = sharedir(pg_config) / "extension"
    if not target.is_dir():
        raise FileNotFoundError(f"no extension directory {target}")
    copied = []
    for f in files:
        dest = target / Path(f).name
        _write_atomically(dest, Path(f).read_text())
        copied.append(dest)
    return copied


def _write_atomically(path: Path, text: str) -> None:
    # a server reading the directory (another session's CREATE EXTENSION) never sees half a file
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_files(names: list[str], pg_config: str | os.PathLike[str] | None = None) -> None:
    """Remove bundle files from a server's extension directory (tests clean up what they installed)."""
    target = sharedir(pg_config) / "extension"
    for name in names:
        (target / name).unlink(missing_ok=True)
