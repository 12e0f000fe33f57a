"""Client-side checks and conversions for metadata filters (see ``docs/filters.md``).

The server compiles and re-checks every filter with the same messages; checking here first gives the
error without a round trip and turns Python values (tuples, numpy scalars) into plain JSON.
``sql_to_filter`` turns a SQL boolean expression into the JSON form; the SQL text itself is never sent.

Fault order, which the server mirrors so that messages agree:

* object keys are visited in jsonb's order (shorter first, then bytewise), arrays in order, depth first;
* a ``$and`` / ``$or`` operand is checked element by element (a bad element is reported when reached);
* a nested filter or operator object is first checked for its type, then for depth (more than 32
  levels of ``$and``/``$or`` elements and ``$not`` operands), then visited;
* a field key is checked (``parse_key``, left to right) before its value.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import sqlglot
from sqlglot import exp

from .exc import FilterError
from .limits import MAX_FILTER_DEPTH, MAX_FILTER_OBJECTS

__all__ = ["validate_filter", "parse_key", "sql_to_filter", "normalize_filters", "MAX_DEPTH", "MAX_OBJECTS"]

MAX_DEPTH = MAX_FILTER_DEPTH
MAX_OBJECTS = MAX_FILTER_OBJECTS

_RANGE_OPS = ("$gt", "$gte", "$lt", "$lte")
_LIST_OPS = ("$in", "$nin")
_LIKE_OPS = ("$like", "$ilike")
_KNOWN_OPS = frozenset(("$eq", "$ne", "$contains", "$exists", *_RANGE_OPS, *_LIST_OPS, *_LIKE_OPS))


# --------------------------------------------------------------------------- JSON filters


def validate_filter(filters: Any) -> dict:
    """Check a JSON filter; return it JSON-ready (``{}`` for None). Raises FilterError on the first fault."""
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise FilterError(f"filters must be a JSON object, got {_typeof(filters)}")
    objects = _objects(filters)
    if objects > MAX_OBJECTS:
        raise FilterError(
            f"filter: holds {objects} JSON objects, more than {MAX_OBJECTS} (use $in for a long list of values)"
        )
    return _filter(filters, 0)


def _objects(filters: dict) -> int:
    """The number of JSON objects in a filter, counted without recursion (nesting is checked later)."""
    count, stack = 0, [filters]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            count += 1
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return count


def parse_key(key: str) -> list[str]:
    """Split a key into path segments: dots separate, a backslash makes the next character literal."""
    segments: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in key:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ".":
            if not current:
                raise FilterError(f'filter on "{key}": invalid key (empty path segment)')
            segments.append("".join(current))
            current = []
        else:
            current.append(ch)
    if escaped:
        raise FilterError(f'filter on "{key}": invalid key (trailing backslash)')
    if not current:
        raise FilterError(f'filter on "{key}": invalid key (empty path segment)')
    segments.append("".join(current))
    return segments


def normalize_filters(filters: Any) -> dict:
    """None, a JSON filter (dict) or a SQL boolean expression (str) → a checked JSON filter."""
    if isinstance(filters, str):
        return sql_to_filter(filters)
    return validate_filter(filters)


def _filter(obj: dict, depth: int) -> dict:
    out = {}
    for key in _ordered_keys(obj):
        value = obj[key]
        if key in ("$and", "$or"):
            if not isinstance(value, (list, tuple)) or not value:
                raise FilterError(f"filter: {key} expects a non-empty array of filter objects")
            items = []
            for item in value:
                if not isinstance(item, dict):
                    raise FilterError(f"filter: {key} expects a non-empty array of filter objects")
                items.append(_filter(item, _deeper(depth)))
            out[key] = items
        elif key == "$not":
            if not isinstance(value, dict):
                raise FilterError(f"filter: $not expects a filter object, got {_typeof(value)}")
            out[key] = _filter(value, _deeper(depth))
        elif key.startswith("$"):
            raise FilterError(f'filter: unknown operator "{key}"')
        else:
            parse_key(key)
            out[key] = _operators(key, value, depth) if isinstance(value, dict) else _json(value, key)
    return out


def _operators(key: str, ops: dict, depth: int) -> dict:
    if not ops:
        raise FilterError(f'filter on "{key}": empty operator object')
    out = {}
    for op in _ordered_keys(ops):
        if op == "$not":
            if not isinstance(ops[op], dict):
                raise FilterError(
                    f'filter on "{key}": $not expects an operator object, got {_typeof(ops[op])}'
                )
            out[op] = _operators(key, ops[op], _deeper(depth))
            continue
        if op not in _KNOWN_OPS:
            raise FilterError(f'filter on "{key}": unknown operator "{op}"')
        value = _json(ops[op], key)
        _check_operand(key, op, value)
        out[op] = value
    return out



def _check_operand(key: str, op: str, value: Any) -> None:
    """Raise the spec's message when ``value`` (already plain JSON) does not suit ``op``."""
    where = f'filter on "{key}": {op}'
    if op in _RANGE_OPS and not (isinstance(value, str) or _is_number(value)):
        raise FilterError(f"{where} expects a number or a string, got {_typeof(value)}")
    if op in _LIST_OPS and not (isinstance(value, list) and all(map(_is_scalar, value))):
        raise FilterError(f"{where} expects an array of scalars")
    if op == "$contains" and not _is_scalar(value):
        raise FilterError(f"{where} expects a scalar, got {_typeof(value)}")
    if op == "$exists" and not isinstance(value, bool):
        raise FilterError(f"{where} expects true or false, got {_typeof(value)}")
    if op in _LIKE_OPS and not isinstance(value, str):
        raise FilterError(f"{where} expects a string pattern, got {_typeof(value)}")
    if op in _LIKE_OPS and (len(value) - len(value.rstrip("\\"))) % 2:
        # Postgres rejects it only when a row reaches the end of the pattern
        raise FilterError(f"{where} pattern must not end with the escape character \\")


