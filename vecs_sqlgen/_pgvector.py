"""pgvector-python's Bit, HalfVector and SparseVector, from where the installed version has them:
the package (0.4+) or pgvector.psycopg (0.3, which vecs 0.4.5 pins, so both may share an environment)."""

from __future__ import annotations

try:
    from pgvector import Bit, HalfVector, SparseVector
except ImportError:  # pragma: no cover - pgvector-python 0.3
    from pgvector.psycopg import Bit, HalfVector, SparseVector  # type: ignore[attr-defined,no-redef]

__all__ = ["Bit", "HalfVector", "SparseVector"]
