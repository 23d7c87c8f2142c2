"""Why each article is in or out of each digest and post: the reasons the preview shows.

Pure: it reads what the store records of an article (its ``Trail``) and what the schedule
says, and answers one ``Reason`` per article and rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from dispatch.config import DigestConfig, PostConfig, RuleConfig
from dispatch.models import Article, Trail
from dispatch.plan.decisions import digest_period, next_tick
from dispatch.plan.filters import Verdict as Routed
from dispatch.plan.filters import route

Verdict = Literal["in", "waiting", "sent", "out"]


@dataclass(frozen=True)
class Reason:
    """``in``: goes out at the next send; ``waiting``: will, later; ``sent``: already went;
    ``out``: never will, and why.
    """

    verdict: Verdict
    text: str


@dataclass(frozen=True)
class DigestPlan:
    """What decides a digest's next issue: the queue (oldest first) and the schedule."""

    rule: DigestConfig
    queued: tuple[int, ...]
    due: bool
    next_at: datetime | None
    period: datetime  # what the next issue is dated


def plan_digest(
    rule: DigestConfig, queued: Sequence[int], last_period: datetime | None, now: datetime
) -> DigestPlan:
    """A digest's next issue as a send now would judge it: due when its schedule has fired
    since ``last_period``, dated with the tick due now, else with the next one, so the preview,
    a test send and `status` date it as the real send will.
    """
    due = digest_period(rule.schedule, rule.timezone, last_period, now)
    following = next_tick(rule.schedule, rule.timezone, now)
    period = due or following or now  # ``now`` only for a schedule that never fires again
    return DigestPlan(rule, tuple(queued), due is not None, following, period)


def digest_reason(article: Article, trail: Trail, plan: DigestPlan) -> Reason:
    rule = plan.rule
    if rule.feeds is not None and article.feed not in rule.feeds:
        return Reason("out", f"filtered: feed {article.feed!r} is not among this digest's feeds")
    for name, period, states in trail.digests:
        if name == rule.name:
            when = _local(period, rule.timezone)
            if states <= {"sent"}:
                return Reason("sent", f"already sent, in the digest of {when}")
            return Reason("waiting", f"in the digest of {when}: {', '.join(sorted(states))}")
    if trail.baseline:
        return Reason("out", "baseline: it was in the feed when dispatch first read it")
    routed = _routed(rule, article, trail)
    if not routed.passed:
        return Reason("out", f"filtered: {routed.reason}")
    if rule.name not in trail.queued:
        if article.story not in (0, article.id):
            return Reason("out", _ONCE)
        return Reason("out", "not queued: found before this digest covered its feed")
    return _why(_digest_queue_reason(article, plan), routed)


def _digest_queue_reason(article: Article, plan: DigestPlan) -> Reason:
    rule = plan.rule
    position = plan.queued.index(article.id) if article.id in plan.queued else 0
    if position >= rule.max_items:
        return Reason(
            "waiting",
            f"over max_items ({rule.max_items}): number {position + 1} in the queue, "
            "so it waits for a later digest",
        )
    if len(plan.queued) < rule.min_items:
        return Reason(
            "waiting",
            f"new: waiting for min_items ({len(plan.queued)} of {rule.min_items} queued)",
        )
    if plan.due:
        return Reason("in", "new: in the digest that is due now")
    when = _local(plan.next_at, rule.timezone) if plan.next_at else "never (check the schedule)"
    return Reason("waiting", f"new: waiting for its schedule, next at {when}")


def post_reason(article: Article, trail: Trail, rule: PostConfig, output: str) -> Reason:
    if rule.feeds is not None and article.feed not in rule.feeds:
        return Reason("out", f"filtered: feed {article.feed!r} is not among this rule's feeds")
    for name, to, state, error in trail.posts:
        if to != output:
            continue
        through = "" if name == rule.name else f" (through rule {name!r})"
        if state == "sent":
            return Reason("sent", f"already sent{through}")
        if state == "pending":
            pending = Reason("in", f"new: goes out at the next send{through}")
            return _why(pending, _routed(rule, article, trail))
        if state == "failed":
            return Reason("out", f"failed{through}: {error or 'no reason recorded'}")
        return Reason("waiting", f"{state}{through}: {error or 'being sent'}")
    if trail.baseline:
        return Reason("out", "baseline: it was in the feed when dispatch first read it")
    routed = _routed(rule, article, trail)
    if not routed.passed:
        return Reason("out", f"filtered: {routed.reason}")
    if article.story not in (0, article.id):
        return Reason("out", _ONCE)
    return Reason("out", "not queued: found before this rule covered its feed")


def _routed(rule: RuleConfig, article: Article, trail: Trail) -> Routed:
    """What the rule's filters say of the article, as when it was found."""
    return route(rule, article, trail.found or datetime.now(UTC))


def _why(reason: Reason, routed: Routed) -> Reason:
    """A reason, with the filter that let the article in when one did."""
    return replace(reason, text=f"{reason.text} ({routed.reason})") if routed.reason else reason


_ONCE = "one story once: another feed told this story first, and it goes out once"


def _local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")
