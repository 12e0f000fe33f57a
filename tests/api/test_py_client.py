"""Client: connecting (and installing), collections, deprecations, disconnect and reconnection."""

from __future__ import annotations

import logging
import threading
import time
import uuid
import warnings

import psycopg
import pytest
from psycopg import sql

import vecs_sqlgen as vecs
from vecs_sqlgen import exc


def _backend_pid(client: vecs.Client) -> int:
    # one thread's calls take turns on the pool's first connection: this is the one they use
    with client.session.connection() as c:
        return c.info.backend_pid


def test_connect_reports_pgvector(vx, pgvector_version):
    assert tuple(int(x) for x in vx.vector_version.split(".")[:3]) == pgvector_version
    assert vx._supports_hnsw() is (pgvector_version >= (0, 5, 0))


def test_connect_installs_the_layer_into_a_fresh_schema(dsn, conn):
    schema = f"api_fresh_{uuid.uuid4().hex[:8]}"
    try:
        with vecs.create_client(dsn, schema=schema) as vx:
            docs = vx.get_or_create_collection("docs", dimension=2)
            docs.upsert([("a", [1, 2], {})])
        # as with vecs: drop the schema, and a new client just works
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(schema)))
        with vecs.create_client(dsn, schema=schema) as vx:
            assert vx.list_collections() == []
            assert len(vx.get_or_create_collection("docs", dimension=2)) == 0
    finally:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


