-- filters: a handful of the filter language's operators over a small collection
\set SHOW_CONTEXT never
select vecs.drop_collection('regress filters') is not null as clean_start;
select vecs.create_collection('regress filters', 2) is not null as created;
select vecs.upsert('regress filters', '[
    ["m1", [1, 0], {"year": 1999, "genre": "drama", "tags": ["classic", "award"], "info": {"lang": "en"}}],
    ["m2", [0, 1], {"year": 2005, "genre": "comedy", "tags": ["family"], "info": {"lang": "fr"}}],
    ["m3", [1, 1], {"year": "2012", "genre": "Drama", "version.major": 2}],
    ["m4", [2, 1], {"year": 2020.0, "tags": [], "rating": null}],
    ["m5", [1, 2], {}]
]');

-- equality (1 equals 1.0; a string never equals a number) and the value shorthand
select string_agg(id, ',' order by id) as ids from vecs.query('regress filters', '[1, 1]', k => 100, filters => '{"year": 2020}');
select string_agg(id, ',' order by id) as ids from vecs.query('regress filters', '[1, 1]', k => 100, filters => '{"year": {"$eq": "2012"}}');
-- ranges compare only values of the operand's type
select string_agg(id, ',' order by id) as ids from vecs.query('regress filters', '[1, 1]', k => 100, filters => '{"year": {"$gte": 2000, "$lt": 2021}}');
-- $ne and $nin skip records without the key; $not does not
select string_agg(id, ',' order by id) as ids from vecs.query('regress filters', '[1, 1]', k => 100, filters => '{"genre": {"$ne": "drama"}}');
select string_agg(id, ',' order by id) as ids from vecs.query('regress filters', '[1, 1]', k => 100, filters => '{"genre": {"$not": {"$eq": "drama"}}}');
select string_agg(id, ',' order by id) as ids from vecs.query('regress filters', '[1, 1]', k => 100, filters => '{"genre": {"$in": ["drama", "comedy"]}}');
select string_agg(id, ',' order by id) as ids from vecs.query('regress filters', '[1, 1]', k => 100, filters => '{"genre": {"$nin": ["drama"]}}');
-- arrays: $contains a scalar; $eq compares the whole array
select string_agg(id, ',' order by id) as ids from vecs.query('regress filters', '[1, 1]', k => 100, filters => '{"tags": {"$contains": "family"}}');
select string_agg(id, ',' order by id) as ids from vecs.query('regress filters', '[1, 1]', k => 100, filters => '{"tags": []}');
-- $exists (a JSON null exists), $ilike
select string_agg(id, ',' order by id) as ids from vecs.query('regress filters', '[1, 1]', k => 100, filters => '{"rating": {"$exists": true}}');
select string_agg(id, ',' order by id) as ids from vecs.query('regress filters', '[1, 1]', k => 100, filters => '{"genre": {"$ilike": "DRAMA"}}');
-- nested objects are paths; a key is taken literally, dots included (as in vecs)
select string_agg(id, ',' order by id) as ids from vecs.query('regress filters', '[1, 1]', k => 100, filters => '{"info": {"lang": "fr"}}');
select string_agg(id, ',' order by id) as ids from vecs.query('regress filters', '[1, 1]', k => 100, filters => '{"version.major": 2}');
-- $and / $or / $not nest freely
select string_agg(id, ',' order by id) as ids from vecs.query('regress filters', '[1, 1]', k => 100,
    filters => '{"$or": [{"$and": [{"genre": "drama"}, {"year": {"$lt": 2000}}]}, {"$not": {"year": {"$exists": true}}}]}');
-- {} matches everything in a query
select string_agg(id, ',' order by id) as ids from vecs.query('regress filters', '[1, 1]', k => 100, filters => '{}');
-- the compiled SQL holds structure only: keys and operands are parameters
select sql !~ '2000|info|lang|year|\men\M' as sql_holds_no_user_data,
       (select array_agg(k order by k) from unnest(keys) k) as keys,
       (select array_agg(v order by v::text) from unnest(vals) v) as operands
from vecs._compile_filter('{"info": {"lang": "en"}, "year": {"$gt": 2000}}');

select vecs.drop_collection('regress filters');
