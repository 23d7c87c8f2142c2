"""Posts judged by the networks' own rules: twitter-text for X (its conformance cases, and its
Python port as the oracle for every post we fit), Bluesky's rich-text detection for facets.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twitter_text import extract_urls_with_indices, parse_tweet

from dispatch.limits import count
from dispatch.models import Article
from dispatch.outputs.base import Capabilities
from dispatch.render import Renderer
from dispatch.urls import ascii_url

X = Capabilities(limit=280, counting="weighted", url_length=23, template="x")
MASTODON = Capabilities(limit=500, counting="graphemes", url_length=23, template="mastodon")

# twitter-text's conformance suite (conformance/validate.yml, the weighted-length groups):
# the text and the weighted length X gives it.
TWITTER_TEXT_CASES = [
    ("Hi http://test.co", 26),
    ("http://test.co", 23),
    ("H🐱☺👨\u200d👩\u200d👧\u200d👦", 7),
    ("😷👾😡🔥💩", 10),
    ("🙋🏽👨\u200d🎤", 4),
    ("randomurlrandomurlrandomurlrandomurlrandomurlrandomurlrandomurls.com", 68),
    ("1⃣", 2),
    (
        "Unicode 10.0 emoji: 🤪; 🧕; 🧕🏾; "
        "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
        34,
    ),
    ("Unicode 9.0 emoji: 🤠; 💃; 💃🏾", 29),
    ("ABC\u202a\uffffABC\ufffe", 12),
    ("\u2066\u202ahttp://foobar.پاکستان/\u202c\u2069", 31),
    ("the " + "日本語" * 10, 64),
]


@pytest.mark.parametrize(("text", "expected"), TWITTER_TEXT_CASES)
def test_x_length_is_twitter_texts(text: str, expected: int) -> None:
    assert count(text, X) == expected


def test_a_link_with_a_non_latin_slug_is_counted_as_x_counts_it() -> None:
    """twitter-text ends the URL at the first Urdu letter and counts the rest as text: the
    count is X's, and the post's link goes out percent-encoded, one URL of 23.
    """
    iri = "https://ur.example.pk/2026/11/بجٹ-میں-ٹیکس-کی-نئی-شرحیں"
    assert count(iri, X) == parse_tweet(iri).weightedLength > 23
    article = Article(feed="f", key="k", title="بجٹ 2026", link=iri, summary="نئی شرحیں " * 60)
    text = Renderer().post(article, capabilities=X)
    link = ascii_url(iri)
    assert link.isascii() and link in text.split()
    assert [u["url"] for u in extract_urls_with_indices(text)] == [link]
    parsed = parse_tweet(text)
    assert parsed.valid and count(text, X) == parsed.weightedLength <= 280


def test_a_url_ending_in_a_parenthesis_counts_once() -> None:
    url = "https://en.wikipedia.org/wiki/Budget_(disambiguation)"
    assert count(f"see {url}", X) == 4 + 23
    assert count(f"see {url}", MASTODON) == 4 + 23


def test_ascii_url_encodes_hosts_and_paths_and_leaves_uris_alone() -> None:
    assert ascii_url("https://bücher.example/ä?q=ö#ü") == (
        "https://xn--bcher-kva.example/%C3%A4?q=%C3%B6#%C3%BC"
    )
    plain = "https://example.org/a%20b/(c)?d=e&f=g#h"
    assert ascii_url(plain) == plain


# Words from the scripts our publishers write in, emoji with modifiers and joiners,
# combining marks, and links as feeds carry them: IRIs, parentheses, query strings.
_SCRIPTS = st.sampled_from(
    [
        "budget",
        "taxes,",
        "بجٹ",
        "ٹیکس",
        "الميزانية",
        "बजट",
        "कर",
        "予算",
        "税金",
        "세금",
        "👍🏽",
        "👨\u200d👩\u200d👧",
        "🇵🇰",
        "e\u0301",
        "—",
        "(note)",
        "example.com",
        "#budget",
    ]
)
_LINKS = st.sampled_from(
    [
        "https://example.org/2026/budget",
        "https://en.wikipedia.org/wiki/Budget_(disambiguation)",
        "https://ur.example.pk/2026/بجٹ-ٹیکس",
        "https://例え.テスト/記事?id=1&x=ü",
        "https://example.org/a?utm_source=x&q=1#frag",
    ]
)
_PROSE = st.lists(st.one_of(_SCRIPTS, _LINKS), min_size=0, max_size=90).map(" ".join)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=_PROSE, summary=_PROSE, link=_LINKS)
def test_every_post_fitted_for_x_is_valid_by_twitter_text(
    title: str, summary: str, link: str
) -> None:
    article = Article(feed="f", key="k", title=title or "t", link=link, summary=summary)
    text = Renderer().post(article, capabilities=X)
    parsed = parse_tweet(text)
    assert parsed.valid, (text, parsed)
    assert count(text, X) == parsed.weightedLength
    assert ascii_url(link) in text.split()
