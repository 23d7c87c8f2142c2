"""The command line: JSON Lines fields, exit codes, errors by name, and no secrets printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers.mastodon import MastodonStandIn
from helpers.project import NOW, ROOT, article_items, rss, run_cli, write_config
from helpers.servers import FeedServer
from helpers.smtp import SmtpStandIn

FIELDS = {
    "output",
    "type",
    "kind",
    "name",
    "subject",
    "text",
    "html",
    "length",
    "limit",
    "articles",
    "cards",
}


def test_json_lines_have_the_documented_fields() -> None:
    result = run_cli("send", "--dry-run", "--json", "--now", NOW, config=ROOT / "feeds.yaml")
    assert result.code == 0, result.stderr
    messages = result.messages()
    assert messages and all(message.keys() >= FIELDS for message in messages)
    post = next(m for m in messages if m["output"] == "x")
    assert (post["type"], post["kind"], post["name"], post["subject"], post["html"]) == (
        "x",
        "post",
        "social",
        None,
        None,
    )
    assert post["length"] <= post["limit"] == 280
    assert set(post["articles"][0]) >= {"title", "url", "summary"}
    digest = next(m for m in messages if m["output"] == "newsletter")
    assert digest["type"] == "smtp" and digest["kind"] == "digest" and digest["subject"]
    assert digest["html"].startswith("<!doctype html>") and digest["text"]
    assert {"type", "video_id", "url", "thumbnail"} <= set(digest["cards"][0])


def test_human_output_shows_each_message_and_where_files_went() -> None:
    result = run_cli("send", "--dry-run", "--now", NOW, config=ROOT / "feeds.yaml")
    assert result.code == 0, result.stderr
    assert "post “social” → x (x)" in result.stdout
    assert "digest “daily” → newsletter (smtp)" in result.stdout
    assert "/ 280 weighted characters" in result.stdout
    assert "(open it in a browser)" in result.stdout
    assert "Nothing was sent and no state was changed" in result.stdout


def test_config_errors_exit_2_with_every_problem(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {
            "feeds": [{"name": "a", "url": "https://e.org/", "every": "x"}],
            "outputs": {},
            "posts": [{"name": "p", "outputs": ["nope"]}],
        },
    )
    result = run_cli("send", "--dry-run", config=path)
    assert result.code == 2
    assert "feeds[0].every (line 4)" in result.stderr
    assert "posts[0].outputs[0] (line 9): no output is named 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_output_whose_secret_is_unset_keeps_its_messages_pending(
    server: FeedServer, tmp_path: Path
) -> None:
    url = server.serve("/feed", rss(article_items(1)))
    mastodon = MastodonStandIn(token="canary-8f2e1b9c7d")
    try:
        path = write_config(
            tmp_path,
            {
                "allow_private_networks": True,
                "state": "s.db",
                "feeds": [{"name": "news", "url": url, "backfill": 1}],
                "outputs": {"toots": mastodon.output(access_token="${CANARY_TOKEN}")},
                "posts": [{"name": "social", "outputs": ["toots"]}],
            },
        )
        unset = run_cli("send", "--now", NOW, config=path)
        assert unset.code == 1
        reason = "'toots' is not ready: secret not set: access_token (${CANARY_TOKEN})"
        assert reason in unset.stderr
        assert mastodon.calls == []
        held = run_cli("status", config=path)  # the waiting table says why, not an empty cell
        assert "output not ready: secret not set: access_token" in held.stdout.replace("\n", "")
        canary = {"CANARY_TOKEN": "canary-8f2e1b9c7d"}
        outputs = run_cli("outputs", config=path, env=canary)
        dry = run_cli("send", "--dry-run", "--json", "--now", NOW, config=path, env=canary)
        assert len(dry.messages()) == 1  # still pending, not dropped
        sent = run_cli("send", "--now", NOW, config=path, env=canary)
        assert sent.code == 0, sent.stderr
        assert len(mastodon.statuses) == 1
        printed = "".join(r.stdout + r.stderr for r in (unset, outputs, dry, sent))
        assert "canary-8f2e1b9c7d" not in printed
        assert "access_token=****" in outputs.stdout
    finally:
        mastodon.stop()


def test_store_from_a_newer_dispatch_exits_3(tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "s.db") as db:
        db.execute("PRAGMA user_version = 99")
    path = write_config(tmp_path, {"state": "s.db", "feeds": [{"name": "a", "url": "f.xml"}]})
    result = run_cli("poll", config=path)
    assert result.code == 3 and "newer dispatch" in result.stderr


def test_help_lists_the_commands_and_exit_codes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dispatch", "--help"], capture_output=True, text=True, check=True
    )
    assert "send" in result.stdout and "poll" in result.stdout and "Exit codes" in result.stdout


def test_the_dry_run_folder_holds_this_runs_messages_only(
    tmp_path: Path, server: FeedServer
) -> None:
    url = server.serve("/feed", rss(article_items(3)))

    def dry_run(backfill: int) -> tuple[int, int]:
        """How many posts the run shows, and how many message files its folder holds."""
        config = write_config(
            tmp_path,
            {
                "state": "state.db",
                "allow_private_networks": True,
                "feeds": [{"name": "news", "url": url, "backfill": backfill}],
                "outputs": {"archive": {"type": "file", "path": "archive"}},
                "posts": [{"name": "social", "outputs": ["archive"]}],
            },
        )
        result = run_cli("send", "--dry-run", "--now", NOW, config=config)
        assert result.code == 0, result.stderr
        folder = Path(result.stdout.split("Rendered files: ")[1].split()[0])
        return result.stdout.count("post “social”"), len(list(folder.glob("*.json")))

    assert dry_run(3) == (3, 3)
    assert dry_run(1) == (1, 1)  # fewer messages now: the last run's three are gone


def test_status_shows_each_digests_next_issue_in_its_time_zone(
    tmp_path: Path, server: FeedServer
) -> None:
    url = server.serve("/feed", rss(article_items(3)))
    path = write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "feeds": [{"name": "news", "url": url, "backfill": "all"}],
            "outputs": {"archive": {"type": "file", "path": "archive"}},
            "digests": [
                {
                    "name": "daily",
                    "outputs": ["archive"],
                    "schedule": "0 7 * * *",
                    "timezone": "Asia/Karachi",
                }
            ],
        },
    )
    assert run_cli("poll", "--now", NOW, config=path).code == 0
    status = run_cli("status", config=path)
    assert status.code == 0, status.stderr
    row = next(line for line in status.stdout.splitlines() if "daily" in line)
    assert "│ 3 " in row or " 3 " in row  # three articles queued
    assert "0 7 * * * (Asia/Karachi)" in row
    assert "due now" in row or " PKT" in row


def test_an_unset_variable_in_a_field_a_dry_run_does_without_stops_only_the_send(
    tmp_path: Path, server: FeedServer, smtp: SmtpStandIn
) -> None:
    url = server.serve("/feed", rss(article_items(2)))
    mail = smtp.output(**{"from": "J <d@journal.example>", "to": ["list@example.org"]})
    mail["host"] = "${MAIL_HOST}"
    path = write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "feeds": [{"name": "news", "url": url, "backfill": "all"}],
            "outputs": {"mail": mail},
            "digests": [{"name": "daily", "outputs": ["mail"]}],
        },
    )
    dry = run_cli("send", "--dry-run", "--now", NOW, config=path)
    assert dry.code == 0, dry.stderr
    assert "environment variable not set: host (${MAIL_HOST})" in dry.stdout
    held = run_cli("send", "--now", NOW, config=path)
    assert held.code == 1 and smtp.recorder.messages == []
    assert "'mail' is not ready: environment variable not set: host (${MAIL_HOST})" in held.stderr
    sent = run_cli("send", "--now", NOW, config=path, env={"MAIL_HOST": "127.0.0.1"})
    assert sent.code == 0, sent.stderr
    assert len(smtp.recorder.messages) == 1  # the digest that waited, once
