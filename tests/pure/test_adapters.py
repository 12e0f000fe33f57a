"""Adapter pipelines, ported from vecs 0.4.5's behaviour (no database, no model download)."""

import sys
import types

import numpy as np
import pytest

from vecs_sqlgen.adapter import (
    Adapter,
    AdapterContext,
    AdapterStep,
    MarkdownChunker,
    NoOp,
    ParagraphChunker,
    TextEmbedding,
)
from vecs_sqlgen.exc import ArgError, MissingDependency

UPSERT, QUERY = AdapterContext("upsert"), AdapterContext("query")


def test_adapter_with_no_steps_error():
    with pytest.raises(ArgError, match="Adapter must contain at least 1 step"):
        Adapter(steps=[])


def test_adapter_step_has_default_exported_dim():
    assert ParagraphChunker(skip_during_query=True).exported_dimension is None
    assert MarkdownChunker(skip_during_query=True).exported_dimension is None


def test_adapter_does_not_export_dimension():
    class Dummy(AdapterStep):
        def __call__(self, records, adapter_context):
            raise AssertionError("not called")

    assert Dummy().exported_dimension is None
    assert Adapter([Dummy()]).exported_dimension is None


def test_adapter_exported_dimension_is_the_last_declared():
    assert NoOp(dimension=9).exported_dimension == 9
    assert Adapter([NoOp(3), ParagraphChunker(skip_during_query=False)]).exported_dimension == 3
    assert Adapter([NoOp(3), NoOp(5), ParagraphChunker(skip_during_query=False)]).exported_dimension == 5


def test_noop_passes_through_and_defaults_metadata():
    vec = np.zeros(3)
    res = list(NoOp(3)([("a", vec, None), ("b", [1, 2, 3], {"k": 1})], UPSERT))
    assert res == [("a", vec, {}), ("b", [1, 2, 3], {"k": 1})]


def test_paragraph_chunker_adapter():
    chunker = ParagraphChunker(skip_during_query=True)
    res = list(chunker([("1", "first para\n\nnext para", {})], UPSERT))
    assert res == [("1_para_000", "first para", {}), ("1_para_001", "next para", {})]

    res = list(chunker([("", "first para\n\nnext para", {})], QUERY))
    assert res == [("", "first para\n\nnext para", {})]


def test_paragraph_chunker_splits_during_query_unless_skipped():
    chunker = ParagraphChunker(skip_during_query=False)
    res = list(chunker([("q", "a\n\nb", None)], QUERY))
    assert res == [("q_para_000", "a", {}), ("q_para_001", "b", {})]


def test_paragraph_chunker_keeps_metadata_per_chunk():
    res = list(ParagraphChunker(skip_during_query=False)([("d", "x", {"src": "f"})], UPSERT))
    assert res == [("d_para_000", "x", {"src": "f"})]


MARKDOWN = "intro text\n# Title one\nhello world\n## Sub\nmore words here"


def test_markdown_chunker_splits_on_headings():
    res = list(MarkdownChunker(skip_during_query=False)([("d", MARKDOWN, {"k": 1})], UPSERT))
    assert res == [
        ("d_head_000", "intro text\n", {"k": 1}),
        ("d_head_001", "# Title one\nhello world\n", {"k": 1}),
        ("d_head_002", "## Sub\nmore words here", {"k": 1}),
    ]


def test_markdown_chunker_max_tokens():
    res = list(MarkdownChunker(skip_during_query=False)([("d", MARKDOWN, None)], UPSERT, max_tokens=2))
    assert [text for _, text, _ in res] == ["intro text\n", "# Title", "one\nhello world\n", "## Sub\nmore", "words here"]
    assert [id for id, _, _ in res] == [f"d_head_{i:03}" for i in range(5)]
    assert all(meta == {} for _, _, meta in res)


def test_markdown_chunker_query_context():
    assert list(MarkdownChunker(skip_during_query=True)([("q", MARKDOWN, None)], QUERY)) == [("q", MARKDOWN, {})]
    assert len(list(MarkdownChunker(skip_during_query=False)([("q", MARKDOWN, None)], QUERY))) == 3


