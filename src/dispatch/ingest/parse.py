"""Feed bytes to normalised Articles, with feedparser as the reference parser.

feedparser's sanitiser is off (it strips the iframes that carry YouTube embeds); videos are
found on the raw HTML first, then the HTML is sanitised with nh3.
"""

from __future__ import annotations

import codecs
import hashlib
import pickle
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dispatch.errors import ParseError
from dispatch.ingest import fastfeed
from dispatch.ingest.media import cards_in_entry
from dispatch.ingest.sanitize import clean_html, clean_text, text_of_clean
from dispatch.models import Article
from dispatch.text import printable
from dispatch.urls import normalise_url, split_url

# A DOCTYPE is never needed to read a feed, and its entities are how XML bombs and XXE work.
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*(\[[\s\S]*?\]\s*)?>", re.IGNORECASE)
_EXCERPT_ENDINGS = ("[…]", "[...]", "…", "...", "continue reading", "read more")
_SHORT_EXCERPT = 600
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_IMAGE = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
# A numeric character reference, as feedparser's loose parser finds them.
_REFERENCE = re.compile(rb"&#([0-9]+|[xX][0-9a-fA-F]+);")
_NO_CHARACTER = b"&#xFFFD;"
_URL_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


_PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 604800,
    "monthly": 2592000,
    "yearly": 31536000,
}


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    articles: tuple[Article, ...]
    warnings: tuple[str, ...] = ()
    hint: float | None = None  # seconds the publisher asks between polls (ttl, sy:*)
    hub: str | None = None  # where it is pushed from (WebSub), if it says
    topic: str | None = None  # its own address (rel="self"), what a hub knows it by


def parse_feed(
    name: str,
    body: bytes,
    *,
    url: str,
    content_type: str | None = None,
    fast: bool = True,
    stored: Callable[[list[str]], Mapping[str, str]] | None = None,
) -> ParsedFeed:
    """Parse one feed body: the fast path for the common feed, else feedparser (``fast=False``:
    feedparser always, as the differential test compares them).

    ``stored`` gives, for entries' keys, the fingerprints of the articles stored under them.
    An entry whose fingerprint is the stored one is the stored article: it is left out, not
    sanitised and read again. A feed changes by an article or two; the rest stay as they were.

    Raises:
        ParseError: the body is empty, an HTML page, or not a feed at all.
    """
    if not body.strip():
        raise ParseError(name, "the body is empty", hint="the server answered with nothing")
    charset_warning: tuple[str, ...] = ()
    if content_type:
        content_type, charset_warning = _trust_the_document(content_type, body)
    body = _DOCTYPE.sub(b"", body, count=1)
    entries: list[Any]
    hints: Mapping[str, Any]
    read = fastfeed.read(body, content_type) if fast else None
    if read is not None:
        feed_title, entries, hints = read
        entries = [entry for entry in entries if _has_substance(entry)]
        warnings: tuple[str, ...] = ()
    else:
        feed_title, entries, warnings, hints = _by_feedparser(name, body, url, content_type)
    guids = Counter(entry.get("id") for entry in entries if entry.get("id"))
    links = Counter(link for link in map(_link, entries) if link)
    title = clean_text(feed_title) or name
    keyed = [(entry, _key(entry, guids, links), _fingerprint(entry, url)) for entry in entries]
    same = stored([key for _, key, _ in keyed if key]) if stored else {}
    articles: dict[str, Article] = {}
    for entry, key, fingerprint in keyed:
        if key is not None and same.get(key) == fingerprint:
            continue  # stored, and its entry has not changed
        article = _article(name, title, entry, key, fingerprint, url)
        articles.setdefault(article.key, article)
    hub, topic = push_links(hints)
    return ParsedFeed(
        title,
        tuple(articles.values()),
        (*charset_warning, *warnings),
        publisher_hint(hints),
        hub,
        topic,
    )