def _deeper(depth: int) -> int:
    if depth >= MAX_DEPTH:
        raise FilterError(f"filter: nested deeper than {MAX_DEPTH} levels")
    return depth + 1


def _ordered_keys(obj: dict) -> list[str]:
    """The keys in jsonb's order, after the Python-only checks JSON itself cannot fail."""
    for key in obj:
        if not isinstance(key, str):
            raise FilterError(f"filter: keys must be strings, got {type(key).__name__}")
        _check_str(key)
    return sorted(obj, key=lambda k: (len(k.encode("utf-8")), k.encode("utf-8")))


def _check_str(s: str) -> None:
    # jsonb cannot store U+0000, and a lone surrogate cannot be encoded to send at all.
    if "\x00" in s:
        raise FilterError("filter: NUL characters are not allowed")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise FilterError("filter: strings must be valid Unicode (lone surrogate)") from None


def _json(value: Any, key: str) -> Any:
    """``value`` as plain JSON (lists, Python numbers); Python-only faults name the filter ``key``."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        _check_str(value)
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FilterError(f'filter on "{key}": values must be finite numbers')
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_json(item, key) for item in value]
    if isinstance(value, dict):
        return {k: _json(value[k], key) for k in _ordered_keys(value)}
    raise FilterError(f'filter on "{key}": unsupported value of type {type(value).__name__}')


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, bool)) or _is_number(value)


def _typeof(value: Any) -> str:
    """jsonb_typeof's name for a value; the Python type name for what JSON cannot express."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    for types, name in ((dict, "object"), ((list, tuple), "array"), (str, "string"), ((int, float), "number")):
        if isinstance(value, types):
            return name
    return type(value).__name__


# --------------------------------------------------------------------------- SQL → JSON


def sql_to_filter(expr: str) -> dict:
    """Convert a SQL boolean expression over metadata keys (e.g. ``year >= 2000 and not archived``)."""
    if not expr.strip():
        raise FilterError("filter: SQL filter is empty")
    _scan(expr)
    try:
        statements = sqlglot.parse(expr, dialect="postgres")
    except sqlglot.errors.SqlglotError as e:
        first_line = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise FilterError(f"filter: cannot parse SQL filter: {first_line}") from None
    except RecursionError:
        raise FilterError("filter: cannot parse SQL filter: nested too deeply") from None
    if len(statements) != 1 or statements[0] is None:
        raise FilterError("filter: only one expression is allowed")
    tree = statements[0]
    # The scan above is authoritative; this catches any comment sqlglot lexes where it did not.
    if any(node.comments for node in tree.walk()):
        raise FilterError("filter: comments are not allowed")
    return validate_filter(_condition(tree))


