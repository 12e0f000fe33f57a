"""pg_regress-style golden tests: each tests/regress/sql/NAME.sql runs through psql against the test
server and its output must equal tests/regress/expected/NAME.out.

The actual output goes to tests/regress/results/NAME.out; on a mismatch the test fails with a unified
diff. To accept new output after reviewing it: VECS_REGRESS_ACCEPT=1 pytest tests/regress (then read
the diff of expected/ before committing: the expected files are assertions).
"""

from __future__ import annotations

import difflib
import os
import subprocess
from pathlib import Path

import pytest

from vecs_sqlgen.dsn import embedded_bin

HERE = Path(__file__).resolve().parent
SCRIPTS = sorted((HERE / "sql").glob("*.sql"))

# Output that does not depend on the user's psqlrc, pager, locale or terminal.
PSET = ["-P", "pager=off", "-P", "format=aligned", "-P", "border=1", "-P", "linestyle=ascii",
        "-P", "null=(null)", "-P", "footer=on", "-P", "expanded=off", "-P", "numericlocale=off"]


def run_script(script: Path, dsn: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        PGOPTIONS="-c client_min_messages=warning",
        PGTZ="UTC",
        PGDATESTYLE="ISO, MDY",
        PGCLIENTENCODING="UTF8",
        LC_ALL="C",
        LANG="C",
    )
    with script.open("rb") as stdin:  # stdin, not -f: error lines then carry no file name or line number
        proc = subprocess.run(
            [str(embedded_bin("psql")), "-X", "-a", "-q", "-v", "ON_ERROR_STOP=0", "--no-psqlrc", *PSET, "-d", dsn],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stdout.decode(errors="replace")
    return proc.stdout.decode("utf-8")


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_regress(dsn, script):
    actual = run_script(script, dsn)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / f"{script.stem}.out").write_text(actual, encoding="utf-8")
    expected_file = HERE / "expected" / f"{script.stem}.out"
    if os.environ.get("VECS_REGRESS_ACCEPT"):
        expected_file.write_text(actual, encoding="utf-8")
    assert expected_file.exists(), f"no expected output {expected_file} (see {results / (script.stem + '.out')})"
    expected = expected_file.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"expected/{script.stem}.out",
                tofile=f"results/{script.stem}.out",
            )
        )
        pytest.fail(f"output of sql/{script.name} differs from expected/{script.stem}.out:\n{diff}", pytrace=False)


def test_every_script_has_expected_output():
    expected = sorted(p.stem for p in (HERE / "expected").glob("*.out"))
    assert expected == [s.stem for s in SCRIPTS]
    assert {"basic", "filters", "errors"} <= set(expected)