def test_markdown_chunker_drops_empty_chunks():
    res = list(MarkdownChunker(skip_during_query=False)([("d", "# A\n", None)], UPSERT))
    assert res == [("d_head_000", "# A\n", {})]
    assert list(MarkdownChunker(skip_during_query=False)([("d", "", None)], UPSERT)) == []


def test_markdown_chunker_rejects_bad_max_tokens():
    with pytest.raises(ValueError, match="max_tokens must be a nonzero positive integer"):
        list(MarkdownChunker(skip_during_query=False)([("d", "x", None)], UPSERT, max_tokens=-1))


def test_pipeline_runs_steps_in_order():
    adapter = Adapter([ParagraphChunker(skip_during_query=False), MarkdownChunker(skip_during_query=False)])
    res = list(adapter([("d", "# A\n\n# B", {"m": 1})], UPSERT))
    assert res == [("d_para_000_head_000", "# A", {"m": 1}), ("d_para_001_head_000", "# B", {"m": 1})]


def test_context_is_a_str_enum():
    assert AdapterContext("upsert") is AdapterContext.upsert
    assert AdapterContext.query == "query"


def test_text_embedding_missing_dependency(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(MissingDependency) as info:
        TextEmbedding(model="all-MiniLM-L6-v2")
    assert str(info.value) == 'Missing feature vecs_sqlgen[text]. Hint: `pip install "vecs-sqlgen[text]"`'
    assert isinstance(info.value, ImportError)


def _fake_sentence_transformers(monkeypatch, *, accepts_token: bool):
    """Install a stand-in sentence_transformers module; returns the list of constructed models."""
    created = []

    class FakeModel:
        def __init__(self, name, **kwargs):
            self.name, self.kwargs, self.batches = name, kwargs, []
            created.append(self)

        def get_sentence_embedding_dimension(self):
            return 2

        def encode(self, texts, normalize_embeddings):
            assert normalize_embeddings is True
            self.batches.append(list(texts))
            return np.array([[len(t), 1.0] for t in texts])

    if accepts_token:

        class SentenceTransformer(FakeModel):
            def __init__(self, name, token=None, use_auth_token=None):
                kwargs = {k: v for k, v in (("token", token), ("use_auth_token", use_auth_token)) if v is not None}
                super().__init__(name, **kwargs)

    else:

        class SentenceTransformer(FakeModel):
            def __init__(self, name, use_auth_token=None):
                super().__init__(name, **({"use_auth_token": use_auth_token} if use_auth_token else {}))

    module = types.ModuleType("sentence_transformers")
    module.SentenceTransformer = SentenceTransformer
    monkeypatch.setitem(sys.modules, "sentence_transformers", module)
    return created


def test_text_embedding_batches_and_keeps_ids_and_metadata(monkeypatch):
    created = _fake_sentence_transformers(monkeypatch, accepts_token=True)
    emb = TextEmbedding(model="./local-model", batch_size=2)
    assert emb.exported_dimension == 2
    assert created[0].name == "./local-model" and created[0].kwargs == {}

    records = [("1", "a", {"a": 1}), ("2", "bb", None), ("3", "ccc", {"a": 3})]
    res = list(emb(records, UPSERT))
    assert created[0].batches == [["a", "bb"], ["ccc"]]
    assert [(id, list(vec), meta) for id, vec, meta in res] == [
        ("1", [1.0, 1.0], {"a": 1}),
        ("2", [2.0, 1.0], {}),
        ("3", [3.0, 1.0], {"a": 3}),
    ]


@pytest.mark.parametrize(("accepts_token", "kwarg"), [(True, "token"), (False, "use_auth_token")])
def test_text_embedding_passes_auth_token_under_the_supported_name(monkeypatch, accepts_token, kwarg):
    created = _fake_sentence_transformers(monkeypatch, accepts_token=accepts_token)
    TextEmbedding(model="private/model", use_auth_token="hf_secret")
    assert created[0].kwargs == {kwarg: "hf_secret"}
