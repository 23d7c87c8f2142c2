"""An output whose credentials are refused is held, not failed: its deliveries wait, the
status and the dry run say why and until when, a try after that backs off, and once the
credentials work (changed, or at the next try) the queue drains by itself. A post that waits
past the output's ``max_delay`` is marked expired, never posted late unseen. And the dry run
counts Mastodon posts with the instance's limit kept from the last real run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.mastodon import MastodonStandIn, mastodon_output
from helpers.project import NOW, State, run_cli
from helpers.sending import deliveries, setup
from helpers.servers import FeedServer

LATER = "2026-11-27T03:00:10+00:00"  # before the first retry (15 to 30 s after a refusal)
MUCH_LATER = "2026-11-27T03:10:00+00:00"
NEXT_POLL = "2026-11-27T04:00:00+00:00"  # the feed is polled again (every 30m)


def posts(standin: MastodonStandIn) -> int:
    return sum(1 for c in standin.calls if c.path == "/api/v1/statuses" and c.method == "POST")


@pytest.mark.slow
def test_refused_credentials_hold_the_queue_until_they_work(
    tmp_path: Path, state: State, server: FeedServer, mastodon: MastodonStandIn
) -> None:
    path = setup(state, tmp_path, server, {"toots": mastodon_output(mastodon)}, articles=3)
    wrong = {"MASTODON_TOKEN": "wrong-token"}
    first = run_cli("send", "--now", NOW, config=path, env=wrong)
    assert first.code == 1 and "HTTP 401" in first.stderr
    assert posts(mastodon) == 1  # the others were held, not tried one by one
    assert [row[3] for row in deliveries(state)] == ["pending"] * 3

    status = run_cli("status", config=path)
    outputs = run_cli("outputs", config=path, env=wrong)
    for shown in (status.stdout, outputs.stdout):
        assert "credentials refused since 2026-11-27 03:00 UTC" in " ".join(shown.split())
    dry = run_cli("send", "--dry-run", "--now", LATER, config=path, env=wrong)
    assert "0 message(s) would go out; 3 cannot now" in dry.stdout
    assert "credentials refused since" in " ".join(dry.stdout.split())

    held = run_cli("send", "--now", LATER, config=path, env=wrong)
    assert held.code == 1 and "credentials refused since" in held.stderr
    assert posts(mastodon) == 1  # before the next try: nothing asked of the network
    retried = run_cli("send", "--now", MUCH_LATER, config=path, env=wrong)
    assert retried.code == 1 and posts(mastodon) == 2  # the next try, backing off

    fixed = run_cli(
        "send", "--now", MUCH_LATER, config=path, env={"MASTODON_TOKEN": "mastodon-token"}
    )
    assert fixed.code == 0, fixed.stderr  # changed credentials are tried at once
    assert len(mastodon.statuses) == 3
    assert [row[3] for row in deliveries(state)] == ["sent"] * 3
    assert "credentials refused" not in run_cli("status", config=path).stdout


def test_a_post_held_past_max_delay_expires_and_is_listed(
    tmp_path: Path, state: State, server: FeedServer, mastodon: MastodonStandIn
) -> None:
    output = mastodon_output(mastodon, max_delay="1h")
    path = setup(state, tmp_path, server, {"toots": output}, articles=2)
    assert run_cli("send", "--now", NOW, config=path, env={"MASTODON_TOKEN": "wrong"}).code == 1
    late = run_cli(
        "send",
        "--now",
        "2026-11-27T05:00:00+00:00",
        config=path,
        env={"MASTODON_TOKEN": "mastodon-token"},
    )
    assert late.code == 1 and "expired: waited 2h to be sent, past max_delay (1h)" in late.stderr
    assert mastodon.statuses == []  # never posted late
    rows = deliveries(state)
    assert [row[3] for row in rows] == ["failed", "failed"]
    assert all(row[5].startswith("expired:") for row in rows)
    assert "expired:" in run_cli("status", config=path).stdout


def test_the_dry_run_counts_with_the_instance_limit_kept_by_the_last_send(
    tmp_path: Path, state: State, server: FeedServer, mastodon: MastodonStandIn
) -> None:
    """Before: the dry run showed 498/500 for a post that went out cut to 200."""
    mastodon.max_characters = 200
    items = [
        {
            "title": f"Long story {n}",
            "guid": f"l{n}",
            "link": f"https://example.org/long/{n}",
            "content": "<p>" + "Many words here. " * 40 + "</p>",
        }
        for n in range(2)
    ]
    path = setup(state, tmp_path, server, {"toots": mastodon_output(mastodon)}, items=items[:1])
    never_asked = run_cli("send", "--dry-run", "--json", "--now", NOW, config=path)
    (shown,) = [json.loads(line) for line in never_asked.stdout.splitlines()]
    assert shown["limit"] == 500 and "has not been asked yet" in shown["limit_source"]

    env = {"MASTODON_TOKEN": "mastodon-token"}
    assert run_cli("send", "--now", NOW, config=path, env=env).code == 0
    (sent,) = mastodon.statuses
    # A second article, and the dry run before it goes out: the kept limit, said to be kept.
    path = setup(state, tmp_path, server, {"toots": mastodon_output(mastodon)}, items=items)
    dry = run_cli("send", "--dry-run", "--json", "--now", NEXT_POLL, config=path)
    (shown,) = [json.loads(line) for line in dry.stdout.splitlines()]
    assert shown["limit"] == 200 and "the instance's own limit, read 2026-" in shown["limit_source"]
    assert shown["length"] <= 200
    assert run_cli("send", "--now", NEXT_POLL, config=path, env=env).code == 0
    assert mastodon.statuses[-1]["text"] == shown["text"]  # what the dry run showed went out
    assert sent["text"] != shown["text"]
    assert "max_characters 200" in run_cli("status", config=path).stdout
