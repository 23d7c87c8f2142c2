"""Posting windows and spacing: the rules on their own (time zones, past midnight, daylight
saving), then a simulated day through `dispatch send --now`: 30 articles found at 06:30 go out
from 07:00, 10 minutes apart, none at night; a priority rule skips the queue; `order: newest`;
and `dispatch status` and the dry run say when each queued post goes.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dispatch.app.dispatcher import Dispatcher
from dispatch.config import load_config, parse_config
from dispatch.config.schema import parse_window
from dispatch.errors import ConfigError
from dispatch.outputs.registry import open_outputs
from dispatch.plan.windows import opens_at, planned_times
from dispatch.preview.model import Preview, build
from dispatch.store.core import Store
from helpers.project import State, article_items, rss, run_cli, write_config
from helpers.servers import FeedServer

DAY = [parse_window("07:00-22:00")]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_window_opens_in_its_own_time_zone() -> None:
    assert opens_at(at("2026-12-02T06:30Z"), DAY, "UTC") == at("2026-12-02T07:00Z")
    assert opens_at(at("2026-12-02T12:00Z"), DAY, "UTC") == at("2026-12-02T12:00Z")  # open
    assert opens_at(at("2026-12-02T22:00Z"), DAY, "UTC") == at("2026-12-03T07:00Z")  # closed
    # 07:00 in Karachi is 02:00 UTC; at 01:00 UTC the window opens an hour later.
    assert opens_at(at("2026-12-02T01:00Z"), DAY, "Asia/Karachi") == at("2026-12-02T02:00Z")
    assert opens_at(at("2026-12-02T10:00Z"), [], "UTC") == at("2026-12-02T10:00Z")  # no windows


def test_a_window_past_midnight_and_several_in_a_day() -> None:
    night = [parse_window("22:00-02:00")]
    assert opens_at(at("2026-12-02T23:30Z"), night, "UTC") == at("2026-12-02T23:30Z")
    assert opens_at(at("2026-12-03T01:30Z"), night, "UTC") == at("2026-12-03T01:30Z")
    assert opens_at(at("2026-12-03T02:00Z"), night, "UTC") == at("2026-12-03T22:00Z")
    two = [parse_window("07:00-09:00"), parse_window("17:00-19:00")]
    assert opens_at(at("2026-12-02T10:00Z"), two, "UTC") == at("2026-12-02T17:00Z")


def test_a_window_keeps_its_wall_clock_time_across_daylight_saving() -> None:
    # London moved to BST on 29 March 2026: 07:00 is 07:00 GMT before, 06:00 UTC after.
    assert opens_at(at("2026-03-28T05:00Z"), DAY, "Europe/London") == at("2026-03-28T07:00Z")
    assert opens_at(at("2026-03-29T05:00Z"), DAY, "Europe/London") == at("2026-03-29T06:00Z")
    # New York left EDT on 1 November 2026: 07:00 is 11:00 UTC before, 12:00 UTC after.
    york = "America/New_York"
    assert opens_at(at("2026-10-31T10:00Z"), DAY, york) == at("2026-10-31T11:00Z")
    assert opens_at(at("2026-11-01T10:00Z"), DAY, york) == at("2026-11-01T12:00Z")


def test_queued_posts_are_spaced_and_carried_to_the_next_window() -> None:
    times = planned_times(
        4,
        at("2026-12-02T21:35Z"),
        last_sent=at("2026-12-02T21:30Z"),
        gap=timedelta(minutes=10),
        windows=DAY,
        timezone="UTC",
    )
    assert times == [
        at("2026-12-02T21:40Z"),  # ten minutes after the last send
        at("2026-12-02T21:50Z"),
        at("2026-12-03T07:00Z"),  # 22:00 closed the window: the morning
        at("2026-12-03T07:10Z"),
    ]


@pytest.mark.parametrize("window", ["7-22", "07:00", "25:00-26:00", "07:00-07:00"])
def test_a_malformed_window_is_a_config_error_at_its_line(window: str) -> None:
    text = f"""\
feeds:
  - name: a
    url: https://example.org/feed/
outputs:
  archive:
    type: file
    windows: ["{window}"]
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "feeds.yaml", {})
    (problem,) = [str(p) for p in caught.value.problems]
    assert problem.startswith("outputs.archive.windows[0] (line 7)")


