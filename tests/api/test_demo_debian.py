"""The real-data demo (examples/demo_debian.py, run by make demo) runs against the session's server and
finds what a person expects: neighbours in the section asked for."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo_debian.py"


@pytest.fixture
def demo():
    spec = importlib.util.spec_from_file_location("demo_debian", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_demo_runs_and_finds_neighbours_in_the_section(demo, dsn, vx):
    try:
        printed = "\n".join(demo.run(dsn))
    finally:
        vx.delete_collection(demo.NAME)
    assert "loaded 3156 packages x 384 dimensions" in printed
    for title in ("packages like gimp", "packages like python3-numpy", "packages like audacity",
                  "packages like vim", "SQL: packages like kicad", "SQL: packages like ffmpeg"):  # fmt: skip
        assert title in printed
    sections = {
        "gimp": {"graphics"}, "python3-numpy": {"science", "math"}, "audacity": {"sound"}, "vim": {"editors"},
        "kicad": {"electronics"}, "ffmpeg": {"video"},
    }  # fmt: skip
    for block in printed.split("\n\n"):
        head = block.splitlines()[0] if block else ""
        for package, allowed in sections.items():
            if f"packages like {package}" in head and "(" in head:
                rows = block.splitlines()[4:]
                assert len(rows) == 5, block
                assert all(row.split()[2] in allowed for row in rows), block
