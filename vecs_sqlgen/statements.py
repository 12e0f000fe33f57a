"""The statement catalog: every statement a client runs, each one call of a function in the schema.

Composed once per client (the schema is an identifier, never text pasted into SQL); parameters are
bound in binary (%b): vectors travel as pgvector's binary format, arrays included.
"""

from __future__ import annotations

from psycopg import sql

from .limits import VECTOR_TYPES

# Where a large upsert is staged: a table in the session's own temp schema (which pg_temp names).
STAGING_TABLE = "vecs_sqlgen_upsert_staging"
STAGING_REGCLASS = "pg_temp.vecs_sqlgen_upsert_staging"  # the same table, as regclass input

# The statements a read replica may answer (read_dsn): they write nothing and take no lock a
# replica refuses. "find" is list_collections for one name (get_collection, a collection's index
# lookup, which threads starting on a new Collection object would otherwise all send to the
# primary). Everything else runs on the primary.
# The per-type statements (``fetch:<type>``, ``query:<type>``, see ``statements``) are reads too.
READS = frozenset(
    {"query", "fetch", "count", "list", "find"} | {f"{s}:{t}" for s in ("fetch", "query") for t in VECTOR_TYPES}
)
# The statements that change something: each starts the client's read-your-writes window.
WRITES = frozenset({
    "create", "get_or_create", "drop", "upsert", "upsert_from", "delete", "create_index",
    "create_metadata_index", "drop_metadata_index", "enable_text_search", "disable_text_search",
})  # fmt: skip

_TEXTS = {
    "create": "select {s}.create_collection(%b::text, %b::int4, %b::text)::text",
    "get_or_create": "select {s}.get_or_create_collection(%b::text, %b::int4, %b::text)::text",
    "drop": "select {s}.drop_collection(%b::text)",
    "list": "select name, dimension, index_name, index_measure, vector_type from {s}.list_collections()",
    "find": (
        "select name, dimension, index_name, index_measure, vector_type from {s}.list_collections() "
        "where name = %b::text"
    ),
    "upsert": "select {s}.upsert(%b::text, %b::text[], %b::{vector}[], %b::jsonb[])",
    "staging": "create temp table {staging} (id text, vec {vector}, metadata jsonb) on commit drop",
    "copy": "copy {staging} (id, vec, metadata) from stdin with (format binary)",
    "upsert_from": "select {s}.upsert_from(%b::text, %b::regclass)",
    "check_upsert": "select dimension, direct_copy from {s}.check_upsert(%b::text)",
    "fetch": "select id, vec, metadata from {s}.fetch(%b::text, %b::text[])",
    "delete": "select * from {s}.delete(%b::text, %b::text[], %b::jsonb)",
    "count": "select {s}.count(%b::text)",
    "query": (
        "select id, distance, vec, metadata from {s}.query("
        "%b::text, %b::{vector}, %b::int4, %b::jsonb, %b::text, %b::bool, %b::bool, %b::bool, %b::int4, %b::int4, "
        "%b::int4)"
    ),
    "create_index": (
        "select {s}.create_index(%b::text, %b::text, %b::text, %b::jsonb, %b::bool, %b::jsonb, %b::text, %b::int4)"
    ),
    "indexes": "select index_name, kind from {s}.list_indexes(%b::text)",
    "list_indexes": "select index_name, kind, method, measure, key, filters, valid from {s}.list_indexes(%b::text)",
    "create_metadata_index": "select {s}.create_metadata_index(%b::text, variadic %b::text[])",
    "drop_metadata_index": "select {s}.drop_metadata_index(%b::text, variadic %b::text[])",
    # the configuration's name is resolved where the caller's session would resolve it
    "enable_text_search": "select {s}.enable_text_search(%b::text, %b::text, %b::text::regconfig)",
    "disable_text_search": "select {s}.disable_text_search(%b::text)",
    "describe": (
        "select name, dimension, text_search, text_key, text_config, text_index, vector_type "
        "from {s}.describe_collection(%b::text)"
    ),
    "hybrid_query": (
        "select id, score, text_rank, vector_rank, distance, metadata from {s}.hybrid_query("
        "%b::text, %b::text, %b::{vector}, %b::int4, %b::jsonb, %b::text, %b::int4, %b::float8, %b::float8, "
        "%b::int4, %b::text, %b::bool, %b::text, %b::int4, %b::int4)"
    ),
}


def statements(schema: str, vector_schema: str) -> dict[str, sql.Composed]:
    """Every statement of the catalog, for the layer in ``schema`` and pgvector in ``vector_schema``."""
    s, vector = sql.Identifier(schema), sql.Identifier(vector_schema, "vector")
    staging = sql.Identifier("pg_temp", STAGING_TABLE)
    catalog = {name: sql.SQL(text).format(s=s, vector=vector, staging=staging) for name, text in _TEXTS.items()}
    # Statements named ``…:<type>`` are those of a collection of that vector type: the staging table
    # of a bulk upsert, fetch and query (the type given as a NULL of it, or as typed_vector).
    sqltypes: dict[str, sql.Composable] = {
        "vector": vector,
        "halfvec": sql.Identifier(vector_schema, "halfvec"),
        "sparsevec": sql.Identifier(vector_schema, "sparsevec"),
        "bit": sql.Identifier("pg_catalog", "bit"),
    }
    for t, sqltype in sqltypes.items():
        # a staging column of type bit without a length would be bit(1): bit varying (the same binary form)
        column = sql.Identifier("pg_catalog", "varbit") if t == "bit" else sqltype
        catalog[f"staging:{t}"] = sql.SQL(
            "create temp table {staging} (id text, vec {column}, metadata jsonb) on commit drop"
        ).format(staging=staging, column=column)
        catalog[f"fetch:{t}"] = sql.SQL(
            "select id, vec, metadata from {s}.fetch(%b::text, %b::text[], NULL::{t})"
        ).format(s=s, t=sqltype)
        catalog[f"query:{t}"] = sql.SQL(
            "select id, distance, vec, metadata from {s}.query("
            "%b::text, NULL::{vector}, %b::int4, %b::jsonb, %b::text, %b::bool, %b::bool, %b::bool, %b::int4, %b::int4, "
            "%b::int4, %b::{t})"
        ).format(s=s, vector=vector, t=sqltype)
    return catalog


def drop_index_concurrently(schema: str, index: str) -> sql.Composed:
    """The statement that drops a replaced vector index without blocking readers (outside a transaction)."""
    return sql.SQL("drop index concurrently if exists {}").format(sql.Identifier(schema, index))


def copy_into(schema: str, table: str) -> sql.Composed:
    """Binary COPY straight into a collection's table."""
    return sql.SQL("copy {} (id, vec, metadata) from stdin with (format binary)").format(sql.Identifier(schema, table))
