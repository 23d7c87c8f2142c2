"""Full text for excerpt-only feeds: the article page's main text, extracted with trafilatura."""

from __future__ import annotations

from typing import Literal

from dispatch.models import Article

FullTextMode = Literal["auto", "always", "never"]


def wants_full_text(article: Article, mode: FullTextMode) -> bool:
    """Whether the article page should be fetched for this article."""
    if not article.link or mode == "never":
        return False
    return mode == "always" or article.excerpt_only


def main_text(page: bytes, url: str) -> str | None:
    """The main text of an article page, or None when nothing article-like is found."""
    import trafilatura

    text = trafilatura.extract(
        page, url=url, include_comments=False, include_tables=False, favor_precision=True
    )
    return text.strip() if isinstance(text, str) and text.strip() else None
