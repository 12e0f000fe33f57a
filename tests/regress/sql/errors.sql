-- errors: each a clear message with a stable SQLSTATE (printed after the error)
\set SHOW_CONTEXT never
select vecs.drop_collection('regress errors') is not null as clean_start;
select vecs.create_collection('regress errors', 3) is not null as created;
select vecs.upsert('regress errors', '[["a", [1, 2, 3], {"k": 1}]]');

select vecs.count('no such collection');
\echo :LAST_ERROR_SQLSTATE
select vecs.create_collection('regress errors', 3);
\echo :LAST_ERROR_SQLSTATE
select vecs.create_collection('_reserved', 3);
\echo :LAST_ERROR_SQLSTATE
select vecs.create_collection('regress dimension', 0);
\echo :LAST_ERROR_SQLSTATE
select vecs.get_or_create_collection('regress errors', 4);
\echo :LAST_ERROR_SQLSTATE
-- a bad record anywhere: nothing is written, and the record is named
select vecs.upsert('regress errors', '[["b", [1, 2, 3]], ["c", [1, 2]]]');
\echo :LAST_ERROR_SQLSTATE
select vecs.upsert('regress errors', '[["b", [1, "2", 3]]]');
\echo :LAST_ERROR_SQLSTATE
select vecs.upsert('regress errors', '[["b", [1, 2, 3], [1]]]');
\echo :LAST_ERROR_SQLSTATE
select vecs.upsert('regress errors', array['b', 'c'], array['[1, 2, 3]']::vector[]);
\echo :LAST_ERROR_SQLSTATE
select vecs.count('regress errors');
-- query arguments
select * from vecs.query('regress errors', '[1, 2, 3]', k => 0);
\echo :LAST_ERROR_SQLSTATE
select * from vecs.query('regress errors', '[1, 2, 3]', k => 1001);
\echo :LAST_ERROR_SQLSTATE
select * from vecs.query('regress errors', '[1, 2]');
\echo :LAST_ERROR_SQLSTATE
select * from vecs.query('regress errors', '[1, 2, 3]', ef_search => 0);
\echo :LAST_ERROR_SQLSTATE
-- filters
select * from vecs.query('regress errors', '[1, 2, 3]', filters => '{"k": {"$gt": true}}');
\echo :LAST_ERROR_SQLSTATE
select * from vecs.query('regress errors', '[1, 2, 3]', filters => '{"$and": []}');
\echo :LAST_ERROR_SQLSTATE
select * from vecs.delete('regress errors', filters => '{"k": {"$regex": "x"}}');
\echo :LAST_ERROR_SQLSTATE
select * from vecs.delete('regress errors', ids => array['a'], filters => '{"k": 1}');
\echo :LAST_ERROR_SQLSTATE
-- indexes
select vecs.create_index('regress errors', index_arguments => '{"m": 8}');
\echo :LAST_ERROR_SQLSTATE
select vecs.create_index('regress errors', method => 'hnsw', index_arguments => '{"n_lists": 8}');
\echo :LAST_ERROR_SQLSTATE
select vecs.create_index('regress errors', method => 'btree');
\echo :LAST_ERROR_SQLSTATE
select vecs.create_index('regress errors') is not null as indexed;
select vecs.create_index('regress errors', replace => false);
\echo :LAST_ERROR_SQLSTATE
select vecs.count('regress errors');
select vecs.drop_collection('regress errors');
