"""What a digest issue is dated: the preview and a test send say what the real send says.

At 05:20 in Karachi, with a digest at 07:00 and none sent yet, the issue due now is the one
of yesterday's 07:00, so the send dates it December 1; today's 07:00 has not come. A real
SMTP server receives the test; the preview is built from a snapshot of the real store.
"""

from __future__ import annotations

import email
import json
from datetime import datetime
from email import policy
from pathlib import Path

from dispatch.config import load_config
from dispatch.outputs.registry import open_outputs
from dispatch.preview.model import build
from dispatch.render.renderer import Renderer
from dispatch.store.core import opened
from helpers.project import article_items, rss, run_cli, write_config
from helpers.servers import FeedServer
from helpers.smtp import SmtpStandIn

EARLY = "2026-12-02T00:20:00+00:00"  # 05:20 in Asia/Karachi (UTC+5)


def _setup(tmp_path: Path, server: FeedServer, smtp: SmtpStandIn) -> Path:
    url = server.serve("/feed", rss(article_items(3)))
    mail = smtp.output(**{"from": "J <d@journal.example>", "to": ["everyone@example.org"]})
    return write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "feeds": [{"name": "news", "url": url, "backfill": "all"}],
            "outputs": {"mail": mail},
            "digests": [
                {
                    "name": "daily",
                    "title": "Morning",
                    "outputs": ["mail"],
                    "schedule": "0 7 * * *",
                    "timezone": "Asia/Karachi",
                }
            ],
        },
    )


def _preview_subject(path: Path, now: str) -> str:
    config = load_config(path)
    with opened(config.state_location, snapshot=True) as store:
        preview = build(
            config,
            store,
            Renderer(config.templates_dir),
            open_outputs(config),
            datetime.fromisoformat(now),
            "the test store",
        )
    (digest,) = preview.digests
    return digest.subject


def test_the_preview_and_a_test_send_date_the_issue_as_the_send_does(
    tmp_path: Path, server: FeedServer, smtp: SmtpStandIn
) -> None:
    path = _setup(tmp_path, server, smtp)
    assert run_cli("poll", "--now", EARLY, config=path).code == 0

    dry = run_cli("send", "--dry-run", "--json", "--now", EARLY, config=path)
    assert dry.code == 0, dry.stderr
    (record,) = [json.loads(line) for line in dry.stdout.splitlines()]
    subject = record["subject"]
    assert subject == "Morning — December 1, 2026"

    assert _preview_subject(path, EARLY) == subject

    test = run_cli("send", "--test-to", "editor@example.org", "--now", EARLY, config=path)
    assert test.code == 0, test.stderr
    ((_, _, raw),) = smtp.recorder.messages
    message = email.message_from_bytes(raw, policy=policy.default)
    assert str(message["Subject"]) == f"[TEST] {subject}"


def test_once_sent_the_preview_shows_the_next_issue_with_its_own_date(
    tmp_path: Path, server: FeedServer, smtp: SmtpStandIn
) -> None:
    path = _setup(tmp_path, server, smtp)
    sent = run_cli("send", "--now", EARLY, config=path)
    assert sent.code == 0, sent.stderr
    ((_, _, raw),) = smtp.recorder.messages
    message = email.message_from_bytes(raw, policy=policy.default)
    assert str(message["Subject"]) == "Morning — December 1, 2026"
    # Today's 07:00 is the next issue: the preview dates it so, not with yesterday's date.
    assert _preview_subject(path, EARLY) == "Morning — December 2, 2026"
