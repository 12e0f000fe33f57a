"""Shared pieces of the safety suite: example budgets, the known-bug registry, the canary, error
classification and the hostile-input strategies.

Budgets: every property test runs ``examples(default)`` generated cases; ``VECS_SAFETY_EXAMPLES=N``
runs N per property test instead (N/10 per argument of the wrong-types test; ``make soak`` uses
10,000). ``CASES`` counts the cases each test actually ran; the terminal summary prints them.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import sys
import uuid
from decimal import Decimal
from typing import Any

import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from vecs_sqlgen import exc
from vecs_sqlgen.limits import (
    MAX_FILTER_BYTES,
    MAX_FILTER_DEPTH,
    MAX_FILTER_OBJECTS,
    MAX_FILTER_VALUES,
    MAX_METADATA_DEPTH,
)

# ----------------------------------------------------------------------------- budgets


def examples(default: int, share: float = 1.0) -> int:
    """Generated cases per property test: ``default`` in CI, ``share`` × ``$VECS_SAFETY_EXAMPLES`` when set."""
    env = os.environ.get("VECS_SAFETY_EXAMPLES")
    return max(1, int(int(env) * share)) if env else default


def budget(default: int, share: float = 1.0) -> settings:
    return settings(
        max_examples=examples(default, share),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


CASES: collections.Counter[str] = collections.Counter()
OUTCOMES: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)


# measurements of the concurrency and fault tests, printed in the terminal summary
RESULTS: dict[str, dict] = {}


def outcome(test: str, label: str) -> None:
    """Tally how a generated case ended (printed in the terminal summary), to show a test is not vacuous."""
    OUTCOMES[test][label] += 1


def ran(test: str, at_least: int) -> None:
    """Assert that a property test ran its whole budget (hypothesis did not stop early)."""
    assert CASES[test] >= at_least, f"{test}: only {CASES[test]} of {at_least} cases ran"


# ----------------------------------------------------------------------------- known bugs
#
# Each entry is a bug in code this suite may not change, found by this suite. Its repro tests are
# marked xfail(strict=True) through ``known_bug(name)``; property strategies leave the exact input
# class out while the bug is listed (``KNOWN_BUGS``). When the lead fixes one, delete its entry:
# the repro tests then run as ordinary tests and the strategies widen by themselves.

BUGS = {
    "nul-surrogate-name": (
        "a collection name holding NUL or a lone surrogate reaches psycopg/Postgres: bare VecsException "
        "(cause 22021 invalid byte sequence) or raw UnicodeEncodeError instead of exc.ArgError"
    ),
    "surrogate-id": (
        "fetch/delete/__getitem__ with a lone surrogate in an id raise raw UnicodeEncodeError instead of "
        "exc.ArgError (upsert checks it)"
    ),
    "python-wrong-types": (
        "Python API arguments of the wrong type raise raw TypeError/ValueError, a bare VecsException "
        "(22003 integer out of range, 42846 cannot cast, ProgrammingError), or are silently coerced, "
        "instead of exc.ArgError/InvalidRecord"
    ),
    "deep-metadata": (
        "metadata nested deeper than Python's recursion limit (~1000 levels) raises raw RecursionError "
        "from json.dumps instead of exc.InvalidRecord"
    ),
    "long-id": (
        "an id whose primary-key entry exceeds btree's 2704-byte limit fails with raw SQLSTATE 54000 "
        "('index row size … exceeds btree version 4 maximum 2704') that does not name the record, "
        "instead of VX006 'record N (id …): id is too long'"
    ),
    "upsert-from-shape": (
        "upsert_from with a source lacking (id text, vec vector, metadata jsonb), or a view, fails with raw "
        "42703/42883 instead of VX001"
    ),
    "foreign-table-in-schema": (
        "a table in schema vecs that has a vector column named vec but not vecs's shape is taken for a "
        "collection; query/fetch/upsert then fail with raw 42703/42883 instead of VX003"
    ),
}
KNOWN_BUGS = set(BUGS) - {"nul-surrogate-name", "surrogate-id", "python-wrong-types", "long-id", "upsert-from-shape", "foreign-table-in-schema", "deep-metadata"}  # fixed


def known_bug(name: str) -> pytest.MarkDecorator:
    """xfail(strict) while bug ``name`` is listed in KNOWN_BUGS, else a no-op mark."""
    assert name in BUGS, name
    if name in KNOWN_BUGS:
        return pytest.mark.xfail(strict=True, reason=f"BUG {name} (tests/safety/_support.py BUGS)")
    return pytest.mark.safety_fixed(name)


# ----------------------------------------------------------------------------- error classes

# The documented Python classes a hostile input may end in (README "Errors").
DOCUMENTED = (exc.ArgError, exc.FilterError, exc.CollectionNotFound, exc.CollectionAlreadyExists, exc.PermissionDenied)


def assert_documented(error: BaseException, *allowed: type[BaseException]) -> None:
    """``error`` is a documented vecs_sqlgen.exc class (a bare VecsException wraps a raw server error)."""
    classes = allowed or DOCUMENTED
    cause = error.__cause__
    detail = f"{type(error).__name__}: {error}"
    if cause is not None:
        detail += f" (cause {type(cause).__name__} {getattr(cause, 'sqlstate', None)})"
    assert isinstance(error, classes) and type(error) is not exc.VecsException, detail
    if isinstance(cause, psycopg.Error):
        assert cause.sqlstate and cause.sqlstate.startswith(("VX", "42501")), detail


def sqlstate_ok(error: psycopg.Error, *extra: str) -> bool:
    """A server error of a documented class: VX…, 42501, or one of ``extra``."""
    return bool(error.sqlstate) and (error.sqlstate.startswith("VX") or error.sqlstate in ("42501", *extra))


# Postgres cannot hold NUL in text or jsonb: it rejects it at input, before any vecs function runs.
NUL_SQLSTATES = ("22P05", "22021", "54000")  # \u0000 in jsonb, 0x00 byte in text, chr(0)


# ----------------------------------------------------------------------------- the canary


class Canary:
    """A table in another schema that hostile input must never read or write.

    Reads are detected through pg_stat_user_tables (seq_scan, idx_scan), writes through the tuple
    counters and the rows' xmin. Stats reach shared memory when a backend flushes them; ``check``
    forces a flush on every connection that ran hostile input before it compares.
    """

    COUNTERS = "seq_scan, idx_scan, n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd"

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.schema = f"canary_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f"create schema {self.schema}")
            c.execute(f"create table {self.schema}.secret (id int primary key, secret text not null)")
            c.execute(f"insert into {self.schema}.secret values (1, 'alpha'), (2, 'beta'), (3, 'gamma')")
            self.relid = c.execute(f"select '{self.schema}.secret'::regclass::oid").fetchone()[0]
            self.rows = self._content(c)
            c.execute("select pg_stat_force_next_flush()")
        self.baseline = self.stats()
        self.outside = outside_objects(dsn)

    def _content(self, c: psycopg.Connection) -> list[tuple]:
        return c.execute(f"select xmin::text, id, secret from {self.schema}.secret order by id").fetchall()

    def stats(self) -> tuple:
        with psycopg.connect(self.dsn, autocommit=True) as c:
            c.execute("select pg_stat_clear_snapshot()")
            return c.execute(f"select {self.COUNTERS} from pg_stat_user_tables where relid = %s", (self.relid,)).fetchone()

    def check(self, *conns: Any) -> None:
        """Assert the canary unread and unwritten since the last check, and nothing new outside vecs.

        ``conns`` are the psycopg connections (or vecs_sqlgen Clients) that ran hostile input.
        """
        for conn in conns:
            session = getattr(conn, "session", None)
            if session is not None:  # a Client: every backend of its pool may have run some of it
                size = session._pools().get_stats().get("pool_size", 1)
                with contextlib.ExitStack() as stack:
                    for c in [stack.enter_context(session.connection()) for _ in range(size)]:
                        c.execute("select pg_stat_force_next_flush()")
            elif conn is not None and not conn.closed and not conn.broken:
                conn.execute("select pg_stat_force_next_flush()")
        now = self.stats()
        assert now == self.baseline, f"the canary was touched: ({self.COUNTERS}) {self.baseline} -> {now}"
        assert outside_objects(self.dsn) == self.outside, "objects outside schema vecs changed"
        # reading the rows counts a scan: read, flush, and take the counters after as the new baseline
        with psycopg.connect(self.dsn, autocommit=True) as c:
            rows = self._content(c)
            c.execute("select pg_stat_force_next_flush()")
        assert rows == self.rows, "the canary's rows changed"
        self.baseline = self.stats()

    def drop(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as c:
            c.execute(f"drop schema {self.schema} cascade")


def outside_objects(dsn: str) -> tuple:
    """Every relation, function and role outside schema vecs (temp schemas aside): none may appear."""
    with psycopg.connect(dsn, autocommit=True) as c:
        rels = c.execute(
            """select n.nspname, c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where n.nspname <> 'vecs' and n.nspname !~ '^pg_(toast_)?temp_' and n.nspname <> 'pg_toast'
               order by 1, 2"""
        ).fetchall()
        procs = c.execute(
            """select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace
               where n.nspname not in ('vecs') and n.nspname !~ '^pg_temp_'"""
        ).fetchone()[0]
        roles = c.execute("select array_agg(rolname order by rolname) from pg_roles").fetchone()[0]
    return (tuple(rels), procs, tuple(roles))


# ----------------------------------------------------------------------------- comparisons


def json_equal(a: Any, b: Any) -> bool:
    """JSON values equal as jsonb sees them: numbers by value (1 == 1.0 == Decimal("1.0"), 1e16 == 10**16)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))  # metadata nested ~1,000 levels deep round-trips
    try:
        return _canon(a) == _canon(b)
    finally:
        sys.setrecursionlimit(limit)


