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
def corpus_feeds(mix: str) -> dict[str, bytes]:
    feeds = {}
    for generation in (0, 1):
        for feed in bench_corpus.feeds(60 if mix == "classic" else 100, mix):
            text = bench_corpus.RENDER[feed.kind](feed, generation)
            feeds[f"{feed.path}@{generation}"] = text.encode()
    return feeds


@pytest.mark.slow
def test_the_classic_benchmark_corpus_reads_the_same_both_ways() -> None:
    accepted, different = differences(corpus_feeds("classic"), "application/rss+xml; charset=utf-8")
    assert different == []
    assert accepted == len(corpus_feeds("classic"))  # all of it takes the fast path


@pytest.mark.slow
def test_feeds_as_the_common_generators_write_them_read_the_same_both_ways() -> None:
    """The web's corpus: WordPress's own template (with and without media plugins), Blogger,
    Ghost, Substack, Medium, Hugo, jekyll-feed, Drupal and YouTube, each as its generator
    writes it. Every feed reads the same both ways, and at least 95 % of them (#20's target;
    every one today) take the fast path.
    """
    feeds = corpus_feeds("web")
    kinds = {name.split("/")[0] for name in feeds}
    assert kinds == set(bench_corpus.WEB)
    accepted, different = differences(feeds, "application/rss+xml; charset=UTF-8")
    assert different == []
    assert accepted >= 0.95 * len(feeds), f"{accepted} of {len(feeds)} took the fast path"
    for name, body in feeds.items():
        if fastfeed.read(body, "application/rss+xml") is None:  # compared when declined too
            fast, reference = both(name, body, "application/rss+xml")
            assert fast == reference, name


def test_feedparsers_fixtures_read_the_same_both_ways() -> None:
    needs("feedparser's source (its test fixtures)", SDIST.exists())
    cases = fixtures()
    accepted, different = differences(cases, "application/xml")
    assert different == []
    # Most fixtures test one odd feature each (no link, a dc:title...): those go to feedparser.
    assert accepted > 80


# feedparser resolves links, permalink GUIDs and Atom ids against xml:base; a GUID that is no
# permalink it takes as it is. Where everything the fast path reads is absolute, the base
# changes nothing and the fast path reads the feed; where anything is relative, it declines.
XML_BASE_FEEDS = {
    "rss item, GUID no permalink": (
        True,
        b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>T</title>
<item xml:base="https://other.example/news/"><title>A story</title>
<link>https://other.example/news/story-1</link><guid isPermaLink="false">g-1</guid>
<description>Read more</description></item></channel></rss>""",
    ),
    "Drupal: base on the feed, a GUID with spaces": (
        True,
        b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xml:base="https://drupal.example/"><channel><title>T</title>
<item><title>A story</title><link>https://drupal.example/node/7</link>
<description>&lt;p&gt;Read &lt;a href="/node/8"&gt;more&lt;/a&gt;&lt;/p&gt;</description>
<guid isPermaLink="false">7 at https://drupal.example</guid></item></channel></rss>""",
    ),
    "rss item, relative permalink GUID": (
        False,
        b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>T</title>
<item xml:base="https://other.example/news/"><title>A story</title>
<link>https://other.example/news/story-1</link><guid>story-1</guid>
<description>Read more</description></item></channel></rss>""",
    ),
    "atom entry, relative id": (
        False,
        b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id>
<updated>2026-11-27T00:00:00Z</updated>
<entry xml:base="https://other.example/news/"><title>A story</title><id>e-1</id>
<link href="https://other.example/news/story-1"/><updated>2026-11-27T00:00:00Z</updated>
<content type="html">Read more</content></entry>
</feed>""",
    ),
    "atom entry, relative link": (
        False,
        b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://other.example/"><title>T</title>
<id>urn:t</id><updated>2026-11-27T00:00:00Z</updated>
<entry><title>A story</title><id>urn:e-1</id><link href="news/story-1"/>
<updated>2026-11-27T00:00:00Z</updated><content type="html">Read more</content></entry>
</feed>""",
    ),
    "jekyll-feed: content with its own base, all else absolute": (
        True,
        b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title type="html">T</title>
<id>https://jekyll.example/</id><updated>2026-11-27T00:00:00Z</updated>
<entry><title type="html">A story</title><id>https://jekyll.example/2026/11/27/a</id>
<link href="https://jekyll.example/2026/11/27/a.html" rel="alternate" type="text/html"/>
<published>2026-11-27T00:00:00+05:00</published><updated>2026-11-27T00:00:00+05:00</updated>
<content type="html" xml:base="https://jekyll.example/2026/11/27/a.html">&lt;p&gt;See
&lt;a href="../b.html"&gt;this&lt;/a&gt;&lt;/p&gt;</content>
<author><name>Ayesha</name><email>ayesha@jekyll.example</email></author></entry>
</feed>""",
    ),
}


