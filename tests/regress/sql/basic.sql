-- basic: the life of a collection, from psql
\set SHOW_CONTEXT never
select vecs.drop_collection('regress basic') is not null as clean_start;

select vecs.create_collection('regress basic', 3);

-- JSON form: [id, [numbers], {metadata}]; metadata optional; the last duplicate id wins
select vecs.upsert('regress basic', '[
    ["a", [1, 0, 0], {"year": 1999, "genre": "drama"}],
    ["b", [0, 1, 0], {"year": 2005, "genre": "comedy"}],
    ["c", [0, 0, 1], {"year": 2012}],
    ["d", [1, 2, 0]],
    ["a", [0.5, 0.5, 0], {"year": 2001, "genre": "drama", "tags": ["x", "y"]}]
]');

-- array form, named notation
select vecs.upsert(collection => 'regress basic', ids => array['e'], vectors => array['[0, 1, 1]']::vector[],
                   metadatas => array['{"year": 2020, "genre": "comedy"}']::jsonb[]);

select vecs.count('regress basic');

-- fetch: request order, unknown ids skipped
select * from vecs.fetch('regress basic', array['c', 'zz', 'a']);

-- nearest neighbours (cosine by default); distances rounded
select id, round(distance::numeric, 4) as distance, metadata
from vecs.query('regress basic', '[1, 0, 0]', k => 3, include_value => true, include_metadata => true);

-- with a filter
select id, round(distance::numeric, 4) as distance
from vecs.query('regress basic', '[1, 0, 0]', k => 10, filters => '{"year": {"$gte": 2000}}', include_value => true);

-- other measures
select id, round(distance::numeric, 4) as l2
from vecs.query('regress basic', '[1, 0, 0]', k => 2, measure => 'l2_distance', include_value => true);
select id, round(distance::numeric, 4) as negative_inner_product
from vecs.query('regress basic', '[1, 1, 1]', k => 2, measure => 'max_inner_product', include_value => true);

-- columns not asked for are NULL
select * from vecs.query('regress basic', '[0, 0, 1]', k => 1);
select * from vecs.query('regress basic', '[0, 0, 1]', k => 1, include_vector => true);

-- an index in vecs's naming scheme, listed by list_collections
select vecs.create_index('regress basic') ~ '^ix_vector_cosine_ops_hnsw_m16_efc64_[0-9a-f_]{7}$' as index_named_like_vecs;
select name, dimension, index_name ~ '^ix_vector_cosine_ops_hnsw_m16_efc64_' as vecs_name, index_method, index_measure
from vecs.list_collections() where name = 'regress basic';
select id from vecs.query('regress basic', '[1, 0, 0]', k => 2, filters => '{"genre": "comedy"}');

-- delete by ids (unknown ids are fine) and by filter; both return the deleted ids
select * from vecs.delete('regress basic', ids => array['b', 'zz']);
select * from vecs.delete('regress basic', filters => '{"genre": "drama"}') order by 1;
select * from vecs.delete('regress basic', filters => '{}');
select vecs.count('regress basic');

select vecs.drop_collection('regress basic');
select vecs.drop_collection('regress basic');
