"""The one render path: Jinja templates under ``sql/`` → the complete install SQL.

The CLI installer, the extension bundle and the tests all call :func:`render`; nothing else produces
SQL. Templates receive install-time constants only — the target schema, where pgvector lives and what
it can do, the package version, the SQLSTATE codes — never user data.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from ._version import __version__
from .errors import SQLSTATE
from .limits import LIMITS

# Folders in install order; files within a folder in name order. plpgsql bodies are not checked
# against other functions at CREATE time, so only LANGUAGE sql helpers need to come first (internal/).
FOLDERS = ("internal", "filters", "collections", "records", "search", "indexes")
FIRST = "schema.sql.j2"

# Defaults rendered into the functions; the ones named vecs.* can be overridden per session/role
# with a custom setting (e.g. SET vecs.exact_search_threshold = 5000).
DEFAULTS = {
    "ef_search": 100,  # per ef_search_rows rows searched (at least this): recall@10 ~0.99 from 62k to 1M rows
    "ef_search_rows": 125000,
    # ... times this over more than limits.INDEX_DIMENSIONS["vector"] dimensions (an index over halfvec,
    # automatic there): on 3,072-d vectors (20k rows) recall@10 0.963-0.975 at ef 100, 0.985 at 200,
    # 0.996-0.998 at 400 (bench/vector_types.md)
    "ef_search_wide_factor": 4,
    # A filter estimated to match a share s of the rows has its k nearest matches about k / s rows
    # deep in the index's order: ef_search at least this x k / s (250k rows, 100 queries: 10 % filters
    # recall 0.974-0.978 at ef 200, 0.992-0.995 at 400, 40-99 % 0.992-0.998 at 200; 1M rows: 10 %
    # 0.988-0.994 at 800 and the same at 1,000, so the larger of the two widths, not their product)
    "ef_search_per_depth": 4,
    # where an index answers the filter, exact search up to this share of the collection (or
    # exact_search_threshold rows, if more): iterative scans that discard most rows lose recall
    # (0.74-0.96 on the 7 % of 1M rows in one section, which the embeddings cluster by; 0.95-0.98 at
    # 3 % of uniform keys), while at 10 % of uniform keys they reach 0.99 at 5 ms against 230 ms exact
    "exact_search_share": 0.08,
    "estimate_sample_rows": 2000,  # rows sampled to estimate a filter the planner has no statistics for
    # ... after a first sample of this many rows, enough when it puts the filter beyond margin x the
    # threshold (at 250k rows, the 2,000-row sample cost 8-23 ms on the shared machine, mostly the filter).
    # 100 rows: of independent rows, a filter at the threshold (2 % of 1M rows) would pass 3 x it in
    # ~1 of 250 samples (binomial, >= 7 hits), one at 10 % in 88 of 100 (at 4 x: 1 of 5,000, and
    # 68 of 100, which at 1M rows sent 10 % filters to the full sample, +7-9 ms a call: the
    # sample is the same on every call, so a filter always or never passes); a filter passing
    # wrongly is the index search a filter just above the threshold gets anyway, where an exact
    # search without an index would read the whole table. The sample is pages (~25 at 384-d), the same
    # ones on every call, so a filter on a key the rows are stored in the order of could pass on
    # one page: it decides only on matches from several pages. A wrong early exit sends a filter
    # that would be an exact search to the index (complete, lower recall). 0.52-0.57 ms at 1M rows
    # against 1.1-1.7 ms for 200 (numeric tids, before)
    "estimate_first_sample_rows": 100,
    "estimate_first_sample_pages": 8,  # ... on at least this many pages (rows of small vectors)
    "estimate_first_sample_hit_pages": 4,  # ... and decides alone only on matches from this many
    "estimate_first_sample_margin": 3,
    "probes": 10,  # vecs's default
    "exact_search_threshold": 20000,  # vecs.exact_search_threshold, at 384 dimensions (scaled by 384/d)
    "max_build_memory": "1GB",  # vecs.max_build_memory
    "max_sort_memory": "256MB",  # work_mem cap for sorting an upsert batch by id
    # candidates a query over a reduced index (create_index quantization / dimensions, or halfvec
    # over 2,000 dimensions) re-ranks by the full-precision distance: rerank => n, else this many
    # times k, at least rerank_min (within k..1000)
    # (binary at 384-d, 62k rows: 40 candidates recall@10 0.90, 100 0.955, 200 0.972, 400 0.988, with
    # the same p50 up to 200; at 3,072-d 0.98 / 0.98 / 0.99 / 0.997)
    "rerank_factor": {"halfvec": 2, "subvector": 4, "binary": 20},
    "rerank_min": {"halfvec": 20, "subvector": 40, "binary": 200},
}

# Settings every function pins (its SET clause), so that a caller's session or role settings cannot
# change what the SQL means: name resolution, how string literals in the bodies are read, whether a
# GIN scan may return a random subset, and plpgsql's optional compile/run-time checks.
PINNED_SETTINGS = {
    "search_path": "pg_catalog, pg_temp",
    "standard_conforming_strings": "on",
    "gin_fuzzy_search_limit": "0",
    "plpgsql.extra_errors": "'none'",
}

# The only SECURITY DEFINER functions: the two that create objects in the schema (a table, an
# index) for roles that may not, so that no role but the installer needs CREATE on it. EXECUTE on
# _create_table is not PUBLIC's: granting it is what lets a role create collections.
DEFINER_FUNCTIONS = ("_build_index", "_create_table")
# ... which also pin where and how what they create is stored: as the schema's owner they could
# otherwise use a tablespace (or table access method) that the caller may not.
DEFINER_PINNED_SETTINGS = {
    "default_tablespace": "''",
    "default_table_access_method": "heap",
}
RESTRICTED_FUNCTIONS = ("_create_table",)

_SIMPLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def sql_dir() -> Path:
    """Where the templates are: inside the installed wheel, or the repository's top-level sql/."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "sql", here.parent / "sql"):
        if (candidate / FIRST).is_file():
            return candidate
    raise FileNotFoundError("vecs_sqlgen: SQL templates not found (looked in vecs_sqlgen/sql and sql/)")


