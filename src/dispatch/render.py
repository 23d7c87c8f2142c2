"""Rendering, pure: sandboxed Jinja2 templates, MJML compiled to HTML, posts fitted to limits.

Templates come from the configured ``templates`` folder first, file by file, then from the
built-in set. Autoescaping is on for HTML and MJML; text templates are plain.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from dispatch.errors import TemplateError
from dispatch.limits import PostTooLong, fit_post, truncate_words
from dispatch.models import Article, VideoCard
from dispatch.outputs.base import Capabilities

DIGEST_MJML = "email/digest.mjml.j2"
DIGEST_TEXT = "email/digest.txt.j2"
DIGEST_SUBJECT = "email/subject.txt.j2"


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    html: str
    text: str
    preheader: str


class Renderer:
    """Renders digests and posts from templates; every failure is a ``TemplateError``."""

    def __init__(self, templates: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if templates is not None:
            loaders.append(jinja2.FileSystemLoader(templates))
        loaders.append(jinja2.PackageLoader("dispatch", "templates"))
        self.env = SandboxedEnvironment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html", "mjml", "mjml.j2", "html.j2"),
                default_for_string=False,
                default=False,
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["truncate_words"] = lambda text, limit: truncate_words(str(text), limit)

    def _render(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self.env.get_template(name).render(context)
        except jinja2.TemplateSyntaxError as e:
            raise TemplateError(
                e.filename or e.name or name, e.message or str(e), line=e.lineno
            ) from None
        except jinja2.TemplateNotFound as e:
            raise TemplateError(name, f"template {e.name!r} not found") from None
        except Exception as e:  # undefined variables, sandbox violations, filter errors
            template, line = _template_frame(sys.exc_info()[2], name)
            raise TemplateError(template, f"{type(e).__name__}: {e}", line=line) from None

    def digest(
        self,
        *,
        name: str,
        title: str,
        articles: Sequence[Article],
        period: datetime,
        timezone: str,
        unsubscribe: str | None = None,
    ) -> RenderedDigest:
        """Render a digest: subject, compiled MJML HTML, and the plain-text twin.

        Raises:
            TemplateError: a template or the MJML failed.
        """
        local = period.astimezone(ZoneInfo(timezone))
        items = [article_context(article, timezone) for article in articles]
        preheader = truncate_words(" · ".join(a.title for a in articles), 140)
        context: dict[str, Any] = {
            "digest": {
                "name": name,
                "title": title,
                "period": local,
                "date": f"{local.day} {local:%B %Y}",
                "timezone": timezone,
                "preheader": preheader,
                "count": len(items),
            },
            "articles": items,
            "unsubscribe": unsubscribe,
        }
        subject = " ".join(self._render(DIGEST_SUBJECT, context).split())
        context["digest"]["subject"] = subject
        mjml = self._render(DIGEST_MJML, context)
        text = self._render(DIGEST_TEXT, context)
        return RenderedDigest(subject, compile_mjml(mjml), text, preheader)

    def post(self, article: Article, *, capabilities: Capabilities, timezone: str = "UTC") -> str:
        """Render one post and fit it to the output's limit; the link always survives.

        Raises:
            TemplateError: the template failed, or the post cannot fit.
        """
        name = f"social/{capabilities.template}.txt.j2"
        try:
            self.env.get_template(name)
        except jinja2.TemplateNotFound:
            name = "social/default.txt.j2"
        base = {"article": article_context(article, timezone), "limit": capabilities.limit}

        def render(title: str, summary: str) -> str:
            return self._render(
                name, {**base, "title": title, "summary": summary, "url": article.link or ""}
            )

        try:
            return fit_post(
                render,
                title=article.title,
                summary=article.summary,
                url=article.link,
                capabilities=capabilities,
            )
        except PostTooLong as e:
            raise TemplateError(name, f"the post cannot fit: {e}") from None


def compile_mjml(source: str) -> str:
    """MJML to HTML with mjml-python (MRML).

    Raises:
        TemplateError: the MJML is invalid.
    """
    from mjml import mjml2html

    try:
        return str(mjml2html(source))
    except ValueError as e:
        raise TemplateError(DIGEST_MJML, f"MJML: {e}") from None


def article_context(article: Article, timezone: str) -> dict[str, Any]:
    """What templates see of an article."""
    published = article.published.astimezone(ZoneInfo(timezone)) if article.published else None
    return {
        "id": article.id,
        "feed": article.feed,
        "source": article.source or article.feed,
        "title": article.title,
        "url": article.link,
        "summary": article.summary,
        "author": article.author,
        "published": published,
        "published_text": f"{published.day} {published:%B %Y}" if published else "",
        "categories": list(article.categories),
        "image": article.image,
        "cards": [card_context(card) for card in article.cards],
    }


def card_context(card: VideoCard) -> dict[str, str]:
    return {
        "type": card.type,
        "video_id": card.video_id,
        "url": card.url,
        "thumbnail": card.thumbnail,
        "title": card.title,
    }


def _template_frame(tb: TracebackType | None, fallback: str) -> tuple[str, int | None]:
    """The innermost template file and line in a traceback (Jinja rewrites frames to them)."""
    found: tuple[str, int | None] = (fallback, None)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = (_short(filename), tb.tb_lineno)
        tb = tb.tb_next
    return found


def _short(filename: str) -> str:
    parts = Path(filename).parts
    return "/".join(parts[-2:]) if len(parts) >= 2 else filename
