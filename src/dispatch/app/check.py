"""`dispatch check`: compile every template against sample articles, so a template change can be
guarded in CI, and look for the mistakes that would stop a send. Reports template syntax
errors with file and line, MJML errors and tags MJML does not know, posts that cannot fit,
digests past Gmail's clipping size, images without alt text, digests that lack the
unsubscribe link an output configures; feeds at private addresses that would be refused,
outputs that cannot send yet (a secret not set); and, for digests that reach inboxes, no
unsubscribe link or postal address.
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
from dispatch.net.guard import BlockedAddress, NotFetched, check_target
from dispatch.outputs.base import Output
from dispatch.render.messages import render_digest, render_post
from dispatch.render.renderer import BUILT_IN_PREFIX, Renderer
from dispatch.render.samples import sample_articles
from dispatch.urls import split_url

_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
# A tag MJML knows is compiled into HTML; one it does not know (a typo) is left as it is.
_MJ_TAG = re.compile(r"<(mj-[\w-]+)")


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
    findings = _syntax(renderer) + _setup(config, outputs)
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
            findings += _unknown_tags(renderer, where, rendered.html)
            if output.capabilities.inbox:
                findings += _inbox_findings(where, rule.postal_address, output)
    for post_rule in config.posts:
        for name in post_rule.outputs:
            output = outputs[name]
            for article in samples:
                where = f"post {post_rule.name!r} → {name!r} (sample {article.key})"
                try:
                    text = render_post(renderer, post_rule, output, article)
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


def _setup(config: Config, outputs: dict[str, Output]) -> list[Finding]:
    """What would fail however good the templates: feeds the address guard refuses, outputs
    that cannot send.
    """
    findings = []
    for feed in config.feeds:
        if "://" not in feed.url:
            continue  # a file beside feeds.yaml
        allowed = config.private_allowed(feed.allow_private_networks)
        try:
            check_target(feed.url, allowed)  # a literal address; a name is judged below
            host = (split_url(feed.url).hostname or "").rstrip(".")
            if not allowed and host.endswith("localhost"):  # RFC 6761: always this machine
                raise BlockedAddress(f"{host} is this machine, a private address")
        except (BlockedAddress, NotFetched) as e:
            findings.append(
                Finding(
                    "error",
                    f"feed {feed.name!r}",
                    f"{e}, so it would be refused; set allow_private_networks: true on the "
                    "feed (or for all feeds) if it is meant",
                )
            )
    for name, output in outputs.items():
        reason = output.ready()
        if reason is not None:
            # A warning: a template check in CI runs without the secrets, as a dry run does.
            findings.append(
                Finding(
                    "warning",
                    f"output {name!r}",
                    f"cannot send until it is ready: {reason}; its deliveries wait till then",
                )
            )
    return findings


def _unknown_tags(renderer: Renderer, where: str, page: str) -> list[Finding]:
    findings = []
    for tag in dict.fromkeys(_MJ_TAG.findall(page)):
        place = _written_in(renderer, f"<{tag}")
        findings.append(
            Finding(
                "error",
                place or where,
                f"<{tag}> is not an MJML tag, so it is sent as it is and mail clients drop "
                "it (a typo? MJML's tags are listed at https://documentation.mjml.io)",
            )
        )
    return findings


def _written_in(renderer: Renderer, text: str) -> str | None:
    """The template file and line where ``text`` is first written, the editor's files first."""
    for name in renderer.env.list_templates(extensions=["j2"]):
        if name.startswith(f"{BUILT_IN_PREFIX}:"):
            continue  # the same files again, by their other name
        source, filename, _ = renderer.env.loader.get_source(renderer.env, name)  # type: ignore[union-attr]
        at = source.find(text)
        if at >= 0:
            return f"{filename or name}, line {source.count(chr(10), 0, at) + 1}"
    return None


def _inbox_findings(where: str, postal_address: str | None, output: Output) -> list[Finding]:
    findings = []
    if not output.capabilities.unsubscribe:
        findings.append(
            Finding(
                "warning",
                where,
                "no unsubscribe link: set the output's `unsubscribe` (a URL or a mailto:); "
                "Gmail and Yahoo ask bulk senders for one-click unsubscribe, and CAN-SPAM and "
                "GDPR for a way to opt out",
            )
        )
    if not postal_address:
        findings.append(
            Finding(
                "warning",
                where,
                "no postal address in the footer: set the digest's `postal_address`; "
                "CAN-SPAM asks for the sender's in every commercial email",
            )
        )
    return findings


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
