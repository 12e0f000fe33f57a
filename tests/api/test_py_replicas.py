"""Read replicas (read_dsn) against a real streaming replica: an embedded primary of the module's own
and a standby made with ``pg_basebackup -R -X stream`` over the primary's socket, both run as the
server's OS user. Reads go to the replica, writes to the primary; read-your-writes holds a client's
reads on the primary after its writes; a replica that dies mid-load costs no call an error."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest

import vecs_sqlgen as vecs
from vecs_sqlgen import install as _install
from vecs_sqlgen.dsn import embedded_bin, embedded_server
from vecs_sqlgen.routing import Router


class Pair:
    """A primary and its streaming replica, each on a socket in its own directory."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="vecs-replica-"))
        self.tmp.chmod(0o755)
        self.primary_data = self.tmp / "primary"
        self.server = embedded_server(self.primary_data, keep_running=True)
        self.primary = self.server.get_uri()
        self.user = getattr(self.server, "system_user", None)  # pg_ctl and pg_basebackup refuse root
        with psycopg.connect(self.primary, autocommit=True) as c:
            _install.install(c, "vecs")
        self.replica_data = self.tmp / "replica"
        self.replica_data.mkdir(mode=0o700)
        if self.user:
            shutil.chown(self.replica_data, self.user, self.user)
        socket = psycopg.conninfo.conninfo_to_dict(self.primary)["host"]
        # -c fast: an immediate checkpoint (a spread one takes ~20 s here)
        self._run("pg_basebackup", "-D", str(self.replica_data), "-R", "-X", "stream", "-c", "fast", "-h", socket,
                  "-U", "postgres")
        for copied in self.replica_data.glob(".s.PGSQL.*"):  # the primary's socket lock, copied with its data
            copied.unlink()
        self.replica = f"postgresql://postgres:@/postgres?host={self.replica_data}"
        self.start_replica()

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([str(embedded_bin(program)), *args], check=True, capture_output=True, timeout=120, user=self.user)

    def _pg_ctl(self, data: Path, *args: str) -> None:
        self._run("pg_ctl", "-D", str(data), *args)

    def start_replica(self) -> None:
        log = str(self.replica_data / "log")
        self._pg_ctl(self.replica_data, "-w", "-l", log, "-o", f"-h '' -k {self.replica_data}", "start")

    def kill_replica(self) -> None:
        self._pg_ctl(self.replica_data, "-m", "immediate", "stop")

    def caught_up(self, seconds: float = 10.0) -> None:
        """Wait until the replica has replayed everything the primary has written."""
        with psycopg.connect(self.primary, autocommit=True) as p:
            lsn = p.execute("select pg_current_wal_lsn()").fetchone()[0]
        with psycopg.connect(self.replica, autocommit=True) as r:
            deadline = time.monotonic() + seconds
            while not r.execute("select pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0]:
                assert time.monotonic() < deadline, "the replica did not catch up"
                time.sleep(0.02)

    def close(self) -> None:
        for data in (self.replica_data, self.primary_data):
            try:
                self._pg_ctl(data, "-m", "immediate", "stop")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def pair():
    p = Pair()
    yield p
    p.close()


def _tagged(dsn: str, tag: str) -> str:
    return psycopg.conninfo.make_conninfo(dsn, application_name=tag)


def _last_queries(dsn: str, tag: str) -> list[str]:
    with psycopg.connect(dsn, autocommit=True) as c:
        return [r[0] for r in c.execute("select query from pg_stat_activity where application_name = %s", (tag,))]


def _client(pair, **kwargs):
    tag = f"vecs-rep-{uuid.uuid4().hex[:8]}"
    vx = vecs.create_client(_tagged(pair.primary, tag), read_dsn=[_tagged(pair.replica, tag)], **kwargs)
    return vx, tag


def test_the_replica_is_streaming(pair):
    with psycopg.connect(pair.replica, autocommit=True) as r:
        assert r.execute("select pg_is_in_recovery()").fetchone()[0] is True
    with psycopg.connect(pair.primary, autocommit=True) as p:
        assert p.execute("select count(*) from pg_stat_replication where state = 'streaming'").fetchone()[0] == 1


def test_reads_go_to_the_replica_and_writes_to_the_primary(pair):
    vx, tag = _client(pair, pool_size=4)
    docs = vx.get_or_create_collection("routed", dimension=3)  # a write: the replica is read-only
    docs.upsert([(f"r{i}", [i, 1, 1], {"i": i}) for i in range(20)])
    docs.create_index()
    pair.caught_up()
    primary_before = len(_last_queries(pair.primary, tag))
    results, errors = [], []
    fresh = vecs.Collection("routed", 3, vx)  # its index is looked up by the threads' first queries, at once

    def load():
        try:
            for i in range(25):
                results.append((len(fresh.query([i, 1, 1], limit=3)), len(fresh.fetch(["r1", "r2"])), len(fresh)))
        except Exception as e:  # noqa: BLE001 - asserted below
            errors.append(e)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and set(results) == {(3, 2, 20)}
    replica_queries = _last_queries(pair.replica, tag)
    assert replica_queries and all(any(f in q for f in (".query(", ".fetch(", ".count(", ".list_collections(")) for q in replica_queries)
    # the primary's backends stayed as they were: 100 reads x 3 went elsewhere
    assert len(_last_queries(pair.primary, tag)) == primary_before
    assert {c.name for c in vx.list_collections()} >= {"routed"}
    vx.delete_collection("routed")
    vx.disconnect()


def test_a_busy_replica_is_waited_for(pair, caplog):
    # one connection per server, four threads reading: they queue for the replica's connection
    vx, tag = _client(pair, pool_size=1)
    docs = vx.get_or_create_collection("busy", dimension=3)
    docs.upsert([("a", [1, 2, 3], {})])
    pair.caught_up()
    counts = []
    threads = [threading.Thread(target=lambda: counts.extend(len(docs) for _ in range(20))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert counts == [1] * 80
    assert not [r for r in caplog.records if r.name == "vecs_sqlgen"]  # no read went to the primary
    # the collection's creation, the look-up of the type it was made with (vector types, issue 13: on
    # the primary, which has it for sure) and the upsert
    assert vx.session._pool.get_stats()["requests_num"] == 3
    vx.delete_collection("busy")
    vx.disconnect()


def test_read_your_writes(pair):
    vx, _ = _client(pair)
    ryw, _ = _client(pair, read_your_writes=30)
    with psycopg.connect(pair.replica, autocommit=True) as r:
        r.execute("select pg_wal_replay_pause()")  # the replica lags as far behind as it can
        try:
            docs = vx.get_or_create_collection("lagging", dimension=3)
            assert "lagging" not in {c.name for c in vx.list_collections()}  # listed by the replica
            docs.upsert([("a", [1, 2, 3], {})])
            mine = ryw.get_or_create_collection("lagging", dimension=3)
            mine.upsert([("b", [1, 2, 3], {})])
            # the reads of the client that wrote go to the primary for read_your_writes seconds
            assert [r[0] for r in mine.fetch(["a", "b"])] == ["a", "b"] and len(mine) == 2
            assert "lagging" in {c.name for c in ryw.list_collections()}
        finally:
            r.execute("select pg_wal_replay_resume()")
    pair.caught_up()
    assert [r[0] for r in docs.fetch(["a", "b"])] == ["a", "b"]  # from the replica, caught up
    vx.delete_collection("lagging")
    for c in (vx, ryw):
        c.disconnect()


def test_a_replica_that_dies_mid_load_costs_no_call_an_error(pair, caplog):
    vx, tag = _client(pair, pool_size=3)
    docs = vx.get_or_create_collection("dying", dimension=3)
    docs.upsert([(f"r{i}", [i, 1, 1], {}) for i in range(30)])
    pair.caught_up()
    assert len(docs) == 30 and _last_queries(pair.replica, tag)  # the replica serves
    done, results, errors = threading.Event(), [], []

    def load():
        try:
            while not done.is_set():
                results.append((len(docs.fetch(["r1", "r2", "r3"])), len(docs)))
        except Exception as e:  # noqa: BLE001 - asserted below
            errors.append(e)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    served_before = len(results)
    pair.kill_replica()
    time.sleep(1.2)  # past REPLICA_WAIT: reads that found the replica gone went on at the primary
    done.set()
    for t in threads:
        t.join(30)
    try:
        assert errors == []
        assert set(results) == {(3, 30)} and served_before > 0 and len(results) > served_before + 10
        assert any("reading from the primary" in r.getMessage() for r in caplog.records if r.name == "vecs_sqlgen")
        assert len(docs) == 30  # the primary keeps serving while the replica is down
    finally:
        pair.start_replica()
    vx.delete_collection("dying")
    vx.disconnect()


def test_round_robin_and_read_your_writes_windows():
    router = Router(3, read_your_writes=0.2, retry_after=0.2)
    assert [router.order()[0] for _ in range(4)] == [0, 1, 2, 0]
    router.down(1)
    assert router.order() == [2, 0]  # 1 was next in turn, but it is down
    assert all(1 not in router.order() for _ in range(3))
    time.sleep(0.25)
    assert any(1 in router.order() for _ in range(3))  # back after retry_after
    router.wrote()
    assert router.order() == []  # the primary, for read_your_writes seconds
    time.sleep(0.25)
    assert router.order() != []


async def test_the_async_client_routes_reads_too(pair):
    tag = f"vecs-rep-{uuid.uuid4().hex[:8]}"
    async with vecs.AsyncClient(_tagged(pair.primary, tag), read_dsn=_tagged(pair.replica, tag)) as vx:
        docs = await vx.get_or_create_collection("async routed", dimension=3)
        await docs.upsert([(f"r{i}", [i, 1, 1], {}) for i in range(5)])
        pair.caught_up()
        assert await docs.count() == 5
        assert [r[0] for r in await docs.fetch(["r1"])] == ["r1"]
        assert any(".fetch(" in q for q in _last_queries(pair.replica, tag))
        await vx.delete_collection("async routed")