def check_name(kind: str, name: str) -> str:
    """Schema names are rendered into SQL text, so they are restricted to plain identifiers."""
    if not isinstance(name, str) or not _SIMPLE_NAME.match(name):
        raise ValueError(
            f"{kind} {name!r} is not supported: use letters, digits and underscores "
            "(not starting with a digit), at most 63 characters"
        )
    return name


def parse_version(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in re.findall(r"\d+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))  # type: ignore[return-value]


@dataclass(frozen=True)
class Capabilities:
    """What the target server's pgvector offers, read at install time (see install.detect)."""

    pgvector: str = "0.8.5"
    vector_schema: str = "public"
    server_version_num: int = 180000

    # The first pgvector version with each feature: the one source for rendering, the messages
    # of what an older one lacks (VX007), the client and the tests.
    NEEDS = types.MappingProxyType(
        {
            "hnsw": "0.5.0",
            "l1": "0.7.0",
            "halfvec": "0.7.0",
            # halfvec, sparsevec and bit collections; halfvec, binary and subvector indexes
            "vector_types": "0.7.0",
            "iterative_scan": "0.8.0",
        }
    )

    @property
    def version_tuple(self) -> tuple[int, int, int]:
        return parse_version(self.pgvector)

    def has(self, feature: str) -> bool:
        return self.version_tuple >= parse_version(self.NEEDS[feature])

    @property
    def hnsw(self) -> bool:
        return self.has("hnsw")

    @property
    def l1(self) -> bool:
        return self.has("l1")

    @property
    def halfvec(self) -> bool:
        return self.has("halfvec")

    @property
    def iterative_scan(self) -> bool:
        return self.has("iterative_scan")

    @property
    def vector_types(self) -> bool:
        return self.has("vector_types")

    def as_dict(self) -> dict[str, Any]:
        return {
            "pgvector": self.pgvector,
            "vector_schema": self.vector_schema,
            "hnsw": self.hnsw,
            "l1": self.l1,
            "halfvec": self.halfvec,
            "iterative_scan": self.iterative_scan,
            "vector_types": self.vector_types,
        }


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Rendered:
    sql: str
    functions: tuple[str, ...] = ()  # names of the functions it defines
    digest: str = ""  # of the templates and constants: an install differs iff its digest does
    # signature → hash of its declaration (see manifest()); also recorded in build_info()
    manifest: types.MappingProxyType[str, str] = field(
        default_factory=lambda: types.MappingProxyType({}), compare=False, hash=False
    )


def _environment(root: Path | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root or sql_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["ident"] = quote_ident
    return env


def template_names(root: Path | None = None) -> list[str]:
    root = root or sql_dir()
    names = [FIRST]
    for folder in FOLDERS:
        names += sorted(f"{folder}/{p.name}" for p in (root / folder).glob("*.sql.j2"))
    return names


def context(schema: str, caps: Capabilities, version: str) -> dict[str, Any]:
    check_name("schema", schema)
    check_name("pgvector schema", caps.vector_schema)
    vs = quote_ident(caps.vector_schema)
    # the storage types this pgvector has: name → SQL type, and each one's measures
    types_ = {"vector": f"{vs}.vector"}
    if caps.vector_types:
        types_ |= {"halfvec": f"{vs}.halfvec", "sparsevec": f"{vs}.sparsevec", "bit": "pg_catalog.bit"}
    float_ops = {
        "cosine_distance": ("<=>", "cosine_ops"),
        "l2_distance": ("<->", "l2_ops"),
        "max_inner_product": ("<#>", "ip_ops"),
        **({"l1_distance": ("<+>", "l1_ops")} if caps.l1 else {}),
    }
    bit_ops = {"hamming_distance": ("<~>", "hamming_ops"), "jaccard_distance": ("<%>", "jaccard_ops")}
    type_measures = {
        t: {
            name: (f"OPERATOR({vs}.{op})", f"{t}_{ops}")
            for name, (op, ops) in (bit_ops if t == "bit" else float_ops).items()
        }
        for t in types_
    }
    return {
        "schema": schema,  # plain name: safe inside '…' literals and format() strings
        "S": quote_ident(schema),
        "V": vs,
        "vector": f"{vs}.vector",
        "vector_schema": caps.vector_schema,
        "caps": caps.as_dict(),
        "needs": dict(caps.NEEDS),
        "vector_types": types_,
        # every type's name, for bodies (and messages) that name one this pgvector may lack
        "type_names": {
            "vector": f"{vs}.vector",
            "halfvec": f"{vs}.halfvec",
            "sparsevec": f"{vs}.sparsevec",
            "bit": "pg_catalog.bit",
        },
        "type_measures": type_measures,
        "version": version,
        "extension": False,  # rendering the script of CREATE EXTENSION vecs (the server makes the schema)
        "functions": {},  # the manifest, for build_info() (filled in by render)
        "err": SQLSTATE,
        "defaults": DEFAULTS,
        "pinned_settings": PINNED_SETTINGS,
        "definer_pinned_settings": DEFINER_PINNED_SETTINGS,
        "limits": LIMITS,
        # measure → (distance operator, operator class); l1 only where pgvector has it (0.7+)
        "measures": {
            "cosine_distance": (f"OPERATOR({vs}.<=>)", "vector_cosine_ops"),
            "l2_distance": (f"OPERATOR({vs}.<->)", "vector_l2_ops"),
            "max_inner_product": (f"OPERATOR({vs}.<#>)", "vector_ip_ops"),
            **({"l1_distance": (f"OPERATOR({vs}.<+>)", "vector_l1_ops")} if caps.l1 else {}),
        },
    }


_FUNCTION = re.compile(r"CREATE OR REPLACE FUNCTION\s+\"[^\"]+\"\.(\w+)\s*\(", re.IGNORECASE)
# A function's declaration (name up to LANGUAGE) and, from its COMMENT, its identity signature.
_DECLARATION = re.compile(
    r'CREATE OR REPLACE FUNCTION\s+"(?:[^"]|"")+"\.(\w+)\s*\((.*?)^\s*LANGUAGE\b', re.I | re.S | re.M
)
_SIGNATURE = re.compile(r'COMMENT ON FUNCTION\s+"(?:[^"]|"")+"\.(\w+)\s*\(([^()]*)\)\s+IS\b', re.I)
VECTOR_SCHEMA = "@V@"  # stands for pgvector's schema in manifest signatures


def manifest(sql: str, vector_schema: str) -> dict[str, str]:
    """Each function of rendered SQL: its signature → a hash of its declaration.

    The signature is the name and argument types (as in its COMMENT, pgvector's schema written
    ``@V@``); the declaration is what CREATE OR REPLACE cannot change: parameter names, modes and
    defaults, and the result type. Two versions' manifests say which functions an upgrade must drop
    (gone, or redeclared); see upgrade.py.
    """

    def canonical(text: str) -> str:
        return " ".join(text.replace(quote_ident(vector_schema) + ".", VECTOR_SCHEMA + ".").split())

    declarations = _DECLARATION.findall(sql)
    signatures = _SIGNATURE.findall(sql)
    if [d[0] for d in declarations] != [s[0] for s in signatures]:
        raise ValueError("every CREATE FUNCTION must be followed by its COMMENT ON FUNCTION")
    return {
        f"{name}({canonical(args)})": hashlib.sha256(canonical(declaration).encode()).hexdigest()[:12]
        for (name, declaration), (_, args) in zip(declarations, signatures)
    }


@functools.lru_cache(maxsize=32)  # templates are read once per process; Rendered is immutable
def render(
    schema: str = "vecs",
    caps: Capabilities | None = None,
    *,
    version: str = __version__,
    extension: bool = False,
    templates: Path | None = None,
) -> Rendered:
    """The complete install SQL for ``schema`` on a server with ``caps``, and the functions it defines.

    ``extension``: the script of CREATE EXTENSION vecs — the same functions, but no CREATE SCHEMA (the
    server creates the control file's schema). ``templates``: another template folder (tests
    simulating an older release).
    """
    caps = caps or Capabilities()
    root = Path(templates) if templates else sql_dir()
    env = _environment(root)
    ctx = context(schema, caps, version)
    names = template_names(root)
    source = hashlib.sha256(json.dumps(ctx, sort_keys=True).encode())
    for name in [*names, "_macros.sql.j2"]:
        source.update((root / name).read_bytes())
    ctx["digest"] = source.hexdigest()[:16]
    ctx["extension"] = extension  # after the digest: both routes install the same functions
    # twice: the second pass gives build_info() the manifest of what the first one rendered
    for _ in range(2):
        parts = [f"-- {name}\n{env.get_template(name).render(**ctx).strip()}\n" for name in names]
        sql = "\n".join(parts)
        ctx["functions"] = manifest(sql, caps.vector_schema)
    return Rendered(
        sql=sql,
        functions=tuple(sorted(set(_FUNCTION.findall(sql)))),
        digest=ctx["digest"],
        manifest=types.MappingProxyType(ctx["functions"]),
    )


def render_piece(
    name: str, schema: str = "vecs", caps: Capabilities | None = None, *, version: str = __version__, **constants: Any
) -> str:
    """One template of sql/packaging/ (extension guard, upgrade steps) with the install context plus
    ``constants`` (install-time values computed by the caller, never user data)."""
    caps = caps or Capabilities()
    ctx = {**context(schema, caps, version), **constants}
    return _environment().get_template(f"packaging/{name}").render(**ctx).strip() + "\n"
