"""Atomicity (issue 6): an upsert with one bad record writes nothing and names the record, whichever
form (Python arrays, Python COPY, SQL jsonb, SQL arrays, SQL upsert_from) and wherever the record is;
a failure during the merge itself (a trigger, a constraint) writes nothing either; a delete by filter
or by ids that fails on one row leaves every row.

"Writes nothing" is checked on the whole table, row versions included (xmin): no row is inserted,
changed or removed, including rows the batch would have updated.
"""

from __future__ import annotations

import math

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

import vecs_sqlgen as vecs
from vecs_sqlgen import exc

from ._support import KNOWN_BUGS, NUL_SQLSTATES, known_bug, shown

N = 1200  # records per batch: past the client's 500-record arrays limit, so Python uses COPY
SMALL = 300  # a batch the client sends as arrays


def _snapshot(conn, name: str) -> list[tuple]:
    table = sql.Identifier("vecs", name)
    return conn.execute(sql.SQL("select xmin::text, id, vec::text, metadata::text from {} order by id").format(table)).fetchall()


def _record(i: int, dim: int = 3) -> tuple:
    return (f"r{i:05d}", [float(i), 1.0, -1.0][:dim], {"i": i, "batch": "new"})


@pytest.fixture
def filled(conn, make_collection):
    """A collection holding 200 records whose ids the batches below overwrite (and 50 they do not)."""
    name = make_collection(3)
    old = [[f"r{i:05d}", [0.5, 0.5, 0.5], {"i": i, "batch": "old"}] for i in range(0, 400, 2)]
    old += [[f"keep{i}", [1, 2, 3], {"keep": i}] for i in range(50)]
    conn.execute("select vecs.upsert(%s, %s)", (name, Jsonb(old)))
    return name


FAULTS = {
    # fault → (make the bad record from a good one, Python error, SQL SQLSTATE, named by id)
    "dimension": (lambda r: (r[0], r[1][:2], r[2]), exc.MismatchedDimension, "VX005", True),
    "nan": (lambda r: (r[0], [r[1][0], math.nan, r[1][2]], r[2]), exc.InvalidRecord, None, True),
    "huge": (lambda r: (r[0], [r[1][0], 1e39, r[1][2]], r[2]), exc.InvalidRecord, "VX006", True),
    "metadata": (lambda r: (r[0], r[1], [r[2]]), exc.InvalidRecord, "VX006", True),
    "nul id": (lambda r: (r[0] + "\x00", r[1], r[2]), exc.InvalidRecord, None, False),
}
if "long-id" not in KNOWN_BUGS:  # an id over 2,048 bytes (a primary-key entry must fit a btree page)
    FAULTS["long id"] = (lambda r: ("ש" * 1100 + r[0], r[1], r[2]), exc.InvalidRecord, "VX006", True)


def _batch(size: int, fault: str, at: int) -> list[tuple]:
    records = [_record(i) for i in range(size)]
    records[at] = FAULTS[fault][0](records[at])
    return records


POSITIONS = {"first": 0, "middle": None, "last": -1}


