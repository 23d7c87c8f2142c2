"""Summaries: the Summariser protocol and the default extractive summariser.

The default needs no network and no model: it drops boilerplate, keeps the lede, and ends on
a sentence boundary within ``max_chars``.
"""

from __future__ import annotations

import re
from typing import Protocol

from dispatch.models import Article
from dispatch.text import truncate_words

_BOILERPLATE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^the post .+ appeared first on .+$",
        r"^(continue reading|read more|read the full (story|article|post)|click here)\b.*$",
        r"^(share this|like this|related( posts| articles)?|advertisement|sponsored)\s*:?$",
        r"^(photo|image|video|source|credit)s?\s*:.*$",
    )
]
_TRAILING_ELLIPSIS = re.compile(r"\s*(\[(…|\.\.\.)\]|\[\s*&hellip;\s*\])\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9À-ÖØ-Þ])")


class Summariser(Protocol):
    """Makes the short summary shown in digests and posts."""

    def summarise(self, article: Article, text: str) -> str:
        """Summarise ``text``, the article's best text (full text where it was fetched)."""
        ...


class ExtractiveSummariser:
    """The lede, whole sentences up to ``max_chars``; never cut mid-word."""

    def __init__(self, max_chars: int = 280) -> None:
        self.max_chars = max_chars

    def summarise(self, article: Article, text: str) -> str:
        paragraphs = [p for p in (_clean(line) for line in text.split("\n")) if p]
        body = _drop_lead_in(paragraphs)
        if not body:
            return ""
        sentences = split_sentences(" ".join(body))
        summary = ""
        for sentence in sentences:
            candidate = f"{summary} {sentence}".strip()
            if len(candidate) > self.max_chars:
                break
            summary = candidate
        if summary:
            return summary
        return truncate_words(sentences[0], self.max_chars)


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _clean(line: str) -> str:
    line = _TRAILING_ELLIPSIS.sub("", line.strip())
    if any(pattern.match(line) for pattern in _BOILERPLATE):
        return ""
    return line


def _drop_lead_in(paragraphs: list[str]) -> list[str]:
    """Skip bylines, datelines and headings before the first real paragraph."""
    for index, paragraph in enumerate(paragraphs):
        if len(paragraph) >= 60 or paragraph.rstrip().endswith((".", "!", "?", "…")):
            return paragraphs[index:]
    return paragraphs
