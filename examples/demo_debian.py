"""The demo on real data: 3,156 Debian packages (name, synopsis, section, tags, size) with their
all-MiniLM-L6-v2 embeddings, committed under examples/debian/ (float16). Loaded with the bulk path,
indexed, then "packages like X, only in section Y" from Python and from SQL, with timings.

    python examples/demo_debian.py [--dsn DSN]      # default: $VECS_DATABASE_URL, $DATABASE_URL, else the embedded server
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

import vecs_sqlgen as vecs
from vecs_sqlgen import dsn as _dsn

DATA = Path(__file__).resolve().parent / "debian"
NAME = "debian packages"


def load() -> tuple[list[dict[str, Any]], np.ndarray]:
    with gzip.open(DATA / "packages.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return rows, np.load(DATA / "packages.f16.npy").astype(np.float32)


def table(title: str, rows: list[tuple[Any, ...]], header: tuple[str, ...], ms: float) -> str:
    cells = [header, *[tuple("" if c is None else str(c) for c in r) for r in rows]]
    widths = [min(max(len(r[i]) for r in cells), 60) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = [f"\n{title}  ({ms:.1f} ms)", line]
    for k, r in enumerate(cells):
        out.append("  ".join(c[:w].ljust(w) for c, w in zip(r, widths)).rstrip())
        if k == 0:
            out.append(line)
    return "\n".join(out)


def timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - start) * 1000


def run(dsn: str | None = None) -> list[str]:
    """Run the demo; returns what it printed (the tests check it)."""
    printed: list[str] = []

    def say(text: str) -> None:
        printed.append(text)
        print(text, flush=True)

    rows, vectors = load()
    by_id = {r["id"]: i for i, r in enumerate(rows)}
    with vecs.create_client(dsn) as vx:
        vx.delete_collection(NAME)
        docs = vx.get_or_create_collection(name=NAME, dimension=vectors.shape[1])

        def records() -> Iterator[tuple[str, np.ndarray, dict[str, Any]]]:
            for r, v in zip(rows, vectors):
                yield r["id"], v, {**r["metadata"], "text": r["text"]}

        _, ms = timed(lambda: docs.upsert(records()))
        say(f"loaded {len(rows)} packages x {vectors.shape[1]} dimensions (binary COPY): {ms:.0f} ms")
        _, ms = timed(lambda: docs.create_index())  # HNSW, cosine distance
        say(f"HNSW index built: {ms:.0f} ms")

        def like(package: str, filters: Any, k: int = 5) -> None:
            found, ms = timed(
                lambda: docs.query(
                    vectors[by_id[package]], limit=k + 1, filters=filters, include_value=True, include_metadata=True
                )  # fmt: skip
            )
            shown = [(i, f"{d:.3f}", m["section"], m["text"].split(": ", 1)[-1]) for i, d, m in found if i != package]
            say(table(f"Python: packages like {package}, filters={filters!r}", shown[:k],
                      ("package", "distance", "section", "synopsis"), ms))  # fmt: skip

        like("gimp", {"section": "graphics"})
        like("python3-numpy", {"section": {"$in": ["science", "math"]}})
        like("audacity", "section = 'sound' and size_kb < 2000")
        like("vim", {"$and": [{"section": "editors"}, {"tags": {"$contains": "interface::text-mode"}}]})

    # The same from SQL: one call of vecs.query, the query vector read from the table itself.
    statement = """
select id, round(distance::numeric, 3) as distance, metadata ->> 'section' as section,
       split_part(metadata ->> 'text', ': ', 2) as synopsis
  from vecs.query('debian packages', (select vec from vecs."debian packages" where id = %s), k => 6,
                  filters => %s::jsonb, include_value => true, include_metadata => true)
 where id <> %s"""
    with psycopg.connect(_dsn.resolve(dsn), autocommit=True) as conn:
        for package, filters in (("kicad", {"section": "electronics"}), ("ffmpeg", {"section": "video"})):
            params = (package, json.dumps(filters), package)
            found, ms = timed(lambda p=params: conn.execute(statement, p).fetchall())
            say(f"\nSQL: {' '.join(statement.split())}\n  with {package!r}, {json.dumps(filters)}")
            say(table(f"SQL: packages like {package}", found, ("package", "distance", "section", "synopsis"), ms))
    return printed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help="default: $VECS_DATABASE_URL, $DATABASE_URL, else the embedded server")
    run(parser.parse_args().dsn)


if __name__ == "__main__":
    main()
