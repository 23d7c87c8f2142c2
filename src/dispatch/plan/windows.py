"""Posting windows and spacing, pure: whether an output may post at a moment, when its window
next opens, and when each queued post will go.

A window is ``HH:MM-HH:MM`` in the output's time zone; one that ends before it starts runs
past midnight (``22:00-02:00``). No windows: any time. Local times are read with zoneinfo, so
a window keeps its wall-clock times across daylight saving.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatch.config import Window

_DAYS_AHEAD = 3  # a window opens within a day; a little more covers any time-zone change


def opens_at(moment: datetime, windows: Sequence[Window], timezone: str) -> datetime:
    """``moment`` when it falls in a window (or there are none); else when the next opens."""
    if not windows:
        return moment
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    starts = []
    for offset in range(-1, _DAYS_AHEAD):
        day = local.date() + timedelta(days=offset)
        for start, end in windows:
            begins, ends = _span(day, start, end, zone)
            if begins <= moment < ends:
                return moment
            if begins > moment:
                starts.append(begins)
    return min(starts)


def planned_times(
    count: int,
    now: datetime,
    *,
    last_sent: datetime | None,
    gap: timedelta | None,
    windows: Sequence[Window],
    timezone: str,
) -> list[datetime]:
    """When each of ``count`` queued posts will go, in order: each in a window, each at least
    ``gap`` after the one before (and the first after ``last_sent``).
    """
    times = []
    moment = now
    if gap is not None and last_sent is not None:
        moment = max(moment, last_sent + gap)
    for _ in range(count):
        moment = opens_at(moment, windows, timezone)
        times.append(moment)
        moment = moment + (gap or timedelta(0))
    return times


def _span(day: date, start: time, end: time, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The window that opens on ``day``, as UTC instants; it closes the next day when its end
    is not after its start.
    """
    begins = _instant(day, start, zone)
    closes_on = day if end > start else day + timedelta(days=1)
    return begins, _instant(closes_on, end, zone)


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time on ``day`` as a UTC instant. One a spring change skips is read with
    the offset before the change (London's 01:30 opens at 02:30 BST), as digests' schedules
    are; one an autumn change repeats is its first instant.
    """
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
