"""Pure decisions of push (WebSub, the W3C Recommendation): which feeds are subscribed and at
which hub, when a subscription is renewed, asked again or given up, whether a hub's
verification is one we asked for, and whether a notification's signature holds.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from dispatch.config import FeedConfig
from dispatch.config.schema import WebSubSettings
from dispatch.models import Subscription

# A hub verifies within seconds; one that has not within this long is asked again.
VERIFY_WITHIN = timedelta(minutes=10)
# A live subscription is renewed when this share of its lease is left.
RENEW_WHEN_LEFT = 0.2
FIRST_RETRY = timedelta(minutes=5)  # after a failure, doubling at each one after it
LONGEST_RETRY = timedelta(hours=6)
# The signatures WebSub allows in X-Hub-Signature, "method=hex digest".
SIGNATURES = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
CALLBACK_PATH = "/websub/"  # the callback URL is the public URL, this, and a token


@dataclass(frozen=True)
class Want:
    """A feed that should be pushed: its hub, and the topic it is known by there."""

    feed: str
    hub: str
    topic: str


@dataclass(frozen=True)
class Step:
    """What to do next about one feed's subscription. ``seen``: the subscription's
    ``asked_at`` when this was decided, so that two workers never both ask.
    """

    action: Literal["subscribe", "unsubscribe", "forget", "expire"]
    feed: str
    hub: str
    topic: str
    seen: datetime | None
    why: str


def wanted(
    feeds: Sequence[FeedConfig],
    links: Mapping[str, tuple[str | None, str | None]],
    settings: WebSubSettings,
) -> dict[str, Want]:
    """The feeds to subscribe: those whose last poll named a hub (in the feed or the Link
    header), or whose host has a known hub. The topic is the feed's own address as it names
    it, else its URL. Nothing is wanted without a public URL for hubs to call back.
    """
    if settings.public_url is None:
        return {}
    wants = {}
    for feed in feeds:
        parts = urlsplit(feed.url)
        if parts.scheme not in ("http", "https"):
            continue
        hub, topic = links.get(feed.name, (None, None))
        hub = hub or settings.hub_for(parts.hostname or "")
        if hub:
            wants[feed.name] = Want(feed.name, hub, topic or feed.url)
    return wants


def steps(
    wants: Mapping[str, Want], subscriptions: Mapping[str, Subscription], now: datetime
) -> list[Step]:
    """What to ask of hubs now: subscribe what is wanted and not live (or live at another
    hub or topic, or near its lease's end); unsubscribe what is no longer wanted.
    """
    todo = []
    for name, want in wants.items():
        sub = subscriptions.get(name)
        seen = sub.asked_at if sub else None
        if sub is not None and sub.state == "live" and not sub.live(now):
            # Polled as usual from now on, and asked again.
            todo.append(Step("expire", name, sub.hub, sub.topic, seen, "its lease ran out"))
            todo.append(Step("subscribe", name, want.hub, want.topic, seen, "its lease ran out"))
            continue
        why = _subscribe_why(want, sub, now)
        if why:
            todo.append(Step("subscribe", name, want.hub, want.topic, seen, why))
    for name, sub in subscriptions.items():
        if name in wants:
            continue
        if sub.state in ("asked", "live"):
            why = "the feed left feeds.yaml or names no hub now"
            todo.append(Step("unsubscribe", name, sub.hub, sub.topic, sub.asked_at, why))
        elif sub.state == "failed" or _stale(sub.asked_at, now):
            why = "no longer wanted, and the hub did not confirm the unsubscribing"
            todo.append(Step("forget", name, sub.hub, sub.topic, sub.asked_at, why))
    return todo


def _subscribe_why(want: Want, sub: Subscription | None, now: datetime) -> str:
    """Why ``want`` should be (re)subscribed now; empty when it should not."""
    if sub is None:
        return "not subscribed yet"
    if (sub.hub, sub.topic) != (want.hub, want.topic):
        return f"the feed now names hub {want.hub} and topic {want.topic}"
    if sub.state == "leaving":
        return "the feed is back in feeds.yaml"
    if sub.state == "failed":
        return "retrying" if sub.retry_at is None or now >= sub.retry_at else ""
    if sub.state == "asked":
        return "the hub did not verify" if _stale(sub.asked_at, now) else ""
    # live, and its lease has not run out
    assert sub.lease_until is not None
    lease = sub.lease_until - (sub.verified_at or now)
    asked, verified = sub.asked_at, sub.verified_at
    # A renewal asked, and not verified yet, is waited for.
    renewing = asked is not None and verified is not None and asked > verified
    if sub.lease_until - now <= lease * RENEW_WHEN_LEFT and not (
        renewing and not _stale(asked, now)
    ):
        return "renewing before its lease runs out"
    return ""


def _stale(asked_at: datetime | None, now: datetime) -> bool:
    return asked_at is None or now - asked_at >= VERIFY_WITHIN


def retry_after(failures: int) -> timedelta:
    """How long after its ``failures``-th failure in a row a subscription is asked again."""
    wait: timedelta = FIRST_RETRY * 2 ** max(failures - 1, 0)
    return min(wait, LONGEST_RETRY)


def callback_url(public_url: str, token: str) -> str:
    return public_url.rstrip("/") + CALLBACK_PATH + token


def token_in(path: str) -> str | None:
    """The token a callback's path ends in: behind a reverse proxy, whatever comes before
    ``/websub/`` is the proxy's.
    """
    _, found, token = path.split("?", 1)[0].rpartition(CALLBACK_PATH)
    return token if found and token and "/" not in token else None


def intent_holds(sub: Subscription | None, mode: str, topic: str) -> bool:
    """Whether a hub's verification is of a subscription we asked for: the topic we asked,
    and subscribing while we want it, unsubscribing while we are leaving.
    """
    if sub is None or topic != sub.topic:
        return False
    if mode == "subscribe":
        return sub.state in ("asked", "live")
    if mode == "unsubscribe":
        return sub.state == "leaving"
    return False


def signature_holds(header: str | None, secret: str, body: bytes) -> bool:
    """Whether ``X-Hub-Signature`` (``sha256=hex…``) signs ``body`` with ``secret``."""
    if not header:
        return False
    method, _, digest = header.strip().partition("=")
    algorithm = SIGNATURES.get(method.strip().lower())
    if algorithm is None:
        return False
    expected = hmac.new(secret.encode(), body, algorithm).hexdigest()
    return hmac.compare_digest(expected, digest.strip().lower())


def pushed_interval(interval: timedelta, poll_every: timedelta) -> timedelta:
    """A pushed feed's time to its next poll: rare, in case a push went astray."""
    return max(interval, poll_every)
