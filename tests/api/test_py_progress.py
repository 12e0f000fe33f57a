"""Progress of long work (issue 15, item 3): upsert(progress=True) draws a bar on a terminal and
nothing elsewhere; the callable form is unchanged (test_py_records.py)."""

from __future__ import annotations

import io
import sys

import pytest

from vecs_sqlgen.exc import ArgError


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _records(n: int):
    return [(f"id{i}", [float(i), 1.0, 2.0], {"i": i}) for i in range(n)]


@pytest.mark.parametrize("n", [3, 1200], ids=["arrays", "copy"])
def test_upsert_progress_bar_on_a_terminal(docs, monkeypatch, n):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    docs.upsert(_records(n), batch_size=500, progress=True)
    out = terminal.getvalue()
    assert f"{n}/{n}" in out and "records" in out and f"upsert {docs.name}" in out
    assert len(docs) == n


def test_upsert_progress_of_a_generator_counts_without_a_total(docs, monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    docs.upsert((r for r in _records(700)), batch_size=300, progress=True)
    assert "700records" in terminal.getvalue().replace(" ", "")
    assert len(docs) == 700


def test_no_bar_when_stderr_is_not_a_terminal(docs, monkeypatch, capfd):
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    docs.upsert(_records(1200), progress=True)
    assert pipe.getvalue() == ""
    assert capfd.readouterr().err == ""
    assert len(docs) == 1200


def test_progress_false_or_none_reports_nothing_and_bad_values_are_refused(docs, monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    docs.upsert(_records(2), progress=False)
    docs.upsert(_records(2), progress=None)
    assert terminal.getvalue() == ""
    with pytest.raises(ArgError, match="progress must be"):
        docs.upsert(_records(2), progress="yes")


# ---------------------------------------------------------------------------- index builds

ROWS = 3000


@pytest.fixture
def medium(vx, name):
    """3,000 records of 16 dimensions."""
    import numpy as np

    docs = vx.get_or_create_collection(name, dimension=16)
    rng = np.random.default_rng(7)
    docs.upsert((f"r{i}", v, {"i": i}) for i, v in enumerate(rng.random((ROWS, 16), dtype=np.float32)))
    return docs


# pg_stat_progress_create_index's phases, as the server names them (HNSW: "building index: …")
PHASES = ("initializing", "building index", "waiting", "index validation", "done")


def test_create_index_reports_the_builds_progress_to_a_callable(medium):
    from vecs_sqlgen._progress import IndexBuildProgress

    seen: list[IndexBuildProgress] = []
    medium.create_index(progress=seen.append)
    assert medium.index is not None
    assert seen[-1].phase == "done" and all(p.phase.startswith(PHASES) for p in seen)


def test_index_build_samples_the_servers_progress(medium, dsn):
    import psycopg

    from vecs_sqlgen import _progress

    seen: list[_progress.IndexBuildProgress] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        table = psycopg.sql.Identifier("vecs", medium.name)
        watch = _progress.index_build(seen.append, dsn=dsn, pid=conn.info.backend_pid, desc="t", interval=0.005)
        with watch:
            conn.execute(psycopg.sql.SQL("create index on {} using hnsw (vec vector_l2_ops)").format(table))
    assert seen[-1].phase == "done"
    sampled = seen[:-1]
    assert sampled and all(p.phase.startswith(PHASES) for p in sampled)
    loading = [p for p in sampled if p.tuples_total]
    assert all(p.tuples_total == ROWS for p in loading)
    if loading:
        assert seen[-1] == _progress.IndexBuildProgress("done", ROWS, ROWS)


def test_create_index_progress_bar_on_a_terminal_and_none_elsewhere(medium, monkeypatch, dsn):
    from vecs_sqlgen import _progress

    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    medium.create_index(progress=True)
    assert f"create_index {medium.name}" in terminal.getvalue()
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    with _progress.index_build(True, dsn=dsn, pid=0, desc="nothing"):
        pass
    assert pipe.getvalue() == ""


def test_create_index_failing_reports_no_done(docs):
    seen = []
    docs.create_index(progress=seen.append)
    with pytest.raises(ArgError):
        docs.create_index(replace=False, progress=seen.append)
    assert [p.phase for p in seen].count("done") == 1
    with pytest.raises(ArgError, match="progress must be"):
        docs.create_index(progress=1)


def test_index_build_progress_is_public_and_is_what_the_callback_receives(medium):
    import vecs_sqlgen as vecs

    assert "IndexBuildProgress" in vecs.__all__
    seen: list = []
    medium.create_index(progress=seen.append)
    assert seen and all(type(p) is vecs.IndexBuildProgress for p in seen)
    assert seen[-1].phase == "done"
    assert vecs.IndexBuildProgress._fields == ("phase", "tuples_done", "tuples_total")
