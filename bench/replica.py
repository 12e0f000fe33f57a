"""A streaming replica of the benchmark's embedded server, for the replica-routed read load of
bench/concurrency.py: ``pg_basebackup -R -X stream`` over the primary's socket, run as the server's
OS user, started on a socket in its own data directory."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from vecs_sqlgen.dsn import embedded_bin

from .env import Server


@dataclass
class Replica:
    data: Path
    dsn: str
    user: str | None

    def stop(self) -> None:
        _run(self.user, "pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")


def _run(user: str | None, program: str, *args: str) -> None:
    subprocess.run([str(embedded_bin(program)), *args], check=True, capture_output=True, timeout=600, user=user)


def start(server: Server) -> Replica:
    user = getattr(server.handle, "system_user", None)  # pg_ctl and pg_basebackup refuse root
    data = server.tmpdir / "replica"
    data.mkdir(mode=0o700)
    if user:
        shutil.chown(data, user, user)
    socket = psycopg.conninfo.conninfo_to_dict(server.dsn)["host"]
    _run(user, "pg_basebackup", "-D", str(data), "-R", "-X", "stream", "-c", "fast", "-h", socket, "-U", "postgres")
    for copied in data.glob(".s.PGSQL.*"):  # the primary's socket lock, copied with its data
        copied.unlink()
    _run(user, "pg_ctl", "-D", str(data), "-w", "-l", str(data / "log"), "-o", f"-h '' -k {data}", "start")
    dbname = psycopg.conninfo.conninfo_to_dict(server.dsn)["dbname"]
    return Replica(data, f"postgresql://postgres:@/{dbname}?host={data}", user)
