"""Pure decisions: which articles are new, which feeds and digests are due. No I/O; ``now`` is
an argument.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from dispatch.config import FeedConfig, cron_trigger
from dispatch.identity import norm_title
from dispatch.models import Article, FeedState, Known
from dispatch.urls import normalise_url

MAX_BACKOFF = timedelta(days=1)
RATE_WINDOW = timedelta(days=7)  # how far back ``every: auto`` counts a feed's articles
MAX_RETRY_AFTER = timedelta(days=1)  # a server asking for longer is probably wrong
PATIENCE = 4  # a feed is waited for this many times its host's slowest recent answer
FORGET = 0.5  # how much an answer's time still counts one poll later


@dataclass(frozen=True)
class Decision:
    """What one fetch of one feed means for the store."""

    new: tuple[Article, ...] = ()
    baseline: tuple[Article, ...] = ()
    aliases: tuple[tuple[str, int], ...] = ()
    updated: tuple[tuple[int, Article], ...] = ()


def classify(articles: Sequence[Article], known: Known, backfill: int | Literal["all"]) -> Decision:
    """Tell new articles from seen ones.

    An article is known by its key; failing that, a known normalised link, or a known title
    with the same content, means the publisher changed the GUID: an alias, never a new post.
    On a feed's first poll everything is baseline except the ``backfill`` newest. Dates never
    decide identity; they only order the backfill.
    """
    fresh: list[Article] = []
    aliases: list[tuple[str, int]] = []
    updated: list[tuple[int, Article]] = []
    for article in articles:
        known_id = known.keys.get(article.key)
        if known_id is not None:
            # Changed, or made from an entry that changed (or before entries were
            # fingerprinted): written again, so that the next poll leaves it out.
            changed = known.content_hashes.get(known_id) != article.content_hash
            if changed or known.fingerprints.get(known_id) != article.fingerprint:
                updated.append((known_id, article))
            continue
        same = None
        if article.link:
            same = known.links.get(normalise_url(article.link))
        if same is None:
            same = known.titles.get((norm_title(article.title), article.content_hash))
        if same is not None:
            aliases.append((article.key, same))
        else:
            fresh.append(article)
    if not known.first_poll:
        return Decision(new=tuple(fresh), aliases=tuple(aliases), updated=tuple(updated))
    ordered = _newest_first(fresh)
    count = len(ordered) if backfill == "all" else backfill
    chosen = {id(article) for article in ordered[:count]}
    return Decision(
        new=tuple(a for a in fresh if id(a) in chosen),
        baseline=tuple(a for a in fresh if id(a) not in chosen),
        aliases=tuple(aliases),
        updated=tuple(updated),
    )


def _newest_first(articles: Sequence[Article]) -> list[Article]:
    # Feeds list newest first; dates, when every article has one, are the better order.
    if articles and all(article.published for article in articles):
        return sorted(articles, key=lambda a: a.published or datetime.min, reverse=True)
    return list(articles)


def is_due(state: FeedState | None, now: datetime) -> bool:
    if state is not None and state.disabled:
        return False
    return state is None or state.next_poll_at is None or state.next_poll_at <= now


def settings_fingerprint(feed: FeedConfig) -> str:
    """A fingerprint of a feed's settings: when it differs from the one a feed was last polled
    with, the feed is due at once, so an edit to feeds.yaml takes effect at the next run.
    """
    text = feed.model_dump_json(exclude={"name"})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def poll_interval(feed: FeedConfig, recent: int, hint: timedelta | None = None) -> timedelta:
    """How long after a successful poll ``feed`` is polled again. A fixed ``every`` is kept.
    For ``auto``: half the mean gap between the feed's articles of the last ``RATE_WINDOW``
    (``recent`` of them), so that a new one waits a quarter of a gap on average; never sooner
    than its publisher asks (``hint``: ttl, sy:updatePeriod, Cache-Control, Expires); always
    within ``min_every`` and ``max_every``, which bounds how late an article is found.
    """
    if isinstance(feed.every, timedelta):
        return feed.every
    learned = RATE_WINDOW / (2 * recent) if recent > 0 else feed.max_every
    if hint is not None:
        learned = max(learned, hint)
    return min(max(learned, feed.min_every), feed.max_every)


def recent_in(articles: Sequence[Article], now: datetime) -> int:
    """How many of ``articles`` were published (or, undated, found now) within the last
    ``RATE_WINDOW``: the part of a feed's pace that a poll adds to what the store has.
    """
    since = now - RATE_WINDOW
    return sum(1 for article in articles if (article.published or now) >= since)


def patience(slowest: float | None, quick: float, longest: float) -> float:
    """Seconds to wait for a feed's answer (every figure in seconds): ``quick`` on a host
    whose answers have been quick, or that has not answered yet (a stalled host then costs
    a one-shot run seconds, not the whole ``longest``); ``PATIENCE`` times the ``slowest``
    recent answer of a feed on its host if longer; never more than ``longest``.
    """
    return min(max(quick, PATIENCE * (slowest or 0.0)), longest)


def slowest_answer(previous: float | None, took: float) -> float:
    """A feed's slowest recent answer, in seconds, after one that ``took`` this long (for a
    timeout: the time waited, so the next wait is ``PATIENCE`` times longer). An old slow
    answer counts for less at each poll, so a server that became quick is soon waited for
    as one.
    """
    return max(took, FORGET * (previous or 0.0))


def next_poll(
    now: datetime,
    every: timedelta,
    errors: int,
    *,
    jitter: float = 0.0,
    retry_after: float | None = None,
) -> datetime:
    """The next poll: ``every`` after a success; after errors, doubling with each one, capped at
    a day, spread by ``jitter`` (0 to 1, drawn by the caller) so failing feeds do not come back
    together, and never sooner than the server's ``Retry-After`` (capped at a week).
    """
    if errors <= 0:
        return now + every
    delay = min(every * (1 << min(errors, 16)), max(every, MAX_BACKOFF))
    delay = delay * (0.75 + 0.5 * jitter)
    if retry_after is not None:
        delay = max(delay, min(timedelta(seconds=retry_after), MAX_RETRY_AFTER))
    return now + delay


_WINDOWS = (
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=8),
    timedelta(days=32),
    timedelta(days=367),
    timedelta(days=366 * 8),
)


def latest_tick(schedule: str, timezone: str, now: datetime) -> datetime | None:
    """The latest time at or before ``now`` that the cron schedule fires, in its time zone."""
    trigger = cron_trigger(schedule, timezone)
    for window in _WINDOWS:
        tick = trigger.get_next_fire_time(None, now - window)
        if tick is None or tick > now:
            continue
        while True:
            following = trigger.get_next_fire_time(tick, tick + timedelta(seconds=1))
            # Around a DST fold the trigger can answer a time that is not later: stop there.
            if following is None or following > now or following <= tick:
                return tick if isinstance(tick, datetime) else None
            tick = following
    return None


def ticks_between(
    schedule: str, timezone: str, after: datetime, before: datetime, most: int = 10_000
) -> int:
    """How many times the schedule fired strictly between ``after`` and ``before`` (at most
    ``most``): the issues a digest made for ``before`` stands in for.
    """
    trigger = cron_trigger(schedule, timezone)
    count, tick = 0, after
    while count < most:
        following = trigger.get_next_fire_time(tick, tick + timedelta(seconds=1))
        if following is None or following >= before or following <= tick:
            break
        count, tick = count + 1, following
    return count


def next_tick(schedule: str, timezone: str, now: datetime) -> datetime | None:
    """The next time after ``now`` that the cron schedule fires."""
    tick = cron_trigger(schedule, timezone).get_next_fire_time(None, now + timedelta(seconds=1))
    return tick if isinstance(tick, datetime) else None


def digest_period(
    schedule: str, timezone: str, last_period: datetime | None, now: datetime
) -> datetime | None:
    """The period of the digest due now, or None. A digest is due when its schedule has fired
    since the last one; after downtime that is one digest, not one per missed tick.
    """
    tick = latest_tick(schedule, timezone, now)
    if tick is None or (last_period is not None and tick <= last_period):
        return None
    if last_period is not None and _wall(tick, timezone) == _wall(last_period, timezone):
        return None  # the same local time twice, in the hour a DST change repeats
    return tick


def _wall(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
