"""Routing filters, pure: whether a digest or post rule takes an article, and the reason an
editor reads in the preview and the dry run.

A rule takes an article when it matches no ``exclude`` criterion, matches at least one
``include`` criterion (when any is given), and, with ``max_age``, was published no longer than
that before dispatch found it. Categories and authors compare without case; keywords are whole
words, without case, in the title or the text; patterns are regular expressions searched in
the title and the text, each under a deadline so that no article can make one run for ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import regex

from dispatch.config import FilterSettings, RuleConfig
from dispatch.models import Article

PATTERN_DEADLINE = 0.05  # seconds a pattern may search one article's text


@dataclass(frozen=True)
class Verdict:
    """``passed``: the rule takes the article. ``reason``: which criterion decided, or "" when
    the rule has no filters.
    """

    passed: bool
    reason: str = ""


def route(rule: RuleConfig, article: Article, found: datetime) -> Verdict:
    """Whether ``rule`` takes ``article``, found at ``found``, and why."""
    if rule.feeds is not None and article.feed not in rule.feeds:
        return Verdict(False, f"feed {article.feed!r} is not among the rule's feeds")
    if rule.exclude is not None:
        hit = _first_match(rule.exclude, article)
        if hit:
            return Verdict(False, f"excluded by {hit}")
    if rule.max_age is not None and article.published is not None:
        age = found - article.published
        if age > rule.max_age:
            return Verdict(
                False,
                f"published {_span(age)} before it was found, over max_age {_span(rule.max_age)}",
            )
    if rule.include is not None:
        hit = _first_match(rule.include, article)
        if not hit:
            return Verdict(False, f"matches none of include ({_describe(rule.include)})")
        return Verdict(True, f"let in by include {hit}")
    return Verdict(True)


def _first_match(criteria: FilterSettings, article: Article) -> str:
    """The first criterion the article matches, described; "" when none does."""
    categories = {c.casefold() for c in article.categories}
    for category in criteria.categories:
        if category.casefold() in categories:
            return f"category {category!r}"
    author = (article.author or "").casefold()
    for name in criteria.authors:
        if author and name.casefold() == author:
            return f"author {name!r}"
    texts = (article.title, article.full_text or article.text)
    for keyword in criteria.keywords:
        word = regex.compile(rf"(?<!\w){regex.escape(keyword)}(?!\w)", regex.IGNORECASE)
        if any(word.search(text) for text in texts):
            return f"keyword {keyword!r}"
    for pattern in criteria.patterns:
        try:
            if any(regex.search(pattern, text, timeout=PATTERN_DEADLINE) for text in texts):
                return f"pattern {pattern!r}"
        except TimeoutError:
            continue  # too slow on this text: it does not match
    return ""


def _describe(criteria: FilterSettings) -> str:
    parts = [
        f"{kind} {', '.join(repr(v) for v in values)}"
        for kind, values in (
            ("categories", criteria.categories),
            ("authors", criteria.authors),
            ("keywords", criteria.keywords),
            ("patterns", criteria.patterns),
        )
        if values
    ]
    return "; ".join(parts)


def _span(duration: timedelta) -> str:
    hours = duration.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.0f} h"
