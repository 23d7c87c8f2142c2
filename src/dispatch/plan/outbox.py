"""The outbox's rules, pure: what to do with a row a crash left ``sending``, when to try a
failed send again, and when an output's budget lets it send.

A row is marked ``sending`` (committed) before the output is called and ``sent`` after, so a
row found ``sending`` when a run starts was cut off mid-send: nobody knows whether it went.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from dispatch.models import Capabilities

MAX_ATTEMPTS = 8
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=6)
MAX_RETRY_AFTER = timedelta(days=1)
BUDGET_WINDOW = timedelta(days=1)

Recovery = Literal["retry", "lookup", "flag"]
AmbiguousPolicy = Literal["flag", "resend"]


def recovery(
    capabilities: Capabilities,
    *,
    can_lookup: bool,
    policy: AmbiguousPolicy,
    sending_since: datetime | None,
    now: datetime,
) -> Recovery:
    """What to do with a row left ``sending``.

    - retry with the same key where the network honours it and the key is still remembered;
    - else look the message up where the network lets us;
    - else resend only if the operator's policy says so; otherwise flag it for the operator.
    """
    if capabilities.idempotent:
        window = capabilities.idempotency_window
        if window is None or (sending_since is not None and now - sending_since < window):
            return "retry"
    if can_lookup:
        return "lookup"
    return "retry" if policy == "resend" else "flag"


def next_attempt(
    now: datetime, attempts: int, retry_after: float | None, rng: random.Random
) -> datetime:
    """When to try again: exponential backoff with full jitter, never sooner than the network's
    ``Retry-After`` (itself capped at a day).
    """
    ceiling = min(FIRST_BACKOFF * (1 << min(max(attempts - 1, 0), 20)), MAX_BACKOFF)
    delay = ceiling * rng.uniform(0.5, 1.0)
    if retry_after is not None and retry_after > 0:
        wait = min(retry_after, MAX_RETRY_AFTER.total_seconds())  # a huge one overflows
        delay = max(delay, timedelta(seconds=wait))
    return now + delay


def budget_frees_at(
    sent: Sequence[datetime],
    limit: int | None,
    now: datetime,
    window: timedelta = BUDGET_WINDOW,
) -> datetime | None:
    """None when the output may send now; else when its budget (``limit`` sends within any
    ``window``) frees a place. ``sent`` lists when the output sent, oldest first.
    """
    if limit is None:
        return None
    recent = [moment for moment in sent if moment > now - window]
    if len(recent) < limit:
        return None
    return recent[len(recent) - limit] + window
