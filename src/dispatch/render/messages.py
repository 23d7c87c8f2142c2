"""One rule's message for one output: a digest with the output's unsubscribe link and UTM
tags, or a post fitted to the output's limit. The deliverer, ``dispatch check`` and the
preview all render through here, so what they show is what is sent.

Rendering knows no particular output: it reads what a ``Destination`` declares.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from dispatch.config import DigestConfig, OutputSettings, PostConfig
from dispatch.models import Article, Capabilities, Kind
from dispatch.render.archive import issue_path
from dispatch.render.renderer import LinkTags, RenderedDigest, Renderer
from dispatch.text import hashtag


class Destination(Protocol):
    """What rendering needs of an output: its name, its settings (UTM tags) and what it
    accepts. Every ``Output`` is one.
    """

    name: str
    settings: OutputSettings

    @property
    def capabilities(self) -> Capabilities: ...


def render_digest(
    renderer: Renderer,
    rule: DigestConfig,
    output: Destination,
    articles: Sequence[Article],
    period: datetime,
) -> RenderedDigest:
    """A digest rule's email for one output: its unsubscribe link and UTM tags.

    Raises:
        TemplateError: a template or the MJML failed.
    """
    return renderer.digest(
        name=rule.name,
        title=rule.title or rule.name,
        articles=articles,
        period=period,
        timezone=rule.timezone,
        unsubscribe=output.capabilities.unsubscribe,
        locale=rule.locale,
        links=link_tags(output, "digest", rule.name),
        postal_address=rule.postal_address,
        web_url=web_url(rule, period),
    )


def web_url(rule: DigestConfig, period: datetime) -> str | None:
    """The issue's page in the digest's web archive, when it has one."""
    if rule.archive is None:
        return None
    return rule.archive.base_url + issue_place(rule, period)[1]


def issue_place(rule: DigestConfig, period: datetime) -> tuple[datetime, str]:
    """An issue's period in the digest's time zone, and its page's path in the archive."""
    local = period.astimezone(ZoneInfo(rule.timezone))
    return local, issue_path(rule.name, local)


def render_post(renderer: Renderer, rule: PostConfig, output: Destination, article: Article) -> str:
    """A post rule's text for one output, fitted to its limit, with its hashtags.

    Raises:
        TemplateError: the template failed, or the post cannot fit.
    """
    return render_thread(renderer, rule, output, article)[0]


def render_thread(
    renderer: Renderer, rule: PostConfig, output: Destination, article: Article
) -> list[str]:
    """A post rule's post for one output as its thread: one part, unless the rule allows
    ``thread`` parts and the summary needs them.

    Raises:
        TemplateError: the template failed, or the post cannot fit.
    """
    return renderer.thread(
        article,
        capabilities=output.capabilities,
        links=link_tags(output, "post", rule.name),
        hashtags=hashtags(rule, article),
        most=rule.thread,
    )


# WordPress files a post it was given no category for under this one: no subject to tag.
_NO_CATEGORY = frozenset({"uncategorized", "uncategorised"})


def hashtags(rule: PostConfig, article: Article) -> list[str]:
    """The article's categories as hashtags (``#Tag``), as the rule asks: its map's tag for a
    category it maps (none for one mapped to null), else the category in CamelCase; once each,
    in the feed's order, at most ``max_hashtags``.
    """
    if not rule.hashtags:
        return []
    chosen = rule.hashtags if isinstance(rule.hashtags, dict) else {}
    mapped = {category.strip().casefold(): tag for category, tag in chosen.items()}
    tags: list[str] = []
    for category in article.categories:
        key = category.strip().casefold()
        if key in mapped:
            tag = (mapped[key] or "").lstrip("#＃") or None
        else:
            tag = None if key in _NO_CATEGORY else hashtag(category)
        if tag and tag.casefold() not in {t[1:].casefold() for t in tags}:
            tags.append(f"#{tag}")
    return tags[: rule.max_hashtags]


def link_tags(output: Destination, kind: Kind, rule: str) -> LinkTags | None:
    """The UTM tags an output asks for, with their defaults: source the output's name,
    medium email or social, campaign the rule's name.
    """
    utm = output.settings.utm
    if utm is None:
        return None
    tags = {
        "utm_source": utm.source or output.name,
        "utm_medium": utm.medium or ("email" if kind == "digest" else "social"),
        "utm_campaign": utm.campaign or rule,
    }
    return LinkTags(tags, utm.other_sites)


def newest_first(article: Article) -> tuple[float, int]:
    """Sort key: the newest published first; articles without a date by when they were found."""
    return (-(article.published.timestamp() if article.published else 0.0), -article.id)
