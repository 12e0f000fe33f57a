"""upsert (both forms), upsert_from, fetch, delete, count — from SQL (issue 2)."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg.types.json import Jsonb

from .helpers import all_ids, raises, rows, table, upsert_json

# ----------------------------------------------------------------------------- upsert, JSON form


def test_upsert_json_returns_count_and_writes(conn, collection):
    n = conn.execute(
        """select vecs.upsert(%s, '[["a", [1, 2, 3], {"year": 1973, "tags": ["x"]}],
                                   ["b", [0.5, -0.25, 1e-3]],
                                   ["c", [4, 5, 6], null]]')""",
        (collection,),
    ).fetchone()[0]
    assert n == 3
    assert rows(conn, collection) == {
        "a": ([1.0, 2.0, 3.0], {"year": 1973, "tags": ["x"]}),
        "b": ([0.5, -0.25, 0.001], {}),
        "c": ([4.0, 5.0, 6.0], {}),
    }


def test_upsert_json_named_notation(conn, collection):
    n = conn.execute(
        "select vecs.upsert(collection => %s, records => '[[\"a\", [1,2,3], {\"k\": \"v\"}]]')", (collection,)
    ).fetchone()[0]
    assert n == 1
    assert rows(conn, collection) == {"a": ([1.0, 2.0, 3.0], {"k": "v"})}


def test_upsert_empty_array_writes_nothing(conn, collection):
    assert conn.execute("select vecs.upsert(%s, '[]'::jsonb)", (collection,)).fetchone()[0] == 0
    assert conn.execute(
        "select vecs.upsert(%s, '{}'::text[], '{}'::vector[])", (collection,)
    ).fetchone()[0] == 0
    assert rows(conn, collection) == {}


def test_upsert_json_last_duplicate_wins(conn, collection):
    n = upsert_json(
        conn,
        collection,
        [["a", [1, 1, 1], {"v": 1}], ["b", [2, 2, 2]], ["a", [3, 3, 3], {"v": 3}], ["a", [4, 4, 4], {"v": 4}]],
    )
    assert n == 2  # records written: a once, b once
    assert rows(conn, collection) == {"a": ([4.0, 4.0, 4.0], {"v": 4}), "b": ([2.0, 2.0, 2.0], {})}


def test_upsert_replaces_existing_ids(conn, collection):
    upsert_json(conn, collection, [["a", [1, 1, 1], {"old": True}], ["b", [2, 2, 2], {"keep": 1}]])
    n = upsert_json(conn, collection, [["a", [9, 9, 9]], ["c", [3, 3, 3], {"new": 1}]])
    assert n == 2
    # replace, not merge: a's metadata is now {} (it was given none)
    assert rows(conn, collection) == {
        "a": ([9.0, 9.0, 9.0], {}),
        "b": ([2.0, 2.0, 2.0], {"keep": 1}),
        "c": ([3.0, 3.0, 3.0], {"new": 1}),
    }


# ----------------------------------------------------------------------------- upsert, array form


def test_upsert_arrays(conn, collection):
    n = conn.execute(
        """select vecs.upsert(%s, array['a', 'b', 'c'], array['[1,2,3]', '[4,5,6]', '[7,8,9]']::vector[],
                              array['{"year": 2012}', '{}', null]::jsonb[])""",
        (collection,),
    ).fetchone()[0]
    assert n == 3
    assert rows(conn, collection) == {
        "a": ([1.0, 2.0, 3.0], {"year": 2012}),
        "b": ([4.0, 5.0, 6.0], {}),
        "c": ([7.0, 8.0, 9.0], {}),
    }


def test_upsert_arrays_metadatas_optional(conn, collection):
    n = conn.execute(
        "select vecs.upsert(%s, array['a', 'b'], array['[1,2,3]', '[4,5,6]']::vector[])", (collection,)
    ).fetchone()[0]
    assert n == 2
    n = conn.execute(
        "select vecs.upsert(collection => %s, ids => array['c'], vectors => array['[0,0,1]']::vector[], metadatas => null)",
        (collection,),
    ).fetchone()[0]
    assert n == 1
    assert {k: v[1] for k, v in rows(conn, collection).items()} == {"a": {}, "b": {}, "c": {}}


