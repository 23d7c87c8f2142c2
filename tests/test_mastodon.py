"""The Mastodon output against a local instance that speaks the API: idempotency keys, the
instance's own limit, rate limits, refusals, and a send cut off by a crash looked up.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.mastodon import MastodonStandIn, mastodon_output
from helpers.project import (
    NOW,
    State,
    run_cli,
)
from helpers.sending import deliveries, setup
from helpers.servers import FeedServer


@pytest.fixture
def mastodon() -> Iterator[MastodonStandIn]:
    standin = MastodonStandIn(max_characters=140)
    yield standin
    standin.stop()


def test_mastodon_posts_with_an_idempotency_key_and_the_instance_limit(
    tmp_path: Path, state: State, server: FeedServer, mastodon: MastodonStandIn
) -> None:
    long = [
        {
            "title": "A long one",
            "guid": "l1",
            "link": "https://example.org/long",
            "content": "<p>" + "Many words here. " * 40 + "</p>",
        }
    ]
    path = setup(state, tmp_path, server, {"toots": mastodon_output(mastodon)}, items=long)
    result = run_cli("send", "--now", NOW, config=path, env={"MASTODON_TOKEN": "mastodon-token"})
    assert result.code == 0, result.stderr
    (status,) = mastodon.statuses
    (row,) = deliveries(state)
    post = next(c for c in mastodon.calls if c.path == "/api/v1/statuses")
    assert post.headers["idempotency-key"] == row[6]
    assert post.headers["user-agent"].startswith("dispatch/0.1.0 (+")  # the fetcher's own
    assert (status["visibility"], status["language"], status["spoiler_text"]) == (
        "unlisted",
        "en",
        "news",
    )
    assert "https://example.org/long" in status["text"]
    assert len(status["text"]) - len("https://example.org/long") + 23 <= 140
    assert row[3] == "sent" and row[4] == status["id"]


def test_mastodon_server_errors_are_retried_with_the_same_key(
    tmp_path: Path, state: State, server: FeedServer, mastodon: MastodonStandIn
) -> None:
    path = setup(state, tmp_path, server, {"toots": mastodon_output(mastodon, max_characters=500)})
    mastodon.failures.append((503, {"Retry-After": "120"}, b"busy"))
    env = {"MASTODON_TOKEN": "mastodon-token"}
    first = run_cli("send", "--now", NOW, config=path, env=env)
    assert first.code == 1 and "HTTP 503" in first.stderr
    ((_, _, _, status, _, _, key, _, next_try),) = deliveries(state)
    assert status == "pending" and next_try >= "2026-11-27T03:02:00"
    early = run_cli("send", "--now", "2026-11-27T03:01:00+00:00", config=path, env=env)
    assert early.code == 4 and mastodon.statuses == []  # still failing: said, not retried yet
    later = run_cli("send", "--now", "2026-11-27T04:00:00+00:00", config=path, env=env)
    assert later.code == 0, later.stderr
    keys = [c.headers["idempotency-key"] for c in mastodon.calls if c.path == "/api/v1/statuses"]
    assert keys == [key, key] and len(mastodon.statuses) == 1


@pytest.mark.parametrize(
    "reset", ["2100-01-01T00:00:00.000Z", "2100-01-01T00:00:00", "4102444800", "soon"]
)
def test_mastodon_rate_limit_is_a_wait_whatever_its_reset_says(
    tmp_path: Path, state: State, server: FeedServer, mastodon: MastodonStandIn, reset: str
) -> None:
    # Mastodon sends an ISO 8601 time; servers speaking its API may send others. A naive one
    # raised (an aware time minus a naive one), and the refused post was taken as ambiguous.
    path = setup(state, tmp_path, server, {"toots": mastodon_output(mastodon)})
    mastodon.failures.append((429, {"X-RateLimit-Reset": reset}, b'{"error":"Too many"}'))
    result = run_cli("send", "--now", NOW, config=path, env={"MASTODON_TOKEN": "mastodon-token"})
    assert result.code == 1 and f"rate limited until {reset}" in result.stderr
    ((_, _, _, status, *_),) = deliveries(state)
    assert status == "pending"


def test_a_networks_answer_that_no_database_stores_is_recorded_all_the_same(
    tmp_path: Path, state: State, server: FeedServer, mastodon: MastodonStandIn
) -> None:
    # JSON may carry a lone surrogate or a NUL ("\\ud800", "\\u0000"), which neither UTF-8
    # nor PostgreSQL takes: recording the refusal failed, and the send run stopped with it.
    toots = mastodon_output(mastodon, max_characters=500)  # no instance call before the post
    path = setup(state, tmp_path, server, {"toots": toots})
    mastodon.failures.append((422, {}, b'{"error":"Validation failed: \\ud800 \\u0000 x"}'))
    result = run_cli("send", "--now", NOW, config=path, env={"MASTODON_TOKEN": "mastodon-token"})
    assert result.code == 1 and "Traceback" not in result.stderr, result.stderr
    ((_, _, _, status, _, error, *_),) = deliveries(state)
    assert status == "failed" and "Validation failed:   x" in error  # the two taken out


def test_mastodon_bad_token_is_an_auth_error(
    tmp_path: Path, state: State, server: FeedServer, mastodon: MastodonStandIn
) -> None:
    """Refused credentials hold the delivery (tests/test_held_outputs.py), never fail it."""
    path = setup(state, tmp_path, server, {"toots": mastodon_output(mastodon, max_characters=500)})
    result = run_cli("send", "--now", NOW, config=path, env={"MASTODON_TOKEN": "nope-canary-1"})
    assert result.code == 1 and "HTTP 401" in result.stderr
    assert "nope-canary-1" not in result.stderr + result.stdout
    assert deliveries(state)[0][3] == "pending"


@pytest.mark.parametrize("posted", [True, False])
def test_mastodon_row_interrupted_over_an_hour_ago_is_looked_up(
    tmp_path: Path, state: State, server: FeedServer, mastodon: MastodonStandIn, posted: bool
) -> None:
    path = setup(state, tmp_path, server, {"toots": mastodon_output(mastodon, max_characters=500)})
    env = {"MASTODON_TOKEN": "mastodon-token"}
    assert run_cli("send", "--now", NOW, config=path, env=env).code == 0
    if not posted:  # the crash came before the request reached the instance
        mastodon.statuses.clear()
        mastodon.by_key.clear()
    state.rows(  # cut off two hours ago
        "UPDATE deliveries SET status = 'sending', sending_since = '2026-11-27T01:00:00+00:00'"
    )
    result = run_cli("send", "--now", NOW, config=path, env=env)
    assert result.code == 0, result.stderr
    assert len(mastodon.statuses) == 1
    looked_up = [c.path for c in mastodon.calls if c.method == "GET"]
    assert "/api/v1/accounts/1/statuses" in looked_up
    assert deliveries(state)[0][3] == "sent"
