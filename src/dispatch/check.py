"""`dispatch check`: compile every template against sample articles, so a template change can be
guarded in CI. Reports template syntax errors with file and line, MJML errors, posts that
cannot fit, digests past Gmail's clipping size, images without alt text, and digests that lack
the unsubscribe link an output configures.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import jinja2

from dispatch.config import Config
from dispatch.delivery import render_digest, render_post
from dispatch.errors import TemplateError
from dispatch.models import Article, VideoCard
from dispatch.outputs.base import Output
from dispatch.outputs.smtp import GMAIL_CLIP_BYTES
from dispatch.render import Renderer

_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning"]
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}"


def sample_articles() -> list[Article]:
    """Articles that stress templates: a long non-ASCII title with a video, image and long
    summary; a plain short one; one with emoji and no link to an image.
    """
    published = datetime(2026, 11, 26, 17, 30, tzinfo=UTC)
    video = VideoCard(
        "aqz-KE-bpKQ",
        "https://www.youtube.com/watch?v=aqz-KE-bpKQ",
        "https://i.ytimg.com/vi/aqz-KE-bpKQ/hqdefault.jpg",
        "The budget explained",
    )
    return [
        Article(
            feed="sample",
            source="The Sample Gazette",
            key="s1",
            id=1,
            title="Bürgerhaushalt 2026: what the new tax bands mean for teachers, "
            "shopkeepers and retired engineers across the province",
            link="https://news.example/2026/11/26/budget-2026-tax-bands/",
            author="Ayesha Raza",
            published=published,
            categories=("Economy",),
            image="https://news.example/wp-content/uploads/bands.png",
            cards=(video,),
            summary="The finance minister moved three income tax bands on Thursday and "
            "froze a fourth, the largest change to personal taxation in a decade. "
            "We worked through what that means for three households.",
        ),
        Article(
            feed="sample",
            source="The Sample Gazette",
            key="s2",
            id=2,
            title="Metro line 2 opens",
            link="https://news.example/metro",
            image="https://news.example/wp-content/uploads/metro.jpg",
            published=published,
            summary="The second metro line opened on Thursday.",
        ),
        Article(
            feed="sample",
            source="Regional Wire",
            key="s3",
            id=3,
            title="Cinemas report their best weekend since 2019 🎬🍿",
            link="https://wire.example/cinemas",
            published=None,
            summary="Two local productions sold out in every major city. 日本語も。",
        ),
    ]


def check(config: Config, outputs: dict[str, Output]) -> list[Finding]:
    """Every finding, errors first."""
    templates = config.resolve(config.templates) if config.templates else None
    renderer = Renderer(templates)
    findings = _syntax(renderer)
    samples = sample_articles()
    for rule in config.digests:
        for name in rule.outputs:
            output = outputs[name]
            where = f"digest {rule.name!r} → {name!r}"
            try:
                rendered = render_digest(
                    renderer, rule, output, samples, datetime(2026, 11, 27, 2, tzinfo=UTC)
                )
            except TemplateError as e:
                findings.append(Finding("error", where, e.describe()))
                continue
            findings += _digest_findings(where, rendered.html, rendered.text, output)
    for post_rule in config.posts:
        for name in post_rule.outputs:
            output = outputs[name]
            for article in samples:
                where = f"post {post_rule.name!r} → {name!r} (sample {article.key})"
                try:
                    text = render_post(renderer, post_rule.name, output, article)
                except TemplateError as e:
                    findings.append(Finding("error", where, e.describe()))
                    continue
                if article.link and text == article.link:
                    findings.append(
                        Finding(
                            "error",
                            where,
                            "the template cannot fit the limit even with an empty title and "
                            "summary, so the post would be the bare link",
                        )
                    )
    return sorted(findings, key=lambda f: f.level != "error")


def _syntax(renderer: Renderer) -> list[Finding]:
    findings = []
    for name in renderer.env.list_templates(extensions=["j2"]):
        try:
            renderer.env.get_template(name)
        except jinja2.TemplateSyntaxError as e:
            where = f"{e.filename or name}, line {e.lineno}"
            findings.append(Finding("error", where, e.message or str(e)))
    return findings


def _digest_findings(where: str, page: str, text: str, output: Output) -> list[Finding]:
    findings = []
    size = len(page.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        findings.append(
            Finding(
                "warning",
                where,
                f"{size:,} bytes of HTML with three sample articles; Gmail clips past about 102 KB",
            )
        )
    for tag in _IMG.findall(page):
        alt = _ALT.search(tag)
        if alt is None or not (alt.group(1) or alt.group(2) or "").strip():
            source = re.search(r"""\bsrc\s*=\s*["']([^"']*)""", tag)
            findings.append(
                Finding(
                    "warning",
                    where,
                    f"an image without alt text ({source.group(1) if source else 'no src'})",
                )
            )
    unsubscribe = getattr(output.settings, "unsubscribe", None)
    if unsubscribe and html.escape(unsubscribe) not in page and unsubscribe not in page:
        findings.append(
            Finding(
                "error",
                where,
                "the digest has no unsubscribe link, though the output configures one "
                "(use {{ unsubscribe }} in the template)",
            )
        )
    if unsubscribe and unsubscribe not in text:
        findings.append(Finding("error", where, "the plain-text twin has no unsubscribe link"))
    return findings