def test_upsert_arrays_metadata_json_null_is_empty(conn, collection):
    conn.execute(
        "select vecs.upsert(%s, array['a'], array['[1,2,3]']::vector[], array['null'::jsonb])", (collection,)
    )
    assert rows(conn, collection)["a"][1] == {}


def test_upsert_arrays_last_duplicate_wins(conn, collection):
    n = conn.execute(
        """select vecs.upsert(%s, array['x', 'y', 'x'], array['[1,1,1]', '[2,2,2]', '[3,3,3]']::vector[],
                              array['{"n": 1}', '{"n": 2}', '{"n": 3}']::jsonb[])""",
        (collection,),
    ).fetchone()[0]
    assert n == 2
    assert rows(conn, collection) == {"x": ([3.0, 3.0, 3.0], {"n": 3}), "y": ([2.0, 2.0, 2.0], {"n": 2})}


def test_upsert_arrays_from_python_lists(conn, collection):
    # psycopg sends lists as arrays; the vectors as text literals cast by the server
    n = conn.execute(
        "select vecs.upsert(%s, %s::text[], %s::vector[], %s::jsonb[])",
        (collection, ["p", "q"], ["[1,0,0]", "[0,1,0]"], [Jsonb({"a": 1}), Jsonb({"b": [1, 2]})]),
    ).fetchone()[0]
    assert n == 2
    assert rows(conn, collection) == {"p": ([1.0, 0.0, 0.0], {"a": 1}), "q": ([0.0, 1.0, 0.0], {"b": [1, 2]})}


# ----------------------------------------------------------------------------- atomicity and errors

GOOD = [["g1", [1, 1, 1], {"ok": True}], ["g2", [2, 2, 2]]]

JSON_BAD = [
    # (bad record, sqlstate, message after 'record N (id "…"): ' or 'record N: ')
    (["bad", [1, 2]], "VX005", "vector has 2 dimensions, collection \"{c}\" has 3"),
    (["bad", [1, 2, 3, 4]], "VX005", "vector has 4 dimensions, collection \"{c}\" has 3"),
    (["bad", []], "VX005", "vector has 0 dimensions, collection \"{c}\" has 3"),
    (["bad", [1, "2", 3]], "VX006", None),
    (["bad", [1, None, 3]], "VX006", None),
    (["bad", [1, True, 3]], "VX006", None),
    (["bad", [1, [2], 3]], "VX006", None),
    (["bad", [1, 1e39, 3]], "VX006", None),
    (["bad", [1, -3.5e38, 3]], "VX006", None),
    (["bad", "[1,2,3]"], "VX006", None),
    (["bad", None], "VX006", None),
    (["bad", {"0": 1}], "VX006", None),
    (["bad", [1, 2, 3], [1]], "VX006", "metadata must be a JSON object, got array"),
    (["bad", [1, 2, 3], "meta"], "VX006", "metadata must be a JSON object, got string"),
    (["bad", [1, 2, 3], 5], "VX006", "metadata must be a JSON object, got number"),
    ([None, [1, 2, 3]], "VX006", None),
    ([7, [1, 2, 3]], "VX006", None),
    (["bad"], "VX006", None),
    (["bad", [1, 2, 3], {}, "extra"], "VX006", None),
    ({"id": "bad", "vec": [1, 2, 3]}, "VX006", None),
    ("bad", "VX006", None),
    (None, "VX006", None),
]


@pytest.mark.parametrize("bad,sqlstate,detail", JSON_BAD, ids=[repr(b[0]) for b in JSON_BAD])
@pytest.mark.parametrize("position", [1, 2, 3])
def test_upsert_json_bad_record_writes_nothing(conn, collection, bad, sqlstate, detail, position):
    upsert_json(conn, collection, [["g1", [0, 0, 1], {"before": 1}]])
    before = rows(conn, collection)
    records = list(GOOD)
    records.insert(position - 1, bad)
    with raises(sqlstate) as err:
        upsert_json(conn, collection, records)
    assert err.message.startswith(f"record {position}"), err.message
    if isinstance(bad, list) and bad and isinstance(bad[0], str):
        assert err.message.startswith(f'record {position} (id "bad"): '), err.message
    if detail is not None:
        assert err.message.split(": ", 1)[1] == detail.format(c=collection)
    assert rows(conn, collection) == before  # nothing written, nothing replaced


