"""Digest periods across DST changes and clock jumps: no missed digest, no double digest."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatch.plan.decisions import digest_period, latest_tick, next_poll


def simulate(
    schedule: str, zone: str, start: datetime, end: datetime, step: timedelta
) -> list[datetime]:
    """Run the planner like a daemon would, every ``step``; return the periods it sends."""
    sent: list[datetime] = []
    now = start
    while now <= end:
        period = digest_period(schedule, zone, sent[-1] if sent else None, now)
        if period is not None:
            sent.append(period)
        now += step
    return sent


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        ("Europe/Berlin", date(2026, 3, 29), date(2026, 10, 25)),
        ("America/New_York", date(2026, 3, 8), date(2026, 11, 1)),
        ("Asia/Karachi", date(2026, 3, 29), date(2026, 10, 25)),  # no DST at all
    ],
)
@pytest.mark.parametrize("schedule", ["30 2 * * *", "0 7 * * *", "59 1 * * *", "0 3 * * *"])
def test_one_digest_a_day_across_dst(zone: str, spring: date, autumn: date, schedule: str) -> None:
    for day in (spring, autumn):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=3)
        sent = simulate(schedule, zone, start, start + timedelta(days=6), timedelta(minutes=7))
        local_days = Counter(p.astimezone(ZoneInfo(zone)).date() for p in sent)
        days = [start.date() + timedelta(days=n) for n in range(1, 6)]
        assert [local_days[d] for d in days] == [1, 1, 1, 1, 1], (schedule, zone, sent)
        assert len(set(sent)) == len(sent)


def test_a_clock_that_jumps_back_sends_nothing_twice() -> None:
    zone, schedule = "Europe/Berlin", "0 7 * * *"
    now = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
    first = digest_period(schedule, zone, None, now)
    assert first is not None
    for back in (timedelta(minutes=5), timedelta(hours=3), timedelta(days=1)):
        assert digest_period(schedule, zone, first, now - back) is None
    assert digest_period(schedule, zone, first, now) is None


def test_downtime_catches_up_once() -> None:
    zone, schedule = "Asia/Karachi", "0 7 * * *"
    last = datetime(2026, 6, 1, 7, 0, tzinfo=ZoneInfo(zone))
    after = datetime(2026, 6, 5, 12, 0, tzinfo=ZoneInfo(zone))
    period = digest_period(schedule, zone, last, after)
    assert period == datetime(2026, 6, 5, 7, 0, tzinfo=ZoneInfo(zone))
    assert digest_period(schedule, zone, period, after + timedelta(hours=1)) is None


def test_random_clock_jumps_never_double_a_period() -> None:
    rng = random.Random(5)
    zone, schedule = "America/New_York", "30 1 * * *"
    now = datetime(2026, 10, 28, tzinfo=UTC)
    sent: list[datetime] = []
    for _ in range(3000):
        now += timedelta(minutes=rng.choice([-90, -10, 5, 20, 45, 120]))
        period = digest_period(schedule, zone, max(sent) if sent else None, now)
        if period is not None:
            sent.append(period)
    assert len(sent) == len(set(sent))
    assert sent == sorted(sent)


def test_six_field_schedules_have_seconds() -> None:
    now = datetime(2026, 6, 1, 12, 0, 7, tzinfo=UTC)
    assert latest_tick("*/5 * * * * *", "UTC", now) == now.replace(second=5)


def test_failing_feeds_back_off_with_jitter_and_honour_retry_after() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    every = timedelta(minutes=15)
    assert next_poll(now, every, 0) == now + every
    low = next_poll(now, every, 3, jitter=0.0) - now
    high = next_poll(now, every, 3, jitter=1.0) - now
    assert low == every * 8 * 0.75 and high == every * 8 * 1.25
    assert next_poll(now, every, 20, jitter=1.0) - now <= timedelta(days=1) * 1.25
    assert next_poll(now, every, 1, retry_after=7200) - now == timedelta(hours=2)
