"""The CLI's long operations, load and create-index: the Python API's progress bars on stderr when
it is a terminal (a real pseudo-terminal here), nothing when it is not; --progress / --no-progress;
warnings and bad input as one line each (issue 15)."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys

import psycopg
import pytest

SCHEMA = "cli_progress"
ROWS = 3000


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "vecs_sqlgen.cli", *args]


def on_a_pipe(*args: str, env=None, input=None) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), capture_output=True, text=True, input=input, timeout=180,
                          env={**os.environ, **(env or {})})  # fmt: skip


def on_a_terminal(*args: str, env=None) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of the command with stderr on a pseudo-terminal of 120 columns
    (as in an interactive shell) and stdout on a pipe."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(command(*args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                            env={**os.environ, **(env or {})})  # fmt: skip
    os.close(slave)
    err = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 180)
            if not ready:
                proc.kill()
                raise AssertionError("the command did not finish")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child's end of the terminal is closed
                break
            if not data:
                break
            err += data
    finally:
        os.close(master)
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(timeout=60), out, err.decode(errors="replace")


@pytest.fixture(scope="module")
def schema_installed(server_dsn):
    """The layer installed once for the module, by the CLI itself."""
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {SCHEMA} cascade")
    assert on_a_pipe("install", "--dsn", server_dsn, "--schema", SCHEMA).returncode == 0
    yield server_dsn
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {SCHEMA} cascade")


@pytest.fixture
def installed(schema_installed):
    """... with no collection in it when each test starts."""
    yield schema_installed
    with psycopg.connect(schema_installed, autocommit=True) as conn:
        for (name,) in conn.execute(f"select name from {SCHEMA}.list_collections()").fetchall():
            conn.execute(f"select {SCHEMA}.drop_collection(%s)", (name,))


@pytest.fixture
def records_file(tmp_path):
    import numpy as np

    path = tmp_path / "records.jsonl"
    rng = np.random.default_rng(5)
    with path.open("w") as f:
        for i, v in enumerate(rng.random((ROWS, 16))):
            line = [f"r{i}", [round(float(x), 5) for x in v], {"i": i}] if i % 2 else {"id": f"r{i}", "vector": v.tolist()}
            f.write(json.dumps(line) + "\n")
        f.write("\n")  # blank lines are skipped
    return path


def count(dsn: str, collection: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"select {SCHEMA}.count(%s)", (collection,)).fetchone()[0]


def test_load_and_create_index_draw_bars_on_a_terminal(installed, records_file):
    common = ("--dsn", installed, "--schema", SCHEMA)
    status, out, err = on_a_terminal("load", "docs", str(records_file), "--dimension", "16", *common)
    assert status == 0, err
    assert out == f"loaded {ROWS} records into collection docs ({ROWS} records now)\n"
    assert "load docs" in err and f"{ROWS}/{ROWS}" in err and "records" in err and "100%" in err
    assert count(installed, "docs") == ROWS

    status, out, err = on_a_terminal("create-index", "docs", "--method", "hnsw", "--m", "8", *common)
    assert status == 0, err
    assert out.startswith("built index ix_vector_cosine_ops_hnsw_m8_efc64_") and out.endswith(" on collection docs (cosine_distance)\n")
    assert "create_index docs" in err and "tuples" in err


def test_nothing_on_stderr_when_it_is_not_a_terminal(installed, records_file):
    common = ("--dsn", installed, "--schema", SCHEMA)
    loaded = on_a_pipe("load", "docs", str(records_file), "--dimension", "16", *common)
    assert (loaded.returncode, loaded.stderr) == (0, "")
    assert loaded.stdout == f"loaded {ROWS} records into collection docs ({ROWS} records now)\n"
    built = on_a_pipe("create-index", "docs", *common)
    assert (built.returncode, built.stderr) == (0, "")
    assert built.stdout.startswith("built index ix_vector_cosine_ops_hnsw_m16_efc64_")


def test_progress_draws_anywhere_and_no_progress_nowhere(installed, records_file):
    common = ("--dsn", installed, "--schema", SCHEMA)
    forced = on_a_pipe("load", "docs", str(records_file), "--dimension", "16", "--progress", *common)
    assert forced.returncode == 0 and f"{ROWS}/{ROWS}" in forced.stderr and "load docs" in forced.stderr
    assert "create_index docs" in on_a_pipe("create-index", "docs", "--progress", *common).stderr
    status, _, err = on_a_terminal("load", "docs", str(records_file), "--no-progress", *common)
    assert (status, err) == (0, "")
    status, _, err = on_a_terminal("create-index", "docs", "--no-progress", *common)
    assert (status, err) == (0, "")


def test_load_from_stdin_into_an_existing_collection(installed):
    common = ("--dsn", installed, "--schema", SCHEMA)
    with psycopg.connect(installed, autocommit=True) as conn:
        conn.execute(f"select {SCHEMA}.create_collection('small', 2)")
    lines = '["a", [1, 2], {"year": 1973}]\n{"id": "b", "vector": [3, 4], "metadata": {"year": 2012}}\n'
    loaded = on_a_pipe("load", "small", "-", "--batch-size", "1", *common, input=lines)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout == "loaded 2 records into collection small (2 records now)\n"
    with psycopg.connect(installed) as conn:
        got = conn.execute(f"select id, metadata from {SCHEMA}.fetch('small', array['a', 'b'])").fetchall()
    assert got == [("a", {"year": 1973}), ("b", {"year": 2012})]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ('["a", [1, 2]]\nnot json\n', "vecs-sqlgen: error: <stdin>:2: not JSON (Expecting value)\n"),
        ('{"id": "a", "values": [1, 2]}\n', 'vecs-sqlgen: error: <stdin>:1: expected [id, vector, metadata] or {"id", "vector", "metadata"}, got {"id": "a", "values": [1, 2]}\n'),
        ("".join(f'["r{i}", [1, 2]]\n' for i in range(700)) + '["bad", [1, 2, 3]]\n',
         'vecs-sqlgen: error: record 701 (id "bad"): '),
    ],
    ids=["not-json", "not-a-record", "wrong-dimension-after-700"],
)
def test_bad_input_is_one_line_and_loads_nothing(installed, lines, message):
    with psycopg.connect(installed, autocommit=True) as conn:
        conn.execute(f"select {SCHEMA}.create_collection('small', 2)")
    result = on_a_pipe("load", "small", "-", "--dsn", installed, "--schema", SCHEMA, input=lines)
    assert result.returncode == 1 and result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert count(installed, "small") == 0


def test_a_failed_load_leaves_no_collection_it_made(installed):
    """--dimension made the collection: a refused record takes it away again (all or nothing); one
    that existed before is kept, empty."""
    lines = '["a", [1, 2]]\n["b", [1, 2, 3]]\n'
    result = on_a_pipe("load", "fresh", "-", "--dimension", "2", "--dsn", installed, "--schema", SCHEMA, input=lines)
    assert result.returncode == 1 and result.stderr.startswith("vecs-sqlgen: error: record 2 (id \"b\")"), result.stderr
    with psycopg.connect(installed) as conn:
        names = [r[0] for r in conn.execute(f"select name from {SCHEMA}.list_collections()")]
    assert "fresh" not in names
    with psycopg.connect(installed, autocommit=True) as conn:
        conn.execute(f"select {SCHEMA}.create_collection('kept', 2)")
    result = on_a_pipe("load", "kept", "-", "--dimension", "2", "--dsn", installed, "--schema", SCHEMA, input=lines)
    assert result.returncode == 1 and count(installed, "kept") == 0


@pytest.mark.parametrize("kind", ["directory", "missing"])
def test_a_file_that_cannot_be_read_is_one_line(installed, tmp_path, kind):
    path = tmp_path if kind == "directory" else tmp_path / "missing.jsonl"
    result = on_a_pipe("load", "docs", str(path), "--dimension", "2", "--dsn", installed, "--schema", SCHEMA)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("vecs-sqlgen: error: ") and str(path) in result.stderr


def test_load_needs_the_collection_or_a_dimension(installed, records_file):
    result = on_a_pipe("load", "nope", str(records_file), "--dsn", installed, "--schema", SCHEMA)
    assert result.returncode == 1 and result.stderr.startswith("vecs-sqlgen: error: ") and result.stderr.count("\n") == 1


def test_create_index_warns_in_one_line_before_a_build_that_will_not_fit(installed, records_file):
    """The build-memory warning, before the bar is done: one line on stderr, clear of the bar."""
    common = ("--dsn", installed, "--schema", SCHEMA)
    assert on_a_pipe("load", "docs", str(records_file), "--dimension", "16", *common).returncode == 0
    small = {"PGOPTIONS": "-c maintenance_work_mem=1MB -c vecs.max_build_memory=1MB"}
    built = on_a_pipe("create-index", "docs", *common, env=small)
    assert built.returncode == 0, built.stderr
    lines = built.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("vecs-sqlgen: warning: ") for line in lines), built.stderr
    assert "needs about" in lines[0] and "SET vecs.max_build_memory = '" in lines[0]
    assert "no longer fits into maintenance_work_mem" in lines[1]
    status, _, err = on_a_terminal("create-index", "docs", *common, env=small)
    assert status == 0
    warned = err.index("vecs-sqlgen: warning: vecs: the HNSW graph")
    assert "create_index docs" in err[warned:]  # the bar goes on below the warning



def test_create_index_options(installed):
    common = ("--dsn", installed, "--schema", SCHEMA)
    lines = "".join(json.dumps([f"r{i}", [i, 1, -i, 2], {}]) + "\n" for i in range(60))
    assert on_a_pipe("load", "four", "-", "--dimension", "4", *common, input=lines).returncode == 0

    def built(*options: str) -> str:
        result = on_a_pipe("create-index", "four", *options, *common)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert built("--method", "ivfflat", "--n-lists", "3", "--measure", "l2_distance").startswith(
        "built index ix_vector_l2_ops_ivfflat_nl3_"
    )
    assert re.search(r"^built index ix_vector_cosine_ops_hnsw_m16_efc64_\w+_bq on", built("--quantization", "binary"))
    assert re.search(r"^built index ix_vector_ip_ops_hnsw_m16_efc40_\w+_sub2 on", built(
        "--dimensions", "2", "--method", "hnsw", "--ef-construction", "40", "--measure", "max_inner_product"))
    refused = on_a_pipe("create-index", "four", "--no-replace", *common)
    assert (refused.returncode, refused.stderr) == (1, "vecs-sqlgen: error: replace is set to False but an index exists\n")
    mixed = on_a_pipe("create-index", "four", "--method", "hnsw", "--m", "8", "--n-lists", "3", *common)
    assert mixed.returncode == 1 and "do not go together" in mixed.stderr
