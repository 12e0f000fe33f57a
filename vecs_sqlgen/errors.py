"""SQLSTATE codes raised by the vecs SQL functions: the one source for the templates and exc mapping.

Class ``VX`` is ours (Postgres reserves nothing starting with V), so a caller can tell a vecs error
from a server error by its first two characters.
"""

SQLSTATE = {
    "arg": "VX001",  # invalid argument: k out of range, unknown measure/method, bad index arguments
    "filter": "VX002",  # malformed metadata filter
    "not_found": "VX003",  # collection does not exist
    "exists": "VX004",  # collection already exists
    "dimension": "VX005",  # vector length differs from the collection's dimension
    "record": "VX006",  # bad record: id, vector values (NaN, infinite, out of range) or metadata
    "unsupported": "VX007",  # the installed pgvector lacks the feature asked for
    "index_exists": "VX008",  # an index exists and replace => false
    # a WARNING (class 01), not an error: the HNSW graph create_index is about to build will not fit
    # its build memory (exc.BuildMemoryWarning)
    "build_memory": "01VX1",
}
