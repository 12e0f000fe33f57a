"""Where the time of a ``vecs.query`` call goes.

Client side, all on the vecs-sqlgen client's own connection (one backend, so no method pays for
waking a colder one), interleaved query by query: the raw statement; a minimal plpgsql function
``RETURN QUERY EXECUTE format(…) USING …`` (what any dynamic-SQL function must pay); ``select * from
vecs.query(…)``; and ``Collection.query``. For each, the wall-clock p50 and the client's own CPU time
per call (process CPU time: the Python and psycopg work, without the wait for the server).

Server side, the same queries timed with clock_timestamp() inside one plpgsql loop (no network,
no client), interleaved query by query (unfiltered and filtered steps apart): the k-NN statement as
static SQL (a cached plan), through ``EXECUTE`` (planned per call), ``vecs.query``, and setting
``hnsw.ef_search`` transaction-locally and back (what vecs.query pays when the session's value
differs from the one it uses); with a filter, the function's bounded count of matching rows, the
exact filtered search statement, ``vecs._compile_filter`` (when present), and ``vecs.query`` with
that filter. Both sides run with the session's ``hnsw.ef_search`` at vecs.query's default, so the
raw statements do the same index work (and vecs.query sets nothing).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from psycopg import sql as S
from psycopg.types.json import Jsonb

from .data import K

_WRAPPER = """
create or replace function pg_temp.knn_execute(q vector, k integer) returns table (id text)
language plpgsql as $body$
begin
    return query execute format('select t.id from %s t order by t.vec <=> $1 limit $2', {table_text}) using q, k;
end
$body$
"""

_STEPS = """
create or replace function pg_temp.bench_steps(p_queries vector[], p_steps text[], p_filter jsonb)
returns table (step text, ms double precision)
language plpgsql as $body$
declare
    t0 timestamptz;
    q vector;
    s text;
    ids text[];
    n bigint;
    saved text;
    i integer := 0;
begin
    foreach q in array p_queries loop
        i := i + 1;
        for j in 0 .. cardinality(p_steps) - 1 loop
            s := p_steps[1 + (i + j) % cardinality(p_steps)];  -- the order rotates query by query
            t0 := clock_timestamp();
            case s
            when 'static' then
                select array_agg(x.id) into ids from (select t.id from {table} t order by t.vec <=> q limit {k}) x;
            when 'execute' then
                execute format('select array_agg(x.id) from (select t.id from %s t order by t.vec <=> $1 limit $2) x', {table_text})
                into ids using q, {k};
            when 'vecs.query' then
                select array_agg(r.id) into ids from vecs.query({name}, q, {k}) r;
            when 'count' then
                execute format('select count(*) from (select from %s t where t.metadata @> $1 limit $2) c', {table_text})
                into n using p_filter, {limit};
            when 'exact' then
                execute format('select array_agg(x.id) from (select t.id from %s t where t.metadata @> $1 order by (t.vec <=> $2) + 0 limit $3) x', {table_text})
                into ids using p_filter, q, {k};
            when 'settings' then
                saved := current_setting('hnsw.ef_search');
                perform set_config('hnsw.ef_search', '1000', true);
                perform set_config('hnsw.ef_search', saved, true);
            when 'compile' then
                perform vecs._compile_filter(p_filter);
            when 'vecs.query filtered' then
                select array_agg(r.id) into ids from vecs.query({name}, q, {k}, filters => p_filter) r;
            end case;
            step := s;
            ms := extract(epoch from clock_timestamp() - t0) * 1000;
            return next;
        end loop;
    end loop;
end
$body$
"""


def _define(conn, template: str, ident: S.Identifier, name: str, count_limit: int = 0) -> None:
    conn.execute(
        S.SQL(template).format(
            table=ident, table_text=S.Literal(ident.as_string(conn)), name=S.Literal(name),
            k=S.Literal(K), limit=S.Literal(count_limit + 1),
        )  # fmt: skip
    )


def client_side(collection, table: S.Identifier, queries: np.ndarray, rounds: int, ef_search: int) -> dict[str, dict[str, float]]:
    """p50 wall ms and median client CPU ms per call, each method on a connection of the client's pool,
    whose session ``hnsw.ef_search`` is set to ``ef_search`` (vecs.query's default) for the time
    (Collection.query takes another connection of the pool; vecs.query sets its own ef_search)."""
    with collection.client.session.connection() as conn:
        _define(conn, _WRAPPER, table, collection.name)
        conn.execute("select set_config('hnsw.ef_search', %s, false)", (str(ef_search),))
        try:
            return _time_client(collection, conn, table, queries, rounds)
        finally:
            conn.execute("reset hnsw.ef_search")


def _time_client(collection, conn, table: S.Identifier, queries: np.ndarray, rounds: int) -> dict[str, dict[str, float]]:
    raw_sql = S.SQL("select id from {} order by vec <=> %b limit %b").format(table)

    def on_conn(stmt, *head):
        return lambda q: conn.execute(stmt, (*head, q, K), prepare=True, binary=True).fetchall()

    methods = {
        "raw statement": on_conn(raw_sql),
        "plpgsql EXECUTE wrapper": on_conn("select * from pg_temp.knn_execute(%b, %b)"),
        "select * from vecs.query(…)": on_conn("select * from vecs.query(%b::text, %b::vector, %b::int4)", collection.name),
        "Collection.query": lambda q: collection.query(data=q, limit=K),
    }
    wall = {m: [] for m in methods}
    cpu = {m: [] for m in methods}
    names = list(methods)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for q in queries[:20]:
            for m in names:
                methods[m](q)
        for r in range(rounds):
            for i, q in enumerate(queries):
                shift = (i + r) % len(names)
                for m in names[shift:] + names[:shift]:
                    c0, t0 = time.process_time_ns(), time.perf_counter_ns()
                    methods[m](q)
                    wall[m].append((time.perf_counter_ns() - t0) / 1e6)
                    cpu[m].append((time.process_time_ns() - c0) / 1e6)
    return {m: {"p50": float(np.median(wall[m])), "cpu": float(np.median(cpu[m]))} for m in names}


def server_side(conn, table: S.Identifier, name: str, queries: np.ndarray, section: str, count_limit: int, ef_search: int) -> dict[str, float]:
    """Median in-server ms per step: the unfiltered steps, then the filtered ones (which would evict
    the HNSW index's pages between unfiltered steps), each group interleaved query by query; the
    session's ``hnsw.ef_search`` is ``ef_search`` (vecs.query's default)."""
    _define(conn, _STEPS, table, name, count_limit)
    conn.execute("select set_config('hnsw.ef_search', %s, false)", (str(ef_search),))
    qs, flt = list(queries), Jsonb({"section": section})
    out = {}
    filtered = ["count", "exact", "vecs.query filtered"]
    if conn.execute("select to_regproc('vecs._compile_filter') is not null").fetchone()[0]:
        filtered.append("compile")  # the function's filter compilation (an internal helper)
    for steps in (["static", "execute", "vecs.query", "settings"], filtered):
        conn.execute("select count(*) from pg_temp.bench_steps(%s, %s, %s)", (qs[:20], steps, flt))
        rows = conn.execute("select step, ms from pg_temp.bench_steps(%s, %s, %s)", (qs, steps, flt)).fetchall()
        out.update({s: float(np.median([ms for step, ms in rows if step == s])) for s in steps})
    return out
