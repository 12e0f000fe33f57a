"""Bulk upserts (more than 500 records): new records go straight into the table with COPY; a batch
that meets an existing or repeated id is staged and merged by vecs.upsert_from, as is everything
after it. A statement trigger on the table logs which statements wrote to it."""

from __future__ import annotations

import threading

import numpy as np
import psycopg
import pytest
from psycopg import sql

import vecs_sqlgen
from vecs_sqlgen import exc


@pytest.fixture
def logged(docs, conn):
    """``docs`` with a log of the statements that wrote to its table (COPY or INSERT)."""
    table = sql.Identifier("vecs", docs.name)
    conn.execute("create table if not exists public.bulk_log (n serial, statement text)")
    conn.execute("truncate public.bulk_log")
    conn.execute("""
        create or replace function public.bulk_log() returns trigger language plpgsql as $$
        begin
            insert into public.bulk_log (statement) values (split_part(ltrim(lower(current_query())), ' ', 1));
            return null;
        end $$""")
    conn.execute(sql.SQL("create trigger bulk_log after insert on {} for each statement "
                         "execute function public.bulk_log()").format(table))

    def log() -> list[str]:
        """The statements since the last call: copy (COPY into the table) or select (a vecs.* call)."""
        rows = [r[0] for r in conn.execute("select statement from public.bulk_log order by n")]
        conn.execute("truncate public.bulk_log")
        return rows

    yield docs, log
    conn.execute("drop table public.bulk_log")
    conn.execute("drop function public.bulk_log() cascade")


def _records(ids, tag):
    return [(i, [1.0, float(n), 2.0], {"tag": tag, "n": n}) for n, i in enumerate(ids)]


def _tags(docs, ids):
    return [r[2]["tag"] for r in docs.fetch(ids)]


def test_new_records_are_copied_straight_in(logged):
    docs, log = logged
    ids = [f"r{i:04}" for i in range(2000)]
    docs.upsert(_records(ids, "a"), batch_size=500)
    assert log() == ["copy"] * 4
    assert len(docs) == 2000 and _tags(docs, ["r0000", "r1999"]) == ["a", "a"]
    np.testing.assert_array_equal(docs["r0007"][1], [1, 7, 2])


def test_a_batch_meeting_existing_ids_and_the_rest_are_merged(logged):
    docs, log = logged
    docs.upsert(_records(["r0700", "r1800"], "old"))
    assert log() == ["select"]  # vecs.upsert
    ids = [f"r{i:04}" for i in range(2000)]
    docs.upsert(_records(ids, "new"), batch_size=500)
    # batch 1 is new; batch 2 holds r0700: rolled back and staged, with batches 3 and 4; one merge
    assert log() == ["copy", "select"]
    assert len(docs) == 2000
    assert set(_tags(docs, ids)) == {"new"}


def test_later_records_win_across_direct_and_staged_batches(logged):
    docs, log = logged
    records = _records([f"r{i:04}" for i in range(1500)], "first")
    records[1200] = ("r0003", [9.0, 9.0, 9.0], {"tag": "later"})  # batch 3 repeats an id from batch 1
    docs.upsert(records, batch_size=500)
    assert log() == ["copy", "copy", "select"]
    assert _tags(docs, ["r0003"]) == ["later"]
    np.testing.assert_array_equal(docs["r0003"][1], [9, 9, 9])
    assert len(docs) == 1499


def test_a_repeated_id_within_a_batch_is_merged_last_wins(logged):
    docs, log = logged
    records = _records([f"r{i:04}" for i in range(800)], "x")
    records[10] = ("r0600", [5.0, 5.0, 5.0], {"tag": "early"})
    docs.upsert(records, batch_size=1000)
    assert log() == ["select"]
    assert _tags(docs, ["r0600"]) == ["x"]  # the later of the two
    assert len(docs) == 799


def test_an_error_after_direct_batches_writes_nothing(logged):
    docs, _ = logged

    def source():
        yield from _records([f"r{i:04}" for i in range(1500)], "a")
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError, match="source failed"):
        docs.upsert(source(), batch_size=500)
    assert len(docs) == 0


def test_a_stale_collection_object_is_refused(vx, docs):
    vx.delete_collection(docs.name)
    vx.get_or_create_collection(docs.name, dimension=4)
    with pytest.raises(exc.MismatchedDimension, match="has 4 dimensions now"):
        docs.upsert(_records([f"r{i}" for i in range(600)], "a"))
    assert len(vx.get_or_create_collection(docs.name, dimension=4)) == 0


def test_concurrent_bulk_upserts_of_the_same_new_ids(vx, docs, dsn):
    """Two clients loading the same new ids at once: both succeed (one waits, meets the other's
    rows and merges); every id ends with one of the two writes, whole."""
    ids = [f"r{i:04}" for i in range(3000)]
    errors: list[BaseException] = []

    def load(tag: str) -> None:
        client = vecs_sqlgen.create_client(dsn)
        try:
            vecs_sqlgen.Collection(docs.name, 3, client).upsert(_records(ids, tag), batch_size=3000)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            client.disconnect()

    threads = [threading.Thread(target=load, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(docs) == 3000
    rows = docs.fetch(ids)
    assert all(r[2]["tag"] in ("a", "b") and r[2]["n"] == int(r[0][1:]) for r in rows)
    with psycopg.connect(dsn) as c:
        assert c.execute(sql.SQL("select count(distinct id) from {}").format(sql.Identifier("vecs", docs.name))).fetchone()[0] == 3000


def test_a_table_without_a_unique_id_is_never_copied_into(vx, conn):
    """Without a unique index on id a duplicate would not fail: check_upsert says no direct COPY, and
    the merge reports what an upsert into such a table reports (no ON CONFLICT target)."""
    conn.execute('create table vecs."no key" (id text, vec vector(3), metadata jsonb)')
    try:
        assert conn.execute("select * from vecs.check_upsert('no key')").fetchone() == (3, False)
        coll = vecs_sqlgen.Collection("no key", 3, vx)
        with pytest.raises(exc.VecsException, match="no unique or exclusion constraint"):
            coll.upsert(_records([f"r{i}" for i in range(600)], "a"))
        assert conn.execute('select count(*) from vecs."no key"').fetchone()[0] == 0
    finally:
        conn.execute('drop table vecs."no key"')
