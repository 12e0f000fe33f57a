"""MarkdownChunker: split markdown into one record per heading section."""

from __future__ import annotations

import re
from typing import Any, Dict, Generator, Iterable, Tuple

from .base import AdapterContext, AdapterStep, Record, chunked


class MarkdownChunker(AdapterStep):
    """Splits markdown where a heading starts; ids get ``_head_000``, ``_head_001``, … suffixes."""

    def __init__(self, *, skip_during_query: bool):
        self.skip_during_query = skip_during_query

    @staticmethod
    def split_by_heading(md: str, max_tokens: int) -> Generator[str, None, None]:
        """Yield each heading section, further split into chunks of at most ``max_tokens`` words."""
        headings = [match.span()[0] for match in re.finditer(r"^(#{1,6}\s+.+)$", md, flags=re.MULTILINE)]
        if headings == [] or headings[0] != 0:
            headings.insert(0, 0)

        sections = [md[i:j] for i, j in zip(headings, headings[1:] + [None])]
        for section in sections:
            for chunk in chunked(section.split(" "), max_tokens):
                joined = " ".join(chunk)
                if joined not in ("", "\n"):
                    yield joined

    def __call__(
        self,
        records: Iterable[Record],
        adapter_context: AdapterContext,
        max_tokens: int = 99999999,
    ) -> Generator[Tuple[str, Any, Dict[str, Any]], None, None]:
        """Yield one record per chunk; with ``skip_during_query`` a query passes through unchanged."""
        if max_tokens and max_tokens < 1:
            raise ValueError("max_tokens must be a nonzero positive integer")

        if adapter_context == AdapterContext("query") and self.skip_during_query:
            for id, markdown, metadata in records:
                yield (id, markdown, metadata or {})
        else:
            for id, markdown, metadata in records:
                for heading_ix, heading in enumerate(MarkdownChunker.split_by_heading(markdown, max_tokens)):
                    yield (f"{id}_head_{str(heading_ix).zfill(3)}", heading, metadata or {})
