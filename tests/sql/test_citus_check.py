"""scripts/citus_check.sql, the checklist docs/scale-out.md gives Citus users, runs clean here on a
local table (no Citus on these machines), and fails loudly when a vecs.* answer is wrong."""

from __future__ import annotations

import subprocess
from pathlib import Path

from vecs_sqlgen.dsn import embedded_bin

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "citus_check.sql"


def _psql(dsn: str, script: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(embedded_bin("psql")), "-X", "-v", "ON_ERROR_STOP=1", "-f", "-", dsn],
                          input=script, capture_output=True, text=True, timeout=120)


def test_the_checklist_passes_on_a_local_table(dsn):
    done = _psql(dsn, SCRIPT.read_text())
    assert done.returncode == 0, done.stderr
    assert "no citus extension here" in done.stdout
    assert done.stdout.strip().endswith("citus_check: all checks passed")


def test_the_checklist_reports_a_wrong_answer(dsn, conn):
    # the same script with one expectation broken: it must name the check and stop
    broken = SCRIPT.read_text().replace("'r7,r3,r999'", "'r7,r999,r3'")
    done = _psql(dsn, broken)
    assert done.returncode != 0
    assert "citus_check failed" in done.stderr and "fetch keeps request order: got r7,r3,r999, expected r7,r999,r3" in done.stderr
    conn.execute("select vecs.drop_collection('citus_check')")
