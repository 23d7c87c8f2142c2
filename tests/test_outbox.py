"""The outbox's pure rules: recovery after a crash, backoff, budgets."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.outputs.base import Capabilities
from dispatch.plan.outbox import (
    FIRST_BACKOFF,
    MAX_BACKOFF,
    MAX_RETRY_AFTER,
    budget_frees_at,
    next_attempt,
    recovery,
)

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
KEYED = Capabilities(idempotent=True)
HOUR_KEY = Capabilities(idempotent=True, idempotency_window=timedelta(hours=1))
PLAIN = Capabilities()


@pytest.mark.parametrize(
    ("capabilities", "can_lookup", "policy", "age", "expected"),
    [
        (KEYED, False, "flag", timedelta(days=3), "retry"),
        (HOUR_KEY, True, "flag", timedelta(minutes=10), "retry"),
        (HOUR_KEY, True, "flag", timedelta(hours=2), "lookup"),
        (PLAIN, True, "flag", timedelta(minutes=1), "lookup"),
        (PLAIN, False, "flag", timedelta(minutes=1), "flag"),
        (PLAIN, False, "resend", timedelta(minutes=1), "retry"),
    ],
)
def test_recovery(
    capabilities: Capabilities, can_lookup: bool, policy: str, age: timedelta, expected: str
) -> None:
    decision = recovery(
        capabilities,
        can_lookup=can_lookup,
        policy=policy,  # type: ignore[arg-type]
        sending_since=NOW - age,
        now=NOW,
    )
    assert decision == expected


@given(
    attempts=st.integers(min_value=1, max_value=50),
    # An output reads Retry-After or a reset time from the network: any number may come.
    retry_after=st.one_of(st.none(), st.floats(min_value=0, allow_nan=False)),
    seed=st.integers(),
)
def test_backoff_is_bounded_and_honours_retry_after(
    attempts: int, retry_after: float | None, seed: int
) -> None:
    moment = next_attempt(NOW, attempts, retry_after, random.Random(seed))
    delay = moment - NOW
    assert FIRST_BACKOFF / 2 <= delay <= max(MAX_BACKOFF, MAX_RETRY_AFTER)
    if retry_after:
        assert delay >= timedelta(seconds=min(retry_after, MAX_RETRY_AFTER.total_seconds()))


def test_backoff_grows() -> None:
    rng = random.Random(1)
    ceilings = [next_attempt(NOW, n, None, rng) - NOW for n in (1, 3, 5)]
    assert ceilings[0] <= FIRST_BACKOFF < ceilings[1] < ceilings[2]


def test_budget() -> None:
    sent = [NOW - timedelta(hours=h) for h in (23, 10, 1)]
    assert budget_frees_at(sent, None, NOW) is None
    assert budget_frees_at(sent, 4, NOW) is None
    assert budget_frees_at(sent, 3, NOW) == NOW + timedelta(hours=1)
    assert budget_frees_at(sent, 2, NOW) == NOW + timedelta(hours=14)
    assert budget_frees_at([NOW - timedelta(hours=25)], 1, NOW) is None