@pytest.mark.parametrize("records", ["{}", '"x"', "1", "null"])
def test_upsert_json_records_not_an_array(conn, collection, records):
    with raises("VX006"):
        conn.execute("select vecs.upsert(%s, %s::jsonb)", (collection, records))
    with raises("VX006"):
        conn.execute("select vecs.upsert(%s, null::jsonb)", (collection,))


def test_upsert_json_first_bad_record_is_named(conn, collection):
    with raises("VX005", f'record 2 (id "second"): vector has 1 dimensions, collection "{collection}" has 3'):
        upsert_json(conn, collection, [["first", [1, 2, 3]], ["second", [1]], ["third", [1, "x", 3]]])
    with raises("VX006") as err:
        upsert_json(conn, collection, [["a", [1, 2, 3]], ["b", [1, 2, 3]], ["it's \"q\"", [1, 2, 3], []]])
    assert err.message == 'record 3 (id "it\'s "q""): metadata must be a JSON object, got array'


def test_upsert_json_float4_range(conn, collection):
    # the largest float4 written as Python prints it (17 significant digits) is accepted
    assert upsert_json(conn, collection, [["max", [3.4028234663852886e38, -3.4028234663852886e38, 1e-45]]]) == 1
    assert upsert_json(conn, collection, [["tiny", [1e-50, 0, 0]]]) == 1
    with raises("VX006"):
        upsert_json(conn, collection, [["inf", [3.5e38, 0, 0]]])
    with raises("VX006"):
        conn.execute("select vecs.upsert(%s, '[[\"huge\", [1e400, 0, 0]]]')", (collection,))


def test_upsert_json_accepts_flt_max_as_pgvector_prints_it(conn, collection):
    printed = conn.execute("select '[3.4028234663852886e38,0,0]'::vector::text").fetchone()[0]
    assert printed == "[3.4028235e+38,0,0]"
    # round trip: what fetch shows is accepted back by upsert, in both forms
    assert conn.execute("select vecs.upsert(%s, array['arr'], array[%s]::vector[])", (collection, printed)).fetchone()[0] == 1
    assert conn.execute("select vecs.upsert(%s, jsonb_build_array(jsonb_build_array('json', %s::jsonb)))",
                        (collection, printed)).fetchone()[0] == 1


def test_upsert_arrays_errors(conn, collection):
    upsert_json(conn, collection, [["keep", [1, 1, 1], {"k": 1}]])
    before = rows(conn, collection)
    cases = [
        ("array['a', null]", "array['[1,2,3]', '[1,2,3]']::vector[]", "null", "VX006", "record 2: id must not be NULL"),
        ("array['a', 'b']", "array['[1,2,3]', null]::vector[]", "null", "VX006", 'record 2 (id "b"): vector must not be NULL'),
        ("array['a', 'b']", "array['[1,2,3]', '[1,2]']::vector[]", "null", "VX005",
         f'record 2 (id "b"): vector has 2 dimensions, collection "{collection}" has 3'),
        ("array['a', 'b']", "array['[1,2,3]', '[1,2,3]']::vector[]", "array['{}', '[1]']::jsonb[]", "VX006",
         'record 2 (id "b"): metadata must be a JSON object, got array'),
        ("array['a', 'b']", "array['[1,2,3]', '[1,2,3]']::vector[]", "array['\"s\"', '{}']::jsonb[]", "VX006",
         'record 1 (id "a"): metadata must be a JSON object, got string'),
        ("array['a', 'b']", "array['[1,2,3]']::vector[]", "null", "VX001", None),
        ("array['a']", "array['[1,2,3]', '[1,2,3]']::vector[]", "null", "VX001", None),
        ("array['a', 'b']", "array['[1,2,3]', '[1,2,3]']::vector[]", "array['{}']::jsonb[]", "VX001", None),
        ("array['a']", "array['[1,2,3]']::vector[]", "array['{}', '{}']::jsonb[]", "VX001", None),
        ("null", "array['[1,2,3]']::vector[]", "null", "VX001", None),
        ("array['a']", "null", "null", "VX001", None),
        ("array[['a'], ['b']]", "array['[1,2,3]', '[1,2,3]']::vector[]", "null", "VX001", None),
    ]
    for ids, vectors, metadatas, sqlstate, message in cases:
        with raises(sqlstate, message):
            conn.execute(f"select vecs.upsert(%s, {ids}, {vectors}, {metadatas})", (collection,))
        assert rows(conn, collection) == before


