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
from dispatch.errors import TemplateError
from dispatch.outputs.base import Output
from dispatch.render.messages import render_digest, render_post
from dispatch.render.renderer import BUILT_IN_PREFIX, Renderer
from dispatch.render.samples import sample_articles

_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning"]
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}"


def check(config: Config, outputs: dict[str, Output]) -> list[Finding]:
    """Every finding, errors first."""
    renderer = Renderer(config.templates_dir)
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
        if name.startswith(f"{BUILT_IN_PREFIX}:"):
            continue  # the shipped set again, by its other name: compiled once is enough
        try:
            renderer.env.get_template(name)
        except jinja2.TemplateSyntaxError as e:
            where = f"{e.filename or name}, line {e.lineno}"
            findings.append(Finding("error", where, e.message or str(e)))
    return findings


def _digest_findings(where: str, page: str, text: str, output: Output) -> list[Finding]:
    findings = []
    size = len(page.encode("utf-8"))
    capabilities = output.capabilities
    clip_at = capabilities.clip_bytes
    if clip_at is not None and size > clip_at:
        findings.append(
            Finding(
                "warning",
                where,
                f"{size:,} bytes of HTML with three sample articles; mail clients clip "
                f"past {clip_at:,} bytes (Gmail, about 102 KB)",
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
    unsubscribe = capabilities.unsubscribe
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
