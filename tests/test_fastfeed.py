"""The fast path against the reference: every feed the fast path accepts, in the benchmark's
corpus and in feedparser's own fixtures, gives exactly the articles feedparser gives.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from functools import cache

import pytest

from dispatch.errors import ParseError
from dispatch.ingest import fastfeed
from dispatch.ingest.parse import ParsedFeed, parse_feed
from feedparser_fixtures import SDIST, fixtures
from helpers.prepared import needs
from helpers.project import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import corpus as bench_corpus


def both(name: str, body: bytes, content_type: str | None) -> tuple[object, object]:
    def parsed(fast: bool) -> ParsedFeed | str:
        try:
            feed = parse_feed(
                name, body, url="https://example.org/feed", content_type=content_type, fast=fast
            )
        except ParseError as e:
            return f"rejected: {e.reason}"
        # The fingerprint is of the parser's entry, which differs by parser; articles must not.
        return replace(feed, articles=tuple(replace(a, fingerprint="") for a in feed.articles))

    return parsed(True), parsed(False)


def differences(cases: dict[str, bytes], content_type: str | None) -> tuple[int, list[str]]:
    accepted, different = 0, []
    for name, body in cases.items():
        if fastfeed.read(body, content_type) is None:
            continue
        accepted += 1
        fast, reference = both(name, body, content_type)
        if fast != reference:
            different.append(f"{name}: fast {fast!r:.300} != feedparser {reference!r:.300}")
    return accepted, different


@cache
def corpus_feeds() -> dict[str, bytes]:
    feeds = {}
    for generation in (0, 1):
        for feed in bench_corpus.feeds(60):
            text = bench_corpus.RENDER[feed.kind](feed, generation)
            feeds[f"{feed.path}@{generation}"] = text.encode()
    return feeds


@pytest.mark.slow
def test_the_benchmark_corpus_reads_the_same_both_ways() -> None:
    accepted, different = differences(corpus_feeds(), "application/rss+xml; charset=utf-8")
    assert different == []
    assert accepted == len(corpus_feeds())  # the common feed takes the fast path, all of it


@pytest.mark.slow
def test_feeds_from_wordpress_default_template_take_the_fast_path_and_read_the_same() -> None:
    # Every item of a WordPress feed carries comments, wfw:commentRss and slash:comments, and
    # its channel sy:update*, a generator and the site icon: the fast path took none of them.
    feeds = {
        f"{feed.path}@{generation}": bench_corpus.wordpress(
            feed, generation, template=True
        ).encode()
        for generation in (0, 1)
        for feed in bench_corpus.feeds(40)
        if feed.kind == "wp"
    }
    assert feeds and all(b"<slash:comments>" in body for body in feeds.values())
    accepted, different = differences(feeds, "application/rss+xml; charset=UTF-8")
    assert different == []
    assert accepted == len(feeds)


def test_feedparsers_fixtures_read_the_same_both_ways() -> None:
    needs("feedparser's source (its test fixtures)", SDIST.exists())
    cases = fixtures()
    accepted, different = differences(cases, "application/xml")
    assert different == []
    # Most fixtures test one odd feature each (no link, a dc:title...): those go to feedparser.
    assert accepted > 80


# Links are absolute (the fast path declines relative ones anyway); the ids are not. feedparser
# resolves an Atom id against xml:base (the article's key changes), not an RSS GUID: the fast
# path leaves both feeds to it.
XML_BASE_FEEDS = {
    "rss item": b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>T</title>
<item xml:base="https://other.example/news/"><title>A story</title>
<link>https://other.example/news/story-1</link><guid isPermaLink="false">g-1</guid>
<description>Read more</description></item></channel></rss>""",
    "atom entry": b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id>