def test_upsert_arrays_nan_cannot_even_be_a_vector(conn):
    # pgvector itself refuses NaN/Infinity, so they never reach the array form
    for literal in ("[NaN,1,2]", "[Infinity,1,2]"):
        with pytest.raises(psycopg.errors.DataException):
            conn.execute("select %s::vector", (literal,))


def test_upsert_is_atomic_with_many_good_records(conn, collection):
    records = [[f"r{i}", [i, i, i]] for i in range(200)]
    records[150] = ["r150", [1, 2]]
    with raises("VX005", match=r'^record 151 \(id "r150"\): '):
        upsert_json(conn, collection, records)
    assert conn.execute("select vecs.count(%s)", (collection,)).fetchone()[0] == 0


# ----------------------------------------------------------------------------- upsert_from (COPY staging)


def staging(conn, rows_: list[tuple]) -> str:
    name = f"stage_{uuid.uuid4().hex[:8]}"
    conn.execute(f"create temp table {name} (id text, vec vector, metadata jsonb)")
    with conn.cursor().copy(f"copy {name} (id, vec, metadata) from stdin") as cp:
        for r in rows_:
            cp.write_row(r)
    return name


def staged(conn, name: str) -> list[tuple]:
    return conn.execute(f"select id, vec::text, metadata::text from {name} order by ctid").fetchall()


def test_upsert_from_copy(conn, collection):
    upsert_json(conn, collection, [["old", [0, 0, 1], {"old": 1}], ["a", [9, 9, 9], {"replaced": True}]])
    src = staging(
        conn,
        [
            ("a", "[1,2,3]", '{"n": 1}'),
            ("b", "[4,5,6]", None),
            ("a", "[7,8,9]", '{"n": 3}'),  # the later physical duplicate wins
            ("c", "[0.5,0.25,0]", "null"),
        ],
    )
    before = staged(conn, src)
    n = conn.execute("select vecs.upsert_from(%s, %s)", (collection, src)).fetchone()[0]
    assert n == 3
    assert rows(conn, collection) == {
        "old": ([0.0, 0.0, 1.0], {"old": 1}),
        "a": ([7.0, 8.0, 9.0], {"n": 3}),
        "b": ([4.0, 5.0, 6.0], {}),
        "c": ([0.5, 0.25, 0.0], {}),
    }
    assert staged(conn, src) == before  # the source is left as it was


def test_upsert_from_named_notation_and_regclass(conn, collection):
    src = staging(conn, [("x", "[1,1,1]", "{}")])
    n = conn.execute(
        "select vecs.upsert_from(collection => %s, source => %s::regclass)", (collection, src)
    ).fetchone()[0]
    assert n == 1


@pytest.mark.parametrize(
    "bad,sqlstate,message",
    [
        (("bad", "[1,2]", "{}"), "VX005", 'record 3 (id "bad"): vector has 2 dimensions, collection "{c}" has 3'),
        ((None, "[1,2,3]", "{}"), "VX006", "record 3: id must not be NULL"),
        (("bad", None, "{}"), "VX006", 'record 3 (id "bad"): vector must not be NULL'),
        (("bad", "[1,2,3]", "[1, 2]"), "VX006", 'record 3 (id "bad"): metadata must be a JSON object, got array'),
        (("bad", "[1,2,3]", "true"), "VX006", 'record 3 (id "bad"): metadata must be a JSON object, got boolean'),
    ],
)
def test_upsert_from_bad_row_is_named_and_nothing_written(conn, collection, bad, sqlstate, message):
    upsert_json(conn, collection, [["keep", [1, 1, 1], {"k": 1}]])
    before = rows(conn, collection)
    src = staging(conn, [("a", "[1,2,3]", "{}"), ("keep", "[2,2,2]", "{}"), bad, ("z", "[1,2]", "{}")])
    snapshot = staged(conn, src)
    with raises(sqlstate, message.format(c=collection)):
        conn.execute("select vecs.upsert_from(%s, %s)", (collection, src))
    assert rows(conn, collection) == before
    assert staged(conn, src) == snapshot


