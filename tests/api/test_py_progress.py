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