<updated>2026-11-27T00:00:00Z</updated>
<entry xml:base="https://other.example/news/"><title>A story</title><id>e-1</id>
<link href="https://other.example/news/story-1"/><updated>2026-11-27T00:00:00Z</updated>
<content type="html">Read more</content></entry>
</feed>""",
}


def test_a_feed_with_xml_base_is_left_to_feedparser_which_resolves_against_it() -> None:
    for name, body in XML_BASE_FEEDS.items():
        assert fastfeed.read(body, "application/xml") is None, name
        fast, reference = both(name, body, "application/xml")
        assert fast == reference, name


def rss_item(
    item: str, *, declared: str | None = "utf-8", encoding: str = "utf-8", version: str = "2.0"
) -> bytes:
    declaration = f'<?xml version="1.0" encoding="{declared}"?>\n' if declared else ""
    return (
        f'{declaration}<rss version="{version}"><channel><title>T</title><item>{item}</item>'
        "</channel></rss>"
    ).encode(encoding)


def atom_entry(entry: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>T</title><id>urn:t</id><updated>2026-11-27T00:00:00Z</updated>"
        f"<entry>{entry}<updated>2026-11-27T00:00:00Z</updated></entry></feed>"
    ).encode()


LINK = "<link>https://news.example/a</link>"
# Each a way the two paths could part: the fast path must read it as feedparser does, or
# leave it to feedparser.
PLAIN = f"<title>Café</title>{LINK}<guid>tag:x,1</guid><description>Text</description>"
EDGE_FEEDS = {
    "a plain item": rss_item(PLAIN),  # the fast path reads it, unless the server says otherwise
    "no declaration": rss_item(PLAIN, declared=None),
    "declared Latin-1, written in UTF-8": rss_item(PLAIN, declared="iso-8859-1"),
    "RSS 0.91": rss_item(PLAIN, version="0.91"),
    "RSS 1.0 in an rss element": rss_item(PLAIN, version="1.0"),
    "an RSS GUID without a scheme": rss_item(f"<title>A</title>{LINK}<guid>1234</guid>"),
    "one not a permalink": rss_item(f'<title>A</title>{LINK}<guid isPermaLink="false">g</guid>'),
    "a protocol-relative GUID": rss_item(f"<title>A</title>{LINK}<guid>//cdn.example/1</guid>"),
    "an https GUID without a host": rss_item(f"<title>A</title>{LINK}<guid>https:1234</guid>"),
    "a GUID that is a broken URL": rss_item(f"<title>A</title>{LINK}<guid>http://[x</guid>"),
    "a link with a broken host": rss_item("<title>A</title><link>http://[x</link>"),
    "a YouTube embed with a broken host": rss_item(
        f"<title>A</title>{LINK}<guid>tag:x,1</guid><description>"
        "&lt;iframe src=&quot;https://[www.youtube.com/embed/dQw4w9WgXcQ&quot;&gt;"
        "&lt;/iframe&gt;</description>"
    ),
    "a YouTube link with a broken host": atom_entry(
        '<title>A</title><id>urn:1</id><link href="https://youtu.be]/dQw4w9WgXcQ"/>'
    ),
    "a pubDate in the year 10000 in UTC": rss_item(
        f"<title>A</title>{LINK}<guid>tag:x,1</guid>"
        "<pubDate>Fri, 31 Dec 9999 23:59:59 -1400</pubDate>"
    ),
    "an Atom date of February 30th": atom_entry(
        '<title>A</title><id>urn:1</id><link href="https://news.example/a"/>'
        "<published>2026-02-30T10:00:00Z</published>"
    ),
    "an Atom date in the year 10000 in UTC": atom_entry(
        '<title>A</title><id>urn:1</id><link href="https://news.example/a"/>'
        "<published>9999-12-31T23:00:00-14:00</published>"
    ),
    "a link with a port out of range": rss_item(
        "<title>A</title><link>http://a.example:99999/</link>"
    ),
    "an Atom id without a scheme": atom_entry(
        '<title>A</title><id>e-1</id><link href="https://news.example/a"/>'
    ),
    "a C1 control in a title": rss_item(f"<title>Caf\u0092s</title>{LINK}<guid>tag:x,1</guid>"),
    "escaped markup in a title": rss_item(
        f"<title>A &lt;b&gt;bold&lt;/b&gt; &amp;amp; title</title>{LINK}<guid>tag:x,1</guid>"
    ),
    "markup inside a description": rss_item(
        f"<title>A</title>{LINK}<guid>tag:x,1</guid>"
        '<description>Text <b xmlns="http://www.w3.org/1999/xhtml">bold</b></description>'
    ),
    "a relative link": rss_item("<title>A</title><link>/a</link><guid>tag:x,1</guid>"),
    "Latin-1, declared": rss_item(
        f"<title>Café</title>{LINK}<guid>tag:x,1</guid>", declared="iso-8859-1", encoding="latin-1"
    ),
}


def test_edge_cases_read_the_same_both_ways() -> None:
    different = []
    for name, body in EDGE_FEEDS.items():
        for content_type in ("application/xml", "text/html", "application/xml; charset=latin-1"):
            fast, reference = both(name, body, content_type)
            if fast != reference:
                different.append(f"{name} as {content_type}: {fast!r:.300} != {reference!r:.300}")
    assert different == []
