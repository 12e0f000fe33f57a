"""Tables made by vecs 0.4.5 work with vecs_sqlgen, and vecs finds the indexes vecs_sqlgen builds.

The DDL is vecs's own (what its SQLAlchemy model and ``Collection._create`` emit), run as raw SQL.
"""

from __future__ import annotations

import uuid
import warnings

import numpy as np
import pytest
from psycopg import sql

import vecs_sqlgen as vecs

# vecs 0.4.5: build_table() + Table.create(), then the GIN index of Collection._create()
VECS_TABLE = """
create table vecs.{table} (
    id character varying not null,
    vec vector(3) not null,
    metadata jsonb not null default '{{}}'::jsonb,
    primary key (id)
)
"""
VECS_META_INDEX = "create index {index} on vecs.{table} using gin ( metadata jsonb_path_ops )"
# vecs 0.4.5 Collection.create_index(), hnsw with its defaults
VECS_HNSW_INDEX = (
    "create index {index} on vecs.{table} using hnsw (vec vector_cosine_ops) WITH (m=16, ef_construction=64)"
)
# vecs 0.4.5 Collection.index: how vecs finds a collection's vector index
VECS_INDEX_LOOKUP = """
select
    pi.relname as index_name
from
    pg_class pi                -- index info
    join pg_index i            -- extend index info
      on pi.oid = i.indexrelid
    join pg_class pt           -- owning table info
      on pt.oid = i.indrelid
where
    pi.relnamespace = 'vecs'::regnamespace
    and pi.relname ilike 'ix_vector%%'
    and pi.relkind = 'i'
    and pt.relname = %(table_name)s
"""


def _suffix() -> str:
    return str(uuid.uuid4()).replace("-", "_")[0:7]


@pytest.fixture
def vecs_table(conn):
    """A collection table exactly as vecs 0.4.5 creates it, with a record and vecs's hnsw index."""
    name = f"made_by_vecs_{uuid.uuid4().hex[:8]}"
    table = sql.Identifier(name)
    conn.execute(sql.SQL(VECS_TABLE).format(table=table))
    conn.execute(sql.SQL(VECS_META_INDEX).format(index=sql.Identifier(f"ix_meta_{_suffix()}"), table=table))
    conn.execute(
        sql.SQL("insert into vecs.{} (id, vec, metadata) values ('old', '[1,2,3]', '{{\"year\": 1999}}')").format(table)
    )
    index = f"ix_vector_cosine_ops_hnsw_m16_efc64_{_suffix()}"
    conn.execute(sql.SQL(VECS_HNSW_INDEX).format(index=sql.Identifier(index), table=table))
    yield name, index
    conn.execute(sql.SQL("drop table if exists vecs.{}").format(table))


@pytest.fixture
def vx(dsn):
    with vecs.create_client(dsn) as client:
        yield client


def test_every_method_on_a_vecs_table(vx, vecs_table):
    name, vecs_index = vecs_table
    docs = vx.get_or_create_collection(name, dimension=3)
    assert name in {c.name for c in vx.list_collections()}
    with pytest.warns(DeprecationWarning):
        assert vx.get_collection(name).dimension == 3

    assert len(docs) == 1
    id_, vec, meta = docs["old"]
    assert (id_, meta) == ("old", {"year": 1999}) and vec.dtype == np.float32
    docs.upsert([("new", [0.7, 0.8, 0.9], {"year": 2012}), ("old", [1, 2, 4], {"year": 2000})])
    docs.upsert((f"g{i}", [i, 1, 1], {"i": i}) for i in range(1000))  # the COPY path
    assert len(docs) == 1002
    assert [r[0] for r in docs.fetch(["new", "old"])] == ["new", "old"]

    assert docs.index == vecs_index
    assert docs.is_indexed_for_measure(vecs.IndexMeasure.cosine_distance)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # vecs's index covers the query: no warning
        assert docs.query([0.7, 0.8, 0.9], limit=1) == ["new"]
        assert docs.query([1, 2, 4], limit=1, filters={"year": {"$eq": 2000}}, include_metadata=True) == [
            ("old", {"year": 2000})
        ]
        assert docs.query([1, 1, 1], filters="i < 3 and i >= 1", limit=5, include_value=True)[0][0] in {"g1", "g2"}

    assert sorted(docs.delete(filters={"year": {"$gte": 2000}})) == ["new", "old"]
    assert docs.delete(ids=["g0"]) == ["g0"]
    assert len(docs) == 999
    vx.delete_collection(name)
    assert name not in {c.name for c in vx.list_collections()}


def test_vecs_finds_our_index(vx, vecs_table, conn):
    name, vecs_index = vecs_table
    docs = vx.get_or_create_collection(name, dimension=3)
    docs.create_index()  # replaces vecs's index
    assert docs.index != vecs_index
    found = [r[0] for r in conn.execute(VECS_INDEX_LOOKUP, {"table_name": name})]
    assert found == [docs.index]
    # vecs's is_indexed_for_measure: the operator class name is part of the index name
    assert "vector_cosine_ops" in found[0]

    for measure, ops in (("l2_distance", "vector_l2_ops"), ("max_inner_product", "vector_ip_ops")):
        for method in ("hnsw", "ivfflat"):
            docs.create_index(measure=measure, method=method)
            found = [r[0] for r in conn.execute(VECS_INDEX_LOOKUP, {"table_name": name})]
            assert found == [docs.index] and ops in found[0] and method in found[0]


def test_our_collections_have_vecs_shape(vx, conn):
    name = f"made_by_us_{uuid.uuid4().hex[:8]}"
    vx.get_or_create_collection(name, dimension=3)
    try:
        columns = conn.execute(
            "select attname, format_type(atttypid, atttypmod), attnotnull from pg_attribute"
            " where attrelid = format('vecs.%%I', %s::text)::regclass and attnum > 0 and not attisdropped order by attnum",
            (name,),
        ).fetchall()
        assert [(c, t.split(".")[-1], n) for c, t, n in columns] == [
            ("id", "text", True), ("vec", "vector(3)", True), ("metadata", "jsonb", True),
        ]  # fmt: skip
        indexes = [r[0] for r in conn.execute(
            "select indexrelid::regclass::text from pg_index where indrelid = format('vecs.%%I', %s::text)::regclass",
            (name,),
        )]  # fmt: skip
        assert any(i.split(".")[-1].startswith("ix_meta_") for i in indexes)
    finally:
        vx.delete_collection(name)
