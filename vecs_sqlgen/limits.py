"""Limits shared by the SQL functions (rendered in as constants) and the Python client's checks,
so that both sides refuse the same inputs with the same messages."""

# An id's UTF-8 bytes: a primary-key entry must fit a btree page (2,704 bytes at most).
MAX_ID_BYTES = 2048

# The largest int4, for integer arguments the server takes as integer.
INT4_MAX = 2**31 - 1

# A collection's dimension: pgvector's limit for the vector type.
MAX_DIMENSION = 16000

# The storage types a collection's vector column may have (vector_type), and the most dimensions
# each takes (pgvector's limits for vector and halfvec; bit: what HNSW indexes; sparsevec: pgvector's).
VECTOR_TYPES = ("vector", "halfvec", "sparsevec", "bit")
MAX_DIMENSIONS = {"vector": MAX_DIMENSION, "halfvec": MAX_DIMENSION, "sparsevec": 1_000_000_000, "bit": 64000}

# The most dimensions pgvector indexes (HNSW, IVFFlat) of each type: a vector collection with more
# is indexed over vec::halfvec(d), up to the halfvec limit.
INDEX_DIMENSIONS = {"vector": 2000, "halfvec": 4000, "bit": 64000}

# The most non-zero entries of a sparse vector an HNSW index takes: with such an index, a record with
# more is refused at upsert (VX006), and the build refuses a collection that has one.
MAX_SPARSE_INDEXED_NNZ = 1000

# The largest finite half-precision value: a halfvec collection refuses a record beyond it.
MAX_HALF = 65504.0

# Nesting of a filter: $and / $or elements, $not operands and nested key objects each add a level.
MAX_FILTER_DEPTH = 32

# The work a filter may ask for, so that any accepted filter compiles in under 50 ms (the worst
# measured at these limits, docs/filters.md, ~30 ms). Objects bound the clauses (planning time grows
# faster than linearly with them too: a $or of 4,000 took ~1 s; 1,000 objects is about 500 conditions);
# values (every string, number, boolean and null, $in lists included) bound the operands; bytes
# (the filter's size as jsonb) bound what is copied.
MAX_FILTER_OBJECTS = 1000
MAX_FILTER_VALUES = 10000
MAX_FILTER_BYTES = 1024 * 1024

# Nesting of a record's metadata (objects and arrays; {} is 1 level): checked at every write, by
# the client and the server alike, so that every stored record can be read back by the client
# (Python's JSON decoder recurses once per level, within a recursion limit of ~1,000 frames).
# A filter operand nested deeper could never match, and is refused too.
MAX_METADATA_DEPTH = 512

# Up to this many values, $in / $nin test containment of {"k": value} for each (a GIN index can
# answer it; each costs ~0.07 µs per row); beyond, one hashed equality test per row.
IN_CONTAINMENT_VALUES = 8

# The metadata key whose text full-text search indexes (enable_text_search): its UTF-8 bytes.
MAX_TEXT_KEY_BYTES = 255

# Candidates each branch of a hybrid query contributes to the fusion (vecs.query's k bound).
MAX_CANDIDATES = 1000

LIMITS = {
    "dimension": MAX_DIMENSION,
    "id_bytes": MAX_ID_BYTES,
    "filter_depth": MAX_FILTER_DEPTH,
    "filter_objects": MAX_FILTER_OBJECTS,
    "filter_values": MAX_FILTER_VALUES,
    "filter_bytes": MAX_FILTER_BYTES,
    "metadata_depth": MAX_METADATA_DEPTH,
    "in_containment_values": IN_CONTAINMENT_VALUES,
    "text_key_bytes": MAX_TEXT_KEY_BYTES,
    "candidates": MAX_CANDIDATES,
    "vector_types": VECTOR_TYPES,
    "dimensions": MAX_DIMENSIONS,
    "index_dimensions": INDEX_DIMENSIONS,
    "sparse_indexed_nnz": MAX_SPARSE_INDEXED_NNZ,
    "half_max": MAX_HALF,
}

# Connection pool (create_client(pool_size=…)): connections per client by default, and how long a
# call waits for one to come free before PoolExhausted (seconds).
DEFAULT_POOL_SIZE = 4
DEFAULT_POOL_TIMEOUT = 30.0

# Read replicas (read_dsn): how often a read waiting for a replica's connection checks whether the
# replica can be reached at all (a failed connection attempt: the read goes to the primary), and how
# long a replica found unreachable is left out of the rotation (seconds).
REPLICA_WAIT = 1.0
REPLICA_RETRY = 5.0
