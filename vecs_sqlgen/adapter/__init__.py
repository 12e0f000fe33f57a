"""Adapters: pipelines that turn user media (text, markdown, …) into records of vectors, as in vecs 0.4.5."""

from .base import Adapter, AdapterContext, AdapterStep
from .markdown import MarkdownChunker
from .noop import NoOp
from .text import ParagraphChunker, TextEmbedding, TextEmbeddingModel

__all__ = [
    "Adapter",
    "AdapterContext",
    "AdapterStep",
    "NoOp",
    "ParagraphChunker",
    "TextEmbedding",
    "TextEmbeddingModel",
    "MarkdownChunker",
]