def test_upsert_from_row_number_counts_physical_rows(conn, collection):
    # after deletes the ctid has holes; the reported number is still the row's position
    src = f"stage_{uuid.uuid4().hex[:8]}"
    conn.execute(f"create temp table {src} (id text, vec vector, metadata jsonb)")
    with conn.cursor().copy(f"copy {src} from stdin") as cp:
        for i in range(10):
            cp.write_row((f"r{i}", "[1,2,3]", "{}"))
        cp.write_row(("short", "[1]", "{}"))
    conn.execute(f"delete from {src} where id in ('r0', 'r3', 'r4')")
    with raises("VX005", match=r'^record 8 \(id "short"\): '):
        conn.execute("select vecs.upsert_from(%s, %s)", (collection, src))


def test_upsert_from_empty_source(conn, collection):
    src = staging(conn, [])
    assert conn.execute("select vecs.upsert_from(%s, %s)", (collection, src)).fetchone()[0] == 0


# ----------------------------------------------------------------------------- fetch


@pytest.fixture
def filled(conn, collection):
    upsert_json(
        conn,
        collection,
        [["a", [1, 0, 0], {"n": 1}], ["b", [0, 1, 0], {"n": 2}], ["c", [0, 0, 1], {"n": 3}], ["d", [1, 1, 1]]],
    )
    return collection


def test_fetch_request_order(conn, filled):
    got = conn.execute("select id, vec::text, metadata from vecs.fetch(%s, array['c', 'a', 'd'])", (filled,)).fetchall()
    assert got == [("c", "[0,0,1]", {"n": 3}), ("a", "[1,0,0]", {"n": 1}), ("d", "[1,1,1]", {})]


def test_fetch_columns(conn, filled):
    cur = conn.execute("select * from vecs.fetch(%s, array['a'])", (filled,))
    assert [d.name for d in cur.description] == ["id", "vec", "metadata"]


def test_fetch_unknown_ids_skipped_duplicates_once(conn, filled):
    got = conn.execute(
        "select id from vecs.fetch(collection => %s, ids => array['zz', 'b', 'a', 'b', 'nope', 'a', 'c'])", (filled,)
    ).fetchall()
    assert got == [("b",), ("a",), ("c",)]
    assert conn.execute("select count(*) from vecs.fetch(%s, '{}'::text[])", (filled,)).fetchone()[0] == 0
    assert conn.execute("select count(*) from vecs.fetch(%s, array['x', null])", (filled,)).fetchone()[0] == 0


def test_fetch_null_ids_is_vx001(conn, filled):
    with raises("VX001"):
        conn.execute("select * from vecs.fetch(%s, null)", (filled,))


# ----------------------------------------------------------------------------- delete


def test_delete_by_ids(conn, filled):
    got = conn.execute("select * from vecs.delete(%s, ids => array['a', 'zz', 'c', 'a'])", (filled,)).fetchall()
    assert sorted(got) == [("a",), ("c",)]
    assert all_ids(conn, filled) == ["b", "d"]
    assert conn.execute("select * from vecs.delete(%s, array['a'])", (filled,)).fetchall() == []
    assert conn.execute("select * from vecs.delete(%s, ids => '{}')", (filled,)).fetchall() == []
    assert all_ids(conn, filled) == ["b", "d"]


def test_delete_by_filter(conn, filled):
    got = conn.execute(
        "select * from vecs.delete(%s, filters => '{\"n\": {\"$gte\": 2}}')", (filled,)
    ).fetchall()
    assert sorted(got) == [("b",), ("c",)]
    assert all_ids(conn, filled) == ["a", "d"]
    assert conn.execute("select * from vecs.delete(%s, filters => '{\"n\": 99}')", (filled,)).fetchall() == []


def test_delete_empty_filter_deletes_nothing(conn, filled):
    assert conn.execute("select * from vecs.delete(%s, filters => '{}')", (filled,)).fetchall() == []
    assert all_ids(conn, filled) == ["a", "b", "c", "d"]


def test_delete_returns_setof_text(conn, filled):
    cur = conn.execute("select * from vecs.delete(%s, ids => array['a'])", (filled,))
    assert cur.description[0].type_code == conn.adapters.types["text"].oid
    assert cur.fetchall() == [("a",)]


