"""The benchmark's data: the shared real embeddings when present, else a synthetic clustered set;
held-out query vectors; exact (ground-truth) search and recall with ties.

Real data: ``../shared/data`` (62,666 × 384 float16 all-MiniLM-L6-v2 embeddings of Debian package
synopses, with metadata; see that folder's README.md), or any folder named by ``$VECS_BENCH_DATA``
holding ``debian_minilm384.f16.npy`` and ``debian_minilm384.meta.jsonl.gz``.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"
VECTORS, META = "debian_minilm384.f16.npy", "debian_minilm384.meta.jsonl.gz"

N_QUERIES = 200
NOISE = 0.01  # per-dimension Gaussian noise on a held-out vector (cosine to the original ≈ 0.98)
K = 10

# (label, vecs filter) from ~0.3 % to ~10 % selectivity; shares are measured on the loaded rows
FILTERS = [
    ("electronics", {"section": {"$eq": "electronics"}}),
    ("sound", {"section": {"$eq": "sound"}}),
    ("science", {"section": {"$eq": "science"}}),
    ("python", {"section": {"$eq": "python"}}),
    ("python+science ($in)", {"section": {"$in": ["python", "science"]}}),
    ("libs", {"section": {"$eq": "libs"}}),
]

# synthetic fallback: section shares close to the real set's
_SYNTHETIC_SECTIONS = {"electronics": 0.0031, "sound": 0.0131, "science": 0.0261, "python": 0.0714, "libs": 0.1055}


@dataclass
class Dataset:
    source: str  # "real" or "synthetic"
    ids: list[str]  # the rows loaded into the tables (held-out rows removed)
    vectors: np.ndarray  # float32, (n, d)
    metadata: list[dict]
    queries: np.ndarray  # float32, (N_QUERIES, d): perturbed held-out vectors
    sections: np.ndarray  # the section of each loaded row (for exact filtered search)

    @property
    def dimension(self) -> int:
        return self.vectors.shape[1]

    def records(self, start: int = 0, stop: int | None = None) -> list[tuple]:
        """``(id, vector, metadata)`` tuples, as a vecs user passes them."""
        stop = len(self.ids) if stop is None else stop
        return [(self.ids[i], self.vectors[i], self.metadata[i]) for i in range(start, stop)]

    def matches(self, filters: dict) -> np.ndarray:
        """Boolean mask of the rows a ``{"section": {"$eq"|"$in": …}}`` filter keeps."""
        (op, value), = filters["section"].items()
        return np.isin(self.sections, [value] if op == "$eq" else value)


def load(seed: int = 0) -> Dataset:
    folder = Path(os.environ.get("VECS_BENCH_DATA", DEFAULT_DATA))
    if (folder / VECTORS).exists() and (folder / META).exists():
        vectors = np.load(folder / VECTORS).astype(np.float32)
        with gzip.open(folder / META, "rt", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        ids, metadata, source = [r["id"] for r in rows], [r["metadata"] for r in rows], "real"
    else:
        ids, vectors, metadata = _synthetic(seed)
        source = "synthetic"
    return _hold_out(source, ids, vectors, metadata, seed)


def _hold_out(source: str, ids: list, vectors: np.ndarray, metadata: list, seed: int) -> Dataset:
    """Remove N_QUERIES random rows from the set; their perturbed vectors are the queries."""
    rng = np.random.default_rng(seed)
    held = rng.choice(len(ids), size=N_QUERIES, replace=False)
    keep = np.setdiff1d(np.arange(len(ids)), held)
    queries = vectors[held] + rng.normal(0, NOISE, size=(N_QUERIES, vectors.shape[1])).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    kept_meta = [metadata[i] for i in keep]
    return Dataset(
        source=source,
        ids=[ids[i] for i in keep],
        vectors=np.ascontiguousarray(vectors[keep]),
        metadata=kept_meta,
        queries=queries.astype(np.float32),
        sections=np.array([m.get("section", "") for m in kept_meta]),
    )


def _synthetic(seed: int, n: int = 62_666, dimension: int = 384, clusters: int = 300):
    """Clustered unit vectors with a section per row at the real set's selectivities."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dimension)).astype(np.float32)
    assignment = rng.integers(0, clusters, size=n)
    vectors = centres[assignment] + rng.normal(0, 0.6, size=(n, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = list(_SYNTHETIC_SECTIONS) + ["other"]
    shares = list(_SYNTHETIC_SECTIONS.values())
    sections = rng.choice(names, size=n, p=shares + [1 - sum(shares)])
    metadata = [{"section": str(s), "size_kb": int(rng.integers(1, 10_000))} for s in sections]
    return [f"pkg{i:06d}" for i in range(n)], vectors, metadata


# ---------------------------------------------------------------------- ground truth and scoring


class Truth:
    """Exact cosine distances from every query to every loaded row (numpy, float64)."""

    def __init__(self, data: Dataset):
        base = data.vectors.astype(np.float64)
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        q = data.queries.astype(np.float64)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        self.distances = 1.0 - q @ base.T  # (queries, rows)
        self.position = {id_: i for i, id_ in enumerate(data.ids)}

    def score(self, qi: int, returned: list[str], mask: np.ndarray | None = None, k: int = K) -> tuple[bool, float]:
        """(complete, recall@k) of one result against exact (filtered) search.

        Complete: exactly min(k, matching rows) rows came back. Recall counts a returned row as
        correct when it matches and its true distance is within 1e-5 of the k-th nearest match
        (ties and float32 rounding in pgvector do not count against a result).
        """
        d = self.distances[qi] if mask is None else np.where(mask, self.distances[qi], np.inf)
        want = int(min(k, np.count_nonzero(np.isfinite(d))))
        if want == 0:
            return len(returned) == 0, 1.0
        kth = np.partition(d, want - 1)[want - 1]
        positions = [self.position[r] for r in dict.fromkeys(returned) if r in self.position]
        hits = sum(1 for p in positions if np.isfinite(d[p]) and d[p] <= kth + 1e-5)
        return len(returned) == want, min(hits, want) / want
