-- The Citus checklist (docs/scale-out.md): run on a coordinator with the vecs layer installed,
--     psql -X -v ON_ERROR_STOP=1 -f scripts/citus_check.sql "$DSN"
-- It makes collection citus_check, distributes it by id when the citus extension is installed
-- (on plain PostgreSQL the same checks run on a local table), and checks every vecs.* call a
-- client makes against the answer computed directly from the table. Each failed check raises
-- with what it expected; the last line is "citus_check: all checks passed". The collection is
-- dropped at the end (and at the start, if a failed run left it).
\set ON_ERROR_STOP on
\set QUIET on
\pset tuples_only on
\pset format unaligned

select vecs.drop_collection('citus_check');
select vecs.create_collection('citus_check', 3) is not null;
select exists (select from pg_extension where extname = 'citus') as has_citus \gset
\if :has_citus
-- distributed by id: the primary key (id) contains the distribution column, and each shard gets
-- the collection's GIN metadata index, and later its vector index
select create_distributed_table('vecs.citus_check', 'id');
\echo citus_check: distributed by id
\else
\echo citus_check: no citus extension here; the same checks on a local table
\endif

-- 1,000 records through vecs.upsert (the Python client's arrays call)
select vecs.upsert('citus_check',
    array(select 'r' || i from generate_series(1, 1000) i),
    array(select format('[%s,%s,%s]', i % 7 + 1, i % 11, i % 13)::vector from generate_series(1, 1000) i),
    array(select jsonb_build_object('i', i, 'even', i % 2 = 0, 'band', i % 10) from generate_series(1, 1000) i)) = 1000;

create temp table citus_check_expect (what text primary key, got text, want text);

-- the checks: each compares what a vecs.* call answers with the answer from the table itself
insert into citus_check_expect values
    ('count', (select vecs.count('citus_check'))::text, (select count(*) from vecs.citus_check)::text),
    ('fetch keeps request order',
        (select string_agg(id, ',') from vecs.fetch('citus_check', array['r7', 'zz', 'r3', 'r999'])),
        'r7,r3,r999'),
    ('exact query (no vector index)',
        (select string_agg(id, ',') from vecs.query('citus_check', '[1,2,3]', 10)),
        (select string_agg(id, ',') from (select id from vecs.citus_check order by vec <=> '[1,2,3]', id limit 10) s)),
    ('filtered query',
        (select string_agg(id, ',') from vecs.query('citus_check', '[1,2,3]', 10, '{"even": true}')),
        (select string_agg(id, ',') from (select id from vecs.citus_check where metadata @> '{"even": true}'
                                          order by vec <=> '[1,2,3]', id limit 10) s)),
    ('range filter',
        (select string_agg(id, ',') from vecs.query('citus_check', '[3,1,4]', 5, '{"i": {"$lt": 100}}', 'l2_distance')),
        (select string_agg(id, ',') from (select id from vecs.citus_check where (metadata ->> 'i')::int < 100
                                          order by vec <-> '[3,1,4]', id limit 5) s));

-- the vector index (HNSW, on every shard) and a metadata index
select vecs.create_index('citus_check') is not null;
select vecs.create_metadata_index('citus_check', 'band') is not null;
insert into citus_check_expect values
    ('indexes listed',
        (select string_agg(kind || coalesce(' ' || key::text, ''), ',' order by kind) from vecs.list_indexes('citus_check')
         where kind = 'vector' or (kind = 'metadata' and key is not null)),
        'metadata ["band"],vector'),
    -- an approximate search: at least 9 of the exact 10 (equal distances tie-break the same way)
    ('index query recall >= 0.9',
        (select (count(*) >= 9)::text from vecs.query('citus_check', '[2,5,7]', 10) q
         where q.id in (select id from vecs.citus_check order by vec <=> '[2,5,7]', id limit 10)),
        'true'),
    ('filtered index query is complete',
        (select count(*)::text from vecs.query('citus_check', '[2,5,7]', 50, '{"band": 3}')),
        '50');

-- writes: replace by id, merge from a staging table (the client's COPY path), delete by filter
select vecs.upsert('citus_check', array['r1'], array['[9,9,9]'::vector], array['{"replaced": true}'::jsonb]) = 1;
create temp table citus_check_staging (id text, vec vector, metadata jsonb);
insert into citus_check_staging select 's' || i, '[1,1,1]', '{"staged": true}' from generate_series(1, 600) i;
insert into citus_check_staging values ('r2', '[8,8,8]', '{"staged": "again"}');
select vecs.upsert_from('citus_check', 'citus_check_staging') = 601;
insert into citus_check_expect values
    ('replaced by id', (select metadata::text from vecs.fetch('citus_check', array['r1'])), '{"replaced": true}'),
    ('merged from staging', (select vecs.count('citus_check'))::text, '1600'),
    ('deleted by filter', (select count(*)::text from vecs.delete('citus_check', filters => '{"staged": true}')), '600');
insert into citus_check_expect values  -- a statement of its own: it sees the delete
    ('count after delete', (select vecs.count('citus_check'))::text, '1000');

\if :has_citus
-- the coordinator sends ORDER BY ... LIMIT k to every shard (each walks its own HNSW index) and
-- merges the k-row lists: the distributed plan has a per-shard Limit over an index scan
do $$
declare
    v_plan text := '';
    v_line text;
begin
    for v_line in execute 'explain (verbose, costs off) select id from vecs.citus_check order by vec <=> ''[1,2,3]'' limit 10' loop
        v_plan := v_plan || v_line || E'\n';
    end loop;
    if v_plan !~ 'Custom Scan \(Citus Adaptive\)' or v_plan !~ 'Limit' or v_plan !~ 'Index Scan using' then
        raise exception 'citus_check failed: the kNN statement is not pushed down as ORDER BY ... LIMIT over each shard''s HNSW index:%', E'\n' || v_plan;
    end if;
end
$$;
\echo citus_check: ORDER BY ... LIMIT pushed down to the shards
\endif

do $$
declare
    r record;
    bad text := '';
begin
    for r in select * from citus_check_expect order by what loop
        if r.got is distinct from r.want then
            bad := bad || format(E'\n  %s: got %s, expected %s', r.what, coalesce(r.got, 'NULL'), coalesce(r.want, 'NULL'));
        end if;
    end loop;
    if bad <> '' then
        raise exception 'citus_check failed:%', bad;
    end if;
end
$$;

select vecs.drop_collection('citus_check');
\echo citus_check: all checks passed
