"""Rendering, pure: sandboxed Jinja2 templates, MJML compiled to HTML, posts fitted to limits.

Templates come from the configured ``templates`` folder first, file by file, then from the
built-in set. Autoescaping is on for HTML and MJML; text templates are plain.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from babel import Locale
from babel.dates import format_date
from jinja2 import pass_context

from dispatch.errors import TemplateError
from dispatch.models import Article, Capabilities, VideoCard
from dispatch.render.fit import PostTooLong, thread_parts
from dispatch.render.sandbox import (
    MAX_SECONDS,
    GuardedSandbox,
    RenderTimeout,
    bounded_output,
    deadline,
)
from dispatch.text import postable, printable, truncate_words
from dispatch.urls import ascii_url, same_site, tag_url

BUILT_IN_PREFIX = "default"
DIGEST_MJML = "email/digest.mjml.j2"
DIGEST_TEXT = "email/digest.txt.j2"
DIGEST_SUBJECT = "email/subject.txt.j2"
_TOO_SLOW = (
    f"stopped after {MAX_SECONDS:g} s: a loop that runs too long? (templates may take "
    f"{MAX_SECONDS:g} s per message)"
)


@dataclass(frozen=True)
class LinkTags:
    """UTM tags for the links a message carries: the articles' own links always, links to
    other sites (videos, say) only with ``other_sites``.
    """

    tags: dict[str, str]
    other_sites: bool = False

    def apply(self, url: str | None, site_hosts: set[str]) -> str | None:
        if url is None or not (self.other_sites or same_site(url, site_hosts)):
            return url
        return tag_url(url, self.tags)


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    html: str
    text: str
    preheader: str


class Renderer:
    """Renders digests and posts from templates; every failure is a ``TemplateError``."""

    def __init__(self, templates: Path | None = None) -> None:
        self.templates = templates
        # An editor's file overrides the built-in of the same name; "default:NAME" is always
        # the built-in, so an editor's file can extend it and override one block.
        built_in = jinja2.PackageLoader("dispatch", "templates")
        loaders: list[jinja2.BaseLoader] = [
            jinja2.PrefixLoader({BUILT_IN_PREFIX: built_in}, delimiter=":")
        ]
        if templates is not None:
            loaders.append(jinja2.FileSystemLoader(templates))
        loaders.append(built_in)
        self.env = GuardedSandbox(
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
            # A Renderer is made anew when templates may have changed (the preview, a reload),
            # so it need not look at every template's file time on every render.
            auto_reload=False,
        )
        self.env.filters["truncate_words"] = lambda text, limit: truncate_words(str(text), limit)
        self.env.filters["date"] = _date_filter
        self.env.filters["utm"] = _utm_filter
        self.env.guard_filters()

    def source_line(self, template: str, line: int | None) -> str | None:
        """The text of one line of a template (by name or by path), to show with its error."""
        if line is None:
            return None
        try:
            source = self.env.loader.get_source(self.env, template)[0]  # type: ignore[union-attr]
        except jinja2.TemplateNotFound:
            path = self.templates.parent / template if self.templates else Path(template)
            if not path.is_file():
                return None
            source = path.read_text(encoding="utf-8", errors="replace")
        lines = source.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else None

    def _frame(self, tb: TracebackType | None, fallback: str) -> tuple[str, int | None]:
        """Where in which template a render failed: an editor's file as they know it
        (``templates/email/x.j2``), a built-in one by its name (``email/x.j2``).
        """
        found = _template_frame(tb)
        if found is None:
            try:  # the failure was the output as a whole: name the template that made it
                filename = self.env.get_template(fallback).filename or fallback
            except jinja2.TemplateError:
                return fallback, None
            line = None
        else:
            filename, line = found
        shown = self._shown(filename)
        if shown == filename:
            parts = Path(filename).parts
            shown = "/".join(parts[-2:]) if len(parts) >= 2 else filename
        return shown or fallback, line

    def _shown(self, filename: str | None) -> str | None:
        """A file in the templates folder as the editor knows it: ``templates/email/x.j2``."""
        if filename is None or self.templates is None:
            return filename
        path = Path(filename)
        if not path.is_relative_to(self.templates):
            return filename
        return str(path.relative_to(self.templates.parent))

    def _render(self, name: str, context: dict[str, Any]) -> str:
        try:
            compiled = self.env.get_template(name)
            try:
                # What Template.generate does, without its generator around the template's
                # own: one layer less for each of the hundreds of pieces a digest is made of.
                return bounded_output(compiled.root_render_func(compiled.new_context(context)))
            except Exception:
                self.env.handle_exception()  # re-raised, its traceback at template lines
        except jinja2.TemplateSyntaxError as e:
            raise TemplateError(
                self._shown(e.filename) or e.name or name, e.message or str(e), line=e.lineno
            ) from None
        except jinja2.TemplateNotFound as e:
            raise TemplateError(name, f"template {e.name!r} not found") from None
        except RenderTimeout:
            template, line = self._frame(sys.exc_info()[2], name)
            raise TemplateError(template, _TOO_SLOW, line=line) from None
        except Exception as e:  # undefined variables, sandbox violations, filter errors
            template, line = self._frame(sys.exc_info()[2], name)
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
        locale: str = "en",
        links: LinkTags | None = None,
        postal_address: str | None = None,
        web_url: str | None = None,
    ) -> RenderedDigest:
        """Render a digest: subject, compiled MJML HTML, and the plain-text twin.
        ``web_url``: the issue's page in the web archive, for "view in browser".

        Raises:
            TemplateError: a template or the MJML failed, or took too long.
        """
        local = period.astimezone(ZoneInfo(timezone))
        hosts = _site_hosts(articles)
        items = [article_context(a, timezone, locale, links, hosts) for a in articles]
        preheader = truncate_words(" · ".join(a.title for a in articles), 140)
        context: dict[str, Any] = {
            "digest": {
                "name": name,
                "title": printable(title),
                "period": local,
                "date": _day(local.date(), "long", locale),
                "timezone": timezone,
                "locale": locale,
                "preheader": preheader,
                "count": len(items),
                "web_url": web_url,
            },
            "articles": items,
            "unsubscribe": unsubscribe,
            "postal_address": printable(postal_address) if postal_address else None,
            "timezone": timezone,
            "locale": locale,
            "link_tags": links,
            "site_hosts": hosts,
        }
        try:
            with deadline():
                subject = " ".join(self._render(DIGEST_SUBJECT, context).split())
                context["digest"]["subject"] = subject
                html = self._compile(self._render(DIGEST_MJML, context))
                text = self._render(DIGEST_TEXT, context)
        except RenderTimeout:
            raise TemplateError(DIGEST_MJML, _TOO_SLOW) from None
        return RenderedDigest(subject, html, text, preheader)

    def _compile(self, source: str) -> str:
        """MJML to HTML; a failure names the editor's MJML files that went into it, since
        MRML says what is wrong but not where.
        """
        try:
            return compile_mjml(source)
        except TemplateError as e:
            own = self._own_mjml()
            if not own:
                raise
            where = ", ".join(str(path) for path in own)
            raise TemplateError(
                str(own[0]),
                f"{e.reason} (MJML made from your {where}, which override the built-ins; "
                "MJML gives no line: look for a tag left open or misspelt there)",
            ) from None

    def _own_mjml(self) -> list[Path]:
        """The editor's MJML templates, which take the place of the built-ins of their name."""
        if self.templates is None:
            return []
        return sorted(self.templates.glob("email/*.mjml.j2"))

    def post(
        self,
        article: Article,
        *,
        capabilities: Capabilities,
        timezone: str = "UTC",
        locale: str = "en",
        links: LinkTags | None = None,
        hashtags: Sequence[str] = (),
    ) -> str:
        """Render one post and fit it to the output's limit; the link always survives.
        ``hashtags`` (``#Tag`` each) are the template's ``hashtags``, dropped from the last
        where the title would not fit with them.

        Raises:
            TemplateError: the template failed, or the post cannot fit.
        """
        return self.thread(
            article,
            capabilities=capabilities,
            timezone=timezone,
            locale=locale,
            links=links,
            hashtags=hashtags,
            most=1,
        )[0]

    def thread(
        self,
        article: Article,
        *,
        capabilities: Capabilities,
        timezone: str = "UTC",
        locale: str = "en",
        links: LinkTags | None = None,
        hashtags: Sequence[str] = (),
        most: int,
    ) -> list[str]:
        """A post as a thread of up to ``most`` parts, where its summary does not fit one
        (``dispatch.render.fit.thread_parts``); one part, as ``post`` renders it, otherwise.

        Raises:
            TemplateError: the template failed, or the post cannot fit.
        """
        name = f"social/{capabilities.template}.txt.j2"
        try:
            self.env.get_template(name)
        except jinja2.TemplateNotFound:
            name = "social/default.txt.j2"
        hosts = _site_hosts([article])
        context = article_context(article, timezone, locale, links, hosts)
        url = context["url"]
        base = {
            "article": context,
            "limit": capabilities.limit,
            "timezone": timezone,
            "locale": locale,
            "link_tags": links,
            "site_hosts": hosts,
        }

        def render(title: str, summary: str, tags: Sequence[str]) -> str:
            values = {"title": title, "summary": summary, "url": url or "", "hashtags": list(tags)}
            return postable(self._render(name, {**base, **values}))

        try:
            with deadline():
                return thread_parts(
                    render,
                    title=article.title,
                    summary=article.summary,
                    url=url,
                    capabilities=capabilities,
                    tags=tuple(hashtags),
                    most=most,
                )
        except PostTooLong as e:
            raise TemplateError(name, f"the post cannot fit: {e}") from None
        except RenderTimeout:
            raise TemplateError(name, _TOO_SLOW) from None


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


