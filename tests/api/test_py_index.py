"""Collection.create_index, index and is_indexed_for_measure."""

from __future__ import annotations

import re

import pytest

import vecs_sqlgen as vecs
from vecs_sqlgen import IndexArgsHNSW, IndexArgsIVFFlat, IndexMeasure, IndexMethod, exc


def test_create_index_defaults(filled):
    assert filled.index is None
    assert not filled.is_indexed_for_measure(IndexMeasure.cosine_distance)
    assert filled.create_index() is None
    assert re.fullmatch(r"ix_vector_cosine_ops_hnsw_m16_efc64_[0-9a-f_]{7}", filled.index)
    assert filled.is_indexed_for_measure(IndexMeasure.cosine_distance)
    assert filled.is_indexed_for_measure("cosine_distance")
    assert not filled.is_indexed_for_measure(IndexMeasure.l2_distance)
    assert not filled.is_indexed_for_measure("nonsense")


def test_create_index_methods_and_arguments(filled):
    filled.create_index(method=IndexMethod.hnsw, measure=IndexMeasure.cosine_distance, index_arguments=IndexArgsHNSW(m=8))
    assert filled.index.startswith("ix_vector_cosine_ops_hnsw_m8_efc64_")
    filled.create_index(measure="l2_distance", method="ivfflat", index_arguments=IndexArgsIVFFlat(n_lists=3))
    assert filled.index.startswith("ix_vector_l2_ops_ivfflat_nl3_")
    assert filled.is_indexed_for_measure(IndexMeasure.l2_distance)
    filled.create_index(IndexMeasure.max_inner_product, IndexMethod.ivfflat)
    assert filled.index.startswith("ix_vector_ip_ops_ivfflat_nl30_")  # vecs's default list count
    filled.create_index(IndexMeasure.cosine_distance, IndexMethod.hnsw, IndexArgsHNSW(m=None, ef_construction=40))
    assert filled.index.startswith("ix_vector_cosine_ops_hnsw_m16_efc40_")


def test_only_one_index_remains(vx, filled):
    filled.create_index()
    filled.create_index(measure="l2_distance")
    (listed,) = [c for c in vx.list_collections() if c.name == filled.name]
    assert listed.index == filled.index and listed.is_indexed_for_measure("l2_distance")
    fresh = vecs.Collection(filled.name, 3, vx)
    assert fresh.index == filled.index  # looked up from the database


def test_replace_false(filled):
    filled.create_index()
    with pytest.raises(exc.ArgError, match="replace is set to False but an index exists"):
        filled.create_index(replace=False)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "annoy"}, "^invalid index method$"),
        ({"index_arguments": IndexArgsHNSW()}, r"^Index build parameters are not allowed when using the IndexMethod\.auto index\.$"),
        ({"method": IndexMethod.ivfflat, "index_arguments": IndexArgsHNSW()}, r"^IndexArgsHNSW build parameters were supplied but IndexMethod\.ivfflat index was specified\.$"),
        ({"method": "hnsw", "index_arguments": IndexArgsIVFFlat(n_lists=2)}, r"^IndexArgsIVFFlat build parameters were supplied but hnsw index was specified\.$"),
        ({"measure": "hamming"}, "^Unknown index measure$"),
    ],
)
def test_client_side_argument_errors(vx, filled, kwargs, message):
    vx.disconnect()
    with pytest.raises(exc.ArgError, match=message):
        filled.create_index(**kwargs)
    assert not vx.session.connected


def test_server_side_argument_errors(filled):
    with pytest.raises(exc.ArgError, match="m must be between 2 and 100"):
        filled.create_index(method="hnsw", index_arguments=IndexArgsHNSW(m=1000))


@pytest.mark.pgvector("0.7.0")
def test_l1_needs_hnsw(filled):
    with pytest.raises(exc.UnsupportedFeature, match="ivfflat indexes do not support l1_distance"):
        filled.create_index(measure="l1_distance", method="ivfflat")
    filled.create_index(measure="l1_distance")
    assert filled.is_indexed_for_measure("l1_distance")


def test_hnsw_unavailable_on_old_pgvector(vx, filled, monkeypatch):
    monkeypatch.setattr(vx, "vector_version", "0.4.4")
    with pytest.raises(exc.UnsupportedFeature, match=r"^HNSW Unavailable\. Upgrade your pgvector installation to > 0\.5\.0 to enable HNSW support$"):
        filled.create_index(method="hnsw")
    assert isinstance(exc.UnsupportedFeature("x"), exc.ArgError)


def test_index_is_cached(vx, filled, conn):
    assert filled.index is None
    conn.execute("select vecs.create_index(%s)", (filled.name,))
    assert filled.index is None  # looked up once per Collection object, as vecs caches it
    assert vx.get_or_create_collection(filled.name, dimension=3).index is not None


