"""The crash test, small, on SQLite and on PostgreSQL: the sender is killed with SIGKILL at
random moments and restarted until done. The full run (1,000 deliveries per output) is
`python tests/crash_harness.py`; its figures are in docs/reliability.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crash_harness import run
from helpers.project import State

pytestmark = [pytest.mark.slow]

IDEMPOTENT = ("Mastodon", "Bluesky", "webhook", "file")


@pytest.mark.parametrize("policy", ["flag", "resend"])
def test_killed_sender_loses_nothing_and_never_sends_twice(
    tmp_path: Path, policy: str, state: State
) -> None:
    rows = {
        row.output: row
        for row in run(
            tmp_path,
            articles=40,
            recipients=40,
            policy=policy,
            seed=3,
            kill_after=(1.0, 4.0),
            state=state,
        )
    }
    assert rows["SMTP"].kills >= 1
    for row in rows.values():
        assert row.deliveries == 40, row
        assert row.lost == 0, row
    for name in IDEMPOTENT:
        assert rows[name].duplicates == 0 and rows[name].ambiguous == 0, rows[name]
    # A kill cuts off what was in flight: one X post, up to `connections` (4) SMTP messages.
    for name, in_flight in (("SMTP", 4), ("X", 1)):
        if policy == "flag":
            assert rows[name].duplicates == 0, rows[name]
        else:
            assert rows[name].ambiguous == 0, rows[name]
            assert rows[name].duplicates <= rows[name].kills * in_flight, rows[name]