def test_dsn_from_the_environment_and_sqlalchemy_urls(dsn, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("VECS_DATABASE_URL", dsn)
    with vecs.create_client() as vx:
        assert isinstance(vx.list_collections(), list)
    sqlalchemy_url = dsn.replace("postgresql://", "postgresql+psycopg2://", 1)
    with vecs.Client(sqlalchemy_url) as vx:
        assert isinstance(vx.list_collections(), list)


def test_unreachable_server_is_a_vecs_exception():
    with pytest.raises(exc.VecsException, match="could not connect"):
        vecs.create_client("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_get_or_create_collection(vx, name):
    docs = vx.get_or_create_collection(name, dimension=3)
    assert isinstance(docs, vecs.Collection)
    assert (docs.name, docs.dimension, docs.client) == (name, 3, vx)
    docs.upsert([("a", [1, 2, 3], {})])
    again = vx.get_or_create_collection(name, dimension=3)
    assert len(again) == 1


def test_get_or_create_collection_dimension_rules(vx, name):
    with pytest.raises(exc.ArgError, match="One of dimension or adapter must provide a dimension"):
        vx.get_or_create_collection(name)
    vx.get_or_create_collection(name, dimension=3)
    with pytest.raises(exc.MismatchedDimension, match="Dimensions reported by adapter, dimension, and existing collection do not match"):
        vx.get_or_create_collection(name, dimension=4)


def test_get_or_create_collection_adapter_rules(vx, name):
    from vecs_sqlgen.adapter import Adapter, NoOp

    docs = vx.get_or_create_collection(name, adapter=Adapter([NoOp(dimension=5)]))
    assert docs.dimension == 5
    with pytest.raises(exc.MismatchedDimension, match="Dimensions reported by adapter, dimension, and collection do not match"):
        vx.get_or_create_collection(name, dimension=3, adapter=Adapter([NoOp(dimension=5)]))
    assert vx.get_or_create_collection(name, dimension=5, adapter=Adapter([NoOp(dimension=5)])).dimension == 5


def test_server_side_argument_errors(vx):
    with pytest.raises(exc.ArgError, match="reserved for internal objects"):
        vx.get_or_create_collection("_internal", dimension=3)
    with pytest.raises(exc.ArgError, match="dimension must be between 1 and 16000"):
        vx.get_or_create_collection("too_wide", dimension=20000)


def test_create_collection_is_deprecated(vx, name):
    with pytest.warns(DeprecationWarning, match=r"Call to deprecated method create_collection\. \(use Client.get_or_create_collection\)") as record:
        docs = vx.create_collection(name, 3)
    assert record[0].filename == __file__  # attributed to the caller
    assert docs.dimension == 3
    with pytest.warns(DeprecationWarning), pytest.raises(exc.CollectionAlreadyExists, match="Collection with requested name already exists"):
        vx.create_collection(name=name, dimension=3)


def test_get_collection_is_deprecated(vx, name):
    with pytest.warns(DeprecationWarning), pytest.raises(exc.CollectionNotFound, match="No collection found with requested name"):
        vx.get_collection(name)
    vx.get_or_create_collection(name, dimension=4)
    with pytest.warns(DeprecationWarning, match="Call to deprecated method get_collection"):
        docs = vx.get_collection(name=name)
    assert (docs.name, docs.dimension) == (name, 4)


def test_list_and_delete_collections(vx, name):
    vx.get_or_create_collection(name, dimension=3)
    listed = {c.name: c for c in vx.list_collections()}
    assert isinstance(listed[name], vecs.Collection) and listed[name].dimension == 3
    assert vx.delete_collection(name) is None
    assert name not in {c.name for c in vx.list_collections()}
    assert vx.delete_collection(name) is None  # missing: nothing happens


def test_missing_collection_errors(vx):
    ghost = vecs.Collection("no such collection", 3, vx)
    with pytest.raises(exc.CollectionNotFound, match='collection "no such collection" does not exist'):
        len(ghost)
    with pytest.warns(UserWarning), pytest.raises(exc.CollectionNotFound):
        ghost.query([1, 2, 3])
    assert ghost.index is None


def test_disconnect_then_transparent_reconnection(vx, docs, caplog):
    docs.upsert([("a", [1, 2, 3], {})])
    vx.disconnect()
    assert not vx.session.connected
    vx.disconnect()  # twice is fine
    with caplog.at_level(logging.WARNING, logger="vecs_sqlgen"):
        assert len(docs) == 1
    assert not caplog.records  # an asked-for disconnect is not worth a warning


def test_context_manager_closes(dsn):
    with vecs.create_client(dsn) as vx:
        assert isinstance(vx, vecs.Client)
        with vx.session.connection() as conn:
            assert not conn.closed
    assert conn.closed and not vx.session.connected


def test_reconnects_after_the_server_closes_the_connection(vx, docs, conn, caplog):
    docs.upsert([("a", [1, 2, 3], {})])
    pid = _backend_pid(vx)
    assert conn.execute("select pg_terminate_backend(%s, 5000)", (pid,)).fetchone()[0]
    with caplog.at_level(logging.WARNING, logger="vecs_sqlgen"):
        assert docs.fetch(["a"])[0][0] == "a"
    assert _backend_pid(vx) != pid
    ours = [r for r in caplog.records if r.name == "vecs_sqlgen"]  # psycopg_pool logs its own discarding too
    assert [r.levelno for r in ours] == [logging.WARNING]
    assert "reconnected" in ours[0].getMessage()


def test_connection_lost_during_a_call(vx, docs, conn):
    pid = _backend_pid(vx)

    def terminate():
        # wait until the call is running on the server, then end its backend
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            row = conn.execute("select wait_event from pg_stat_activity where pid = %s", (pid,)).fetchone()
            if row and row[0] == "PgSleep":
                break
            time.sleep(0.01)
        conn.execute("select pg_terminate_backend(%s)", (pid,))

    killer = threading.Thread(target=terminate)
    killer.start()
    with pytest.raises(exc.VecsException, match="connection was lost during the call") as info:
        with vx.session.connection() as c:  # a call that takes a while: the only way to be mid-call
            c.execute("select pg_sleep(5)")
    killer.join()
    assert type(info.value) is exc.ConnectionLost and isinstance(info.value, exc.VecsException)
    assert len(docs) == 0  # and the next call reconnects


def test_other_server_errors_are_vecs_exceptions(vx, docs, conn):
    # a constraint vecs knows nothing about: the server's message, the psycopg error as the cause
    conn.execute(sql.SQL("alter table vecs.{} add constraint must_have_year check (metadata ? 'year')").format(sql.Identifier(docs.name)))
    with pytest.raises(exc.VecsException, match="must_have_year") as info:
        docs.upsert([("a", [1, 2, 3], {})])
    assert type(info.value) is exc.VecsException
    assert isinstance(info.value.__cause__, psycopg.errors.CheckViolation)
    docs.upsert([("a", [1, 2, 3], {"year": 1})])


def test_unprepared_statements(dsn, name):
    with vecs.create_client(dsn, prepare=False) as vx:
        docs = vx.get_or_create_collection(name, dimension=3)
        docs.upsert([("a", [1, 2, 3], {})])
        for _ in range(8):  # past psycopg's automatic preparation threshold
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert docs.query([1, 2, 3]) == ["a"]
        with vx.session.connection() as c:
            assert c.execute("select count(*) from pg_prepared_statements").fetchone()[0] == 0
        vx.delete_collection(name)


def test_statements_are_prepared(vx, docs):
    docs.upsert([("a", [1, 2, 3], {})])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        docs.query([1, 2, 3])
        docs.query([1, 2, 3])
    with vx.session.connection() as c:
        statements = [r[0] for r in c.execute("select statement from pg_prepared_statements")]
    assert any(".query(" in s for s in statements)


def test_one_client_from_many_threads(vx, docs):
    docs.upsert([(str(i), [i, 1, 1], {"i": i}) for i in range(50)])
    docs.create_index()  # no warnings: catching them is not thread-safe
    errors = []

    def work():
        try:
            for _ in range(3):
                assert len(docs.query([1, 1, 1], limit=5)) == 5
                docs.upsert([(f"t{threading.get_ident()}", [1, 2, 3], {})])
                docs.upsert((f"many{i}", [1, 2, i], {}) for i in range(600))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_list_collections_lists_a_table_without_a_vector_dimension(vx, conn):
    """A table in the schema whose vector column has no dimension is listed as the server reports it
    (dimension -1), and does not stop the listing."""
    conn.execute('create table vecs."no dimension" (id text primary key, vec vector, metadata jsonb)')
    try:
        listed = {c.name: c.dimension for c in vx.list_collections()}
        assert listed["no dimension"] == -1
        with pytest.deprecated_call():
            assert vx.get_collection("no dimension").dimension == -1
    finally:
        conn.execute('drop table vecs."no dimension"')
