"""Client-side checks and conversions for metadata filters (see ``docs/filters.md``).

The server compiles and re-checks every filter with the same messages; checking here first gives the
error without a round trip and turns Python values (tuples, numpy scalars) into plain JSON.
``sql_to_filter`` turns a SQL boolean expression into the JSON form; the SQL text itself is never sent.

The language is vecs's: a top-level key other than ``$and`` / ``$or`` is a metadata key, taken
literally (dots, backslashes, a leading ``$`` and ``""`` included). Its value is a value (``$eq``) or an
object whose ``$`` keys are operators and whose other keys step into nested objects.

Fault order, which the server mirrors so that messages agree:

* the size limits first (objects, then values, then bytes);
* object keys are visited in jsonb's order (shorter first, then bytewise), arrays in order, depth first;
* a ``$and`` / ``$or`` operand is checked element by element (a bad element is reported when reached);
* a nested filter or operator object is first checked for its type, then for depth (more than 32
  levels of ``$and``/``$or`` elements, ``$not`` operands and nested keys), then visited.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import sqlglot
from sqlglot import exp

from ._records import depth
from .exc import FilterError
from .limits import MAX_FILTER_BYTES, MAX_FILTER_DEPTH, MAX_FILTER_OBJECTS, MAX_FILTER_VALUES, MAX_METADATA_DEPTH

__all__ = ["validate_filter", "sql_to_filter", "normalize_filters", "MAX_DEPTH", "MAX_OBJECTS"]

MAX_DEPTH = MAX_FILTER_DEPTH
MAX_OBJECTS = MAX_FILTER_OBJECTS

_RANGE_OPS = ("$gt", "$gte", "$lt", "$lte")
_LIST_OPS = ("$in", "$nin")
_LIKE_OPS = ("$like", "$ilike")
_KNOWN_OPS = frozenset(("$eq", "$ne", "$contains", "$exists", *_RANGE_OPS, *_LIST_OPS, *_LIKE_OPS))


# --------------------------------------------------------------------------- JSON filters


def validate_filter(filters: Any) -> dict[str, Any]:
    """Check a JSON filter; return it JSON-ready (``{}`` for None). Raises FilterError on the first fault."""
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise FilterError(f"filters must be a JSON object, got {_typeof(filters)}")
    objects, values, size = _measure(filters)
    if objects > MAX_OBJECTS:
        raise FilterError(
            f"filter: holds {objects} JSON objects, more than {MAX_OBJECTS} (use $in for a long list of values)"
        )
    if values > MAX_FILTER_VALUES:
        raise FilterError(f"filter: holds {values} values, more than {MAX_FILTER_VALUES}")
    if size > MAX_FILTER_BYTES:
        raise FilterError(f"filter: larger than {MAX_FILTER_BYTES} bytes as jsonb")
    return _filter(filters, 0)


def _measure(filters: dict[str, Any]) -> tuple[int, int, int]:
    """JSON objects, values (leaves) and a lower bound of the jsonb size, counted without recursion.

    The size counts what jsonb certainly stores: the UTF-8 bytes of every key and string, 4 bytes per
    entry (each key and each value in a container) and per container header; the server measures
    the real size, which is never smaller, so this refuses nothing the server would accept.
    """
    objects = values = 0
    size, stack = 8, [filters]
    while stack:
        node = stack.pop()
        if isinstance(node, np.ndarray):
            node = node.tolist()
        if isinstance(node, dict):
            objects += 1
            size += 4 + 8 * len(node) + sum(len(k.encode("utf-8", "replace")) for k in node if isinstance(k, str))
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            size += 4 + 4 * len(node)
            stack.extend(node)
        else:
            values += 1
            if isinstance(node, str):
                size += len(node.encode("utf-8", "replace"))
    return objects, values, size - 4  # the root has a header but no entry


def normalize_filters(filters: Any) -> dict[str, Any]:
    """None, a JSON filter (dict) or a SQL boolean expression (str) → a checked JSON filter."""
    if isinstance(filters, str):
        return sql_to_filter(filters)
    return validate_filter(filters)


def _filter(obj: dict[str, Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _ordered_keys(obj):
        value = obj[key]
        if key in ("$and", "$or"):
            if not isinstance(value, (list, tuple)) or not value:
                raise FilterError(f"filter: {key} expects a non-empty array of non-empty filter objects")
            items = []
            for item in value:
                if not isinstance(item, dict) or not item:
                    raise FilterError(f"filter: {key} expects a non-empty array of non-empty filter objects")
                items.append(_filter(item, _deeper(depth)))
            out[key] = items
        elif key == "$not" and _is_filter_object(value):  # vecs refuses these; an operator object is the key "$not"
            out[key] = _filter(value, _deeper(depth))
        else:  # any other key is a metadata key, taken literally (as vecs does)
            out[key] = _condition_of(f'"{key}"', value, depth)
    return out


def _is_filter_object(value: Any) -> bool:
    """The operand of a top-level $not: an object without operators (vecs refuses it there). With
    one, {"$not": {"$eq": 1}} is the metadata key "$not", as in vecs."""
    return isinstance(value, dict) and not any(isinstance(k, str) and k in _KNOWN_OPS for k in value)


def _condition_of(where: str, value: Any, depth: int) -> Any:
    """What the value at a key path must satisfy: a value ($eq) or an object of operators and nested keys."""
    if not isinstance(value, dict):
        return _operand(where, "$eq", value)
    if not value:
        raise FilterError(f"filter on {where}: empty operator object")
    out = {}
    for op in _ordered_keys(value):
        arg = value[op]
        if not op.startswith("$"):  # a nested key
            out[op] = _condition_of(f'{where}."{op}"', arg, _deeper(depth))
        elif op == "$not":
            if not isinstance(arg, dict):
                raise FilterError(f"filter on {where}: $not expects an operator object, got {_typeof(arg)}")
            out[op] = _condition_of(where, arg, _deeper(depth))
        elif op not in _KNOWN_OPS:
            raise FilterError(f'filter on {where}: unknown operator "{op}"')
        else:
            out[op] = _operand(where, op, arg)
    return out


def _operand(where: str, op: str, arg: Any) -> Any:
    if op in ("$eq", "$ne") and isinstance(arg, (dict, list, tuple, np.ndarray)) and depth(arg) > MAX_METADATA_DEPTH:
        raise FilterError(f"filter on {where}: value nested deeper than {MAX_METADATA_DEPTH} levels")
    value = _json(arg, where)
    _check_operand(where, op, value)
    return value


def _check_operand(where: str, op: str, value: Any) -> None:
    """Raise the spec's message when ``value`` (already plain JSON) does not suit ``op``."""
    where = f"filter on {where}: {op}"
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


