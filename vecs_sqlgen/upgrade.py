"""Upgrading the SQL layer from an older version: which functions must go before the new ones come.

The rule, the same for ``vecs-sqlgen install`` over an older install and for ``ALTER EXTENSION vecs
UPDATE`` (the generated ``vecs--A--B.sql``), compares the manifests of the two versions (signature →
hash of the declaration, see render.manifest; an install keeps its own in ``build_info()``):

* a signature the new version no longer has: ``DROP FUNCTION``;
* a signature the new version declares differently (parameter names, modes or defaults, result
  type: what ``CREATE OR REPLACE`` refuses to change): ``DROP FUNCTION``, then created again by the
  install SQL, with the ``EXECUTE`` privileges it had put back;
* a signature the new version replaces by one other signature of the same name (a parameter
  added): ``DROP FUNCTION``, and the ``EXECUTE`` privileges it had given to the new one;
* everything else: ``CREATE OR REPLACE``, which keeps owner, privileges and comments.

Collection tables are never touched. The SQL lives in sql/packaging/upgrade_*.sql.j2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from . import render as _render

# A manifest signature: name(argument types). It may come from a database (build_info()) or an
# older script, and is rendered into DROP statements and literals: no quotes, parentheses or ';'
# inside the argument list, so it can only ever name one function.
_SIGNATURE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*\((?:[A-Za-z0-9_ ,.\[\]@]|"[A-Za-z0-9_]+"\.)*\)$')


@dataclass(frozen=True)
class Plan:
    removed: tuple[str, ...] = ()  # signatures the new version no longer has
    redeclared: tuple[str, ...] = ()  # signatures it declares differently
    # (old signature, new signature) for a removed one whose name has exactly one new signature
    moved: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.removed or self.redeclared)


def plan(old: Mapping[str, str] | None, new: Mapping[str, str]) -> Plan:
    """What to drop when going from the ``old`` manifest to the ``new`` one."""
    old = dict(old or {})
    for signature in old:
        if not _SIGNATURE.match(signature):
            raise ValueError(f"not a function signature: {signature!r}")
    removed = tuple(sorted(s for s in old if s not in new))

    def name(signature: str) -> str:
        return signature.split("(", 1)[0]

    added = [s for s in new if s not in old]
    moved = []
    for signature in removed:
        successors = [s for s in added if name(s) == name(signature)]
        if len(successors) == 1 and sum(name(s) == name(signature) for s in removed) == 1:
            moved.append((signature, successors[0]))
    return Plan(
        removed=removed,
        redeclared=tuple(sorted(s for s in old if s in new and old[s] != new[s])),
        moved=tuple(moved),
    )


def steps(
    schema: str, caps: _render.Capabilities, old: Mapping[str, str] | None, new: _render.Rendered, *, version: str
) -> tuple[str, str]:
    """The SQL to run before and after ``new``'s install SQL to upgrade from the ``old`` manifest."""
    todo = plan(old, new.manifest)
    if not todo:
        return "", ""
    vector = _render.quote_ident(caps.vector_schema)

    def sql_signature(signature: str) -> str:
        return signature.replace(_render.VECTOR_SCHEMA + ".", vector + ".")

    before = _render.render_piece(
        "upgrade_drop.sql.j2",
        schema,
        caps,
        version=version,
        removed=[sql_signature(s) for s in todo.removed],
        # (signature dropped, signature its EXECUTE privileges go to)
        carried=[(sql_signature(s), sql_signature(s)) for s in todo.redeclared]
        + [(sql_signature(a), sql_signature(b)) for a, b in todo.moved],
    )
    carried = todo.redeclared or todo.moved
    after = _render.render_piece("upgrade_grants.sql.j2", schema, caps, version=version) if carried else ""
    return before + "\n", "\n" + after if after else ""
