"""`every: auto` (issue #21): a feed is polled as often as it changes, within min_every and
max_every, and never sooner than its publisher asks (ttl, sy:updatePeriod, Cache-Control,
Expires). A simulated week with a clock the test moves shows the requests saved and that no
article is found later than max_every after it appeared.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from dispatch.app.dispatcher import Dispatcher
from dispatch.config import FeedConfig, load_config
from dispatch.ingest.parse import parse_feed, publisher_hint
from dispatch.models import Article
from dispatch.net.http import cache_lifetime
from dispatch.plan.decisions import poll_interval, recent_in
from dispatch.store.core import Store
from helpers.project import rss, run_cli, write_config
from helpers.servers import FeedServer

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)


def feed(**settings: object) -> FeedConfig:
    return FeedConfig.model_validate({"name": "f", "url": "https://example.org/feed", **settings})


def test_a_fixed_every_is_kept_and_auto_follows_the_pace_within_its_bounds() -> None:
    assert poll_interval(feed(every="10m"), recent=500) == timedelta(minutes=10)
    auto = feed()  # the default: auto, 15m to 4h
    assert auto.every == "auto" and auto.tick == timedelta(minutes=15)
    assert poll_interval(auto, recent=0) == 4 * HOUR  # nothing lately: the longest
    assert poll_interval(auto, recent=84) == HOUR  # every 2 h: polled every hour
    assert poll_interval(auto, recent=2) == 4 * HOUR  # twice a week: max_every bounds it
    assert poll_interval(auto, recent=5000) == timedelta(minutes=15)  # min_every bounds it
    assert poll_interval(auto, recent=84, hint=3 * HOUR) == 3 * HOUR  # as the publisher asks
    assert poll_interval(auto, recent=84, hint=48 * HOUR) == 4 * HOUR  # but not past max_every
    bounded = feed(min_every="1h", max_every="1d")
    assert poll_interval(bounded, recent=1) == timedelta(days=1)
    assert poll_interval(bounded, recent=10_000) == HOUR


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="must not be shorter than min_every"):
        feed(min_every="2h", max_every="1h")
    assert feed(every="auto").every == "auto" and feed(every=" AUTO ").every == "auto"


def test_the_pace_counts_articles_of_the_last_week_dated_or_found_now() -> None:
    now = START + timedelta(days=10)

    def article(published: datetime | None) -> Article:
        return Article(feed="f", key="k", title="t", link=None, published=published)

    dated = [article(now - timedelta(days=d)) for d in (1, 3, 6, 8, 30)]
    assert recent_in([*dated, article(None)], now) == 4  # 1, 3 and 6 days old, and undated


@pytest.mark.parametrize(
    ("hints", "seconds"),
    [
        ({"ttl": "60"}, 3600.0),
        ({"sy_updateperiod": "hourly", "sy_updatefrequency": "1"}, 3600.0),
        ({"sy_updateperiod": "\n\tdaily\t", "sy_updatefrequency": "2"}, 43200.0),
        ({"sy_updateperiod": "weekly"}, 604800.0),
        ({"ttl": "30", "sy_updateperiod": "hourly"}, 3600.0),  # the longer of the two
        ({"ttl": "soon"}, None),
        ({"ttl": "0"}, None),
        ({"sy_updateperiod": "fortnightly"}, None),
        ({"sy_updateperiod": "daily", "sy_updatefrequency": "0"}, None),
        ({}, None),
    ],
)
def test_what_a_feed_asks_between_polls(hints: dict[str, str], seconds: float | None) -> None:
    assert publisher_hint(hints) == seconds


def test_both_parsers_read_the_publishers_hints_alike() -> None:
    body = rss([{"title": "A", "link": "https://example.org/a", "guid": "a"}]).replace(
        "<channel>",
        '<channel xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><ttl>90</ttl>'
        "<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>",
    )
    fast = parse_feed("f", body.encode(), url="https://example.org/feed")
    slow = parse_feed("f", body.encode(), url="https://example.org/feed", fast=False)
    assert fast.hint == slow.hint == 5400.0


def test_how_long_an_answer_says_it_stays_fresh() -> None:
    now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    date = "Fri, 27 Nov 2026 10:00:00 GMT"
    assert cache_lifetime("public, max-age=1800", None, None, now) == 1800.0
    assert cache_lifetime('max-age="600", must-revalidate', None, None, now) == 600.0
    assert cache_lifetime("no-cache", "Fri, 27 Nov 2026 12:00:00 GMT", date, now) is None
    assert cache_lifetime(None, "Fri, 27 Nov 2026 12:00:00 GMT", date, now) == 7200.0
    assert cache_lifetime(None, "Fri, 27 Nov 2026 11:00:00 GMT", None, now) == 3600.0
    assert cache_lifetime(None, "0", date, now) is None
    assert cache_lifetime("max-age=0", None, None, now) is None
    assert cache_lifetime(None, None, None, now) is None


def items_until(now: datetime, times: list[datetime]) -> list[dict[str, str]]:
    """The feed as it stands at ``now``: the articles that have appeared, newest first."""
    shown = [t for t in times if t <= now]
    return [
        {
            "title": f"Story of {t:%a %H:%M}",
            "link": f"https://example.org/{t:%Y%m%d%H%M}",
            "guid": f"{t:%Y%m%d%H%M}",
            "date": format_datetime(t),
            "content": f"<p>What happened on {t:%A}. It has two sentences of text.</p>",
        }
        for t in sorted(shown, reverse=True)
    ]


def test_a_week_of_a_feed_that_changes_twice_a_week(server: FeedServer, tmp_path: Path) -> None:
    """Polled each min_every (as the daemon asks), the feed is fetched only when due: at
    least 10× fewer requests than a fixed 15-minute poll, each article found within max_every.
    """
    # Two weeks of history, then a Monday and a Thursday story in the week simulated.
    times = [START - timedelta(days=d, hours=-9) for d in (4, 7, 11, 14)]
    times += [START + timedelta(days=0, hours=10, minutes=7), START + timedelta(days=3, hours=15)]
    config_path = write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "feeds": [{"name": "weekly", "url": server.url("/feed"), "backfill": 0}],
            "outputs": {"archive": {"type": "file", "path": "archive"}},
            "posts": [{"name": "social", "outputs": ["archive"]}],
        },
    )
    config = load_config(config_path)
    tick = config.feeds[0].tick
    polls_fixed = int(timedelta(days=7) / timedelta(minutes=15))
    store = Store.open(tmp_path / "state.db")
    try:
        dispatcher = Dispatcher.build(config, store, {})
        now = START
        while now < START + timedelta(days=7):
            shown = sum(t <= now for t in times)
            server.serve("/feed", rss(items_until(now, times)), etag=f'"{shown}"')
            dispatcher.poll(now)
            now += tick
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "state.db") as db:
        found = dict(db.execute("SELECT guid, first_seen FROM articles"))
    requests = len(server.hits("/feed"))
    assert requests * 10 <= polls_fixed, f"{requests} requests in the week"
    for appeared in times[4:]:
        first_seen = datetime.fromisoformat(found[f"{appeared:%Y%m%d%H%M}"])
        assert first_seen - appeared <= config.feeds[0].max_every, appeared


def test_the_publishers_ask_is_kept_across_polls_that_answer_304(
    server: FeedServer, tmp_path: Path
) -> None:
    hourly = [START - timedelta(hours=h) for h in range(1, 60)]
    body = rss(items_until(START, hourly)).replace("<channel>", "<channel><ttl>180</ttl>")
    server.serve("/feed", body, etag='"v1"')
    path = write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "feeds": [{"name": "busy", "url": server.url("/feed")}],
            "outputs": {"archive": {"type": "file", "path": "archive"}},
            "posts": [{"name": "social", "outputs": ["archive"]}],
        },
    )

    def interval() -> timedelta:
        with sqlite3.connect(tmp_path / "state.db") as db:
            ((polled, due),) = db.execute("SELECT last_polled_at, next_poll_at FROM feeds")
        return datetime.fromisoformat(due) - datetime.fromisoformat(polled)

    assert run_cli("poll", "--all", "--now", START.isoformat(), config=path).code == 0
    assert interval() == 3 * HOUR  # an article an hour would be 30 min; its ttl asks 3 h
    later = START + 3 * HOUR
    assert run_cli("poll", "--now", later.isoformat(), config=path).code == 0
    assert server.hits("/feed")[-1].status == 304
    assert interval() == 3 * HOUR  # the ttl, kept from the last full answer
    without_ttl = body.replace("<ttl>180</ttl>", "")
    server.serve("/feed", without_ttl, etag='"v2"', headers={"Cache-Control": "max-age=7200"})
    assert run_cli("poll", "--now", (later + 3 * HOUR).isoformat(), config=path).code == 0
    assert interval() == 2 * HOUR  # no ttl now; the answer's max-age asks 2 h