# A dollar-quote opener: $$ or $tag$ (a tag does not start with a digit, so $1 is a parameter).
_DOLLAR_TAG = re.compile(r"\$(?:[^\W\d]\w*)?\$")


def _scan(sql: str) -> None:
    """Reject comments and semicolons outside string literals and quoted identifiers.

    sqlglot keeps parsing after a comment and may drop it, so text that looks active could be ignored.
    """
    i = 0
    while i < len(sql):
        c = sql[i]
        if c in "'\"":
            # E'…' strings let a backslash escape the quote; elsewhere a backslash is an ordinary character.
            backslash = c == "'" and i > 0 and sql[i - 1] in "eE" and not _is_word(sql, i - 2)
            i = _skip_quoted(sql, i, backslash)
        elif c == "$" and not _is_word(sql, i - 1) and (m := _DOLLAR_TAG.match(sql, i)):
            end = sql.find(m.group(), m.end())
            i = len(sql) if end < 0 else end + len(m.group())
        elif sql.startswith(("--", "/*"), i):
            raise FilterError("filter: comments are not allowed")
        elif c == ";":
            raise FilterError("filter: only one expression is allowed")
        else:
            i += 1


def _is_word(sql: str, i: int) -> bool:
    return i >= 0 and (sql[i].isalnum() or sql[i] in "_$")


def _skip_quoted(sql: str, start: int, backslash: bool) -> int:
    """Index just past the quoted text opening at ``start`` (a doubled quote stays inside)."""
    quote, i = sql[start], start + 1
    while i < len(sql):
        if backslash and sql[i] == "\\":
            i += 2
        elif sql[i] != quote:
            i += 1
        elif sql.startswith(quote * 2, i):
            i += 2
        else:
            return i + 1
    return i  # unterminated: sqlglot reports it


_COMPARISONS = {exp.EQ: "$eq", exp.NEQ: "$ne", exp.GT: "$gt", exp.GTE: "$gte", exp.LT: "$lt", exp.LTE: "$lte"}
_FLIPPED = {"$eq": "$eq", "$ne": "$ne", "$gt": "$lt", "$gte": "$lte", "$lt": "$gt", "$lte": "$gte"}


def _condition(node: exp.Expression) -> dict:
    """One boolean SQL node → a JSON filter. Node types are matched exactly: an allow-list."""
    node = _unparen(node)
    kind = type(node)
    if kind in (exp.And, exp.Or):
        return {"$and" if kind is exp.And else "$or": [_condition(n) for n in _flatten(node)]}
    if kind is exp.Not:
        _only(node, "this")
        if type(node.this) is exp.In:  # `x NOT IN (…)`: $nin keeps SQL's "missing key does not match"
            return _in(node.this, "$nin")
        return {"$not": _condition(node.this)}
    if kind in _COMPARISONS:
        return _comparison(node, _COMPARISONS[kind])
    if kind is exp.In:
        return _in(node, "$in")
    if kind in (exp.Like, exp.ILike):
        _only(node, "this", "expression", "negate")
        key = _key(node.this)
        ops = {"$like" if kind is exp.Like else "$ilike": _literal(node.expression)}
        return {key: {"$not": ops} if node.args.get("negate") else ops}
    if kind is exp.Is:
        _only(node, "this", "expression", "negate")
        if type(node.expression) is not exp.Null:
            raise _unsupported(node)
        key = _key(node.this)
        if node.args.get("negate"):
            return {key: {"$ne": None}}
        return {"$or": [{key: {"$exists": False}}, {key: {"$eq": None}}]}
    if kind in (exp.Column, exp.Dot):  # a bare column is a boolean test
        return {_key(node): {"$eq": True}}
    raise _unsupported(node)


def _comparison(node: exp.Expression, op: str) -> dict:
    _only(node, "this", "expression")
    left, right = _unparen(node.this), _unparen(node.expression)
    is_col = [type(side) in (exp.Column, exp.Dot) for side in (left, right)]
    if all(is_col):
        raise FilterError(f"filter: unsupported SQL in filter: comparison between columns {_fragment(node)}")
    if not any(is_col):
        for side in (left, right):
            _literal(side)  # names the offending side when it is not a literal
        raise FilterError(f"filter: unsupported SQL in filter: comparison without a column {_fragment(node)}")
    if is_col[1]:
        left, right, op = right, left, _FLIPPED[op]
    return {_key(left): {op: _literal(right)}}


