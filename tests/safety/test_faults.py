"""Faults (issue 6): the server stopped in immediate mode (a crash: no shutdown checkpoint, WAL
recovery at restart) during an upsert made of several calls, on a dedicated embedded server; and a
connection terminated by the server (pg_terminate_backend) during calls of every kind.

After a crash every call the client reported committed is intact and the interrupted call wrote
nothing; a call in flight when its connection goes fails with exc.ConnectionLost (never a partial
result), and the client's next call reconnects and logs a WARNING on logger "vecs_sqlgen".
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import psycopg
import pytest
from psycopg import sql

import vecs_sqlgen as vecs
from vecs_sqlgen import exc
from vecs_sqlgen import install as _install
from vecs_sqlgen.dsn import embedded_bin, embedded_server

from ._support import RESULTS

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

DIM = 16


def _vector(i: int, version: int) -> list[float]:
    return [float(i % 1009), float(version), *[float((i * (k + 3) + version) % 101) / 7 for k in range(DIM - 2)]]


def _records(prefix: str, ids: range, version: int) -> list[tuple]:
    return [(f"{prefix}{i:05d}", _vector(i, version), {"v": version, "i": i}) for i in ids]


# ----------------------------------------------------------------------------- a server of our own


class OwnServer:
    """An embedded PostgreSQL + pgvector in a temp dir, which the tests stop (immediate) and restart."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="vecs-fault-"))
        self.data = self.tmp / "data"
        self.server = embedded_server(self.data, keep_running=True)
        self.dsn = self.server.get_uri()
        self.socket_dir = psycopg.conninfo.conninfo_to_dict(self.dsn)["host"]
        self.user = getattr(self.server, "system_user", None)  # pg_ctl refuses to run as root
        with psycopg.connect(self.dsn, autocommit=True) as c:
            _install.install(c, "vecs")

    def pg_ctl(self, *args: str) -> None:
        subprocess.run([str(embedded_bin("pg_ctl")), "-D", str(self.data), *args], check=True, capture_output=True,
                       timeout=120, user=self.user)

    def crash(self) -> None:
        self.pg_ctl("-m", "immediate", "stop")

    def start(self) -> None:
        self.pg_ctl("-w", "-l", str(self.data / "log"), "-o", f"-h '' -k {self.socket_dir}", "start")

    def close(self) -> None:
        try:
            self.pg_ctl("-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def own():
    server = OwnServer()
    yield server
    server.close()


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = call()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            result["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def _rows(dsn: str, name: str) -> dict[str, tuple]:
    with psycopg.connect(dsn) as c:
        return {r[0]: (r[1], r[2]) for r in c.execute(
            sql.SQL("select id, vec::real[], metadata from {}").format(sql.Identifier("vecs", name)))}


def test_immediate_stop_during_a_streamed_upsert(own, caplog):
    """Calls 1-4 commit (arrays and COPY paths, inserts and updates); call 5 streams 6,000 records
    through COPY and the server is stopped in immediate mode halfway. After restart: calls 1-4 intact,
    nothing of call 5."""
    vx = vecs.create_client(own.dsn)
    coll = vx.get_or_create_collection("crash", dimension=DIM)
    expected: dict[str, tuple] = {}
    committed = []
    plan = [
        ("arrays insert", _records("a", range(400), 1)),
        ("copy insert", _records("b", range(3000), 1)),
        ("arrays update", _records("a", range(0, 400, 2), 2)),
        ("copy insert+update", _records("b", range(1500, 4500), 2)),
    ]
    for label, records in plan:
        coll.upsert(records)  # returns: the client reports it committed
        committed.append(label)
        expected.update({r[0]: r for r in records})

    halfway, stopped = threading.Event(), threading.Event()

    def interrupted():
        records = _records("a", range(400), 3) + _records("b", range(4000), 3) + _records("c", range(1600), 3)
        for n, r in enumerate(records):
            if n == 3000:
                halfway.set()
                stopped.wait(60)
            yield r

    thread, result = _in_thread(lambda: coll.upsert(interrupted(), batch_size=500))
    assert halfway.wait(60)
    own.crash()
    stopped.set()
    thread.join(60)
    assert not thread.is_alive()
    assert isinstance(result.get("error"), exc.ConnectionLost), result
    assert "may or may not have taken effect" in str(result["error"])

    own.start()
    assert "automatic recovery in progress" in (own.data / "log").read_text()  # it was a crash, not a shutdown
    rows = _rows(own.dsn, "crash")
    assert len(rows) == len(expected), "rows lost or half-written"
    assert not any(i.startswith("c") for i in rows), "the interrupted call wrote"
    for id_, (_, vec, meta) in list(expected.items())[::37]:
        np.testing.assert_array_equal(np.asarray(rows[id_][0], dtype=np.float32), np.asarray(vec, dtype=np.float32))
        assert rows[id_][1] == meta
    assert {m["v"] for _, m in rows.values()} == {1, 2}

    # the same client's next call reconnects, and says so
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vecs_sqlgen"):
        assert len(coll) == len(expected)
    ours = [r for r in caplog.records if r.name == "vecs_sqlgen"]
    assert [r.levelno for r in ours] == [logging.WARNING] and "reconnected" in ours[0].getMessage()
    vx.disconnect()
    RESULTS["crash (immediate stop)"] = {
        "calls committed before": len(committed), "rows intact": len(rows),
        "interrupted call": "6,000 records via COPY, stopped after 3,000 streamed: wrote nothing",
    }


def test_immediate_stop_during_one_statement(own):
    """The server stopped while vecs.upsert (arrays form) is executing, with some rows of the call
    already inserted in its transaction: after restart nothing of it is there."""
    with psycopg.connect(own.dsn, autocommit=True) as c:
        c.execute("select vecs.get_or_create_collection('mid', %s)", (DIM,))
        c.execute("""create or replace function public.slow() returns trigger language plpgsql as $$
                     begin if new.id = 'm00150' then perform pg_sleep(30); end if; return new; end $$""")
        c.execute("create trigger slow before insert on vecs.mid for each row execute function public.slow()")
    vx = vecs.create_client(own.dsn)
    coll = vx.get_or_create_collection("mid", dimension=DIM)
    coll.upsert(_records("k", range(100), 1))
    with vx.session.connection() as c:  # the connection the next call takes (one thread: the only one)
        pid = c.info.backend_pid
    thread, result = _in_thread(lambda: coll.upsert(_records("m", range(300), 1)))
    with psycopg.connect(own.dsn, autocommit=True) as c:
        deadline = time.monotonic() + 30
        while c.execute("select wait_event from pg_stat_activity where pid = %s", (pid,)).fetchone()[0] != "PgSleep":
            assert time.monotonic() < deadline
            time.sleep(0.02)
    own.crash()
    thread.join(60)
    assert isinstance(result.get("error"), exc.ConnectionLost), result
    own.start()
    rows = _rows(own.dsn, "mid")
    assert sorted(rows) == [f"k{i:05d}" for i in range(100)]
    vx.disconnect()


# ----------------------------------------------------------------------------- a connection terminated mid-call


@pytest.fixture
def victim(dsn, fresh_name, conn):
    """A client with a filled collection, and a function that terminates the client's backend once it
    is waiting as expected."""
    vx = vecs.create_client(dsn)
    coll = vx.get_or_create_collection(fresh_name("fault"), dimension=DIM)
    coll.upsert(_records("r", range(2000), 1))
    coll.create_index()
    # the pool's one connection (one thread so far), which the call under test takes
    with vx.session.connection() as c:
        pid = c.info.backend_pid

    def terminate_when(predicate: Callable[[tuple], bool]) -> None:
        deadline = time.monotonic() + 30
        while True:
            row = conn.execute("select wait_event_type, wait_event, state from pg_stat_activity where pid = %s", (pid,)).fetchone()
            if row and predicate(row):
                break
            assert time.monotonic() < deadline, row
            time.sleep(0.01)
        assert conn.execute("select pg_terminate_backend(%s, 5000)", (pid,)).fetchone()[0]

    yield vx, coll, terminate_when
    vx.disconnect()


def _snapshot(conn, name: str) -> list[tuple]:
    return conn.execute(sql.SQL("select xmin::text, id, metadata::text from {} order by id").format(sql.Identifier("vecs", name))).fetchall()


def _indexes(conn, name: str) -> list[tuple]:
    return conn.execute("select indexrelid::regclass::text from pg_index where indrelid = %s::regclass order by 1",
                        (sql.Identifier("vecs", name).as_string(conn),)).fetchall()


def _expect_lost_then_reconnect(vx, coll, result: dict, caplog, expected_len: int) -> None:
    error = result.get("error")
    assert type(error) is exc.ConnectionLost, result  # not a partial result, not another error
    assert "value" not in result
    caplog.clear()  # psycopg may have warned about the broken COPY
    with caplog.at_level(logging.WARNING, logger="vecs_sqlgen"):
        assert len(coll) == expected_len
    ours = [r for r in caplog.records if r.name == "vecs_sqlgen"]
    assert [r.levelno for r in ours] == [logging.WARNING], caplog.records
    assert "reconnected" in ours[0].getMessage()


def test_terminated_during_a_streamed_upsert(conn, victim, caplog):
    vx, coll, terminate_when = victim
    before = _snapshot(conn, coll.name)
    halfway, gone = threading.Event(), threading.Event()

    def records():
        for n, r in enumerate(_records("r", range(4000), 2)):
            if n == 2500:
                halfway.set()
                gone.wait(30)
            yield r

    thread, result = _in_thread(lambda: coll.upsert(records(), batch_size=500))
    assert halfway.wait(30)
    terminate_when(lambda row: True)
    gone.set()
    thread.join(30)
    _expect_lost_then_reconnect(vx, coll, result, caplog, 2000)
    assert _snapshot(conn, coll.name) == before


BLOCKED_CALLS = {
    # call → (lock the other session takes, the call, expected length after)
    "query": ("lock table {t} in access exclusive mode", lambda c: c.query(_vector(1, 1), limit=50, include_metadata=True)),
    "filtered query": ("lock table {t} in access exclusive mode", lambda c: c.query(_vector(1, 1), limit=50, filters={"v": 1})),
    "fetch": ("lock table {t} in access exclusive mode", lambda c: c.fetch([f"r{i:05d}" for i in range(500)])),
    "upsert": ("select * from {t} where id = 'r01500' for update", lambda c: c.upsert(_records("r", range(0, 2000, 3), 2))),
    "delete by filter": ("select * from {t} where id = 'r01500' for update", lambda c: c.delete(filters={"v": 1})),
    "delete by ids": ("select * from {t} where id = 'r01500' for update", lambda c: c.delete(ids=[f"r{i:05d}" for i in range(2000)])),
    "create_index": ("lock table {t} in share mode", lambda c: c.create_index(method=vecs.IndexMethod.ivfflat)),
}


@pytest.mark.parametrize("call", BLOCKED_CALLS)
def test_terminated_while_waiting_for_a_lock(dsn, conn, victim, caplog, call):
    """A call blocked by another session's lock (a delete or upsert having already changed rows in its
    transaction) is terminated: ConnectionLost, nothing of it is left, the next call reconnects."""
    vx, coll, terminate_when = victim
    lock, run = BLOCKED_CALLS[call]
    before, indexes = _snapshot(conn, coll.name), _indexes(conn, coll.name)
    with psycopg.connect(dsn) as holder:  # a transaction holding the lock until the end of the block
        holder.execute(sql.SQL(lock).format(t=sql.Identifier("vecs", coll.name)))
        thread, result = _in_thread(lambda: run(coll))
        terminate_when(lambda row: row[0] == "Lock")
        thread.join(30)
        holder.rollback()
    _expect_lost_then_reconnect(vx, coll, result, caplog, 2000)
    assert _snapshot(conn, coll.name) == before
    assert _indexes(conn, coll.name) == indexes
