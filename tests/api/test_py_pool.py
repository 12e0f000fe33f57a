"""The connection pool: calls from threads in parallel, pool_size=1 taking turns, a pool exhausted by
long calls (PoolExhausted, quickly), no connection leaked, the pool's arguments checked."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from psycopg import sql

import vecs_sqlgen as vecs
from vecs_sqlgen import exc


def _tagged(dsn: str) -> tuple[str, str]:
    """The DSN with an application_name of its own, to count this client's backends."""
    tag = f"vecs-pool-{uuid.uuid4().hex[:8]}"
    return psycopg.conninfo.make_conninfo(dsn, application_name=tag), tag


def _backends(conn, tag: str, waiting_for_lock: bool = False) -> int:
    query = "select count(*) from pg_stat_activity where application_name = %s"
    if waiting_for_lock:
        query += " and wait_event_type = 'Lock'"
    return conn.execute(query, (tag,)).fetchone()[0]


def _wait_for(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _locked(dsn: str, table: str):
    """A connection holding an ACCESS EXCLUSIVE lock on the collection's table until closed."""
    holder = psycopg.connect(dsn)
    holder.execute(sql.SQL("lock table {} in access exclusive mode").format(sql.Identifier("vecs", table)))
    return holder


def _in_threads(n: int, call) -> tuple[list[threading.Thread], list]:
    results: list = []

    def work():
        try:
            results.append(call())
        except Exception as e:  # noqa: BLE001 - asserted by the test
            results.append(e)

    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    return threads, results


@pytest.mark.parametrize("pool_size", [1, 4])
def test_calls_from_threads_run_in_parallel_up_to_pool_size(dsn, conn, pool_size):
    tagged, tag = _tagged(dsn)
    with vecs.create_client(tagged, pool_size=pool_size) as vx:
        name = f"pool {uuid.uuid4().hex[:8]}"
        docs = vx.get_or_create_collection(name, dimension=3)
        docs.upsert([("a", [1, 2, 3], {})])
        holder = _locked(dsn, name)
        try:
            threads, results = _in_threads(4, lambda: len(docs))
            _wait_for(lambda: _backends(conn, tag, waiting_for_lock=True) == pool_size)
            time.sleep(0.3)  # and no more than pool_size: the other calls wait for a connection
            assert _backends(conn, tag, waiting_for_lock=True) == pool_size
            assert _backends(conn, tag) == pool_size
        finally:
            holder.close()
        for t in threads:
            t.join(30)
        assert results == [1, 1, 1, 1]
        vx.delete_collection(name)
    _wait_for(lambda: _backends(conn, tag) == 0, 5)  # disconnect closed every one (backends exit soon after)


def test_a_pool_exhausted_by_long_calls_is_a_clear_timeout(dsn, conn):
    tagged, tag = _tagged(dsn)
    with vecs.create_client(tagged, pool_size=2, pool_timeout=0.5) as vx:
        name = f"pool {uuid.uuid4().hex[:8]}"
        docs = vx.get_or_create_collection(name, dimension=3)
        holder = _locked(dsn, name)
        try:
            threads, results = _in_threads(2, lambda: len(docs))
            _wait_for(lambda: _backends(conn, tag, waiting_for_lock=True) == 2)
            t0 = time.monotonic()
            with pytest.raises(exc.PoolExhausted, match=r"no database connection came free within 0.5 s: all 2 connections"):
                docs.fetch(["a"])
            assert 0.4 < time.monotonic() - t0 < 3
            assert isinstance(exc.PoolExhausted("x"), exc.VecsException)
        finally:
            holder.close()
        for t in threads:
            t.join(30)
        assert results == [0, 0]
        assert docs.fetch(["a"]) == []  # the pool serves again
        vx.delete_collection(name)
    _wait_for(lambda: _backends(conn, tag) == 0, 5)


def test_no_connection_is_leaked_by_calls_that_fail(dsn, conn):
    tagged, tag = _tagged(dsn)
    vx = vecs.create_client(tagged, pool_size=3)
    name = f"pool {uuid.uuid4().hex[:8]}"
    docs = vx.get_or_create_collection(name, dimension=3)
    ghost = vecs.Collection("no such collection", 3, vx)

    def work():
        for i in range(5):
            docs.upsert([(f"{threading.get_ident()}-{i}", [1, 2, 3], {})])
            with pytest.raises(exc.CollectionNotFound):
                len(ghost)
            with pytest.raises(exc.MismatchedDimension):  # found mid-COPY: the transaction rolls back
                docs.upsert((f"x{j}", [1, 2, 3] if j < 900 else [1, 2], {}) for j in range(1000))
        return "ok"

    threads, results = _in_threads(6, work)
    for t in threads:
        t.join(60)
    assert results == ["ok"] * 6
    assert len(docs) == 30
    assert _backends(conn, tag) <= 3
    stats = vx.session._pool.get_stats()
    assert stats["pool_size"] == stats["pool_available"]  # every connection is back in the pool
    vx.delete_collection(name)
    vx.disconnect()
    _wait_for(lambda: _backends(conn, tag) == 0, 5)


def test_unprepared_statements_on_every_pooled_connection(dsn, conn):
    tagged, tag = _tagged(dsn)
    with vecs.create_client(tagged, pool_size=2, prepare=False) as vx:
        name = f"pool {uuid.uuid4().hex[:8]}"
        docs = vx.get_or_create_collection(name, dimension=3)
        docs.upsert([("a", [1, 2, 3], {})])
        threads, results = _in_threads(4, lambda: [docs.fetch(["a"]) for _ in range(10)] and len(docs))
        for t in threads:
            t.join(30)
        assert results == [1] * 4
        with vx.session.connection() as c1, vx.session.connection() as c2:
            assert c1 is not c2
            for c in (c1, c2):
                assert c.execute("select count(*) from pg_prepared_statements").fetchone()[0] == 0
        vx.delete_collection(name)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pool_size": 0}, "pool_size must be between 1 and 10000, got 0"),
        ({"pool_size": 2.5}, "pool_size must be an integer, got float"),
        ({"pool_timeout": 0}, "pool_timeout must be positive, got 0"),
        ({"read_your_writes": -1}, "read_your_writes must be >= 0, got -1"),
        ({"read_dsn": [5]}, "read_dsn must be a string, got int"),
    ],
)
def test_pool_arguments_are_checked_before_connecting(kwargs, message):
    with pytest.raises(exc.ArgError, match=message):
        vecs.create_client("postgresql://nobody@127.0.0.1:1/none", **kwargs)