def test_build_memory_notice_reaches_the_caller(vx, name):
    """pgvector's "graph no longer fits into maintenance_work_mem" (the build goes on on disk, far
    slower) becomes a warning that says how to give the build more memory (issue 11)."""
    import numpy as np

    coll = vx.get_or_create_collection(name, dimension=8)
    rng = np.random.default_rng(2)
    coll.upsert([(f"r{i}", rng.standard_normal(8), {}) for i in range(3000)])
    # session settings of the pool's one connection (single-threaded calls all take it)
    with vx.session.connection() as c:
        c.execute("set maintenance_work_mem = '1MB'")
        c.execute("set vecs.max_build_memory = '1MB'")
    try:
        with pytest.warns(exc.BuildMemoryWarning) as record:
            coll.create_index()
        # the estimate before the build (test_build_memory_warning_comes_before_the_build), then pgvector's
        assert [bool(re.search("no longer fits into maintenance_work_mem.*vecs.max_build_memory", str(w.message)))
                for w in record] == [False, True]  # fmt: skip
        assert all(w.filename == __file__ for w in record)  # attributed to the caller
    finally:
        with vx.session.connection() as c:
            c.execute("reset maintenance_work_mem")
            c.execute("reset vecs.max_build_memory")
    assert coll.index is not None


# ---------------------------------------------------------------------------- build memory, up front (issue 15)


@pytest.fixture
def crowded(vx, name):
    """3,000 records of 8 dimensions on a client whose builds get 1MB (the graph needs ~3MB)."""
    import numpy as np

    coll = vx.get_or_create_collection(name, dimension=8)
    coll.upsert([(f"r{i}", v, {}) for i, v in enumerate(np.random.default_rng(3).standard_normal((3000, 8)))])
    with vx.session.connection() as c:  # the pool's one connection: single-threaded calls all take it
        c.execute("set maintenance_work_mem = '1MB'")
        c.execute("set vecs.max_build_memory = '1MB'")
    yield coll
    with vx.session.connection() as c:
        c.execute("reset maintenance_work_mem")
        c.execute("reset vecs.max_build_memory")


def test_build_memory_warning_comes_before_the_build(crowded):
    """The server's estimate reaches the caller as a BuildMemoryWarning while the build has not begun
    (before the progress of any building phase), naming the estimate, the cap and the setting."""
    import time
    import warnings

    events: list[tuple[float, object]] = []

    def shown(message, category, filename, lineno, file=None, line=None):
        events.append((time.monotonic(), warnings.WarningMessage(message, category, filename, lineno)))

    progress: list[tuple[float, str]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = shown
        crowded.create_index(progress=lambda p: progress.append((time.monotonic(), p.phase)))
    ours = [(t, w) for t, w in events if w.category is exc.BuildMemoryWarning]
    assert len(ours) == 2  # the estimate, then pgvector's "no longer fits" during the build
    (t_first, first), (_, second) = ours
    assert first.filename == __file__ and second.filename == __file__  # attributed to the caller
    text = str(first.message)
    assert re.search(r"needs about \d+ kB of build memory, more than the 1024 kB it gets", text), text
    assert "significantly longer. maintenance_work_mem is sized to the graph up to vecs.max_build_memory (1024 kB). " in text
    assert re.search(r"SET vecs\.max_build_memory = '\d+MB'", text), text
    assert "no longer fits into maintenance_work_mem" in str(second.message)
    building = [t for t, phase in progress if phase.startswith("building")]
    assert building and t_first < building[0]
    assert issubclass(exc.BuildMemoryWarning, UserWarning)
    assert crowded.index is not None


def test_no_build_memory_warning_when_the_graph_fits(vx, crowded):
    import warnings

    with vx.session.connection() as c:
        c.execute("set vecs.max_build_memory = '64MB'")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        crowded.create_index()
    assert [w for w in record if issubclass(w.category, exc.BuildMemoryWarning)] == []
    assert crowded.index is not None


def test_an_error_filter_refuses_the_build(crowded):
    """-W error::vecs_sqlgen.exc.BuildMemoryWarning: the warning raises, and the build it warned of
    is cancelled (nothing is built); the collection and its client go on working."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", exc.BuildMemoryWarning)
        with pytest.raises(exc.BuildMemoryWarning, match="needs about"):
            crowded.create_index()
    assert crowded.index is None
    assert [i for i in crowded.list_indexes() if i["kind"] == "vector"] == []
    assert len(crowded) == 3000


async def test_the_async_client_warns_before_the_build_too(dsn):
    import uuid

    import numpy as np

    async with vecs.AsyncClient(dsn) as avx:
        coll = await avx.get_or_create_collection(f"async {uuid.uuid4().hex[:8]}", dimension=8)
        try:
            await coll.upsert([(f"r{i}", v, {}) for i, v in enumerate(np.random.default_rng(4).random((3000, 8)))])
            async with avx.session.connection() as c:
                await c.execute("set maintenance_work_mem = '1MB'")
                await c.execute("set vecs.max_build_memory = '1MB'")
            with pytest.warns(exc.BuildMemoryWarning) as record:
                await coll.create_index()
            assert "needs about" in str(record[0].message) and "no longer fits" in str(record[1].message)
            assert all(w.filename == __file__ for w in record)
        finally:
            await avx.delete_collection(coll.name)