@pytest.mark.parametrize(
    "args",
    [
        "",
        ", ids => null, filters => null",
        ", ids => array['a'], filters => '{\"n\": 1}'",
        ", ids => array['a'], filters => '{}'",
    ],
)
def test_delete_needs_exactly_one_of_ids_filters(conn, filled, args):
    with raises("VX001"):
        conn.execute(f"select * from vecs.delete(%s{args})", (filled,))
    assert all_ids(conn, filled) == ["a", "b", "c", "d"]


def test_delete_bad_filter_is_vx002(conn, filled):
    with raises("VX002", 'filter on "n": unknown operator "$foo"'):
        conn.execute("select * from vecs.delete(%s, filters => '{\"n\": {\"$foo\": 1}}')", (filled,))
    with raises("VX002"):
        conn.execute("select * from vecs.delete(%s, filters => '[]')", (filled,))
    assert all_ids(conn, filled) == ["a", "b", "c", "d"]


# ----------------------------------------------------------------------------- count


def test_count(conn, collection):
    assert conn.execute("select vecs.count(%s)", (collection,)).fetchone()[0] == 0
    upsert_json(conn, collection, [[f"r{i}", [i, 0, 1]] for i in range(17)])
    cur = conn.execute("select vecs.count(collection => %s)", (collection,))
    assert cur.description[0].type_code == conn.adapters.types["int8"].oid
    assert cur.fetchone()[0] == 17
    conn.execute("select * from vecs.delete(%s, ids => array['r1', 'r2'])", (collection,))
    assert conn.execute("select vecs.count(%s)", (collection,)).fetchone()[0] == 15


# ----------------------------------------------------------------------------- unknown collection


UNKNOWN_CALLS = [
    "select vecs.upsert(%(c)s, '[[\"a\", [1,2,3]]]')",
    "select vecs.upsert(%(c)s, array['a'], array['[1,2,3]']::vector[])",
    "select vecs.upsert(%(c)s, array['a'], array['[1,2,3]']::vector[], array['{}']::jsonb[])",
    "select vecs.upsert_from(%(c)s, %(src)s)",
    "select * from vecs.fetch(%(c)s, array['a'])",
    "select * from vecs.delete(%(c)s, ids => array['a'])",
    "select * from vecs.delete(%(c)s, filters => '{\"a\": 1}')",
    "select vecs.count(%(c)s)",
    "select * from vecs.query(%(c)s, '[1,2,3]')",
    "select * from vecs.query(%(c)s, '[1,2,3]', filters => '{\"a\": 1}')",
    "select vecs.create_index(%(c)s)",
    "select vecs.create_index(%(c)s, 'l2_distance', 'ivfflat')",
]


@pytest.mark.parametrize("call", UNKNOWN_CALLS)
@pytest.mark.parametrize("name", ["no such collection", "_internal", 'q"uote'])
def test_unknown_collection_is_vx003(conn, call, name):
    src = staging(conn, [("a", "[1,2,3]", "{}")])
    with raises("VX003", f'collection "{name}" does not exist'):
        conn.execute(call, {"c": name, "src": src})


def test_after_drop_is_vx003(conn, make_collection):
    name = make_collection()
    conn.execute("select vecs.drop_collection(%s)", (name,))
    with raises("VX003"):
        conn.execute("select vecs.count(%s)", (name,))
    with raises("VX003"):
        conn.execute("select * from vecs.query(%s, '[1,2,3]')", (name,))


def test_table_name_is_quoted_not_trusted(conn, filled):
    # the collection name never becomes SQL: the name with its quote and space addresses one table
    assert table(conn, filled).startswith('vecs."c ""')


# ----------------------------------------------------------------------------- concurrency