def _at(size: int, where: str) -> int:
    return {"first": 0, "middle": size // 2 + 7, "last": size - 1}[where]


# ----------------------------------------------------------------------------- Python


@pytest.mark.parametrize("where", POSITIONS)
@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("size", [SMALL, N], ids=["arrays", "copy"])
def test_python_upsert_with_one_bad_record_writes_nothing(dsn, conn, filled, fault, where, size):
    at = _at(size, where)
    records = _batch(size, fault, at)
    before = _snapshot(conn, filled)
    _, error, _, named = FAULTS[fault]
    with vecs.create_client(dsn) as vx:
        coll = vx.get_or_create_collection(filled, dimension=3)
        with pytest.raises(error) as info:
            coll.upsert(iter(records) if size == N else records, batch_size=100)
    message = str(info.value)
    assert message.startswith(f"record {at + 1}" + (f' (id "{shown(records[at][0])}")' if named else ":")), message
    assert _snapshot(conn, filled) == before


# ----------------------------------------------------------------------------- SQL


def _sql_upsert(conn, form: str, name: str, records: list[tuple]) -> None:
    if form == "jsonb":
        conn.execute("select vecs.upsert(%s, %s)", (name, Jsonb([list(r) for r in records])))
    elif form == "arrays":
        conn.execute(
            "select vecs.upsert(%s, %s::text[], %s::text[]::vector[], %s::jsonb[])",
            (name, [r[0] for r in records], [_vec(r[1]) for r in records], [Jsonb(r[2]) for r in records]),
        )
    else:  # a staging table filled by COPY, merged by upsert_from
        with conn.transaction():
            conn.execute("create temp table staging (id text, vec vector, metadata jsonb) on commit drop")
            with conn.cursor().copy("copy staging (id, vec, metadata) from stdin") as copy:
                for r in records:
                    copy.write_row((r[0], _vec(r[1]), Jsonb(r[2])))
            conn.execute("select vecs.upsert_from(%s, 'staging')", (name,))


def _vec(values) -> str:
    return "[" + ",".join("NaN" if isinstance(v, float) and math.isnan(v) else repr(float(v)) for v in values) + "]"


@pytest.mark.parametrize("where", POSITIONS)
@pytest.mark.parametrize(
    "form, fault",
    # JSON cannot carry NaN: the out-of-range 1e39 ("huge") is the JSON form's non-finite value
    [(form, fault) for form in ("jsonb", "arrays", "upsert_from") for fault in FAULTS if (form, fault) != ("jsonb", "nan")],
)
def test_sql_upsert_with_one_bad_record_writes_nothing(conn, filled, form, fault, where):
    """Faults a vecs function sees are VX errors naming the record. NaN cannot be a JSON number nor a
    pgvector value, and NUL cannot be in text or jsonb: Postgres or pgvector refuses them at input,
    before vecs runs (JSON NaN is tested as the out-of-range 1e39 instead)."""
    at = _at(N, where)
    records = _batch(N, fault, at)
    before = _snapshot(conn, filled)
    _, _, sqlstate, named = FAULTS[fault]
    if fault == "huge" and form != "jsonb":
        sqlstate = "22003"  # pgvector refuses a value beyond float4 at input: "… out of range for type vector"
    with pytest.raises(psycopg.Error) as info:
        _sql_upsert(conn, form, filled, records)
    e = info.value
    if fault == "nul id":
        assert e.sqlstate in NUL_SQLSTATES or (e.sqlstate is None and "NUL" in str(e)), (e.sqlstate, str(e))
    elif fault == "nan":
        assert e.sqlstate == "22000" and "NaN not allowed in vector" in e.diag.message_primary, (e.sqlstate, str(e))
    else:
        assert e.sqlstate == sqlstate, (e.sqlstate, e.diag.message_primary)
        if sqlstate.startswith("VX"):
            expected = f"record {at + 1}" + (f' (id "{shown(records[at][0])}")' if named else "")
            assert e.diag.message_primary.startswith(expected), e.diag.message_primary
    assert _snapshot(conn, filled) == before


# ----------------------------------------------------------------------------- failures during the merge


@pytest.fixture
def tripwire(conn, filled):
    """A trigger that raises when the merge reaches one id (after earlier rows were written)."""
    fn = sql.Identifier("public", "tripwire_" + filled.split('"')[1])
    table = sql.Identifier("vecs", filled)
    conn.execute(sql.SQL("""create function {}() returns trigger language plpgsql as $$
        begin
            if coalesce(new.id, old.id) = 'r00300' then
                raise exception using errcode = 'TRIP1', message = 'tripwire at ' || coalesce(new.id, old.id);
            end if;
            return coalesce(new, old);
        end $$""").format(fn))
    conn.execute(sql.SQL("create trigger tripwire before insert or update or delete on {} for each row execute function {}()").format(table, fn))
    yield filled
    conn.execute(sql.SQL("drop function {}() cascade").format(fn))


@pytest.mark.parametrize("form", ["python", "jsonb", "arrays", "upsert_from"])
def test_a_failure_during_the_merge_writes_nothing(dsn, conn, tripwire, form):
    records = [_record(i) for i in range(N)]  # r00000 … r01199, written in id order: 150 rows are updated before r00300 trips
    before = _snapshot(conn, tripwire)
    if form == "python":
        with vecs.create_client(dsn) as vx:
            with pytest.raises(exc.VecsException, match="tripwire at r00300") as info:
                vx.get_or_create_collection(tripwire, dimension=3).upsert(iter(records), batch_size=250)
        assert type(info.value) is exc.VecsException and info.value.__cause__.sqlstate == "TRIP1"
    else:
        with pytest.raises(psycopg.Error) as info:
            _sql_upsert(conn, form, tripwire, records)
        assert info.value.sqlstate == "TRIP1"
    assert _snapshot(conn, tripwire) == before


def test_a_check_constraint_violated_by_one_record_writes_nothing(dsn, conn, filled):
    conn.execute(sql.SQL("alter table {} add constraint no_thirteen check (not metadata @> '{{\"i\": 1013}}')").format(
        sql.Identifier("vecs", filled)))
    before = _snapshot(conn, filled)
    with vecs.create_client(dsn) as vx:
        with pytest.raises(exc.VecsException, match="no_thirteen"):
            vx.get_or_create_collection(filled, dimension=3).upsert(_record(i) for i in range(N))
    assert _snapshot(conn, filled) == before


# ----------------------------------------------------------------------------- delete


@pytest.mark.parametrize("how", ["sql filter", "sql ids", "python filter", "python sql-string filter", "python ids"])
def test_a_delete_that_fails_on_one_row_deletes_nothing(dsn, conn, filled, tripwire, how):
    before = _snapshot(conn, filled)
    everything = {"$or": [{"i": {"$gte": 0}}, {"keep": {"$exists": True}}]}
    ids = [r[1] for r in before]
    assert "r00300" in ids and len(ids) == 250  # r00300 sits in the middle of the table's physical order
    if how.startswith("sql"):
        with pytest.raises(psycopg.Error) as info:
            if how == "sql filter":
                conn.execute("select * from vecs.delete(%s, filters => %s)", (filled, Jsonb(everything))).fetchall()
            else:
                conn.execute("select * from vecs.delete(%s, ids => %s)", (filled, ids)).fetchall()
        assert info.value.sqlstate == "TRIP1"
    else:
        with vecs.create_client(dsn) as vx:
            coll = vx.get_or_create_collection(filled, dimension=3)
            with pytest.raises(exc.VecsException, match="tripwire at r00300"):
                if how == "python filter":
                    coll.delete(filters=everything)
                elif how == "python sql-string filter":
                    coll.delete(filters="i >= 0 or keep is not null")
                else:
                    coll.delete(ids=ids)
    assert _snapshot(conn, filled) == before


def test_a_delete_blocked_by_a_foreign_key_deletes_nothing(conn, filled):
    """A row another table references (ON DELETE RESTRICT) stops the whole delete."""
    ref = f"ref_{filled.split(chr(34))[1]}"
    conn.execute(sql.SQL("create table {} (doc text references {} (id) on delete restrict)").format(
        sql.Identifier("public", ref), sql.Identifier("vecs", filled)))
    try:
        conn.execute(sql.SQL("insert into {} values ('keep37')").format(sql.Identifier("public", ref)))
        before = _snapshot(conn, filled)
        with pytest.raises(psycopg.Error) as info:
            conn.execute("select * from vecs.delete(%s, filters => '{\"$or\": [{\"keep\": {\"$gte\": 0}}, {\"i\": {\"$gte\": 0}}]}')", (filled,)).fetchall()
        assert info.value.sqlstate == "23001"  # restrict_violation
        assert _snapshot(conn, filled) == before
    finally:
        conn.execute(sql.SQL("drop table {}").format(sql.Identifier("public", ref)))


@known_bug("long-id")
def test_python_upsert_with_an_id_too_long_for_the_index_names_it(dsn, conn, filled):
    long_id = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(1200))
    records = [_record(i) for i in range(10)] + [(long_id, [1, 2, 3], {})]
    before = _snapshot(conn, filled)
    with vecs.create_client(dsn) as vx:
        with pytest.raises(exc.InvalidRecord, match=r"^record 11 "):
            vx.get_or_create_collection(filled, dimension=3).upsert(records)
    assert _snapshot(conn, filled) == before


def test_vectors_are_stored_exactly(dsn, conn, filled):
    """Positive control for the snapshots above: a good batch does change the table, as written."""
    records = [_record(i) for i in range(N)]
    with vecs.create_client(dsn) as vx:
        coll = vx.get_or_create_collection(filled, dimension=3)
        coll.upsert(iter(records))
        got = {r[0]: r for r in coll.fetch([r[0] for r in records[::97]])}
    for r in records[::97]:
        np.testing.assert_array_equal(got[r[0]][1], np.asarray(r[1], dtype=np.float32))
        assert got[r[0]][2] == r[2]
    assert conn.execute("select vecs.count(%s)", (filled,)).fetchone()[0] == N + 50
