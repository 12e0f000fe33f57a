"""The sweep behind query's rerank defaults for binary quantization (issue 13): recall@10 and p50 of
``Collection.query(rerank=n)`` over a binary HNSW index, on the shared 384-d set (all rows) and on the
synthetic 3,072-d set of bench.vector_types (20,000 rows), 60 held-out queries each.

    bench/.venv/bin/python -m bench.vector_types_sweep DSN     # prints "<set> <rerank> <recall> <p50 ms>"

The committed output of its run is bench/vector_types_sweep.txt.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings

import vecs_sqlgen

from .data import Truth, load
from .vector_types import projected


def main(dsn: str) -> None:
    warnings.simplefilter("ignore")
    data = load()
    client = vecs_sqlgen.create_client(dsn)
    for label, d in (("384", data), ("3072", projected(data, 3072, 20000))):
        truth = Truth(d)
        name = f"sweep_{label}"
        client.delete_collection(name)
        coll = client.get_or_create_collection(name, dimension=d.dimension)
        coll.upsert(d.records())
        t0 = time.perf_counter()
        coll.create_index(quantization="binary")
        print(label, "build", time.perf_counter() - t0, flush=True)
        for rerank in (40, 100, 200, 400, 800, 1000):
            recall, times = [], []
            for qi in range(60):
                t0 = time.perf_counter()
                got = coll.query(d.queries[qi], limit=10, rerank=rerank)
                times.append(time.perf_counter() - t0)
                recall.append(truth.score(qi, got)[1])
            print(label, rerank, round(statistics.fmean(recall), 4), round(1000 * statistics.median(times), 2), flush=True)
        client.delete_collection(name)


if __name__ == "__main__":
    main(sys.argv[1])
