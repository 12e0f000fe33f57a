"""What only the AsyncClient has: cancellation of an awaited call cancels the server's query, async
iterables streamed into upsert, tasks sharing the pool, and the connect / async with life cycle."""

from __future__ import annotations

import asyncio
import time
import uuid

import psycopg
import pytest
from psycopg import sql

import vecs_sqlgen as vecs
from vecs_sqlgen import exc


def _tagged(dsn: str) -> tuple[str, str]:
    tag = f"vecs-async-{uuid.uuid4().hex[:8]}"
    return psycopg.conninfo.make_conninfo(dsn, application_name=tag), tag


def _activity(conn, tag: str) -> list[tuple]:
    return conn.execute(
        "select pid, state, wait_event_type from pg_stat_activity where application_name = %s order by pid", (tag,)
    ).fetchall()


async def _until(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_cancelling_an_awaited_query_cancels_it_on_the_server(dsn, conn):
    tagged, tag = _tagged(dsn)
    async with vecs.AsyncClient(tagged, pool_size=1) as vx:
        name = f"async {uuid.uuid4().hex[:8]}"
        docs = await vx.get_or_create_collection(name, dimension=3)
        await docs.upsert([("a", [1, 2, 3], {})])
        holder = psycopg.connect(dsn)
        holder.execute(sql.SQL("lock table {} in access exclusive mode").format(sql.Identifier("vecs", name)))
        try:
            task = asyncio.create_task(docs.count())
            await _until(lambda: [row[2] for row in _activity(conn, tag)] == ["Lock"])
            (pid, _, _), = _activity(conn, tag)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # the server stopped the statement (the lock is still held): the backend is idle again
            assert conn.execute("select state, wait_event_type from pg_stat_activity where pid = %s", (pid,)).fetchone() == (
                "idle", "Client")
        finally:
            holder.close()
        assert await docs.count() == 1  # and the pool's one connection serves the next call
        await vx.delete_collection(name)


async def test_async_iterables_are_streamed_into_upsert(dsn):
    async with vecs.AsyncClient(dsn) as vx:
        docs = await vx.get_or_create_collection(f"async {uuid.uuid4().hex[:8]}", dimension=3)

        async def records(n, bad_at=None):
            for i in range(n):
                await asyncio.sleep(0)  # produced by other awaits, e.g. an embedding service
                yield (f"r{i}", [i, 1, 2] if i != bad_at else [float("nan"), 1, 2], {"i": i})

        with pytest.raises(exc.InvalidRecord, match=r'record 1001 \(id "r1000"\): vector values must be finite'):
            await docs.upsert(records(1500, bad_at=1000), batch_size=300)
        assert await docs.count() == 0  # all or nothing
        seen = []
        await docs.upsert(records(1500), batch_size=600, progress=seen.append)
        assert await docs.count() == 1500 and seen == [600, 1200, 1500]
        await docs.upsert(records(10))  # few records: the arrays call
        assert (await docs["r3"])[2] == {"i": 3}
        await vx.delete_collection(docs.name)


async def test_tasks_share_the_pool(dsn, conn):
    tagged, tag = _tagged(dsn)
    vx = await vecs.create_async_client(tagged, pool_size=3)
    docs = await vx.get_or_create_collection(f"async {uuid.uuid4().hex[:8]}", dimension=3)
    await docs.upsert([(f"r{i}", [i, 1, 1], {"i": i}) for i in range(50)])
    await docs.create_index()
    results = await asyncio.gather(*(docs.query([i, 1, 1], limit=3) for i in range(30)))
    assert all(len(r) == 3 for r in results)
    assert len(_activity(conn, tag)) <= 3
    await vx.delete_collection(docs.name)
    await vx.disconnect()
    await _until(lambda: _activity(conn, tag) == [], 5)


async def test_not_connected_then_reconnected(dsn):
    vx = vecs.AsyncClient(dsn)
    with pytest.raises(exc.VecsException, match="not connected"):
        await vx.list_collections()
    await vx.connect()
    assert isinstance(await vx.list_collections(), list)
    await vx.disconnect()
    assert not vx.session.connected
    assert isinstance(await vx.list_collections(), list)  # any later call reconnects
    assert vx.session.connected
    await vx.disconnect()