def _in(node: exp.In, op: str) -> dict:
    _only(node, "this", "expressions")
    return {_key(node.this): {op: [_literal(item) for item in node.expressions]}}


def _flatten(node: exp.Expression) -> list[exp.Expression]:
    """The operands of a chain of one connective, through parentheses; iterative, as chains can be long."""
    kind, out, stack = type(node), [], [node]
    while stack:
        current = _unparen(stack.pop())
        if type(current) is kind:
            _only(current, "this", "expression")
            stack += [current.expression, current.this]
        else:
            out.append(current)
    return out


def _key(node: exp.Expression) -> str:
    """A column reference (``info.lang``, ``"version.major"``) → a filter key, escaped per the key rules."""
    node = _unparen(node)
    tail: list[exp.Expression] = []
    while type(node) is exp.Dot:
        _only(node, "this", "expression")
        tail.append(node.expression)
        node = node.this
    if type(node) is not exp.Column:
        raise _unsupported(node)
    _only(node, "this", "table", "db", "catalog")
    parts = [node.args.get(p) for p in ("catalog", "db", "table", "this")]
    names = []
    for part in [p for p in parts if p is not None] + tail[::-1]:
        if type(part) is not exp.Identifier:
            raise _unsupported(part)
        _only(part, "this", "quoted")
        names.append(_escape(part.name))
    return ".".join(names)


def _escape(name: str) -> str:
    name = name.replace("\\", "\\\\").replace(".", "\\.")
    return "\\" + name if name.startswith("$") else name


_INTEGER = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _literal(node: exp.Expression) -> Any:
    """A SQL literal → its JSON value."""
    node = _unparen(node)
    kind = type(node)
    if kind is exp.Literal:
        _only(node, "this", "is_string")
        return node.this if node.is_string else _number(node)
    if kind is exp.RawString:  # $$…$$
        _only(node, "this")
        return node.this
    if kind is exp.Boolean:
        _only(node, "this")
        return bool(node.this)
    if kind is exp.Null:
        _only(node)
        return None
    if kind is exp.Neg and type(node.this) is exp.Literal and not node.this.is_string:
        _only(node, "this")
        return -_number(node.this)
    raise _unsupported(node)


def _number(node: exp.Literal) -> int | float:
    text = node.this
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        return float(text)
    raise _unsupported(node)


def _unparen(node: exp.Expression) -> exp.Expression:
    while type(node) is exp.Paren:
        _only(node, "this")
        node = node.this
    return node


def _only(node: exp.Expression, *allowed: str) -> None:
    """Reject a node that carries anything beyond the arguments the conversion understands."""
    for name, value in node.args.items():
        if name not in allowed and value not in (None, False, []):
            raise _unsupported(value if isinstance(value, exp.Expression) else node)


_ARITHMETIC = (
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Pow, exp.Neg,
    exp.BitwiseAnd, exp.BitwiseOr, exp.BitwiseXor, exp.BitwiseNot,
    exp.BitwiseLeftShift, exp.BitwiseRightShift,
)  # fmt: skip

# For messages only: the first matching class names the fault (order matters: Cast is a Func).
_DESCRIPTIONS = (
    (exp.Cast, "cast"),
    ((exp.Query, exp.SubqueryPredicate), "subquery"),
    ((exp.Placeholder, exp.Parameter), "placeholder"),
    (exp.Star, "star"),
    (_ARITHMETIC, "arithmetic"),
    (exp.Binary, "operator"),
    (exp.Func, "function call"),
    ((exp.Literal, exp.Boolean, exp.Null), "literal"),
    (exp.Alias, "alias"),
)


def _unsupported(node: exp.Expression) -> FilterError:
    what = next((label for types, label in _DESCRIPTIONS if isinstance(node, types)), "expression")
    return FilterError(f"filter: unsupported SQL in filter: {what} {_fragment(node)}")


def _fragment(node: exp.Expression, limit: int = 200) -> str:
    # Postgres folds unquoted function names to lower case, so show them that way.
    text = node.sql(dialect="postgres", normalize_functions="lower")
    return text if len(text) <= limit else text[: limit - 1] + "…"
