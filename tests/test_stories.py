"""One story once: pairs that must merge and pairs that must not, then two feeds carrying one
story through the real pipeline, on both engines.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dispatch.app.dispatcher import Dispatcher
from dispatch.config import load_config
from dispatch.enrich.stories import StoryIndex, shingles, similarity, with_shingles
from dispatch.models import Candidate
from dispatch.outputs.registry import open_outputs
from dispatch.preview.model import build
from dispatch.store.core import Store
from dispatch.urls import normalise_url
from helpers.project import State, rss, run_cli, write_config
from helpers.servers import FeedServer

WIRE = (
    "The city council voted 7 to 2 on Tuesday to close the Old Harbour Bridge for 18 months "
    "while engineers replace its corroded steel cables. A temporary footbridge will open in "
    "March, and buses will run a shuttle between both banks during the morning rush. The "
    "repairs are expected to cost 42 million euros, paid mostly from the regional fund."
)

SAME = [
    (  # a syndicated copy: a new first line and a byline, the rest the same
        ("Council votes to close Old Harbour Bridge", WIRE, "https://wire.example/a/1"),
        (
            "Old Harbour Bridge to close for 18 months",
            "By our city desk. " + WIRE + " Reporting by A. Lee; editing by B. Kay.",
            "https://post.example/news/bridge-closure",
        ),
    ),
    (  # the same link, spelt with tracking tags and another scheme
        ("Bridge closes", "Short item.", "https://wire.example/a/1?utm_source=rss"),
        ("Harbour update", "Entirely different words here.", "http://www.wire.example/a/1"),
    ),
    (  # an abridged copy: the first half of the wire story
        ("Council closes bridge", WIRE[:180], "https://wire.example/a/1"),
        ("Council closes bridge for repairs", WIRE, "https://radio.example/story/991"),
    ),
    (  # a local paper adds its own closing paragraph to the wire copy
        ("Old Harbour Bridge to shut", WIRE, "https://wire.example/a/1"),
        (
            "Harbour bridge closure: what it means for Eastside",
            WIRE + " Eastside traders told this paper they fear losing customers while the "
            "bridge is shut, and the business association will meet on Monday to discuss it.",
            "https://eastside.example/local/bridge",
        ),
    ),
]

DIFFERENT = [
    (  # the same topic, other facts
        ("Council votes to close Old Harbour Bridge", WIRE, "https://wire.example/a/1"),
        (
            "Council rejects plan to close Old Harbour Bridge",
            "Councillors voted down the closure on Tuesday, saying the footbridge plan left "
            "cyclists without a safe crossing. Engineers must now propose repairs that keep "
            "two lanes open; a new vote is due in spring.",
            "https://post.example/news/bridge-vote",
        ),
    ),
    (  # a templated title, other text
        (
            "Weather for Monday",
            "Rain in the morning, clearing by noon, with highs of 12 degrees and a light wind.",
            "https://wire.example/weather/mon",
        ),
        (
            "Weather for Monday",
            "Sunny and cold all day: frost at dawn, highs of 4 degrees, strong northerly gusts.",
            "https://post.example/weather/monday",
        ),
    ),
    (  # two match reports written from one template
        (
            "Rovers beat United 2-1",
            "Rovers beat United 2-1 at home on Saturday. Lee scored twice before the break and "
            "United pulled one back late through a penalty. Rovers move up to third.",
            "https://wire.example/sport/rovers-united",
        ),
        (
            "City beat Athletic 3-0",
            "City beat Athletic 3-0 away on Saturday. Kay scored a hat-trick in the second half "
            "as Athletic ended with ten men. City stay top of the table.",
            "https://post.example/sport/city-athletic",
        ),
    ),
    (  # two different stories with a shared stock paragraph at the end
        (
            "Museum opens new wing",
            "The museum opened its modern art wing on Friday after two years of building. "
            "Follow us for more news from the city.",
            "https://wire.example/a/2",
        ),
        (
            "Library extends opening hours",
            "The central library will stay open until ten on weekdays from January. "
            "Follow us for more news from the city.",
            "https://post.example/news/library",
        ),
    ),
]


def _match(first: tuple[str, str, str], second: tuple[str, str, str]) -> Any:
    title, text, link = first
    candidate = with_shingles(Candidate(1, 1, "wire", "Wire", normalise_url(link), title, text))
    title2, text2, link2 = second
    return StoryIndex([candidate]).find("post", normalise_url(link2), shingles(title2, text2), 0.5)


@pytest.mark.parametrize(("first", "second"), SAME)
def test_the_same_story_merges(first: Any, second: Any) -> None:
    match = _match(first, second)
    assert match is not None and match.story == 1 and match.source == "Wire"


@pytest.mark.parametrize(("first", "second"), DIFFERENT)
def test_similar_but_different_stories_stay_apart(first: Any, second: Any) -> None:
    assert _match(first, second) is None


def test_a_feed_never_merges_with_itself() -> None:
    title, text, link = SAME[0][0]
    candidate = with_shingles(Candidate(1, 1, "post", "Post", normalise_url(link), title, text))
    index = StoryIndex([candidate])
    assert index.find("post", normalise_url(link), shingles(title, text), 0.5) is None


def test_the_index_scores_as_the_similarity_of_the_two_texts() -> None:
    (a, b), (c, d) = SAME[0], DIFFERENT[0]
    for first, second in ((a, b), (c, d)):
        own, other = shingles(first[0], first[1]), shingles(second[0], second[1])
        candidate = Candidate(1, 1, "wire", "Wire", None, second[0], second[1], other)
        match = StoryIndex([candidate]).find("post", None, own, 0.0001)
        expected = similarity(own, other)
        assert match is not None and match.reason == f"{expected:.0%} of the same wording"


def _item(guid: str, title: str, text: str, link: str) -> dict[str, str]:
    return {
        "guid": guid,
        "title": title,
        "link": link,
        "date": "Thu, 26 Nov 2026 20:00:00 +0000",
        "content": f"<p>{text}</p>",
    }


def _two_feeds(tmp_path: Path, server: FeedServer, state: str) -> Path:
    """feeds.yaml for the feeds /wire and /post, a digest and a post rule to the archive."""
    return write_config(
        tmp_path,
        {
            "state": state,
            "allow_private_networks": True,
            "feeds": [
                {"name": "wire", "url": server.url("/wire"), "backfill": "all"},
                {"name": "post", "url": server.url("/post"), "backfill": "all"},
            ],
            "outputs": {"archive": {"type": "file", "path": "archive"}},
            "digests": [{"name": "daily", "outputs": ["archive"]}],
            "posts": [{"name": "social", "outputs": ["archive"]}],
        },
    )


def test_two_feeds_carrying_one_story_send_it_once(
    tmp_path: Path, server: FeedServer, state: State
) -> None:
    (wire_title, wire_text, wire_link), (post_title, post_text, post_link) = SAME[0]
    museum = next(first for first, _ in DIFFERENT if first[0] == "Museum opens new wing")
    server.serve(
        "/wire",
        rss([_item("w1", wire_title, wire_text, wire_link), _item("w2", *museum)], title="Wire"),
    )
    server.serve("/post", rss([_item("p1", post_title, post_text, post_link)], title="Post"))
    config = _two_feeds(tmp_path, server, state.value)
    now = "2026-11-27T07:00:00+00:00"
    result = run_cli("send", "--now", now, config=config)
    assert result.code == 0, result.stderr
    assert "is a story 'Wire' told first (" in " ".join(result.stderr.split())
    sent = [path.read_text() for path in (tmp_path / "archive").glob("*.json")]
    posts = [text for text in sent if '"kind": "post"' in text or '"kind":"post"' in text]
    assert len(posts) == 2  # the bridge story once, the museum once
    (digest,) = [text for text in sent if '"kind": "digest"' in text or '"kind":"digest"' in text]
    assert digest.count("Old Harbour Bridge") >= 1 and "also in: Post" in digest
    assert "Museum opens new wing" in digest
    stories = state.rows("SELECT COUNT(DISTINCT story_id), COUNT(*) FROM articles")
    assert stories == [(2, 3)]


def test_the_preview_says_a_repeated_story_goes_out_once(
    tmp_path: Path, server: FeedServer
) -> None:
    (wire_title, wire_text, wire_link), (post_title, post_text, post_link) = SAME[0]
    server.serve("/wire", rss([_item("w1", wire_title, wire_text, wire_link)], title="Wire"))
    server.serve("/post", rss([_item("p1", post_title, post_text, post_link)], title="Post"))
    config = load_config(_two_feeds(tmp_path, server, "state.db"))
    store = Store.open(tmp_path / "state.db")
    dispatcher = Dispatcher.build(config, store, open_outputs(config))
    now = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    dispatcher.poll(now)
    preview = build(config, store, dispatcher.renderer, dispatcher.outputs, now, "test")
    reasons = {row.title: [r.text for r in row.reasons] for row in preview.rows}
    assert all("one story once" in text for text in reasons[post_title])
    assert not any("one story once" in text for text in reasons[wire_title])
    store.close()
