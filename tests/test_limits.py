"""Counting as each network counts, and fitting posts: never over the limit, link always kept."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.models import Article, VideoCard
from dispatch.outputs.base import Capabilities
from dispatch.render.fit import count
from dispatch.render.renderer import Renderer
from dispatch.text import truncate_words

X = Capabilities(limit=280, counting="weighted", url_length=23, template="x")
MASTODON = Capabilities(limit=500, counting="graphemes", url_length=23, template="mastodon")
BLUESKY = Capabilities(limit=300, counting="graphemes", template="bluesky")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("https://example.org/" + "a" * 200, 23),
        ("see https://example.org/x.", 4 + 23 + 1),
        ("日本語", 6),
        ("👍", 2),
        ("👨‍👩‍👧‍👦", 2),
        ("🇵🇰", 2),
        ("café", 4),
        ("cafe\u0301", 4),
        ("example.com", 23),
    ],
)
def test_x_weighted_length(text: str, expected: int) -> None:
    assert count(text, X) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("https://example.org/" + "a" * 200, 23),
        ("👨‍👩‍👧‍👦 family", 8),
        ("example.com", 11),
    ],
)
def test_mastodon_length(text: str, expected: int) -> None:
    assert count(text, MASTODON) == expected


def test_bluesky_counts_graphemes_of_the_whole_text() -> None:
    url = "https://example.org/" + "a" * 50
    assert count(url, BLUESKY) == len(url)
    assert count("🇵🇰🇵🇰", BLUESKY) == 2


def test_truncate_words_cuts_at_a_word_boundary() -> None:
    assert truncate_words("one two three four", 12) == "one two…"
    assert truncate_words("short", 10) == "short"
    assert truncate_words("one, two, three", 9) == "one, two…"


renderer = Renderer()
words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda w: w.strip() == w and w)
prose = st.lists(words, min_size=0, max_size=120).map(" ".join)
paths = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-/", min_size=1, max_size=120)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=prose,
    summary=prose,
    path=paths,
    video=st.booleans(),
    capabilities=st.sampled_from([X, MASTODON, BLUESKY]),
)
def test_a_post_never_exceeds_its_limit_and_keeps_its_link(
    title: str, summary: str, path: str, video: bool, capabilities: Capabilities
) -> None:
    url = f"https://example.org/{path}"
    cards = (
        (
            VideoCard(
                "dQw4w9WgXcQ",
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
                "https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg",
                "v",
            ),
        )
        if video
        else ()
    )
    article = Article(feed="f", key="k", title=title or "t", link=url, summary=summary, cards=cards)
    text = renderer.post(article, capabilities=capabilities)
    assert count(text, capabilities) <= (capabilities.limit or 0)
    assert url in text.split()


def test_a_long_summary_is_cut_on_a_word_and_marked() -> None:
    summary = " ".join(f"word{n}" for n in range(200))
    article = Article(
        feed="f", key="k", title="Title", link="https://example.org/a", summary=summary
    )
    text = renderer.post(article, capabilities=X)
    assert count(text, X) <= 280
    body = text.split("\n\n")[1]
    assert body.endswith("…") and body[:-1].split()[-1].startswith("word")