def article_context(
    article: Article,
    timezone: str,
    locale: str = "en",
    links: LinkTags | None = None,
    site_hosts: set[str] | None = None,
) -> dict[str, Any]:
    """What templates see of an article; its links tagged when the output asks."""
    published = article.published.astimezone(ZoneInfo(timezone)) if article.published else None
    hosts = site_hosts or set()

    def tagged(url: str | None) -> str | None:
        if url is None:
            return None
        url = ascii_url(url)  # one link for every network, counted as one
        return links.apply(url, hosts) if links is not None else url

    return {
        "id": article.id,
        "feed": article.feed,
        "source": article.source or article.feed,
        "title": article.title,
        "url": tagged(article.link),
        "summary": article.summary,
        "author": article.author,
        "published": published,
        "published_text": (_day(published.date(), "long", locale) if published else ""),
        "categories": list(article.categories),
        "also_in": list(article.also_in),  # one story once: the other sources that told it
        "image": article.image,
        "cards": [{**card_context(card), "url": tagged(card.url)} for card in article.cards],
    }


def _site_hosts(articles: Sequence[Article]) -> set[str]:
    """The publisher's own hosts: those of the articles' links."""
    return {
        (urlsplit(a.link).hostname or "").lower().removeprefix("www.") for a in articles if a.link
    }


