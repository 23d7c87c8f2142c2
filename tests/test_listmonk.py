"""The listmonk output against a local server speaking listmonk's documented HTTP API."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.listmonk import ListmonkStandIn
from helpers.project import article_items, rss, run_cli, write_config
from helpers.servers import FeedServer, reply

NOW = "2026-11-27T07:00:00+00:00"
TOKEN = "lm-token-canary-5f2e"


@pytest.fixture
def listmonk() -> Iterator[ListmonkStandIn]:
    standin = ListmonkStandIn(token=TOKEN)
    yield standin
    standin.stop()


def setup(
    tmp_path: Path, server: FeedServer, output: dict[str, Any], items: list[dict[str, str]]
) -> Path:
    url = server.serve("/feed", rss(items))
    return write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "feeds": [{"name": "news", "url": url, "backfill": "all"}],
            "outputs": {"lists": {**output, "token": "${LISTMONK_TOKEN}"}},
            "digests": [{"name": "daily", "outputs": ["lists"], "schedule": "0 7 * * *"}],
        },
    )


def send(config: Path, now: str = NOW) -> Any:
    return run_cli("send", "--now", now, config=config, env={"LISTMONK_TOKEN": TOKEN})


def test_a_digest_becomes_one_started_campaign_to_the_lists(
    tmp_path: Path, server: FeedServer, listmonk: ListmonkStandIn
) -> None:
    config = setup(
        tmp_path, server, listmonk.output(**{"from": "News <n@x.org>"}), article_items(3)
    )
    result = send(config)
    assert result.code == 0, result.stdout + result.stderr
    (campaign,) = listmonk.campaigns
    assert campaign["status"] == "running" and campaign["lists"] == [3]
    assert campaign["template_id"] == 5 and campaign["from_email"] == "News <n@x.org>"
    assert campaign["content_type"] == "html" and "Story a3" in campaign["altbody"]
    assert any(tag.startswith("dispatch-") for tag in campaign["tags"])
    # listmonk mails each subscriber, with their own unsubscribe link in place of ours.
    assert sorted(subscriber for _, subscriber, _ in listmonk.mailed) == [
        "ann@example.org",
        "bo@example.org",
        "cy@example.org",
    ]
    body = next(b for _, s, b in listmonk.mailed if s == "bo@example.org")
    assert "Story a1" in body and f"{listmonk.url}/subscription/bo@example.org" in body
    assert "listmonk.invalid" not in body
    assert send(config, "2026-11-27T07:01:00+00:00").code == 0
    assert len(listmonk.campaigns) == 1  # nothing new: no second campaign
    assert TOKEN not in result.stdout + result.stderr


def test_feed_text_that_looks_like_a_template_is_shown_never_run(
    tmp_path: Path, server: FeedServer, listmonk: ListmonkStandIn
) -> None:
    items = article_items(1)
    items[0]["title"] = 'Braces {{ .Subscriber.Email }} and {{ template "x" }}'
    config = setup(tmp_path, server, listmonk.output(), items)
    result = send(config)
    assert result.code == 0, result.stdout + result.stderr
    (_, _, body), *_ = listmonk.mailed
    assert (
        "{{ .Subscriber.Email }}" in body and "ann@example.org" not in body.split("subscription")[0]
    )


def test_a_start_that_failed_is_finished_by_the_retry_not_repeated(
    tmp_path: Path, server: FeedServer, listmonk: ListmonkStandIn
) -> None:
    config = setup(tmp_path, server, listmonk.output(), article_items(2))
    # The campaign is made, then starting it fails: it is left a draft.
    listmonk.start_failures = [reply(503, {"message": "database is busy"})]
    first = send(config)
    assert first.code == 1 and "database is busy" in first.stdout + first.stderr
    assert [c["status"] for c in listmonk.campaigns] == ["draft"]
    with sqlite3.connect(tmp_path / "state.db") as db:
        db.execute("UPDATE deliveries SET next_attempt_at = NULL")
    second = send(config, "2026-11-27T07:05:00+00:00")
    assert second.code == 0, second.stdout + second.stderr
    assert [c["status"] for c in listmonk.campaigns] == ["running"]
    assert len(listmonk.mailed) == 3


def test_a_row_cut_off_mid_send_is_looked_up_by_its_tag(
    tmp_path: Path, server: FeedServer, listmonk: ListmonkStandIn
) -> None:
    config = setup(tmp_path, server, listmonk.output(), article_items(1))
    assert send(config).code == 0
    with sqlite3.connect(tmp_path / "state.db") as db:  # as if killed after the campaign began
        db.execute("UPDATE deliveries SET status = 'sending', remote_id = NULL")
    again = send(config, "2026-11-27T07:05:00+00:00")
    assert again.code == 0, again.stdout + again.stderr
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("SELECT status, remote_id FROM deliveries").fetchall() == [
            ("sent", "campaign 1")
        ]
    assert len(listmonk.campaigns) == 1 and len(listmonk.mailed) == 3


def test_transactional_mode_sends_one_message_per_recipient(
    tmp_path: Path, server: FeedServer, listmonk: ListmonkStandIn
) -> None:
    output = listmonk.output(
        mode="transactional", template_id=7, to=["ann@example.org", "nobody@example.org"]
    )
    config = setup(tmp_path, server, output, article_items(2))
    result = send(config)
    assert result.code == 1  # one recipient is unknown to listmonk
    assert "subscriber not found" in result.stdout + result.stderr
    (sent,) = listmonk.tx
    assert sent["subscriber_email"] == "ann@example.org" and sent["template_id"] == 7
    assert "Story a2" in sent["data"]["html"] and sent["data"]["subject"]
    assert listmonk.campaigns == []


def test_wrong_credentials_are_reported_without_the_token(
    tmp_path: Path, server: FeedServer, listmonk: ListmonkStandIn
) -> None:
    config = setup(tmp_path, server, listmonk.output(), article_items(1))
    result = run_cli("send", "--now", NOW, config=config, env={"LISTMONK_TOKEN": "wrong-token"})
    assert result.code == 1 and "invalid API credentials" in result.stdout + result.stderr
    assert "wrong-token" not in result.stdout + result.stderr
    assert listmonk.campaigns == []
