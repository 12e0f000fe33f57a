"""Limits shared by the SQL functions (rendered in as constants) and the Python client's checks,
so that both sides refuse the same inputs with the same messages."""

# An id's UTF-8 bytes: a primary-key entry must fit a btree page (2,704 bytes at most).
MAX_ID_BYTES = 2048

# The largest int4, for integer arguments the server takes as integer.
INT4_MAX = 2**31 - 1

# A collection's dimension: pgvector's limit for the vector type.
MAX_DIMENSION = 16000

# Nesting of $and / $or / $not in a filter.
MAX_FILTER_DEPTH = 32

# JSON objects in one filter: planning time grows faster than linearly with the number of
# conditions (a $or of 4,000 takes ~1 s); 2,000 objects is about 1,000 conditions, ~0.1 s.
MAX_FILTER_OBJECTS = 2000

# Up to this many values, $in / $nin test containment of {"k": value} for each (a GIN index can
# answer it; each costs ~0.07 µs per row); beyond, one hashed equality test per row.
IN_CONTAINMENT_VALUES = 8

LIMITS = {
    "dimension": MAX_DIMENSION,
    "id_bytes": MAX_ID_BYTES,
    "filter_depth": MAX_FILTER_DEPTH,
    "filter_objects": MAX_FILTER_OBJECTS,
    "in_containment_values": IN_CONTAINMENT_VALUES,
}
