"""Daylight saving (issue #23): digests scheduled in Europe/London and America/New_York across
both changes of 2026, through the real pieces (a feed file that grows, the poll, the digest
planner, a SQLite store, a file output), run on a clock the test moves every 10 minutes.
Exactly one issue a day, each at the documented time:

- a schedule inside the hour the spring change skips fires once that day, at the instant the
  wall clock would have shown before the change (London's 01:30 at 01:30 GMT, which is 02:30
  BST; New York's 02:30 at 02:30 EST, which is 03:30 EDT): an hour later by the new clock;
- a schedule inside the hour the autumn change repeats fires once, the first time (01:30 BST,
  not again at 01:30 GMT);
- any other schedule keeps its wall-clock time on both sides of the change.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dispatch.app.dispatcher import Dispatcher
from dispatch.config import load_config
from dispatch.outbox.deliverer import Deliverer
from dispatch.outputs.registry import open_outputs
from dispatch.store.core import Store
from helpers.project import rss, write_config

STEP = timedelta(minutes=10)


def issues(
    tmp_path: Path, zone: str, schedule: str, change: date
) -> list[tuple[datetime, datetime]]:
    """Run the day before the change to the day after; each issue's period and when it was
    made, both in UTC.
    """
    feed = tmp_path / "feed.xml"
    feed.write_text(rss([]))
    path = write_config(
        tmp_path,
        {
            "state": "state.db",
            "feeds": [{"name": "news", "url": "feed.xml", "every": "30m", "backfill": "all"}],
            "outputs": {"archive": {"type": "file", "path": "archive"}},
            "digests": [
                {"name": "daily", "outputs": ["archive"], "schedule": schedule, "timezone": zone}
            ],
        },
    )
    config = load_config(path)
    store = Store.open(tmp_path / "state.db")
    try:
        dispatcher = Dispatcher.build(config, store, open_outputs(config))
        deliverer = Deliverer(config, store, dispatcher.renderer, dispatcher.outputs)
        start = datetime.combine(change - timedelta(days=1), datetime.min.time(), ZoneInfo(zone))
        now, written = start.astimezone(UTC), []
        while now < start.astimezone(UTC) + timedelta(days=3):
            if now.minute % 30 == 0:  # a story every half hour: a digest never waits for one
                written.insert(0, now)
                items = [
                    {
                        "title": f"Story {t:%d %H:%M}",
                        "link": f"https://example.org/{t:%Y%m%d%H%M}",
                        "guid": f"{t:%Y%m%d%H%M}",
                        "date": format_datetime(t),
                        "content": "<p>What happened. It has two sentences of text.</p>",
                    }
                    for t in written
                ]
                feed.write_text(rss(items))
            dispatcher.poll(now)
            deliverer.plan_digests(now)
            deliverer.deliver(now, dry_run=False, out_dir=None)
            now += STEP
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "state.db") as db:
        rows = db.execute("SELECT period, created_at FROM digests ORDER BY period").fetchall()
    return [
        (datetime.fromisoformat(p).astimezone(UTC), datetime.fromisoformat(c).astimezone(UTC))
        for p, c in rows
    ]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


CASES = {
    # zone, schedule, the day of the change: the change day's issue, in UTC
    "London, spring, inside the skipped hour": (
        "Europe/London",
        "30 1 * * *",
        date(2026, 3, 29),
        "2026-03-29T01:30Z",
    ),
    "London, autumn, inside the repeated hour": (
        "Europe/London",
        "30 1 * * *",
        date(2026, 10, 25),
        "2026-10-25T00:30Z",
    ),
    "London, spring, 07:00": ("Europe/London", "0 7 * * *", date(2026, 3, 29), "2026-03-29T06:00Z"),
    "London, autumn, 07:00": (
        "Europe/London",
        "0 7 * * *",
        date(2026, 10, 25),
        "2026-10-25T07:00Z",
    ),
    "New York, spring, inside the skipped hour": (
        "America/New_York",
        "30 2 * * *",
        date(2026, 3, 8),
        "2026-03-08T07:30Z",
    ),
    "New York, autumn, inside the repeated hour": (
        "America/New_York",
        "30 1 * * *",
        date(2026, 11, 1),
        "2026-11-01T05:30Z",
    ),
    "New York, spring, 07:00": (
        "America/New_York",
        "0 7 * * *",
        date(2026, 3, 8),
        "2026-03-08T11:00Z",
    ),
    "New York, autumn, 07:00": (
        "America/New_York",
        "0 7 * * *",
        date(2026, 11, 1),
        "2026-11-01T12:00Z",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_one_issue_a_day_at_the_documented_time_across_a_change(tmp_path: Path, case: str) -> None:
    zone, schedule, change, expected = CASES[case]
    made = issues(tmp_path, zone, schedule, change)
    local_days = [period.astimezone(ZoneInfo(zone)).date() for period, _ in made]
    days = [change - timedelta(days=1), change, change + timedelta(days=1)]
    # The run starts at midnight with a catch-up issue for the day before; then exactly one
    # a day, never two on one day.
    assert sorted(set(local_days)) == local_days, made
    assert [local_days.count(day) for day in days] == [1, 1, 1], made
    (on_the_day,) = [
        period for period, _ in made if period.astimezone(ZoneInfo(zone)).date() == change
    ]
    assert on_the_day == utc(expected.replace("Z", "+00:00"))
    began = datetime.combine(days[0], datetime.min.time(), ZoneInfo(zone))
    for period, created in made:  # each made at its time, within the clock's step
        if period >= began:  # not the catch-up of the day before, made as the run starts
            assert period <= created < period + STEP, (period, created)
