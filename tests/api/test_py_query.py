"""Collection.query: return shapes, measures, filters (JSON and SQL), the index warning and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from psycopg import sql

from vecs_sqlgen import IndexMeasure, exc
from vecs_sqlgen.limits import MAX_METADATA_DEPTH

NO_INDEX = r"Query does not have a covering index for IndexMeasure\.{}\. See Collection\.create_index"


@pytest.fixture
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def test_query_returns_ids_nearest_first(filled, quiet):
    assert filled.query([1, 0, 0]) == ["a", "d", "b", "c"]  # b and c tie: by id
    assert filled.query(data=[0.1, 0.9, 0.0], limit=2) == ["b", "d"]
    assert filled.query(np.array([0, 0, 1.0]), limit=1) == ["c"]


def test_query_column_order(filled, quiet):
    q = [1, 0.1, 0]
    (id_, distance), *_ = filled.query(q, limit=1, include_value=True)
    assert id_ == "a" and isinstance(distance, float) and 0 <= distance < 0.01
    assert filled.query(q, limit=1, include_metadata=True) == [("a", {"year": 1973, "genre": "drama"})]
    (row,) = filled.query(q, limit=1, include_vector=True)
    assert row[0] == "a" and row[1].dtype == np.float32
    np.testing.assert_array_equal(row[1], [1, 0, 0])
    (row,) = filled.query(q, 1, None, "cosine_distance", True, True, True)  # include_vector positionally
    assert [type(x) for x in row] == [str, float, np.ndarray, dict]
    assert row[3] == {"year": 1973, "genre": "drama"}


def test_query_measures(filled, quiet):
    q = [1, 1, 0]
    for measure in ("cosine_distance", "l2_distance", "max_inner_product", IndexMeasure.l2_distance):
        assert filled.query(q, limit=1, measure=measure) == ["d"]
    (_, distance), = filled.query(q, limit=1, measure="max_inner_product", include_value=True)
    assert distance == pytest.approx(-2.0)  # pgvector's negative inner product, as vecs returns it
    (_, distance), = filled.query(q, limit=1, measure="l2_distance", include_value=True)
    assert distance == pytest.approx(0.0)


@pytest.mark.pgvector("0.7.0")
def test_query_l1(filled, quiet):
    (_, distance), = filled.query([1, 1, 1], limit=1, measure="l1_distance", include_value=True)
    assert distance == pytest.approx(1.0)


def test_query_filters(filled, quiet):
    q = [1, 1, 1]
    assert filled.query(q, filters={"year": {"$eq": 2012}}) == ["b"]
    assert sorted(filled.query(q, filters={"$or": [{"year": 1973}, {"genre": {"$in": ["horror"]}}]})) == ["a", "d"]
    assert filled.query(q, filters={"tags": {"$contains": "x"}}) == ["d"]
    assert filled.query(q, filters={}) == filled.query(q)
    # deliberate extensions: several keys = AND, nested objects as paths, more operators
    assert filled.query(q, filters={"genre": "drama", "year": {"$gt": 2000}}) == ["c"]
    assert filled.query(q, filters={"info": {"lang": "en"}}) == ["b"]
    assert filled.query(q, filters={"info": {"lang": {"$eq": "en"}}}) == ["b"]
    assert filled.query(q, filters={"info.lang": {"$eq": "en"}}) == []  # the literal key "info.lang", as in vecs
    assert sorted(filled.query(q, filters={"archived": {"$exists": False}})) == ["a", "b", "d"]
    assert sorted(filled.query(q, filters={"genre": {"$nin": ["drama"]}})) == ["b", "d"]
    assert filled.query(q, filters={"genre": {"$ilike": "HOR%"}}) == ["d"]


def test_query_sql_string_filters(filled, quiet):
    q = [1, 1, 1]
    assert filled.query(q, filters="year >= 2000 and genre in ('drama', 'comedy') and not archived") == ["b"]
    assert filled.query(q, filters="info.lang = 'en'") == ["b"]
    assert sorted(filled.query(q, filters="year < 2000 or archived")) == ["a", "c"]
    assert filled.query(q, filters="genre like 'hor%'") == ["d"]
    assert sorted(filled.query(q, filters="info is null")) == ["a", "c", "d"]
    assert filled.query(q, filters="year >= 2000 and genre in ('drama', 'comedy') and not archived and info.lang = 'en'") == ["b"]
    assert filled.query(q, filters='"info.lang" = \'en\'') == []  # a quoted name is one key
    assert sorted(filled.query(q, filters="not (info.lang = 'en' or archived)")) == ["a", "d"]


def test_drop_in_keys_mean_what_they_meant_in_vecs(docs, quiet):
    """Issue 10, item 7: keys vecs takes literally (dots, a leading $, backslashes, "") select the same rows here."""
    docs.upsert([
        ("lit", [1, 0, 0], {"user.email": "x@y.z", "$price": 3, "a\\b": 1, "": 1, "$not": 1}),
        ("nest", [0, 1, 0], {"user": {"email": "x@y.z"}, "price": 3, "a": {"b": 1}}),
    ])
    q = [1, 1, 1]
    assert docs.query(q, filters={"user.email": {"$eq": "x@y.z"}}) == ["lit"]
    assert docs.query(q, filters={"$price": {"$eq": 3}}) == ["lit"]
    assert docs.query(q, filters={"a\\b": {"$eq": 1}}) == ["lit"]
    assert docs.query(q, filters={"": {"$eq": 1}}) == ["lit"]
    assert docs.query(q, filters={"$not": {"$eq": 1}}) == ["lit"]  # the key "$not" (vecs)
    assert docs.query(q, filters={"user": {"email": {"$eq": "x@y.z"}}}) == ["nest"]  # vecs refuses this
    assert docs.delete(filters={"$price": {"$eq": 3}}) == ["lit"]


def test_deep_metadata_is_an_error_class_never_recursion_error(docs, conn, quiet):
    """Issue 10, item 6: a record nested 10,000 deep (written by raw SQL, which vecs allowed) reads
    back as InvalidRecord; the client and the server refuse to write one deeper than the limit."""
    def deep(levels: int) -> dict:
        value: list = []
        for _ in range(levels - 2):
            value = [value]
        return {"k": value}  # `levels` levels: the object and levels - 1 arrays

    docs.upsert([("ok", [1, 2, 3], deep(MAX_METADATA_DEPTH))])
    assert docs.fetch(["ok"])[0][2] == deep(MAX_METADATA_DEPTH)
    with pytest.raises(exc.InvalidRecord, match=rf'^record 1 \(id "bad"\): metadata is nested deeper than {MAX_METADATA_DEPTH} levels$'):
        docs.upsert([("bad", [1, 2, 3], deep(MAX_METADATA_DEPTH + 1))])
    with pytest.raises(exc.InvalidRecord, match=rf'^record 1 \(id "bad"\): metadata is nested deeper than {MAX_METADATA_DEPTH} levels$'):
        docs.upsert([("bad", [1, 2, 3], deep(5000))])
    table = sql.Identifier("vecs", docs.name)
    conn.execute(sql.SQL("insert into {} values ('raw', '[1,2,3]', ('{{\"k\": ' || repeat('[', 10000) || repeat(']', 10000) || '}}')::jsonb)").format(table))
    for read in (lambda: docs.fetch(["raw"]), lambda: docs["raw"],
                 lambda: docs.query([1, 2, 3], include_metadata=True)):
        with pytest.raises(exc.InvalidRecord, match="nested too deeply to decode"):
            read()
    assert sorted(docs.query([1, 2, 3], limit=2)) == ["ok", "raw"]  # ids only: nothing to decode
    with pytest.raises(exc.FilterError, match=f'^filter on "k": value nested deeper than {MAX_METADATA_DEPTH} levels$'):
        docs.query([1, 2, 3], filters={"k": {"$eq": deep(5000)["k"]}})


@pytest.mark.parametrize(
    "filters, message",
    [
        ({"year": {"$foo": 1}}, 'filter on "year": unknown operator "\\$foo"'),
        ({"year": {"$in": 5}}, 'filter on "year": \\$in expects an array of scalars'),
        ([1], "filters must be a JSON object, got array"),
        ("year = 1; drop table x", "only one expression is allowed"),
        ("year = (select 1)", "unsupported SQL in filter: subquery"),
        ("year::int = 1", "unsupported SQL in filter: cast"),
        ("year = 1 -- comment", "comments are not allowed"),
        ("pg_sleep(1) is null", "unsupported SQL in filter: function call pg_sleep\\(1\\)"),
    ],
)
def test_bad_filters_fail_before_any_round_trip(vx, filled, filters, message):
    vx.disconnect()
    with pytest.raises(exc.FilterError, match=message):
        filled.query([1, 1, 1], filters=filters)
    assert not vx.session.connected


def test_filtered_results_are_complete(docs, quiet):
    # many records, few matching, an index: still every match comes back
    docs.upsert((f"r{i}", [1.0, i / 3000, 0.5], {"hit": i % 997 == 0}) for i in range(3000))
    docs.create_index()
    hits = docs.query([1, 0, 0.5], limit=10, filters={"hit": True})
    assert sorted(hits) == sorted(f"r{i}" for i in range(0, 3000, 997))


def test_query_argument_errors(vx, filled):
    vx.disconnect()
    with pytest.raises(exc.ArgError, match="^limit must be <= 1000$"):
        filled.query([1, 2, 3], limit=1001)
    with pytest.raises(exc.ArgError, match="^probes must be an integer$"):
        filled.query([1, 2, 3], probes=1.5)
    with pytest.raises(exc.ArgError, match="^probes must be >= 1$"):
        filled.query([1, 2, 3], probes=0)
    with pytest.raises(exc.ArgError, match="^Invalid index measure$"):
        filled.query([1, 2, 3], measure="hamming")
    assert not vx.session.connected
    with pytest.warns(UserWarning):
        with pytest.raises(exc.MismatchedDimension, match='query vector has 2 dimensions, collection ".*" has 3'):
            filled.query([1, 2])
        with pytest.raises(exc.ArgError, match="must be finite"):
            filled.query([1, 2, float("nan")])
        with pytest.raises(exc.ArgError, match="vector must be a sequence of numbers"):
            filled.query("text")


def test_query_argument_ranges(filled, quiet):
    with pytest.raises(exc.ArgError, match="limit must be between 1 and 1000, got 0"):
        filled.query([1, 2, 3], limit=0)
    with pytest.raises(exc.ArgError, match="ef_search must be between 1 and 1000, got 0"):
        filled.query([1, 2, 3], ef_search=0)
    with pytest.raises(exc.ArgError, match="probes must be between 1 and 32768, got 40000"):
        filled.query([1, 2, 3], probes=40000)


def test_probes_and_ef_search(filled, quiet):
    filled.create_index(method="ivfflat")
    assert filled.query([1, 0, 0], limit=1, probes=5) == ["a"]
    filled.create_index(method="hnsw")
    assert filled.query([1, 0, 0], limit=1, ef_search=100) == ["a"]


def test_no_index_warning(filled):
    with pytest.warns(UserWarning, match=NO_INDEX.format("cosine_distance")):
        filled.query([1, 2, 3])
    filled.create_index()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        filled.query([1, 2, 3])
    with pytest.warns(UserWarning, match=NO_INDEX.format("l2_distance")):
        filled.query([1, 2, 3], measure="l2_distance")


def test_warning_text_matches_vecs_formatting(filled):
    # vecs formats its IndexMeasure (a str Enum) with an f-string; ours is the same class shape
    with pytest.warns(UserWarning) as record:
        filled.query([1, 2, 3], measure="max_inner_product")
    assert str(record[0].message) == (
        f"Query does not have a covering index for {IndexMeasure.max_inner_product}. See Collection.create_index"
    )
    assert record[0].filename == __file__


def test_skip_adapter(filled, quiet):
    assert filled.query([1, 0, 0], limit=1, skip_adapter=True) == ["a"]