def _ordered_keys(obj: dict[str, Any]) -> list[str]:
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


def _json(value: Any, where: str) -> Any:
    """``value`` as plain JSON (lists, Python numbers); Python-only faults name the key path ``where``.

    Depth first and in jsonb key order, as the recursive definition would, but without recursion."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(root, 0, value)]
    out: Any  # a list or a dict
    while stack:
        parent, slot, node = stack.pop()
        if isinstance(node, np.ndarray):
            node = node.tolist()
        elif isinstance(node, np.generic):
            node = node.item()
        if isinstance(node, (list, tuple)):
            parent[slot] = out = [None] * len(node)
            stack.extend((out, i, node[i]) for i in reversed(range(len(node))))
        elif isinstance(node, dict):
            keys = _ordered_keys(node)
            parent[slot] = out = dict.fromkeys(keys)
            stack.extend((out, k, node[k]) for k in reversed(keys))
        else:
            parent[slot] = _scalar(node, where)
    return root[0]


def _scalar(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        _check_str(value)
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FilterError(f"filter on {where}: values must be finite numbers")
        return float(value)
    raise FilterError(f"filter on {where}: unsupported value of type {type(value).__name__}")


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


def sql_to_filter(expr: str) -> dict[str, Any]:
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
    return validate_filter(_condition(tree))  # type: ignore[arg-type]  # newer sqlglot types it as Expr


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


_COMPARISONS: dict[type[exp.Expression], str] = {
    exp.EQ: "$eq",
    exp.NEQ: "$ne",
    exp.GT: "$gt",
    exp.GTE: "$gte",
    exp.LT: "$lt",
    exp.LTE: "$lte",
}
_FLIPPED = {"$eq": "$eq", "$ne": "$ne", "$gt": "$lt", "$gte": "$lte", "$lt": "$gt", "$lte": "$gte"}


def _condition(node: exp.Expression) -> dict[str, Any]:
    """One boolean SQL node → a JSON filter. Node types are matched exactly: an allow-list."""
    node = _unparen(node)
    kind = type(node)
    if kind in (exp.And, exp.Or):
        return {"$and" if kind is exp.And else "$or": [_condition(n) for n in _flatten(node)]}
    if kind is exp.Not:
        _only(node, "this")
        if type(node.this) is exp.In:  # `x NOT IN (…)`: $nin keeps SQL's "missing key does not match"
            return _in(node.this, "$nin")
        return _negated(_condition(node.this))
    if kind in _COMPARISONS:
        return _comparison(node, _COMPARISONS[kind])
    if kind is exp.In:
        return _in(node, "$in")  # type: ignore[arg-type]  # mypy does not narrow node by type(node)
    if kind in (exp.Like, exp.ILike):
        _only(node, "this", "expression", "negate")
        path = _key(node.this)
        ops = {"$like" if kind is exp.Like else "$ilike": _literal(node.expression)}
        return _at(path, {"$not": ops} if node.args.get("negate") else ops)
    if kind is exp.Is:
        _only(node, "this", "expression", "negate")
        if type(node.expression) is not exp.Null:
            raise _unsupported(node)
        path = _key(node.this)
        if node.args.get("negate"):
            return _at(path, {"$ne": None})
        return {"$or": [_at(path, {"$exists": False}), _at(path, {"$eq": None})]}
    if kind in (exp.Column, exp.Dot):  # a bare column is a boolean test
        return _at(_key(node), {"$eq": True})
    raise _unsupported(node)


def _negated(f: dict[str, Any]) -> dict[str, Any]:
    """The complement of a converted filter, with the negation on the keys (De Morgan): a key's $not
    is "not true", for which NOT (A AND B) = NOT A OR NOT B holds with missing keys too."""
    parts = [{k: v} for k, v in f.items()]
    out: list[dict[str, Any]] = []
    for part in parts:
        ((key, value),) = part.items()
        if key in ("$and", "$or"):
            out.append({"$or" if key == "$and" else "$and": [_negated(x) for x in value]})
        else:
            out.append({key: {"$not": value}})
    return out[0] if len(out) == 1 else {"$or": out}


def _comparison(node: exp.Expression, op: str) -> dict[str, Any]:
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
    return _at(_key(left), {op: _literal(right)})


def _in(node: exp.In, op: str) -> dict[str, Any]:
    _only(node, "this", "expressions")
    return _at(_key(node.this), {op: [_literal(item) for item in node.expressions]})


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


def _at(path: list[str], cond: dict[str, Any]) -> dict[str, Any]:
    """The filter testing ``cond`` on the value at ``path``: {"a": {"b": cond}} for a.b."""
    for name in reversed(path[1:]):
        cond = {name: cond}
    return {path[0]: cond}


def _key(node: exp.Expression) -> list[str]:
    """A column reference (``info.lang``, ``"version.major"``) → its key path: each name is one key."""
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
        names.append(part.name)
    if names[0] in ("$and", "$or"):
        raise FilterError(f'filter: the key "{names[0]}" cannot be filtered on (it is an operator)')
    for name in names[1:]:
        if name.startswith("$"):
            raise FilterError(
                f'filter: the nested key "{name}" cannot be filtered on (nested keys starting with $ are operators)'
            )
    return names


_INTEGER = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _literal(node: exp.Expression) -> Any:
    """A SQL literal → its JSON value."""
    node = _unparen(node)
    kind = type(node)
    if kind is exp.Literal:
        _only(node, "this", "is_string")
        return node.this if node.is_string else _number(node)  # type: ignore[arg-type]  # as above
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
