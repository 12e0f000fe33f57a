-- vecs-sqlgen demo: everything below is plain SQL against the vecs.* functions.
-- Run with: make demo   (or: psql "$(vecs-sqlgen dsn)" -f examples/demo.sql)
\set ON_ERROR_STOP on
\pset footer off
set client_min_messages = warning;

\echo
\echo '== 1. A collection of 8-dimensional vectors (re-created on each run)'
select vecs.drop_collection('demo_movies') as dropped_previous;
select vecs.create_collection('demo_movies', 8) as created;

\echo
\echo '== 2. Upsert 2,000 records in one call (ids, vectors and metadata as arrays)'
-- Deterministic pseudo-random vectors: each genre is a cluster around its own centre.
\o /dev/null
select setseed(0.42);
\o
with genres(g, genre) as (
    values (0, 'drama'), (1, 'comedy'), (2, 'horror'), (3, 'documentary')
), movies as (
    select i,
           (i % 4) as g,
           1950 + (i * 7) % 75 as year
    from generate_series(1, 2000) as i
)
select vecs.upsert(
    'demo_movies',
    array_agg('movie-' || i order by i),
    array_agg(
        (select array_agg(case when d % 4 = m.g then 1.0 else 0.0 end + (random() - 0.5) * 0.6)
         from generate_series(0, 7) as d)::vector
        order by i),
    array_agg(jsonb_build_object('genre', genre, 'year', year, 'rating', round((i % 50) / 10.0, 1)) order by i)
) as records_written
from movies m join genres using (g);

select vecs.count('demo_movies') as records;

\echo
\echo '== 3. An HNSW index (cosine distance), named as vecs names it'
select vecs.create_index('demo_movies') ~ '^ix_vector_cosine_ops_hnsw_m16_efc64_' as index_named_like_vecs;
select name, dimension, index_method, index_measure from vecs.list_collections() where name = 'demo_movies';

\echo
\echo '== 4. The 5 nearest neighbours of a "comedy-like" vector'
select id, round(distance::numeric, 4) as distance, metadata ->> 'genre' as genre, metadata ->> 'year' as year
from vecs.query('demo_movies', '[0,1,0,0,0,1,0,0]', k => 5, include_value => true, include_metadata => true);

\echo
\echo '== 5. The same, only documentaries from 2000 on rated at least 4 (a metadata filter)'
select id, round(distance::numeric, 4) as distance, metadata
from vecs.query('demo_movies', '[0,1,0,0,0,1,0,0]', k => 5,
                filters => '{"genre": {"$eq": "documentary"}, "year": {"$gte": 2000}, "rating": {"$gte": 4}}',
                include_value => true, include_metadata => true);

\echo
\echo '== 6. Fetch two records, delete by filter'
select id, metadata from vecs.fetch('demo_movies', array['movie-1', 'movie-2']);
select count(*) as deleted_horror_before_1960
from vecs.delete('demo_movies', filters => '{"$and": [{"genre": "horror"}, {"year": {"$lt": 1960}}]}');
select vecs.count('demo_movies') as records_left;

\echo
\echo '== Done. Every function is documented in the catalog: \\df+ vecs.query'

\echo
\echo '== Hybrid search: full-text + vector in one call (a small collection of its own)'
select vecs.drop_collection('demo_hybrid') as dropped_previous;
select vecs.create_collection('demo_hybrid', 3) as created;
select vecs.upsert('demo_hybrid', '[
  ["pg",     [0.9, 0.1, 0.0], {"text": "PostgreSQL stores vectors next to relational data", "kind": "db"}],
  ["vecs",   [0.8, 0.3, 0.1], {"text": "vecs is a Python client for vector collections", "kind": "lib"}],
  ["lance",  [0.1, 0.9, 0.2], {"text": "LanceDB is a columnar vector database", "kind": "db"}],
  ["pandas", [0.0, 0.2, 0.9], {"text": "pandas reads columnar data into data frames", "kind": "lib"}]
]') as upserted;
select vecs.enable_text_search('demo_hybrid') ~ '^ix_text_gin_' as text_search_enabled;
select text_search, text_key, text_config from vecs.describe_collection('demo_hybrid');
-- "vector database" by words, and a vector near "pg"; then only libraries (the filter is inside both branches)
select id, round(score::numeric, 4) as score, text_rank, vector_rank
from vecs.hybrid_query('demo_hybrid', 'vector database', '[1, 0.2, 0]', k => 3);
select id, round(score::numeric, 4) as score, text_rank, vector_rank
from vecs.hybrid_query('demo_hybrid', 'columnar', '[1, 0.2, 0]', k => 3, filters => '{"kind": "lib"}');
select vecs.drop_collection('demo_hybrid') as dropped;