def test_concurrent_upserts_in_opposite_order_do_not_deadlock(conn, conn2, collection):
    """Rows are written in id order, so overlapping upserts wait for each other instead of deadlocking."""
    import threading
    import time

    result: dict[str, object] = {}

    def b() -> None:
        try:
            result["b"] = upsert_json(conn2, collection, [["b", [2, 2, 2], {"by": "B"}], ["a", [2, 2, 2], {"by": "B"}]])
        except psycopg.Error as e:
            result["b"] = e

    conn.execute("set deadlock_timeout = '100ms'")
    conn2.execute("set deadlock_timeout = '100ms'")
    with conn.transaction():
        upsert_json(conn, collection, [["a", [1, 1, 1], {"by": "A"}]])
        t = threading.Thread(target=b)
        t.start()
        time.sleep(0.3)  # B now waits for A's row a (and, written in id order, holds nothing else)
        upsert_json(conn, collection, [["b", [1, 1, 1], {"by": "A"}]])  # would deadlock if B held b
    t.join(10)
    assert result["b"] == 2, result
    assert {k: v[1] for k, v in rows(conn, collection).items()} == {"a": {"by": "B"}, "b": {"by": "B"}}


def test_check_upsert(conn, collection):
    """What a client streaming a bulk upsert asks first: the dimension, and whether new records may
    be copied straight into the table; it writes nothing and fires no trigger."""
    assert conn.execute("select * from vecs.check_upsert(%s)", (collection,)).fetchone() == (3, True)
    assert conn.execute("select vecs.count(%s)", (collection,)).fetchone()[0] == 0
    for missing in ("no such collection", "pg_class", "_internal", "x" * 70):
        with raises("VX003"):
            conn.execute("select * from vecs.check_upsert(%s)", (missing,))


# ----------------------------------------------------------------------------- delete vs upsert: one lock order

# A row trigger that sleeps on every update and delete (it runs with the row already locked), so that
# each statement holds its first row lock while the other takes its own: without one lock order the
# two statements deadlock every time, with it one of them waits and both succeed.
SLOW_ROWS = """
create function {fn}() returns trigger language plpgsql as $$
begin perform pg_sleep(0.4); return coalesce(new, old); end $$;
create trigger slow before update or delete on {table} for each row execute function {fn}();
"""


@pytest.fixture
def slow(conn, collection):
    """b and a match {"n": 1} and lie in that physical order (a scan meets b first); c does not."""
    upsert_json(conn, collection, [["b", [0, 1, 0], {"n": 1}]])
    upsert_json(conn, collection, [["a", [1, 0, 0], {"n": 1}]])
    upsert_json(conn, collection, [["c", [0, 0, 1], {"n": 2}]])
    fn = f"public.slow_{uuid.uuid4().hex[:8]}"
    conn.execute(SLOW_ROWS.format(fn=fn, table=table(conn, collection)))
    yield collection
    conn.execute(f"drop function {fn}() cascade")


def race(first, second, conn, conn2, delay: float = 0.2) -> tuple[object, object]:
    """Run first(conn2) in a thread and, delay seconds later, second(conn); return what each
    returned or raised. Deadlocks are detected after 100 ms; no lock is waited for past 10 s."""
    import threading
    import time

    for c in (conn, conn2):
        c.execute("set deadlock_timeout = '100ms'")
        c.execute("set lock_timeout = '10s'")
    out: dict[str, object] = {}

    def run(key, f, c):
        try:
            out[key] = f(c)
        except psycopg.Error as e:
            out[key] = e

    t = threading.Thread(target=run, args=("first", first, conn2))
    t.start()
    time.sleep(delay)
    run("second", second, conn)
    t.join(20)
    assert not t.is_alive()
    for c in (conn, conn2):
        c.execute("reset deadlock_timeout")
        c.execute("reset lock_timeout")
    return out["first"], out["second"]


def _delete(collection, **args):
    named = ", ".join(f"{k} => %({k})s" for k in args)
    return lambda c: sorted(r[0] for r in c.execute(f"select * from vecs.delete(%(c)s, {named})", {"c": collection, **args}))


def _upsert(collection, records):
    return lambda c: upsert_json(c, collection, records)


def _no_deadlock(*results):
    for r in results:
        assert not isinstance(r, psycopg.Error), f"{type(r).__name__} ({r.sqlstate}): {r}"


