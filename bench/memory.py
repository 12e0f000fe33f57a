"""Client memory during one streamed upsert of synthetic records (a generator: nothing is held).

Run in its own process so that its RSS is the client's alone:
    python -m bench.memory DSN ROWS DIMENSION   → one JSON line on stdout
RSS comes from /proc/self/statm, sampled by a thread every 20 ms and at every progress callback.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time

import numpy as np

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def records(n: int, dimension: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    block = 10_000
    for start in range(0, n, block):
        vectors = rng.random((min(block, n - start), dimension), dtype=np.float32)
        for j, vec in enumerate(vectors):
            i = start + j
            yield f"r{i:07d}", vec, {"i": i, "group": i % 100}


class Sampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.stop = 0.0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.02)


def main(dsn: str, n: int, dimension: int) -> dict:
    import vecs_sqlgen as vecs

    client = vecs.create_client(dsn)
    coll = client.get_or_create_collection("memory_stream", dimension=dimension)
    curve: list[tuple[int, float]] = []
    before = rss_mb()
    sampler = Sampler()
    sampler.start()
    t0 = time.perf_counter()
    coll.upsert(records(n, dimension), progress=lambda sent: curve.append((sent, rss_mb())))
    seconds = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    after = rss_mb()
    count = len(coll)
    client.delete_collection(coll.name)
    client.disconnect()
    return {
        "rows": n, "dimension": dimension, "seconds": seconds, "rows_in_table": count,
        "rss_before_mb": before, "rss_peak_mb": max(sampler.peak, after), "rss_after_mb": after,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "curve": curve[:: max(1, len(curve) // 200)],
    }  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