def _canon(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _canon(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_canon(x) for x in v]
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, float, Decimal, np.number)):
        d = Decimal(repr(float(v))) if isinstance(v, (float, np.floating)) else Decimal(int(v)) if isinstance(v, (int, np.integer)) else v
        return ("number", "0" if d == 0 else str(d.normalize()))
    raise TypeError(f"not a JSON value: {v!r}")


def jsonb_round_trip(value: Any) -> Any:
    """What jsonb gives back for a Python JSON value: the last of duplicate keys, numbers as Decimal."""
    return json.loads(json.dumps(value), parse_float=Decimal, parse_int=Decimal)


def f32(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def mostly(usual: st.SearchStrategy, other: st.SearchStrategy, tenths: int = 8) -> st.SearchStrategy:
    """``usual`` in about ``tenths``/10 of the cases, else ``other`` (hypothesis's one_of weighs branches evenly)."""
    return st.integers(0, 9).flatmap(lambda i: usual if i < tenths else other)


def escape_key(key: str) -> str:
    """A metadata key as a filter key to that top-level key: itself (keys are literal, as in vecs)."""
    return key


# Filters at and beyond the work limits (vecs_sqlgen/limits.py, docs/filters.md): each drawn with
# whether it is within them. Within: compiles (fast); beyond: VX002 / FilterError naming the limit.
def _or_of_in(clauses: int, values: int) -> dict:
    return {"$or": [{"k": {"$in": [f"{i}.{j}" for j in range(values)]}} for i in range(clauses)]}


def _nest_and(levels: int) -> dict:
    f: dict = {"k": "x"}
    for _ in range(levels):
        f = {"$and": [f]}
    return f


def _deep_operand(levels: int) -> dict:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return {"k": {"$eq": value}}


def limit_filters() -> st.SearchStrategy[tuple[str, Any, bool]]:
    """(the limit, a filter, within it) around each limit."""
    objects = st.integers(MAX_FILTER_OBJECTS // 2 - 5, MAX_FILTER_OBJECTS // 2 + 5).flatmap(
        lambda c: st.integers(1, MAX_FILTER_VALUES // c).map(lambda v: ("objects", _or_of_in(c, v), 1 + 2 * c <= MAX_FILTER_OBJECTS)))
    values = st.integers(MAX_FILTER_VALUES - 10, MAX_FILTER_VALUES + 10).map(
        lambda n: ("values", {"k": {"$in": list(range(n))}}, n <= MAX_FILTER_VALUES))
    spread = st.integers(2, 40).flatmap(lambda c: st.integers(MAX_FILTER_VALUES // c - 2, MAX_FILTER_VALUES // c + 2).map(
        lambda v: ("values", _or_of_in(c, v), c * v <= MAX_FILTER_VALUES)))
    size = st.integers(MAX_FILTER_BYTES - 40, MAX_FILTER_BYTES + 40).map(  # {"k": s} is 17 + len(s) bytes as jsonb
        lambda n: ("bytes", {"k": "x" * (n - 17)}, n <= MAX_FILTER_BYTES))
    depth = st.integers(MAX_FILTER_DEPTH - 1, MAX_FILTER_DEPTH + 1).map(lambda d: ("depth", _nest_and(d), d <= MAX_FILTER_DEPTH))
    operand = st.integers(MAX_METADATA_DEPTH - 1, MAX_METADATA_DEPTH + 2).map(
        lambda d: ("operand depth", _deep_operand(d), d <= MAX_METADATA_DEPTH))
    return st.one_of(objects, values, spread, size, depth, operand)


def beyond_filter_limits(filters: Any) -> bool:
    """Whether the client refuses a filter for one of the work limits (the server does too)."""
    from vecs_sqlgen.filters import validate_filter

    try:
        validate_filter(filters)
    except exc.FilterError as e:
        return any(m in str(e) for m in LIMIT_MESSAGES.values())
    return False


LIMIT_MESSAGES = {
    "objects": f"more than {MAX_FILTER_OBJECTS} (use $in",
    "values": f"values, more than {MAX_FILTER_VALUES}",
    "bytes": f"larger than {MAX_FILTER_BYTES} bytes",
    "depth": f"nested deeper than {MAX_FILTER_DEPTH} levels",
    "operand depth": f"value nested deeper than {MAX_METADATA_DEPTH} levels",
}


def shown(id_: str) -> str:
    """An id as error messages show it: whole when short, else its first 60 characters and '...'."""
    return id_ if len(id_) <= 64 else id_[:60] + "..."


def long_ids() -> st.SearchStrategy[str]:
    """Ids over the 2,048-byte limit of an id (a primary-key entry must fit a btree page)."""
    return st.builds(lambda c, n: c * n, st.sampled_from(["x", "ש", "\U0001f600", "'"]), st.integers(2100, 6000)).filter(
        lambda s: len(s.encode("utf-8")) > 2048)


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if value >= 0 else f"-{repr(-value)}"
    return "'" + value.replace("'", "''") + "'"


def as_role(dsn: str, role: str) -> psycopg.Connection:
    """An autocommit connection whose current_user is ``role`` (set at connection start)."""
    return psycopg.connect(dsn, autocommit=True, options=f"-c role={role}")


# ----------------------------------------------------------------------------- strategies

TOKENS = [
    "'", "''", '"', '""', "\\", "\\\\", "$$", "$1", "$tag$", ";", "--", "/*", "*/", "%s", "%I", "%L", "%%",
    ".", "\\.", "$", "_", "%", "{}", "[]", "(", ")", ",", "*", "\t", "\n", "\r", " ",
    "\u200f", "\u202e", "\u061c", "\ufeff", "\u00a0", "\u2028", "שלום", "مرحبا", "\u0301", "e\u0301",
    "\U0001f600", "\U0001f469\u200d\U0001f4bb", "ß", "İ", "ﬀ", "NULL", "null", "true", "pg_catalog.",
    "'); drop table secret; --", "' or '1'='1", "\\x00", "\\u0000", "E'\\''", "select * from pg_authid",
]
SAFE_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


def hostile_text(min_size: int = 0, max_parts: int = 4, nul: bool = False) -> st.SearchStrategy[str]:
    """Strings made of SQL/JSON/format metacharacters, RTL and combining marks, and random text."""
    parts = [st.sampled_from(TOKENS), st.text(SAFE_CHARS, max_size=6)]
    if nul:
        parts.append(st.just("\x00"))
    return st.lists(st.one_of(*parts), min_size=min_size, max_size=max_parts).map("".join).filter(
        lambda s: len(s) >= min_size
    )


def huge_text() -> st.SearchStrategy[str]:
    return st.builds(lambda token, n: token * n, st.sampled_from(["x", "'", "\\", "ש\u0301", "\U0001f600"]), st.integers(10_000, 300_000))


NAMES = st.one_of(
    hostile_text(min_size=1),
    hostile_text(min_size=1),
    hostile_text(min_size=1).map(lambda s: "_" + s),
    st.just(""),
    st.text(SAFE_CHARS, min_size=55, max_size=70),  # around the 63-byte limit, multi-byte included
    st.sampled_from(["pg_class", "pg_authid", "list_collections", "vecs.x", "public.t", "../x", "a.b", " ", "Docs", "x" * 63, "é" * 31 + "x"]),
)


def name_is_valid(name: str) -> bool:
    return name != "" and len(name.encode("utf-8")) <= 63 and not name.startswith("_")


IDS = st.one_of(
    hostile_text(),
    hostile_text(min_size=1),
    st.text(SAFE_CHARS, max_size=300),
    st.sampled_from(["", " ", "a", "A", "a ", "0", "-1", "NaN", "null"]),
)

F32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
JSON_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
JSON_INTS = st.one_of(st.integers(-(2**63), 2**63), st.integers(-(10**40), 10**40))
JSON_SCALARS = st.one_of(st.none(), st.booleans(), JSON_INTS, JSON_FLOATS, hostile_text())


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(depth):
        value = {"d": value} if i % 2 else [value]
    return value


def json_values(keys: st.SearchStrategy[str] = hostile_text(), max_leaves: int = 10) -> st.SearchStrategy[Any]:
    return st.recursive(
        JSON_SCALARS,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
        max_leaves=max_leaves,
    )


# metadata that must round-trip: objects with hostile keys, nested, sometimes huge or deep
METADATA = st.one_of(
    st.dictionaries(hostile_text(), json_values(), max_size=5),
    st.dictionaries(hostile_text(), json_values(), max_size=5),
    st.builds(lambda k, v: {k: v}, hostile_text(), huge_text()),
    st.builds(lambda n: {"deep": nested(n)}, st.integers(50, 400)),
    st.builds(lambda n: {"deep": nested(n)}, st.integers(MAX_METADATA_DEPTH - 3, MAX_METADATA_DEPTH - 1)),  # at the limit
    st.builds(lambda n: {"many": list(range(n))}, st.integers(1000, 20_000)),
    st.just({}),
    st.none(),
)

# SQL and filter words for random SQL-string filters
SQL_WORDS = [
    "k", "s", "n", "b", '"k"', '"a.b"', "a.b", "x", "=", "<>", "!=", "<", ">=", "and", "or", "not", "in", "is",
    "null", "true", "false", "like", "ilike", "between", "(", ")", ",", "'x'", "'a''b'", "1", "-1", "1.5",
    "1e400", ";", "--", "/*", "*/", "$$", "$$x$$", "$1", "select", "from", "canary.secret", "pg_sleep(1)",
    "union", "||", "::text", "e'\\''", "u&'\\0041'", "\\", "'", '"', "*", "1=1", "exists", "current_user",
    "lower(k)", "k->>'a'", "@>", "?", "#", "array[1]", "cast(k as int)", "k.y.z", '"x"."y"', "collate",
]
