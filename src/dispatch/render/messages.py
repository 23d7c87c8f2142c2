"""One rule's message for one output: a digest with the output's unsubscribe link and UTM
tags, or a post fitted to the output's limit. The deliverer, ``dispatch check`` and the
preview all render through here, so what they show is what is sent.

Rendering knows no particular output: it reads what a ``Destination`` declares.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from dispatch.config import DigestConfig, OutputSettings
from dispatch.models import Article, Capabilities, Kind
from dispatch.render.renderer import LinkTags, RenderedDigest, Renderer


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
    )


def render_post(renderer: Renderer, rule: str, output: Destination, article: Article) -> str:
    """A post rule's text for one output, fitted to its limit.

    Raises:
        TemplateError: the template failed, or the post cannot fit.
    """
    return renderer.post(
        article, capabilities=output.capabilities, links=link_tags(output, "post", rule)
    )


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
