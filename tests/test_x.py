"""The X output through tweepy against a local API v2 that judges posts with twitter-text:
posting, daily limits, rate limits and refusals explained.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.project import (
    NOW,
    State,
    run_cli,
)
from helpers.sending import deliveries, setup
from helpers.servers import FeedServer
from helpers.x import X_ENV, XStandIn, x_output


@pytest.fixture
def x_api() -> Iterator[XStandIn]:
    standin = XStandIn()
    yield standin
    standin.stop()


def test_x_posts_through_tweepy_and_keeps_to_its_daily_limit(
    tmp_path: Path, state: State, server: FeedServer, x_api: XStandIn
) -> None:
    path = setup(state, tmp_path, server, {"x": x_output(x_api, daily_limit=2)}, articles=3)
    result = run_cli("send", "--now", NOW, config=path, env=X_ENV)
    assert result.code == 0, result.stderr
    assert len(x_api.tweets) == 2
    rows = deliveries(state)
    assert [r[3] for r in rows] == ["sent", "sent", "pending"]
    assert rows[2][8] >= "2026-11-28T03:00:00"  # waits a day, is not dropped
    call = next(c for c in x_api.calls if c.path == "/2/tweets")
    auth = call.headers["authorization"]
    assert 'oauth_token="x-token"' in auth and "oauth_signature=" in auth
    assert call.headers["user-agent"].startswith("dispatch/")
    next_day = run_cli("send", "--now", "2026-11-28T03:01:00+00:00", config=path, env=X_ENV)
    assert next_day.code == 0 and len(x_api.tweets) == 3


def test_x_post_with_a_non_latin_slug_is_valid_for_x(
    tmp_path: Path, state: State, server: FeedServer, x_api: XStandIn
) -> None:
    """The stand-in judges with twitter-text: before, this post was 333 for X, called 278."""
    items = [
        {
            "title": "بجٹ 2026: ٹیکس کی نئی شرحیں آپ کے لیے کیا معنی رکھتی ہیں",
            "guid": "u1",
            "link": "https://ur.example.pk/2026/11/بجٹ-میں-ٹیکس-کی-نئی-شرحیں-اور-ان-کا-اثر",
            "content": "<p>"
            + "وزیر خزانہ نے جمعرات کو انکم ٹیکس کی تین شرحیں بدل دیں۔ " * 6
            + "</p>",
        }
    ]
    path = setup(state, tmp_path, server, {"x": x_output(x_api)}, items=items)
    result = run_cli("send", "--now", NOW, config=path, env=X_ENV)
    assert result.code == 0, result.stderr
    assert x_api.invalid == [] and len(x_api.tweets) == 1
    assert "https://ur.example.pk/2026/11/%D8%A8" in x_api.tweets[0]["text"]


def test_x_rate_limit_waits_for_the_reset(
    tmp_path: Path, state: State, server: FeedServer, x_api: XStandIn
) -> None:
    path = setup(state, tmp_path, server, {"x": x_output(x_api)})
    x_api.failures.append(
        (
            429,
            {"x-rate-limit-reset": "4102444800", "Content-Type": "application/json"},
            b'{"title":"Too Many Requests","status":429}',
        )
    )
    result = run_cli("send", "--now", NOW, config=path, env=X_ENV)
    assert result.code == 1 and "too many requests" in result.stderr
    assert deliveries(state)[0][3] == "pending"


@pytest.mark.parametrize(
    ("answer", "expected", "status"),
    [
        (
            {
                "errors": [
                    {
                        "message": "You currently have access to a subset of X API V2 endpoints",
                        "code": 453,
                    }
                ]
            },
            "access level does not allow posting",
            "pending",  # held, as for refused credentials: it goes once the app may post
        ),
        (
            {
                "detail": "You are not allowed to create a Tweet with duplicate content.",
                "title": "Forbidden",
                "status": 403,
            },
            "duplicate of a recent post",
            "failed",
        ),
    ],
)
def test_x_refusals_are_explained(
    tmp_path: Path,
    state: State,
    server: FeedServer,
    x_api: XStandIn,
    answer: dict[str, Any],
    expected: str,
    status: str,
) -> None:
    path = setup(state, tmp_path, server, {"x": x_output(x_api)})
    x_api.failures.append((403, {"Content-Type": "application/json"}, json.dumps(answer).encode()))
    result = run_cli("send", "--now", NOW, config=path, env=X_ENV)
    assert result.code == 1 and expected in result.stderr
    assert "hint:" in result.stderr
    assert deliveries(state)[0][3] == status
