"""A tiny sentence-transformers model built and saved locally, so that TextEmbedding's real loading
code runs in the tests without a download: a 2-layer BERT with random (seeded) weights, a WordPiece
vocabulary of a few hundred tokens written here, and mean pooling.

Its embeddings carry no meaning, but they are deterministic: the same text always gets the same
vector, so a text queries itself first. Used by tests/api/test_py_text_embedding.py and seed
example 10 in tests/compat/test_seed_examples.py (``tests/`` is on ``sys.path`` via its conftest).
"""

from __future__ import annotations

import os
import string
import sys
import tempfile
from pathlib import Path

import pytest

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = (
    "the a an and or not of to in on at for with by from is are was were be it this that "
    "four score seven years ago our fathers brought forth nation hello world foo bar "
    "dog dogs cat cats bird fish animal pet run runs ran jump sleep eat food water fire "
    "postgres vector vectors database index query search text model embedding paragraph "
    "red green blue black white sun moon star sky sea river mountain tree forest city"
).split()


def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Hugging Face Hub access: nothing may be downloaded at test time, and a hub name is looked
    up in the local cache only (online, an unreachable hub costs minutes of retries per file).

    huggingface_hub reads HF_HUB_OFFLINE once, at import: when it is already imported, its constant
    is patched as well.
    """
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and hasattr(constants, "HF_HUB_OFFLINE"):
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def build_tiny_model(path: os.PathLike | str, *, dimension: int = 32, seed: int = 0) -> Path:
    """Save a tiny SentenceTransformer of embedding size ``dimension`` to ``path``; return the path."""
    pytest.importorskip("sentence_transformers", reason='needs "vecs-sqlgen[text]"')
    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:
        from sentence_transformers.models import Pooling, Transformer
    from sentence_transformers import SentenceTransformer

    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="tiny-bert-") as bert:  # the bare transformer
        _save_bert(bert, dimension=dimension, seed=seed)
        transformer = Transformer(bert, max_seq_length=128)
        # sentence-transformers 6 renamed the getter (and warns on the old name).
        get_dimension = getattr(transformer, "get_embedding_dimension", None) or getattr(
            transformer, "get_word_embedding_dimension"
        )
        pooling = Pooling(get_dimension(), pooling_mode="mean")
        SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(path))
    return path


def _save_bert(bert: str, *, dimension: int, seed: int) -> None:
    """A randomly initialised (seeded) 2-layer BERT and its tokenizer, saved to ``bert``."""
    import torch
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    # A BERT-style WordPiece tokenizer, built in code: lower-cased words, and every other word
    # spelled out in single-character pieces, so that no text is all [UNK].
    chars = string.ascii_lowercase + string.digits
    pieces = list(chars + string.punctuation) + ["##" + c for c in chars]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(SPECIAL + pieces + WORDS))}
    tokenizer = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        model_max_length=128,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    ).save_pretrained(bert)

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=dimension,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(bert)
