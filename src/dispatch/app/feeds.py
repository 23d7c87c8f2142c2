"""Managing the feeds list: find a site's feed from its home page, name it, and move lists in
and out as OPML. The edit of feeds.yaml itself is ``dispatch.config.edit``'s.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urljoin
from xml.sax.saxutils import quoteattr

from lxml import etree, html

from dispatch.config import Config, feed_url_problem
from dispatch.config.edit import add_feeds
from dispatch.errors import DispatchError, FetchError, ParseError
from dispatch.ingest.parse import parse_feed
from dispatch.net.fetch import Fetcher, FetchRequest, FetchResponse

PROBES = 8  # OPML feeds fetched at once while importing

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/xml",
    "text/xml",
)


class FeedsError(DispatchError):
    """A feeds command cannot do what was asked."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class Found:
    url: str
    title: str


def discover(page: bytes, base: str) -> list[Found]:
    """The feeds a web page announces with ``<link rel="alternate">``, in page order, with
    relative URLs made absolute. Comment feeds come last.
    """
    try:
        document = html.fromstring(page, base_url=base)
    except (etree.ParserError, ValueError):
        return []
    found: list[Found] = []
    for link in document.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in FEED_TYPES and href:
            try:
                url = urljoin(base, href)
            except ValueError:  # a host that cannot be taken apart, like "//[x"
                continue
            if url not in (f.url for f in found):
                found.append(Found(url, (link.get("title") or "").strip()))
    return sorted(found, key=lambda f: "comment" in f.title.lower() or "/comments" in f.url)


def find_feed(config: Config, url: str) -> Found:
    """The feed at ``url``: the URL itself when it is a feed, else the first feed its page
    announces (a site's home page, a YouTube channel's page).

    Raises:
        FeedsError: the page cannot be fetched, or it is no feed and announces none.
    """
    page = _fetch(config, url)
    try:
        parsed = parse_feed("new", page.body, url=page.url, content_type=page.content_type)
        return Found(page.url, parsed.title)
    except ParseError:
        pass
    announced = discover(page.body, page.url)
    if not announced:
        raise FeedsError(
            f'{url} is not a feed, and its page announces none (no <link rel="alternate">)',
            hint="give the feed's own URL; on WordPress it is usually /feed/",
        )
    for candidate in announced:
        try:
            body = _fetch(config, candidate.url)
            parsed = parse_feed("new", body.body, url=body.url, content_type=body.content_type)
        except (FeedsError, ParseError):
            continue
        return Found(body.url, parsed.title or candidate.title)
    raise FeedsError(
        f"the feeds {url} announces cannot be read: {', '.join(f.url for f in announced)}",
        hint="check them in a browser; give the working one's URL",
    )


def _fetch(config: Config, url: str) -> FetchResponse:
    request = FetchRequest("new", url, allow_private=config.allow_private_networks)
    (response,) = Fetcher(config.fetch, config.base_dir).fetch_all([request])
    if isinstance(response, FetchError):
        raise FeedsError(f"cannot fetch {url}: {response.reason}", hint=response.hint)
    return response


def slug(text: str, taken: set[str]) -> str:
    """A feed name from a title: lower case, words joined by dashes, unique among ``taken``."""
    base = re.sub(r"[^\w]+", "-", text.casefold()).strip("-")[:40].strip("-") or "feed"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    return name


def read_opml(data: bytes) -> list[Found]:
    """Every feed an OPML file lists (``xmlUrl`` of any outline, nested or not).

    Raises:
        FeedsError: the file is not OPML.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        raise FeedsError(f"not an OPML file: {e}", hint="export it again from the reader") from None
    if etree.QName(root).localname.lower() != "opml":
        raise FeedsError("not an OPML file: its root is not <opml>")
    found: list[Found] = []
    for outline in root.iter("{*}outline", "outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url and url not in (f.url for f in found):
            title = outline.get("title") or outline.get("text") or ""
            found.append(Found(url, title.strip()))
    return found


def write_opml(config: Config, title: str = "dispatch feeds") -> str:
    """The configured feeds as OPML 2.0."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_escape(title)}</title></head>",
        "  <body>",
    ]
    for feed in config.feeds:
        name = feed.title or feed.name
        lines.append(
            f'    <outline type="rss" text={quoteattr(name)} title={quoteattr(name)} '
            f"xmlUrl={quoteattr(feed.url)} />"
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def add_from_url(path: Path, config: Config, url: str, name: str | None, every: str | None) -> str:
    """Find the feed at ``url`` (or announced by its page) and add it to feeds.yaml; its name.

    Raises:
        FeedsError: no feed found, or it is configured already.
        ConfigError: the name or interval is invalid (nothing is written).
    """
    found = find_feed(config, url)
    configured = {feed.url: feed.name for feed in config.feeds}
    if found.url in configured:
        raise FeedsError(f"{found.url} is already in feeds.yaml, as {configured[found.url]!r}")
    taken = {feed.name for feed in config.feeds}
    entry: dict[str, Any] = {"name": name or slug(found.title or url, taken), "url": found.url}
    if every:
        entry["every"] = every
    add_feeds(path, [entry])
    return str(entry["name"])


def import_opml(path: Path, config: Config, data: bytes) -> tuple[list[str], list[str], list[str]]:
    """Add every feed an OPML file lists that feeds.yaml does not have and that works:
    (added, already there, refused). Each URL is fetched first, as ``feeds add`` does (a home
    page leads to the feed it announces); one that cannot be read is refused with its reason,
    and the rest are added.

    Raises:
        FeedsError: the file is not OPML.
        ConfigError: the result would be invalid (nothing is written).
    """
    configured = {feed.url for feed in config.feeds}
    skipped, refused, candidates = [], [], []
    for found in read_opml(data):
        if found.url in configured:
            skipped.append(found.url)
            continue
        problem = _web_feed_problem(found.url)
        if problem:
            refused.append(f"{found.url}: {problem}")
            continue
        candidates.append(found)
    with ThreadPoolExecutor(PROBES) as pool:
        probes = list(pool.map(partial(_probe, config), candidates))
    taken = {feed.name for feed in config.feeds}
    entries = []
    for found, probe in zip(candidates, probes, strict=True):
        if isinstance(probe, FeedsError):
            refused.append(str(probe))  # names the URL, with the reason and a hint
            continue
        if probe.url in configured:  # a home page whose feed is there already
            skipped.append(found.url)
            continue
        title = found.title or probe.title
        name = slug(title or probe.url, taken)
        taken.add(name)
        configured.add(probe.url)
        entry: dict[str, Any] = {"name": name, "url": probe.url}
        if title and title != name:
            entry["title"] = title
        entries.append(entry)
    if entries:
        add_feeds(path, entries)
    return [str(e["name"]) for e in entries], skipped, refused


def _probe(config: Config, found: Found) -> Found | FeedsError:
    try:
        return find_feed(config, found.url)
    except FeedsError as e:
        return e


def _web_feed_problem(url: str) -> str | None:
    """Why an OPML file's feed URL cannot be polled, or None. Unlike feeds.yaml, an OPML
    file names no local files: a URL that is not http(s) is not one to fetch.
    """
    if not url.lower().startswith(("http://", "https://")):
        return "not an http(s) URL"
    return feed_url_problem(url)
