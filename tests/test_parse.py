"""Parsing and normalising: identity keys, sanitised HTML, clear errors for non-feeds."""

from __future__ import annotations

import re
import sys
from html import unescape

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dispatch.errors import ParseError
from dispatch.ingest.parse import parse_feed
from dispatch.ingest.sanitize import clean_html, text_of_clean
from helpers.project import rss


def parse(body: str) -> list:  # type: ignore[type-arg]
    return list(parse_feed("f", body.encode(), url="https://example.org/feed").articles)


def test_guid_is_the_identity_when_unique() -> None:
    (article,) = parse(rss([{"title": "A", "guid": "g1", "link": "https://example.org/a"}]))
    assert article.key == "guid:g1"


def test_duplicate_guids_fall_back_to_links_and_keep_distinct_articles() -> None:
    items = [
        {"title": "A", "guid": "same", "link": "https://example.org/a"},
        {"title": "B", "guid": "same", "link": "https://example.org/b?utm_source=rss"},
    ]
    keys = [a.key for a in parse(rss(items))]
    assert keys == ["link://example.org/a", "link://example.org/b"]


def test_no_guid_no_link_uses_a_content_hash() -> None:
    (article,) = parse(rss([{"title": "A", "description": "<p>text</p>"}]))
    assert article.key.startswith("hash:")


def test_scripts_handlers_and_javascript_links_are_removed() -> None:
    content = (
        '<p onclick="steal()">Hi <a href="javascript:alert(1)">x</a>'
        '<img src="https://example.org/i.png" onerror="alert(2)">'
        "<script>alert(3)</script><style>p{}</style>"
        '<a href="https://example.org/ok">ok</a></p>'
    )
    (article,) = parse(
        rss([{"title": "<script>alert(4)</script>Title", "guid": "g", "content": content}])
    )
    html = article.html.lower()
    for bad in ("<script", "onclick", "onerror", "javascript:", "<style", "alert(3)"):
        assert bad not in html
    assert 'rel="noopener noreferrer nofollow"' in article.html
    assert "<script" not in article.title and "alert(3)" not in article.text


def test_tracking_pixels_are_dropped() -> None:
    html = clean_html(
        '<p>x<img src="https://t.example/p.gif" width="1" height="1"></p>'
        '<img src="https://example.org/photo.jpg" width="600" height="400">'
    )
    assert "t.example" not in html and "photo.jpg" in html


def test_a_broken_url_in_content_is_dropped_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)  # where nh3 tells of errors
    html = clean_html(
        '<a href="//[x">a</a><img src="//[::1"><a href="/ok">b</a>', "https://n.example/"
    )
    assert html == (
        '<a rel="noopener noreferrer nofollow">a</a><img>'
        '<a href="https://n.example/ok" rel="noopener noreferrer nofollow">b</a>'
    )
    assert reported == []


def test_excerpt_only_is_detected() -> None:
    (excerpt,) = parse(rss([{"title": "A", "guid": "g", "description": "Short teaser [&#8230;]"}]))
    (full,) = parse(rss([{"title": "A", "guid": "g", "content": "<p>" + "Long text. " * 100}]))
    assert excerpt.excerpt_only and not full.excerpt_only


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>", "HTML page"),
        ("", "empty"),
        ("just some text", "not a feed"),
    ],
)
def test_non_feeds_are_clear_errors(body: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_feed("f", body.encode(), url="https://example.org/feed")


def test_a_feed_served_as_text_plain_is_read_with_a_warning() -> None:
    body = rss([{"title": "A", "guid": "g", "content": "<p>x</p>"}]).encode()
    parsed = parse_feed("f", body, url="https://example.org/feed", content_type="text/plain")
    assert len(parsed.articles) == 1
    assert parsed.warnings == ("served as text/plain, not as XML; read anyway",)
    clean = parse_feed("f", body, url="https://example.org/feed", content_type="application/xml")
    assert clean.warnings == ()


def test_recoverable_xml_errors_are_read_with_a_warning() -> None:
    body = rss([{"title": "A", "guid": "g", "content": "<p>x</p>"}]).replace("</rss>", "</rs>")
    parsed = parse_feed(
        "f", body.encode(), url="https://example.org/feed", content_type="application/rss+xml"
    )
    assert len(parsed.articles) == 1
    assert parsed.warnings[0].startswith("the feed is not well-formed XML (line 1")


@pytest.mark.parametrize(
    "reference", ["&#xD800;", "&#xdfff;", "&#55296;", "&#x110000;", "&#1114112;", "&#xFFFFFFFFFF;"]
)
def test_a_character_reference_to_no_character_is_read_as_the_replacement_character(
    reference: str,
) -> None:
    # feedparser raises on these (its issue #591), which would lose the whole feed.
    body = rss(
        [
            {"title": f"a {reference} b", "link": f"https://example.org/{reference}"},
            {"title": "&#x1F600;&#0065;&#x00000041;", "guid": "g2"},
        ]
    )
    parsed = parse_feed(
        "f", body.encode(), url="https://example.org/feed", content_type="application/rss+xml"
    )
    first, second = parsed.articles
    assert first.title == "a \ufffd b"
    assert first.link == "https://example.org/\ufffd"
    assert second.title == "\U0001f600AA"  # zero-padded references are characters too
    assert parsed.warnings == (
        "2 character reference(s) to no character (like &#xD800;) read as U+FFFD",
    )


def test_doctype_entities_are_not_expanded() -> None:
    body = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "AAAAAAAAAA">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<rss version="2.0"><channel><title>t</title><item><title>x &b;</title>'
        "<guid>g</guid></item></channel></rss>"
    )
    (article,) = parse(body)
    assert "AAAA" not in article.title


# Mostly words, spaces and line breaks, as articles are; now and then other white space.
PIECES = ["a", "é", "&amp;", "<b>", "</b>", "<p>", "</p>", " ", " ", " ", "\n", "\n"]
PIECES += [
    "\t",
    "\r",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x85",
    "\xa0",
    "\u2028",
    "\u3000",
    "\u200b",
    "&nbsp;",
]


@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
@example("a \n b")
@example("a  b")
@example("a\xa0b\t")
def test_plain_text_folds_white_space_as_splitting_into_words_does(html: str) -> None:
    """One paragraph a line, every run of white space one space, no empty line: the quick
    path for lines already folded answers as splitting every line into words would.
    """
    lines = unescape(re.sub(r"<[^>]*>", "", html.replace("<p>", "\n").replace("</p>", "\n")))
    expected = "\n".join(filter(None, (" ".join(line.split()) for line in lines.split("\n"))))
    assert text_of_clean(html) == expected