@pass_context
def _date_filter(context: Any, value: datetime | None, format: str = "long") -> str:
    """A date in the message's locale and time zone: ``{{ article.published | date }}``,
    ``| date("short")``, or a babel pattern such as ``| date("EEEE d MMMM")``.
    """
    if value is None:
        return ""
    zone = ZoneInfo(context.get("timezone") or "UTC")
    return _day(value.astimezone(zone).date(), format, context.get("locale") or "en")


@functools.lru_cache(maxsize=1024)
def _day(day: date, format: str, locale: str) -> str:
    """A day in words. babel takes some microseconds a call, and a digest's articles share
    a few days: each (day, pattern, locale) is formatted once. ``format_date`` reads only the
    day of a datetime, so the day is the whole key.
    """
    return str(format_date(day, format, locale=_locale(locale)))


@functools.lru_cache(maxsize=64)
def _locale(name: str) -> Locale:
    """A locale parsed once: babel parses a locale's name again at every call given one."""
    return Locale.parse(name)


@pass_context
def _utm_filter(context: Any, url: str | None) -> str | None:
    """Tag a link the editor wrote into a template, by the output's UTM settings."""
    links = context.get("link_tags")
    if links is None:
        return url
    result: str | None = links.apply(url, context.get("site_hosts") or set())
    return result


def card_context(card: VideoCard) -> dict[str, str]:
    return {
        "type": card.type,
        "video_id": card.video_id,
        "url": card.url,
        "thumbnail": card.thumbnail,
        "title": card.title,
    }


def _template_frame(tb: TracebackType | None) -> tuple[str, int] | None:
    """The innermost template file and line in a traceback (Jinja rewrites frames to them)."""
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found