def day_config(tmp_path: Path, state: State, server: FeedServer, **output: Any) -> Path:
    items = article_items(30, prefix="morning")
    items.insert(0, {**article_items(1, prefix="breaking")[0], "title": "Breaking: the dam"})
    server.serve("/feed", rss(items))
    settings = {
        "type": "file",
        "path": "out",
        "windows": ["07:00-12:00"],
        "timezone": "Europe/London",
        "min_gap": "10m",
        "max_posts_per_run": 100,
        **output,
    }
    return write_config(
        tmp_path,
        {
            "state": state.value,
            "allow_private_networks": True,
            "feeds": [{"name": "news", "url": server.url("/feed"), "backfill": "all"}],
            "outputs": {"social": settings},
            "posts": [
                {
                    "name": "breaking",
                    "outputs": ["social"],
                    "priority": True,
                    "include": {"keywords": ["breaking"]},
                },
                {"name": "daily", "outputs": ["social"], "exclude": {"keywords": ["breaking"]}},
            ],
        },
    )


def preview(path: Path, now: datetime) -> Preview:
    """What `dispatch preview` shows, built from the store as it is."""
    config = load_config(path)
    store = Store.open(config.state_location)
    try:
        dispatcher = Dispatcher.build(config, store, open_outputs(config))
        return build(config, store, dispatcher.renderer, dispatcher.outputs, now, "the store")
    finally:
        store.close()


def sent(state: State) -> list[tuple[str, datetime]]:
    rows = state.rows(
        "SELECT d.rule, d.sent_at FROM deliveries d WHERE d.status = 'sent' ORDER BY d.sent_at"
    )
    return [(rule, datetime.fromisoformat(str(moment))) for rule, moment in rows]


def next_due(state: State) -> datetime | None:
    rows = state.rows("SELECT next_attempt_at FROM deliveries WHERE status = 'pending'")
    moments = [datetime.fromisoformat(str(row[0])) for row in rows if row[0]]
    return min(moments) if moments else None


def test_a_simulated_day_posts_from_seven_ten_minutes_apart_and_none_at_night(
    tmp_path: Path, state: State, server: FeedServer
) -> None:
    config = day_config(tmp_path, state, server)
    found = at("2026-12-03T06:30Z")  # December: London is on GMT
    result = run_cli("send", "--now", found.isoformat(), config=config)
    assert result.code == 0, result.stderr
    assert sent(state) == [("breaking", found)]  # priority: at once, before the window
    status = run_cli("status", "--now", found.isoformat(), config=config)
    assert "2026-12-03 07:00:00 UTC (queued)" in status.stdout
    assert "2026-12-03 11:50:00 UTC (queued)" in status.stdout
    views = preview(config, found).posts
    notes = {view.article: view.note for view in views if view.rule == "daily"}
    assert notes["Story morning1"] == "queued: goes at 2026-12-03 07:00 UTC"  # the oldest first
    assert notes["Story morning2"] == "queued: goes at 2026-12-03 07:10 UTC"

    # A run in the night sends nothing; then each run comes when the store says one is due.
    night = run_cli("send", "--now", "2026-12-03T03:00Z", config=config)
    assert night.code == 0 and len(sent(state)) == 1
    runs = 0
    while (due := next_due(state)) is not None and runs < 40:
        assert run_cli("send", "--now", due.isoformat(), config=config).code == 0
        runs += 1
    times = [moment for rule, moment in sent(state) if rule == "daily"]
    assert len(times) == 30 and len(set(times)) == 30
    assert times[0] == at("2026-12-03T07:00Z")
    assert all(b - a == timedelta(minutes=10) for a, b in itertools.pairwise(times))
    assert times[-1] == at("2026-12-03T11:50Z") and times[-1] < at("2026-12-03T12:00Z")


def test_order_newest_posts_the_newest_first_and_the_dry_run_says_when(
    tmp_path: Path, state: State, server: FeedServer
) -> None:
    config = day_config(tmp_path, state, server, order="newest")
    assert run_cli("poll", "--now", "2026-12-03T06:30Z", config=config).code == 0
    dry = run_cli("send", "--dry-run", "--json", "--now", "2026-12-03T06:30Z", config=config)
    assert dry.code == 0, dry.stderr
    records = [json.loads(line) for line in dry.stdout.splitlines()]
    planned = {r["articles"][0]["title"]: r["planned"] for r in records if r["name"] == "daily"}
    assert planned["Story morning30"] == "2026-12-03T07:00:00+00:00"  # the newest first
    assert planned["Story morning1"] == "2026-12-03T11:50:00+00:00"
    breaking = [r for r in records if r["name"] == "breaking"]
    assert [r["planned"] for r in breaking] == [None]  # priority: not queued
    assert sent(state) == []  # the dry run changed nothing
    for moment in ("2026-12-03T06:30Z", "2026-12-03T07:00Z"):  # breaking news, then the queue
        assert run_cli("send", "--now", moment, config=config).code == 0
    titles = state.rows(
        "SELECT a.title FROM deliveries d JOIN articles a ON a.id = d.article_id"
        " WHERE d.status = 'sent' AND d.rule = 'daily'"
    )
    assert titles == [("Story morning30",)]
