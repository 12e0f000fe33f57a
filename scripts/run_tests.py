"""`make test`: every test layer, in three passes, the third beside the first two.

1. the whole suite (pure, SQL-level, Python API, compatibility, safety, integrations) on the embedded
   PostgreSQL 18 + pgvector server, schema installed by `vecs-sqlgen install`;
2. the SQL-level suite again on CREATE EXTENSION vecs (the bundle copied into that server's extension
   directory), leaving out the files that install on both routes in databases of their own, and the
   filter and query-policy semantics (the same functions either way);
3. the SQL-level suite on PostgreSQL 16 + pgvector 0.6.2 (scripts/matrix.py; what that pgvector lacks
   must fail clearly).

Pass 3 runs on its own server from its own package and directory, so it runs while 1 and 2 do (they
share the embedded server's extension directory, so they run one after the other): on two cores the
whole takes the time of the longest, not the sum. Its output is printed when it ends; the exit status
is non-zero if any pass failed.

    python scripts/run_tests.py [pytest args for pass 1]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
# files that install into databases of their own on both routes whatever the session's route is
EXTENSION_PASS_SKIP = ["tests/sql/test_planted.py", "tests/sql/test_upgrade.py", "tests/sql/test_extension.py",
                       # and the filter compiler's and query policy's semantics: the same rendered
                       # functions on both routes (test_extension.py::test_every_route_installs_the_same_functions),
                       # called by the caller's role either way; they take a quarter of the pass
                       "tests/sql/test_filters.py", "tests/sql/test_search_indexes.py"]


def run(title: str, cmd: list[str], env: dict[str, str] | None = None) -> int:
    print(f"== {title}: {' '.join(cmd[1:])}", flush=True)
    start = time.monotonic()
    rc = subprocess.call(cmd, cwd=ROOT, env=env)
    print(f"== {title}: {'passed' if rc == 0 else f'FAILED (exit {rc})'} in {time.monotonic() - start:.0f} s", flush=True)
    return rc


def main(argv: list[str]) -> int:
    start = time.monotonic()
    with tempfile.TemporaryFile(mode="w+") as log:
        matrix = subprocess.Popen([sys.executable, "scripts/matrix.py", "pg16-pgvector0.6.2"], cwd=ROOT,
                                  stdout=log, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        rcs = [run("pass 1, vecs-sqlgen install", [*PYTEST, *argv])]
        ext = [*PYTEST, "tests/sql", "tests/regress", *(f"--ignore={p}" for p in EXTENSION_PASS_SKIP)]
        rcs.append(run("pass 2, CREATE EXTENSION vecs", ext, env={**os.environ, "VECS_TEST_INSTALL": "extension"}))
        rcs.append(matrix.wait())
        log.seek(0)
        print("== pass 3, PostgreSQL 16 + pgvector 0.6.2 (scripts/matrix.py):", flush=True)
        sys.stdout.write(log.read())
        print(f"== pass 3: {'passed' if rcs[-1] == 0 else f'FAILED (exit {rcs[-1]})'}", flush=True)
    failed = [i + 1 for i, rc in enumerate(rcs) if rc]
    print(f"== make test: {'passed' if not failed else f'FAILED (pass {failed})'} in {time.monotonic() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
