"""``make bench-scale``'s data: N rows (the shared real set expanded with noisy, re-normalised copies
when it is present, a synthetic clustered set otherwise), bench-only metadata keys that give every
filter shape every selectivity exactly, the filters, and exact (numpy) ground truth.

Bench keys, from one random permutation of the rows (``b`` = rank mod 10,000, so each of the
10,000 values of ``b`` holds exactly N / 10,000 rows; N is a multiple of 10,000):

- ``bucket`` (int) = b: uniform 0..9999;
- ``cat`` (string): segments of b — A [0,10) 0.1 %, B [10,40) 0.3 %, C [40,140) 1 %, D [140,440) 3 %,
  E [440,1440) 10 %, F [1440,5440) 40 %, then H1..H6 (half of each target share, used by ``$or``)
  and Z for the rest;
- ``grp`` = "main" unless cat is C (99 %), else "side";
- ``sub`` = ("q" if cat is C else "p") + cat + str(b % 3): three values per segment (``$in``) and a
  prefix structure (``$like``: "pA%" is A, "p%" is 99 %);
- ``has_A`` … ``has_F`` = true on the rows of that segment, ``has_99`` = true unless cat is C
  (``$exists``).
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"
DEFAULT_DATA = ROOT.parent / "shared" / "data"
VECTORS, META = "debian_minilm384.f16.npy", "debian_minilm384.meta.jsonl.gz"

N_QUERIES = 100
QUERY_NOISE = 0.01  # per dimension, on a held-out original (cosine to it ≈ 0.98)
COPY_NOISE = 0.02  # per dimension, on each noisy copy (cosine to its original ≈ 0.93)
K = 10

# selectivity label -> units of 1/10,000
TARGETS = {"0.1%": 10, "0.3%": 30, "1%": 100, "3%": 300, "10%": 1000, "40%": 4000, "99%": 9900}
SEGMENTS = {"0.1%": "A", "0.3%": "B", "1%": "C", "3%": "D", "10%": "E", "40%": "F"}


def _cat_table() -> list[tuple[str, int, int]]:
    """(cat value, first b, end b)."""
    out, start = [], 0
    for label, seg in SEGMENTS.items():
        out.append((seg, start, start + TARGETS[label]))
        start += TARGETS[label]
    for i, label in enumerate(SEGMENTS, 1):  # H1..H6: half of each target, for $or
        size = TARGETS[label] // 2
        out.append((f"H{i}", start, start + size))
        start += size
    out.append(("Z", start, 10_000))
    return out


CATS = _cat_table()
CAT_RANGE = {c: (lo, hi) for c, lo, hi in CATS}
ALL_CATS = [c for c, _, _ in CATS]


def cat_of(b: np.ndarray) -> np.ndarray:
    out = np.empty(len(b), dtype=object)
    for c, lo, hi in CATS:
        out[(b >= lo) & (b < hi)] = c
    return out


# ---------------------------------------------------------------------- the filters


@dataclass(frozen=True)
class Filter:
    """One filter: its shape, target selectivity, the vecs filter, and the numpy mask recipe."""

    shape: str  # eq, in, range, nin, exists, like, or, real, none
    label: str  # selectivity label or the real key's name
    vecs: dict | None
    # ("b", lo, hi) rows with lo <= b < hi; ("b_not", lo, hi) the complement; ("or", n, lo, hi);
    # ("section", value); ("size_gt", x); None: every row
    mask: tuple | None
    btree_keys: tuple = ()  # keys a metadata index helps with

    @property
    def name(self) -> str:
        return "unfiltered" if self.shape == "none" else f"{self.shape} {self.label}"


def filters(real_sizes: dict | None = None) -> list[Filter]:
    """Every shape at every selectivity, then the real keys, then unfiltered first."""
    out = [Filter("none", "-", None, None)]
    for label, units in TARGETS.items():
        seg = SEGMENTS.get(label)
        lo_c, hi_c = CAT_RANGE["C"]
        if seg:
            lo, hi = CAT_RANGE[seg]
            px = "q" if seg == "C" else "p"  # sub's prefix
            out.append(Filter("eq", label, {"cat": {"$eq": seg}}, ("b", lo, hi), ("cat",)))
            out.append(Filter("in", label, {"sub": {"$in": [f"{px}{seg}{i}" for i in range(3)]}}, ("b", lo, hi), ("sub",)))
            out.append(Filter("nin", label, {"cat": {"$nin": [c for c in ALL_CATS if c != seg]}}, ("b", lo, hi), ("cat",)))
            out.append(Filter("exists", label, {f"has_{seg}": {"$exists": True}}, ("b", lo, hi), (f"has_{seg}",)))
            out.append(Filter("like", label, {"sub": {"$like": f"{px}{seg}%"}}, ("b", lo, hi), ("sub",)))
            h = f"H{list(SEGMENTS).index(label) + 1}"
            hlo, hhi = CAT_RANGE[h]
            n = units - (hhi - hlo)  # bucket < n, plus cat H (disjoint: H lies above 5,440)
            out.append(Filter("or", label, {"$or": [{"bucket": {"$lt": n}}, {"cat": {"$eq": h}}]}, ("or", n, hlo, hhi), ("bucket", "cat")))
        else:  # 99 %: everything but segment C
            out.append(Filter("eq", label, {"grp": {"$eq": "main"}}, ("b_not", lo_c, hi_c), ("grp",)))
            out.append(Filter("in", label, {"cat": {"$in": [c for c in ALL_CATS if c != "C"]}}, ("b_not", lo_c, hi_c), ("cat",)))
            out.append(Filter("nin", label, {"cat": {"$ne": "C"}}, ("b_not", lo_c, hi_c), ("cat",)))
            out.append(Filter("exists", label, {"has_99": {"$exists": True}}, ("b_not", lo_c, hi_c), ("has_99",)))
            out.append(Filter("like", label, {"sub": {"$like": "p%"}}, ("b_not", lo_c, hi_c), ("sub",)))
            # bucket >= 5440 (F's end) or cat in the segments below it but C: 4,560 + 5,340 = 9,900
            lo_f = CAT_RANGE["F"][1]
            below = [c for c, lo, hi in CATS if hi <= lo_f and c != "C"]
            out.append(Filter("or", label, {"$or": [{"bucket": {"$gte": lo_f}}, {"cat": {"$in": below}}]}, ("b_not", lo_c, hi_c), ("bucket", "cat")))
        # a numeric range in the middle of bucket's span
        lo = 5_000 - units // 2
        out.append(Filter("range", label, {"$and": [{"bucket": {"$gte": lo}}, {"bucket": {"$lt": lo + units}}]}, ("b", lo, lo + units), ("bucket",)))
    order = ["none", "eq", "in", "range", "nin", "exists", "like", "or"]
    out.sort(key=lambda f: (order.index(f.shape), list(TARGETS).index(f.label) if f.label in TARGETS else 0))
    for section in ("electronics", "sound", "python", "libs"):
        out.append(Filter("real", f"section={section}", {"section": {"$eq": section}}, ("section", section), ("section",)))
    for pct, x in (real_sizes or {}).items():
        out.append(Filter("real", f"size_kb>p{pct}", {"size_kb": {"$gt": x}}, ("size_gt", x), ("size_kb",)))
    return out


# ---------------------------------------------------------------------- the dataset


@dataclass
class Dataset:
    source: str
    vectors: np.ndarray  # float32 (n, d), unit length
    queries: np.ndarray  # float32 (N_QUERIES, d), unit length
    origin: np.ndarray  # int32 (n,): the original row each row copies (real: its metadata)
    b: np.ndarray  # int16 (n,): the permutation's bucket
    base_meta: list[dict]  # the originals' metadata

    @property
    def n(self) -> int:
        return len(self.vectors)

    @property
    def dimension(self) -> int:
        return self.vectors.shape[1]

    def row_id(self, i: int) -> str:
        return f"r{i:07d}"

    def metadata(self, i: int) -> dict:
        b = int(self.b[i])
        m = dict(self.base_meta[self.origin[i]])
        c = self._cats[i]
        m["bucket"] = b
        m["cat"] = c
        m["grp"] = "side" if c == "C" else "main"
        m["sub"] = ("q" if c == "C" else "p") + c + str(b % 3)
        if c in "ABCDEF" and len(c) == 1:
            m[f"has_{c}"] = True
        if c != "C":
            m["has_99"] = True
        return m

    def __post_init__(self):
        self._cats = cat_of(self.b)
        self.sections = np.array([m.get("section", "") for m in self.base_meta], dtype=object)[self.origin]
        self.size_kb = np.array([m.get("size_kb", -1) for m in self.base_meta], dtype=np.int64)[self.origin]

    def mask(self, f: Filter) -> np.ndarray | None:
        if f.mask is None:
            return None
        kind = f.mask[0]
        if kind == "b":
            return (self.b >= f.mask[1]) & (self.b < f.mask[2])
        if kind == "b_not":
            return ~((self.b >= f.mask[1]) & (self.b < f.mask[2]))
        if kind == "or":
            _, n, lo, hi = f.mask
            return (self.b < n) | ((self.b >= lo) & (self.b < hi))
        if kind == "section":
            return self.sections == f.mask[1]
        if kind == "size_gt":
            return self.size_kb > f.mask[1]
        raise ValueError(kind)

    def real_sizes(self) -> dict:
        """size_kb thresholds for ~5 % and ~1 % of the rows (percentiles 95, 99)."""
        ok = self.size_kb[self.size_kb >= 0]
        return {95: int(np.percentile(ok, 95)), 99: int(np.percentile(ok, 99))}


def load(n: int, seed: int = 0, log=print) -> Dataset:
    """The dataset of n rows, from bench/.cache when generated before."""
    if n % 10_000:
        raise ValueError("rows must be a multiple of 10,000 (exact bucket shares)")
    folder = Path(os.environ.get("VECS_BENCH_DATA", DEFAULT_DATA))
    real = (folder / VECTORS).exists() and (folder / META).exists()
    source = "real" if real else "synthetic"
    if real:
        with gzip.open(folder / META, "rt", encoding="utf-8") as fh:
            base_meta = [json.loads(line)["metadata"] for line in fh]
    stem = CACHE / f"scale-{source}-{n}-s{seed}"
    files = {k: Path(f"{stem}.{k}.npy") for k in ("vectors", "queries", "origin", "b")}
    if all(p.exists() for p in files.values()):
        arrays = {k: np.load(p, mmap_mode=None) for k, p in files.items()}
        log(f"dataset {source} {n:,} rows from {stem}.*.npy")
    else:
        rng = np.random.default_rng(seed)
        if real:
            base = np.load(folder / VECTORS).astype(np.float32)
        else:
            base, base_meta = _synthetic(rng)
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        held = rng.choice(len(base), size=N_QUERIES, replace=False)
        keep = np.setdiff1d(np.arange(len(base)), held)
        queries = base[held] + rng.normal(0, QUERY_NOISE, size=(N_QUERIES, base.shape[1])).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        copies = -(-n // len(keep))
        origin = np.tile(keep, copies)[:n].astype(np.int32)
        vectors = np.empty((n, base.shape[1]), dtype=np.float32)
        vectors[: len(keep)] = base[keep[: min(n, len(keep))]]
        for start in range(len(keep), n, 50_000):  # noisy copies, in chunks (memory)
            stop = min(n, start + 50_000)
            chunk = base[origin[start:stop]] + rng.normal(0, COPY_NOISE, size=(stop - start, base.shape[1])).astype(np.float32)
            chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
            vectors[start:stop] = chunk
        b = (rng.permutation(n) % 10_000).astype(np.int16)
        arrays = {"vectors": vectors, "queries": queries.astype(np.float32), "origin": origin, "b": b}
        CACHE.mkdir(parents=True, exist_ok=True)
        for k, p in files.items():
            np.save(p, arrays[k])
        log(f"dataset {source} {n:,} rows generated, cached in {stem}.*.npy")
    return Dataset(source, arrays["vectors"], arrays["queries"], arrays["origin"], arrays["b"], base_meta)


_SECTIONS = {"electronics": 0.0031, "sound": 0.0131, "science": 0.0261, "python": 0.0714, "libs": 0.1055}


def _synthetic(rng, n: int = 62_666, dimension: int = 384, clusters: int = 300):
    centres = rng.normal(size=(clusters, dimension)).astype(np.float32)
    vectors = centres[rng.integers(0, clusters, size=n)] + rng.normal(0, 0.6, size=(n, dimension)).astype(np.float32)
    names = list(_SECTIONS) + ["other"]
    shares = list(_SECTIONS.values())
    sections = rng.choice(names, size=n, p=shares + [1 - sum(shares)])
    meta = [{"section": str(s), "size_kb": int(rng.integers(1, 10_000))} for s in sections]
    return vectors, meta


# ---------------------------------------------------------------------- ground truth


class Truth:
    """Exact cosine search in numpy over the same float32 vectors, the filter applied in numpy."""

    def __init__(self, data: Dataset):
        self.data = data
        self.sim = np.empty((len(data.queries), data.n), dtype=np.float32)
        for start in range(0, data.n, 100_000):
            self.sim[:, start : start + 100_000] = data.queries @ data.vectors[start : start + 100_000].T
        self._cache: dict[str, tuple] = {}

    def for_filter(self, f: Filter) -> tuple[np.ndarray | None, np.ndarray, int]:
        """(mask, k-th best distance per query, matching rows)."""
        if f.name not in self._cache:
            m = self.data.mask(f)
            sim = self.sim if m is None else self.sim[:, np.nonzero(m)[0]]
            matching = sim.shape[1]
            want = min(K, matching)
            kth = np.full(len(sim), np.inf)
            if want:
                kth = 1.0 - np.partition(sim, sim.shape[1] - want, axis=1)[:, sim.shape[1] - want]
            self._cache[f.name] = (m, kth, matching)
        return self._cache[f.name]

    def score(self, f: Filter, qi: int, row_indexes: list[int]) -> tuple[bool, float]:
        m, kth, matching = self.for_filter(f)
        want = min(K, matching)
        if want == 0:
            return len(row_indexes) == 0, 1.0
        rows = list(dict.fromkeys(row_indexes))
        d = 1.0 - self.sim[qi, rows] if rows else np.array([])
        ok = [i for i, r in enumerate(rows) if (m is None or m[r]) and d[i] <= kth[qi] + 1e-5]
        return len(row_indexes) == want, min(len(ok), want) / want
