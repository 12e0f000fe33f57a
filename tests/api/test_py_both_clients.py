"""The same API tests on the sync Client and the AsyncClient: same checks, errors and results.

Each test runs twice (``api`` is parametrized): ``api.run(x)`` returns ``x`` for the sync client and
awaits it on the test's event loop for the async one, so one test body covers both.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
import warnings

import numpy as np
import pytest

import vecs_sqlgen as vecs
from vecs_sqlgen import exc


class Api:
    def __init__(self, kind: str, dsn: str):
        self.kind = kind
        self.loop = asyncio.new_event_loop() if kind == "async" else None
        if kind == "async":
            self.vx = self.run(vecs.create_async_client(dsn))
        else:
            self.vx = vecs.create_client(dsn)

    def run(self, value):
        if inspect.isawaitable(value):
            assert self.loop is not None, "the sync client returned an awaitable"

            async def caller():  # awaited from a coroutine of this file, as a user's code awaits it
                return await value

            return self.loop.run_until_complete(caller())
        assert self.loop is None, f"the async client returned {value!r}, not an awaitable"
        return value

    def count(self, coll) -> int:
        return self.run(coll.count()) if self.kind == "async" else len(coll)

    def index(self, coll):
        return self.run(coll.index)

    def close(self):
        self.run(self.vx.disconnect())
        if self.loop is not None:
            self.loop.close()


@pytest.fixture(params=["sync", "async"])
def api(request, dsn):
    a = Api(request.param, dsn)
    yield a
    a.close()


@pytest.fixture
def coll(api):
    name = f'both "{uuid.uuid4().hex[:8]}" x'
    docs = api.run(api.vx.get_or_create_collection(name, dimension=3))
    yield docs
    api.run(api.vx.delete_collection(name))


RECORDS = [
    ("a", [1.0, 0.0, 0.0], {"year": 1973, "genre": "drama"}),
    ("b", [0.0, 1.0, 0.0], {"year": 2012, "genre": "comedy"}),
    ("c", [0.0, 0.0, 1.0], {"year": 2020, "genre": "drama"}),
    ("d", [1.0, 1.0, 0.0], {"year": 2001, "genre": "horror"}),
]


def test_the_clients_and_collections(api, coll):
    assert isinstance(api.vx, vecs.AsyncClient if api.kind == "async" else vecs.Client)
    assert isinstance(coll, vecs.AsyncCollection if api.kind == "async" else vecs.Collection)
    assert (coll.name, coll.dimension, coll.client) == (coll.name, 3, api.vx)
    listed = {c.name: c.dimension for c in api.run(api.vx.list_collections())}
    assert listed[coll.name] == 3
    with pytest.raises(exc.MismatchedDimension, match="existing collection do not match"):
        api.run(api.vx.get_or_create_collection(coll.name, dimension=4))
    with pytest.warns(DeprecationWarning), pytest.raises(exc.CollectionNotFound, match="No collection found"):
        api.run(api.vx.get_collection("no such collection here"))


def test_upsert_fetch_delete(api, coll):
    api.run(coll.upsert(RECORDS))
    assert api.count(coll) == 4
    fetched = api.run(coll.fetch(["c", "zz", "a"]))
    assert [r[0] for r in fetched] == ["c", "a"]
    assert fetched[1][1].dtype == np.float32 and list(fetched[1][1]) == [1, 0, 0]
    assert fetched[1][2] == {"year": 1973, "genre": "drama"}
    assert api.run(coll["b"])[2]["genre"] == "comedy"
    with pytest.raises(KeyError):
        api.run(coll["nope"])
    assert sorted(api.run(coll.delete(filters={"genre": "drama"}))) == ["a", "c"]
    assert api.run(coll.delete(ids=["b", "zz"])) == ["b"]
    assert api.count(coll) == 1


def test_query_filters_and_columns(api, coll):
    api.run(coll.upsert(RECORDS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert api.run(coll.query([1, 0, 0], limit=2)) == ["a", "d"]
        assert api.run(coll.query([1, 0, 0], filters={"genre": "drama"})) == ["a", "c"]
        assert api.run(coll.query([1, 0, 0], filters="year > 2000", limit=1)) == ["d"]
        (row,) = api.run(coll.query([1, 0, 0], limit=1, include_value=True, include_metadata=True))
    assert row[0] == "a" and row[1] == pytest.approx(0.0) and row[2]["year"] == 1973


def test_the_missing_index_warning_is_the_callers(api, coll):
    api.run(coll.upsert(RECORDS))
    with pytest.warns(UserWarning, match="does not have a covering index") as record:
        api.run(coll.query([1, 0, 0]))
    assert record[0].filename == __file__


def test_copy_path_with_a_generator_and_a_bad_record_late(api, coll):
    # more than ARRAYS_MAX records: binary COPY in one transaction; a bad record after the first
    # batches were sent rolls everything back
    def records(n, bad_at=None):
        for i in range(n):
            yield (f"r{i}", [float(i), 1.0, 0.0] if i != bad_at else [1.0, 2.0], {"i": i})

    with pytest.raises(exc.MismatchedDimension, match=r'record 1201 \(id "r1200"\): vector has 2 dimensions'):
        api.run(coll.upsert(records(1500, bad_at=1200), batch_size=400))
    assert api.count(coll) == 0
    seen = []
    api.run(coll.upsert(records(1500), batch_size=400, progress=seen.append))
    assert api.count(coll) == 1500 and seen == [400, 800, 1200, 1500]
    api.run(coll.upsert([("r7", [7.0, 7.0, 7.0], {"again": True})] * 2 + [(f"n{i}", [1, 1, 1], {}) for i in range(600)]))
    assert api.run(coll.fetch(["r7"]))[0][2] == {"again": True} and api.count(coll) == 2100


def test_errors_before_anything_is_sent(api, coll):
    api.run(api.vx.disconnect())
    with pytest.raises(exc.InvalidRecord, match=r'record 2: id must be a string'):
        api.run(coll.upsert([("ok", [1, 2, 3], {}), (5, [1, 2, 3], {})]))
    with pytest.raises(exc.FilterError, match="unsupported SQL in filter: function call"):
        api.run(coll.query([1, 2, 3], filters="lower(genre) = 'x'"))
    with pytest.raises(exc.ArgError, match="^limit must be <= 1000$"):
        api.run(coll.query([1, 2, 3], limit=1001))
    with pytest.raises(exc.ArgError, match="^Either ids or filters must be provided.$"):
        api.run(coll.delete())
    assert not api.vx.session.connected  # every one found client-side
    assert api.count(coll) == 0  # and the next call reconnects


def test_server_errors(api):
    ghost = (vecs.AsyncCollection if api.kind == "async" else vecs.Collection)("no such collection", 3, api.vx)
    with pytest.raises(exc.CollectionNotFound, match='collection "no such collection" does not exist'):
        api.count(ghost)
    with pytest.raises(exc.ArgError, match="reserved for internal objects"):
        api.run(api.vx.get_or_create_collection("_internal", dimension=3))


def test_indexes(api, coll):
    api.run(coll.upsert((f"r{i}", [1.0, i / 100, 0.5], {"k": i % 3}) for i in range(100)))
    assert api.index(coll) is None
    api.run(coll.create_index(measure="l2_distance"))
    name = api.index(coll)
    assert name is not None and api.run(coll.is_indexed_for_measure("l2_distance"))
    api.run(coll.create_index(measure="cosine_distance"))  # replaces the old one (dropped concurrently)
    kinds = [(i["kind"], i["measure"]) for i in api.run(coll.list_indexes())]
    assert kinds.count(("vector", "cosine_distance")) == 1 and ("vector", "l2_distance") not in kinds
    assert api.run(coll.create_metadata_index("k")).startswith("")
    assert api.run(coll.drop_metadata_index("k")) is True
    with pytest.raises(exc.ArgError, match="m must be between 2 and 100"):
        api.run(coll.create_index(method="hnsw", index_arguments=vecs.IndexArgsHNSW(m=1000)))


def test_text_and_hybrid_search(api, coll):
    api.run(coll.upsert([("p", [1, 0, 0], {"text": "postgres vector search"}), ("q", [0, 1, 0], {"text": "cooking pasta"})]))
    api.run(coll.enable_text_search())
    assert api.run(coll.describe())["text_search"] is True
    hits = api.run(coll.hybrid_query(text="postgres", data=[0, 1, 0], limit=2))
    assert {h.id for h in hits} == {"p", "q"} and all(isinstance(h, vecs.HybridMatch) for h in hits)
    with pytest.raises(exc.ArgError, match="text search configuration"):
        api.run(coll.enable_text_search(config="no_such_config"))
    assert api.run(coll.disable_text_search()) is True


# ---------------------------------------------------------------------- vector types (issue 13)


@pytest.fixture
def typed(api):
    """A collection of each vector type but vector, dropped afterwards."""
    made = []

    def make(vector_type, dimension):
        name = f"both {vector_type} {uuid.uuid4().hex[:8]}"
        made.append(name)
        return api.run(api.vx.get_or_create_collection(name, dimension=dimension, vector_type=vector_type))

    yield make
    for name in made:
        api.run(api.vx.delete_collection(name))


@pytest.mark.pgvector("0.7.0")
def test_vector_types_halfvec_sparsevec_bit(api, typed):
    from pgvector import SparseVector

    warnings.simplefilter("ignore", UserWarning)  # no index: the missing-index warning
    half = typed("halfvec", 3)
    assert half.vector_type == "halfvec"
    api.run(half.upsert([(f"h{i}", np.array([1, i, 0.5], dtype=np.float16), {}) for i in range(3)]))
    api.run(half.upsert((f"c{i}", [0.5, i / 600, 1], {}) for i in range(501)))  # COPY of HalfVector
    (_, v, _), = api.run(half.fetch(["h2"]))
    assert v.dtype == np.float16 and v.tolist() == [1, 2, 0.5]
    got = api.run(half.query([1, 2, 0.5], limit=1, include_vector=True))
    assert got[0][0] == "h2" and got[0][1].dtype == np.float16
    again = api.run(api.vx.get_or_create_collection(half.name, dimension=3))  # no type: the collection's
    assert again.vector_type == "halfvec" and api.run(again.describe())["vector_type"] == "halfvec"
    assert {c.name: c.vector_type for c in api.run(api.vx.list_collections())}[half.name] == "halfvec"
    with pytest.raises(exc.ArgError, match="has vector_type halfvec, not bit"):
        api.run(api.vx.get_or_create_collection(half.name, dimension=3, vector_type="bit"))
    with pytest.raises(exc.InvalidRecord, match=r"half-precision range"):
        api.run(half.upsert([("x", [1, 2, 7e4], {})]))

    sparse = typed("sparsevec", 20000)  # over vector's 16,000 dimensions: sparsevec's own limit
    api.run(sparse.upsert([("d", {0: 1.0, 19999: 2.0}, {}), ("p", SparseVector({5: 1.0}, 20000), {}), ("p", {5: 3.0}, {})]))
    got = api.run(sparse.query({5: 1.0}, limit=2, measure="max_inner_product", include_value=True, include_vector=True))
    assert [(g[0], g[1]) for g in got] == [("p", -3.0), ("d", 0.0)] and got[0][2].indices() == [5]
    with pytest.raises(exc.InvalidRecord, match=r"sparse vector index 20000 is out of range"):
        api.run(sparse.upsert([("x", {20000: 1.0}, {})]))

    bits = typed("bit", 8)
    api.run(bits.upsert([("a", "10101010", {}), ("b", [True] * 8, {}), ("a", "11110000", {"last": True})]))
    (_, a, meta), = api.run(bits.fetch(["a"]))
    assert a.dtype == np.bool_ and a.tolist() == [True] * 4 + [False] * 4 and meta == {"last": True}
    got = api.run(bits.query("11111111", limit=2, measure="hamming_distance", include_vector=True))
    assert [g[0] for g in got] == ["b", "a"] and got[0][1].tolist() == [True] * 8
    with pytest.raises(exc.ArgError, match="does not apply to vector_type bit"):
        api.run(bits.query("11111111"))
    api.run(bits.create_index(measure="hamming_distance"))
    assert api.run(bits.is_indexed_for_measure("hamming_distance"))


@pytest.mark.pgvector("0.7.0")
def test_reduced_index_and_rerank(api, coll):
    rng = np.random.default_rng(7)
    data = rng.standard_normal((40, 3)).astype(np.float32)
    api.run(coll.upsert([(f"r{i}", v, {"g": i % 2}) for i, v in enumerate(data)]))
    api.run(coll.create_index(quantization="binary"))
    assert api.index(coll).endswith("_bq")
    got = api.run(coll.query(data[5], limit=3, rerank=40, include_value=True))
    assert got[0][0] == "r5" and [g[1] for g in got] == sorted(g[1] for g in got)
    with pytest.raises(exc.ArgError, match="rerank must be between 3 and 1000, got 2"):
        api.run(coll.query(data[5], limit=3, rerank=2))
    with pytest.raises(exc.ArgError, match="unknown quantization"):
        api.run(coll.create_index(quantization="int4"))