@pytest.mark.parametrize("name", XML_BASE_FEEDS)
def test_xml_base_changes_nothing_the_fast_path_reads_or_the_feed_is_left_to_feedparser(
    name: str,
) -> None:
    taken, body = XML_BASE_FEEDS[name]
    assert (fastfeed.read(body, "application/xml") is not None) == taken
    fast, reference = both(name, body, "application/xml")
    assert isinstance(reference, ParsedFeed) and reference.articles
    assert fast == reference


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
    "two alternate links, the last one html": atom_entry(
        '<title>A</title><id>urn:1</id><link href="https://news.example/a"/>'
        '<link rel="alternate" type="application/pdf" href="https://news.example/a.pdf"/>'
        '<link rel="alternate" type="text/html" href="https://news.example/b"/>'
    ),
    "an author with only an email": atom_entry(
        '<title>A</title><id>urn:1</id><link href="https://news.example/a"/>'
        "<author><email>desk@news.example</email></author>"
    ),
    "an author with neither name nor email": atom_entry(
        '<title>A</title><id>urn:1</id><link href="https://news.example/a"/>'
        "<author><uri>https://news.example/desk</uri></author>"
    ),
    "two authors": atom_entry(
        '<title>A</title><id>urn:1</id><link href="https://news.example/a"/>'
        "<author><name>Ayesha</name></author><author><name>Bilal</name>"
        "<email>bilal@news.example</email></author>"
    ),
    "an html title without markup": atom_entry(
        '<title type="html">A plain title</title><id>urn:1</id>'
        '<link href="https://news.example/a"/>'
    ),
    "an html title with an entity": atom_entry(
        '<title type="html">A &amp;amp; B</title><id>urn:1</id>'
        '<link href="https://news.example/a"/>'
    ),
    "an RSS author element": rss_item(
        f"<title>A</title>{LINK}<author>desk@news.example (Desk)</author>"
    ),
    "a dc:date only": rss_item(
        f'<title>A</title>{LINK}<dc:date xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "2026-11-27T10:00:00+05:00</dc:date>"
    ),
    "pubDate and atom:updated": rss_item(
        f"<title>A</title>{LINK}<pubDate>Fri, 27 Nov 2026 10:00:00 GMT</pubDate>"
        '<atom:updated xmlns:atom="http://www.w3.org/2005/Atom">2026-11-28T10:00:00.123Z'
        "</atom:updated>"
    ),
    "a GUID with isPermaLink False, capitalised": rss_item(
        f'<title>A</title>{LINK}<guid isPermaLink="False">1234</guid>'
    ),
    "a GUID with an upper-case attribute name": rss_item(
        f'<title>A</title>{LINK}<guid ISPERMALINK="false">1234</guid>'
    ),
    "an empty GUID, no permalink": rss_item(
        f'<title>A</title>{LINK}<guid isPermaLink="false"> </guid>'
    ),
    "media:title before the title": rss_item(
        '<media:content xmlns:media="http://search.yahoo.com/mrss/" url="https://news.example/i.jpg"'
        ' medium="image"><media:title>Photo</media:title></media:content>'
        f"<title>A</title>{LINK}"
    ),
    "media:title and no title": rss_item(
        '<media:content xmlns:media="http://search.yahoo.com/mrss/" url="https://news.example/i.jpg"'
        f' medium="image"><media:title>Photo</media:title></media:content>{LINK}'
        "<description>Text</description>"
    ),
    "media:description in media:content": rss_item(
        f"<title>A</title>{LINK}"
        '<media:content xmlns:media="http://search.yahoo.com/mrss/" url="https://news.example/i.jpg"'
        ' medium="image"><media:description>About it</media:description></media:content>'
    ),
    "a thumbnail with its address as text": rss_item(
        f"<title>A</title>{LINK}"
        '<media:thumbnail xmlns:media="http://search.yahoo.com/mrss/">https://news.example/t.jpg'
        "</media:thumbnail>"
    ),
    "a thread count in Atom": atom_entry(
        '<title>A</title><id>urn:1</id><link href="https://news.example/a"/>'
        '<thr:total xmlns:thr="http://purl.org/syndication/thread/1.0">3</thr:total>'
    ),
    "an item named like an entry in an Atom feed": (
        b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>T</title><id>urn:t</id><updated>2026-11-27T00:00:00Z</updated>"
        b'<x:item xmlns:x="urn:x"><x:title>B</x:title></x:item>'
        b'<entry><title>A</title><id>urn:1</id><link href="https://news.example/a"/>'
        b"<updated>2026-11-27T00:00:00Z</updated></entry></feed>"
    ),
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