def push_links(hints: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The feed's first WebSub hub and its own address (``rel="hub"``, ``rel="self"``): web
    addresses only.
    """
    found: dict[str, str] = {}
    for link in hints.get("links") or ():
        rel, href = link.get("rel"), web_url(link.get("href"))
        if rel in ("hub", "self") and rel not in found and href:
            found[rel] = href
    return found.get("hub"), found.get("self")


def publisher_hint(hints: Mapping[str, Any]) -> float | None:
    """The seconds a feed asks between polls: its ``ttl`` (minutes), or ``sy:updatePeriod``
    divided by ``sy:updateFrequency``; the longer when it says both. None when it says neither
    in a form that can be read.
    """
    asked = []
    ttl = str(hints.get("ttl") or "").strip()
    if ttl.isascii() and ttl.isdigit() and int(ttl) > 0:
        asked.append(int(ttl) * 60.0)
    period = _PERIODS.get(str(hints.get("sy_updateperiod") or "").strip().lower())
    if period is not None:
        frequency = str(hints.get("sy_updatefrequency") or "1").strip()
        times = int(frequency) if frequency.isascii() and frequency.isdigit() else 0
        if times > 0:
            asked.append(period / times)
    return max(asked) if asked else None


def _by_feedparser(
    name: str, body: bytes, url: str, content_type: str | None
) -> tuple[str, list[Any], tuple[str, ...], Mapping[str, Any]]:
    """The feed's title, its entries with substance, what was wrong with it, and its fields
    (the polling hints among them).

    Raises:
        ParseError: not a feed, or nothing could be read.
    """
    import feedparser

    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    body, references = _references_to_characters(body)
    try:
        parsed = feedparser.parse(
            body, sanitize_html=False, resolve_relative_uris=False, response_headers=headers
        )
    except Exception as error:  # feedparser raises on some broken feeds (its issue #599)
        raise ParseError(
            name,
            f"feedparser could not read it ({type(error).__name__}: {error})",
            hint="feedparser fails on something in this feed; it is tried again next poll",
        ) from error
    if not parsed.get("version") and not parsed.entries:
        raise ParseError(
            name,
            _not_a_feed(body, parsed),
            hint="check that the URL is the feed, not the site's home page",
        )
    entries = [entry for entry in parsed.entries if _has_substance(entry)]
    for entry in entries:
        guid = entry.get("id")
        if isinstance(guid, str) and "\x00" in guid:  # kept from a raw NUL byte
            entry["id"] = printable(guid)
    warnings: tuple[str, ...] = ()
    exception = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(exception, feedparser.NonXMLContentType):
        warnings = (f"served as {content_type or 'no content type'}, not as XML; read anyway",)
    elif isinstance(exception, feedparser.CharacterEncodingOverride):
        warnings = (f"its declared encoding was wrong; read as {parsed.get('encoding')}",)
    elif exception is not None:
        problem = f"the feed is not well-formed XML ({_describe(exception)})"
        if not entries:
            raise ParseError(
                name,
                f"{problem}; no article could be read",
                hint="the publisher's feed is broken; it is tried again next poll",
            )
        warnings = (f"{problem}; {len(entries)} article(s) read anyway",)
    if references:
        warnings += (
            f"{references} character reference(s) to no character (like &#xD800;) read as U+FFFD",
        )
    return parsed.feed.get("title", ""), entries, warnings, parsed.feed


def _references_to_characters(body: bytes) -> tuple[bytes, int]:
    """The body with each numeric character reference to no character (a surrogate, or a
    number past U+10FFFF) or to NUL made one to U+FFFD, as HTML reads them, and how many
    there were.

    feedparser's loose parser makes characters of them with ``chr`` and raises, and so
    loses the whole feed (feedparser's issue #591); a NUL it keeps, and PostgreSQL refuses
    to store one. No well-formed feed has one, so the fast path never sees them: lxml
    refuses the document.
    """
    if b"&#" not in body:
        return body, 0
    count = 0

    def character(match: re.Match[bytes]) -> bytes:
        nonlocal count
        number = match.group(1)
        hexadecimal = number[:1] in b"xX"
        digits = (number[1:] if hexadecimal else number).lstrip(b"0")
        if len(digits) <= (6 if hexadecimal else 7):
            value = int(digits or b"0", 16 if hexadecimal else 10)
            if 0 < value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF:
                return match.group(0)
        count += 1
        return _NO_CHARACTER

    return _REFERENCE.sub(character, body), count


def _trust_the_document(content_type: str, body: bytes) -> tuple[str, tuple[str, ...]]:
    """Where the HTTP charset and the feed's own XML declaration disagree, read the feed as
    it says: servers send a default charset far more often than a feed declares a wrong one.
    """
    media, _, parameters = content_type.partition(";")
    http = _CHARSET.search(parameters)
    theirs = fastfeed.declared_encoding(body)
    if http is None or theirs is None:
        return content_type, ()
    ours = http.group(1)
    try:
        if codecs.lookup(ours).name == codecs.lookup(theirs).name:
            return content_type, ()
    except LookupError:
        return content_type, ()
    return media.strip(), (
        f"the server says charset={ours} but the feed says {theirs}; read as {theirs}",
    )


def _not_a_feed(body: bytes, parsed: Any) -> str:
    head = body.lstrip()[:200].lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "this is an HTML page, not a feed"
    exception = parsed.get("bozo_exception")
    if exception:
        return f"not a feed ({_describe(exception)})"
    return "not a feed: no RSS or Atom found"


def _describe(error: Any) -> str:
    """A parser error in words, with its line and column where the parser gives them."""
    if hasattr(error, "getLineNumber") and hasattr(error, "getMessage"):
        return (
            f"line {error.getLineNumber()}, column {error.getColumnNumber()}: {error.getMessage()}"
        )
    return str(error)


def _has_substance(entry: Any) -> bool:
    """An entry with no title, link or content is not an article."""
    return bool(
        entry.get("title") or entry.get("link") or entry.get("summary") or entry.get("content")
    )


def _link(entry: Any) -> str | None:
    return web_url(entry.get("link"))


def web_url(value: Any) -> str | None:
    """The URL when it is an absolute http(s) URL, else None: no ``javascript:`` or ``data:``
    link ever reaches a template, and no ``http://[broken`` host or port out of range reaches
    the code that takes URLs apart.
    """
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not (url[:8].lower().startswith(("http:", "https:")) and "//" in url):
        return None
    if _URL_CONTROL.search(url):  # a NUL, which PostgreSQL cannot store, or the like
        return None
    try:
        split_url(url)
    except ValueError:
        return None
    return url


def _key(entry: Any, guids: Counter[str], links: Counter[str]) -> str | None:
    """The entry's key by its GUID, else its link, where that is unique in the feed; None
    when only its content can tell it.
    """
    guid = entry.get("id")
    if guid and guids[guid] == 1:
        return f"guid:{guid}"
    link = _link(entry)
    if link and links[link] == 1:
        return f"link:{normalise_url(link)}"
    return None


def _fingerprint(entry: Any, base: str) -> str:
    """What the entry is made of, the feed's URL included (relative links are resolved
    against it). Entries are plain values (strings, lists, dicts, times): pickled, equal
    bytes mean equal entries, and pickling is five times quicker than ``repr``.
    """
    return hashlib.sha256(base.encode() + pickle.dumps(entry, 5)).hexdigest()[:32]


def _article(
    feed: str,
    source: str,
    entry: Any,
    key: str | None,
    fingerprint: str,
    base: str,
) -> Article:
    title = clean_text(entry.get("title") or "") or "(untitled)"
    content = entry.get("content") or []
    raw_html = content[0].get("value", "") if content else entry.get("summary", "") or ""
    html = clean_html(raw_html, base)
    text = text_of_clean(html)
    link = _link(entry)
    guid = entry.get("id") or None
    content_hash = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()
    cards = tuple(cards_in_entry(entry, raw_html, title))
    return Article(
        feed=feed,
        source=source,
        key=key or f"hash:{content_hash[:32]}",
        title=title,
        link=link,
        guid=guid,
        author=clean_text(entry.get("author") or "") or None,
        published=_date(entry),
        categories=tuple(
            term for tag in entry.get("tags") or [] if (term := clean_text(tag.get("term") or ""))
        ),
        html=html,
        text=text,
        excerpt_only=not content and not entry.get("yt_videoid") and _looks_excerpt(text),
        image=_lead_image(entry, html) or (cards[0].thumbnail if cards else None),
        cards=cards,
        content_hash=content_hash,
        fingerprint=fingerprint,
    )


def _date(entry: Any) -> datetime | None:
    for field in ("published_parsed", "updated_parsed"):
        # The key itself: feedparser's own get() stands one for the other when it is missing,
        # with a DeprecationWarning; this loop tries both anyway.
        value = dict.get(entry, field)
        if value:
            try:
                year, month, day, hour, minute, second = value[:6]
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except (TypeError, ValueError):
                continue
    return None


def _looks_excerpt(text: str) -> bool:
    return len(text) < _SHORT_EXCERPT or text.rstrip().lower().endswith(_EXCERPT_ENDINGS)


def _lead_image(entry: Any, html: str) -> str | None:
    candidates = [match.group(1) for match in _IMAGE.finditer(html)]
    candidates += [thumbnail.get("url") for thumbnail in entry.get("media_thumbnail") or []]
    candidates += [
        media.get("url")
        for media in entry.get("media_content") or []
        if media.get("medium") == "image" or str(media.get("type", "")).startswith("image/")
    ]
    candidates += [
        enclosure.get("href")
        for enclosure in entry.get("enclosures") or []
        if str(enclosure.get("type", "")).startswith("image/")
    ]
    return next((url for url in map(web_url, candidates) if url), None)