@pytest.mark.parametrize("by", ["filter", "ids in reverse order"])
def test_delete_then_upsert_of_the_same_rows_do_not_deadlock(conn, conn2, slow, by):
    """The deleter starts first: it takes a (the lowest id) first, so the upsert (a, b, then the new
    z) waits for it at a holding nothing: on the insertion path too, where the upsert meets a row
    the deleter deleted and waits for its transaction, then inserts. Deleting in scan order (b
    first) deadlocked: the upsert held a and waited for b, the deleter held b and waited for a."""
    conn2.execute("set enable_indexscan = off")  # a bitmap or sequential scan meets b before a, whatever the form
    conn2.execute("set enable_indexonlyscan = off")
    args = {"filters": Jsonb({"n": 1})} if by == "filter" else {"ids": ["b", "a"]}
    upserted = [["a", [2, 2, 2], {"n": 1, "by": "U"}], ["b", [2, 2, 2], {"n": 2, "by": "U"}], ["z", [2, 2, 2], {"by": "U"}]]
    deleted, n = race(_delete(slow, **args), _upsert(slow, upserted), conn, conn2)
    _no_deadlock(deleted, n)
    assert deleted == ["a", "b"] and n == 3
    assert {k: v[1] for k, v in rows(conn, slow).items()} == {"a": {"n": 1, "by": "U"}, "b": {"n": 2, "by": "U"}, "c": {"n": 2}, "z": {"by": "U"}}


@pytest.mark.parametrize("by", ["filter", "ids in reverse order"])
def test_upsert_then_delete_of_the_same_rows_do_not_deadlock(conn, conn2, slow, by):
    """The upsert starts first and holds a; the deleter waits for it at a holding nothing, then
    deletes what still qualifies: by filter it re-checks the rows the upsert changed (a still has
    n = 1, b no longer does), by ids it deletes both."""
    conn.execute("set enable_indexscan = off")
    conn.execute("set enable_indexonlyscan = off")
    args = {"filters": Jsonb({"n": 1})} if by == "filter" else {"ids": ["b", "a"]}
    upserted = [["a", [2, 2, 2], {"n": 1, "by": "U"}], ["b", [2, 2, 2], {"n": 2, "by": "U"}]]
    n, deleted = race(_upsert(slow, upserted), _delete(slow, **args), conn, conn2)
    _no_deadlock(deleted, n)
    assert n == 2
    if by == "filter":
        assert deleted == ["a"]
        assert {k: v[1] for k, v in rows(conn, slow).items()} == {"b": {"n": 2, "by": "U"}, "c": {"n": 2}}
    else:
        assert deleted == ["a", "b"]
        assert {k: v[1] for k, v in rows(conn, slow).items()} == {"c": {"n": 2}}


def test_delete_without_update_or_under_row_level_security_still_deletes(conn, dsn, filled):
    """Locking first (SELECT ... FOR UPDATE) needs UPDATE on a column and, under row-level security,
    passes the UPDATE policies too: a role that may delete but not update rows still deletes them
    (in scan order, as a plain DELETE), by ids and by filter."""
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    name = f"del_{uuid.uuid4().hex[:8]}"
    role, t = sql.Identifier(name), sql.SQL(table(conn, filled))
    conn.execute(sql.SQL("create role {} login").format(role))
    try:
        conn.execute(sql.SQL("grant usage on schema vecs to {0}; grant select, delete on {1} to {0}").format(role, t))
        with psycopg.connect(make_conninfo(dsn, user=name), autocommit=True) as c:
            assert c.execute("select * from vecs.delete(%s, ids => array['a'])", (filled,)).fetchall() == [("a",)]
            assert c.execute("select * from vecs.delete(%s, filters => '{\"n\": 2}')", (filled,)).fetchall() == [("b",)]
            # now UPDATE too, but row-level security with no UPDATE policy: it may delete c, not update it
            conn.execute(sql.SQL("grant update on {} to {}").format(t, role))
            conn.execute(sql.SQL("alter table {} enable row level security").format(t))
            conn.execute(sql.SQL("create policy r on {} for select to {} using (true)").format(t, role))
            conn.execute(sql.SQL("create policy d on {} for delete to {} using (metadata->>'n' = '3')").format(t, role))
            assert c.execute("select * from vecs.delete(%s, filters => '{\"n\": {\"$gte\": 1}}')", (filled,)).fetchall() == [("c",)]
            assert c.execute("select * from vecs.delete(%s, ids => array['d'])", (filled,)).fetchall() == []
        assert all_ids(conn, filled) == ["d"]
    finally:
        conn.execute(sql.SQL("drop owned by {0}; drop role {0}").format(role))
