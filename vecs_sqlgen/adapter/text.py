"""Text steps: ParagraphChunker and TextEmbedding (sentence-transformers, an optional dependency)."""

from __future__ import annotations

import inspect
from typing import Any, Dict, Generator, Iterable, Literal, Optional, Tuple

from ..exc import MissingDependency
from .base import AdapterContext, AdapterStep, Record, chunked

# The models vecs 0.4.5 names; TextEmbedding accepts any sentence-transformers model name or path.
TextEmbeddingModel = Literal[
    "all-mpnet-base-v2",
    "multi-qa-mpnet-base-dot-v1",
    "all-distilroberta-v1",
    "all-MiniLM-L12-v2",
    "multi-qa-distilbert-cos-v1",
    "all-MiniLM-L6-v2",
    "multi-qa-MiniLM-L6-cos-v1",
    "paraphrase-multilingual-mpnet-base-v2",
    "paraphrase-albert-small-v2",
    "paraphrase-multilingual-MiniLM-L12-v2",
    "paraphrase-MiniLM-L3-v2",
    "distiluse-base-multilingual-cased-v1",
    "distiluse-base-multilingual-cased-v2",
]


class TextEmbedding(AdapterStep):
    """Embeds text with a sentence-transformers model; embeddings are normalized to unit length."""

    def __init__(
        self, *, model: str, batch_size: int = 8, use_auth_token: str | None = None, text_key: str | None = None
    ):
        """Load ``model`` (a name on the Hugging Face Hub or a local path).

        ``text_key`` (not in vecs): on upsert, also keep each text in the record's metadata under
        this key (e.g. ``"text"``, what ``Collection.enable_text_search`` indexes by default), so
        that full-text and hybrid search can find it. By default the text is not stored, as in vecs.

        Raises MissingDependency when sentence-transformers is not installed.
        """
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingDependency(
                'Missing feature vecs_sqlgen[text]. Hint: `pip install "vecs-sqlgen[text]"`'
            ) from None

        kwargs: Dict[str, Any] = {}
        if use_auth_token is not None:
            # sentence-transformers 2.3 renamed use_auth_token to token (and later dropped the old name).
            params = inspect.signature(SentenceTransformer.__init__).parameters
            kwargs["token" if "token" in params else "use_auth_token"] = use_auth_token
        self.model = SentenceTransformer(model, **kwargs)
        # Newer releases rename the dimension getter and warn on the old name.
        get_dimension = (
            getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        )
        self._exported_dimension = get_dimension()
        self.batch_size = batch_size
        self.text_key = text_key

    @property
    def exported_dimension(self) -> Optional[int]:
        """The model's embedding dimension."""
        return self._exported_dimension

    def __call__(
        self,
        records: Iterable[Record],
        adapter_context: AdapterContext,
    ) -> Generator[Tuple[str, Any, Dict[str, Any]], None, None]:
        """Yield ``(id, embedding, metadata)``, encoding ``batch_size`` texts at a time."""
        for batch in chunked(records, self.batch_size):
            embeddings = self.model.encode([text for _, text, _ in batch], normalize_embeddings=True)
            for (id, text, metadata), embedding in zip(batch, embeddings):
                if self.text_key is not None and adapter_context == AdapterContext("upsert"):
                    metadata = {**(metadata or {}), self.text_key: text}
                yield (id, embedding, metadata or {})


class ParagraphChunker(AdapterStep):
    """Splits text on blank lines; ids get ``_para_000``, ``_para_001``, … suffixes."""

    def __init__(self, *, skip_during_query: bool):
        self.skip_during_query = skip_during_query

    def __call__(
        self,
        records: Iterable[Record],
        adapter_context: AdapterContext,
    ) -> Generator[Tuple[str, Any, Dict[str, Any]], None, None]:
        """Yield one record per paragraph; with ``skip_during_query`` a query passes through unchanged."""
        if adapter_context == AdapterContext("query") and self.skip_during_query:
            for id, media, metadata in records:
                yield (id, media, metadata or {})
        else:
            for id, media, metadata in records:
                for paragraph_ix, paragraph in enumerate(media.split("\n\n")):
                    yield (f"{id}_para_{str(paragraph_ix).zfill(3)}", paragraph, metadata or {})
