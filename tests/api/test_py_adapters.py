"""Adapters end to end: NoOp, ParagraphChunker, MarkdownChunker and a deterministic embedding step."""

from __future__ import annotations

import hashlib
import warnings
from typing import Any, Dict, Generator, Iterable, Optional, Tuple

import numpy as np
import pytest

import vecs_sqlgen as vecs
from vecs_sqlgen import exc
from vecs_sqlgen.adapter import Adapter, AdapterContext, AdapterStep, MarkdownChunker, NoOp, ParagraphChunker


class HashEmbedding(AdapterStep):
    """A stand-in for TextEmbedding: a deterministic unit vector per text (bag of hashed words)."""

    def __init__(self, dimension: int = 8):
        self.dimension = dimension

    @property
    def exported_dimension(self) -> Optional[int]:
        return self.dimension

    def __call__(self, records: Iterable[Tuple[str, Any, Optional[Dict]]], adapter_context: AdapterContext) -> Generator:
        for id_, text, metadata in records:
            vec = np.zeros(self.dimension, dtype=np.float32)
            for word in text.lower().split():
                vec[int(hashlib.sha1(word.encode()).hexdigest(), 16) % self.dimension] += 1
            yield id_, vec / (np.linalg.norm(vec) or 1), metadata or {}


@pytest.fixture
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def test_noop_adapter(vx, name, quiet):
    docs = vx.get_or_create_collection(name, adapter=Adapter([NoOp(dimension=3)]))
    docs.upsert([("a", [1, 2, 3], None)])
    assert docs["a"][2] == {}
    assert docs.query([1, 2, 3]) == ["a"]


def test_paragraph_chunker_and_embedding(vx, name, quiet):
    docs = vx.get_or_create_collection(
        name, adapter=Adapter([ParagraphChunker(skip_during_query=True), HashEmbedding(8)])
    )
    assert docs.dimension == 8
    docs.upsert(
        [
            ("vec0", "four score and seven\n\nyears ago our fathers", {"year": 1973}),
            ("vec1", "hello, world!", {"year": "2012"}),
        ]
    )
    assert sorted(r[0] for r in docs.fetch(["vec0_para_000", "vec0_para_001", "vec1_para_000"])) == [
        "vec0_para_000", "vec0_para_001", "vec1_para_000",
    ]  # fmt: skip
    assert len(docs) == 3
    assert docs.query(data="years ago our fathers", limit=1) == ["vec0_para_001"]
    assert docs.query(data="hello, world!", limit=1, include_metadata=True) == [("vec1_para_000", {"year": "2012"})]
    # skip_adapter: the data is the vector itself
    vec = docs["vec1_para_000"][1]
    assert docs.query(vec, limit=1, skip_adapter=True) == ["vec1_para_000"]
    docs.upsert([("raw", vec, {})], skip_adapter=True)
    assert len(docs) == 4


def test_query_must_adapt_to_exactly_one_vector(vx, name, quiet):
    docs = vx.get_or_create_collection(name, adapter=Adapter([ParagraphChunker(skip_during_query=False), HashEmbedding(4)]))
    with pytest.raises(exc.ArgError, match="^Failed to produce exactly one query vector from input$"):
        docs.query("one\n\ntwo")
    assert docs.query("just one") == []


def test_markdown_chunker(vx, name, quiet):
    docs = vx.get_or_create_collection(name, adapter=Adapter([MarkdownChunker(skip_during_query=True), HashEmbedding(6)]))
    docs.upsert([("md", "# Title\n\nsome text\n\n## Part\n\nmore text", {"kind": "md"})])
    rows = docs.fetch([f"md_head_{i:03d}" for i in range(5)])
    assert len(rows) == len(docs) >= 2
    assert all(r[2] == {"kind": "md"} for r in rows)
    assert len(docs.query("more text", limit=5)) == len(docs)


def test_collection_dimension_from_the_adapter(vx):
    assert vecs.Collection("x", None, vx, adapter=Adapter([HashEmbedding(8)])).dimension == 8
    assert vecs.Collection("x", 8, vx, adapter=Adapter([ParagraphChunker(skip_during_query=True)])).dimension == 8


def test_adapter_dimension_checks(vx, name):
    with pytest.raises(exc.ArgError, match="Adapter must contain at least 1 step"):
        Adapter([])
    with pytest.raises(exc.MismatchedDimension):
        vx.get_or_create_collection(name, dimension=3, adapter=Adapter([HashEmbedding(8)]))
    docs = vx.get_or_create_collection(name, adapter=Adapter([HashEmbedding(8)]))
    with pytest.raises(exc.MismatchedDimension):
        vx.get_or_create_collection(name, adapter=Adapter([HashEmbedding(4)]))
    assert docs.dimension == 8
