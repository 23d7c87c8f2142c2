"""Under cron, a failure stays loud until it is fixed: a run after a feed's first failure (the
feed now in backoff, not polled) or with a digest still waiting for its mail server exits 4
and says what is failing, where it used to print "nothing to send" and exit 0.

A real feed server that answers 404, then the feed; a real SMTP server that is down, then up.
"""

from __future__ import annotations

import re
from pathlib import Path

from helpers.project import article_items, rss, run_cli, write_config
from helpers.servers import FeedServer, free_port
from helpers.smtp import SmtpStandIn

FIRST = "2026-11-27T03:00:00+00:00"
LATER = "2026-11-27T03:05:00+00:00"  # within the failed feed's backoff: not polled again
MUCH_LATER = "2026-11-28T09:00:00+00:00"
SOON = "2026-11-27T03:00:10+00:00"  # before a failed send's first retry (15 s at the soonest)


def test_a_feed_in_backoff_keeps_the_exit_code_up_until_it_works(
    tmp_path: Path, server: FeedServer
) -> None:
    good = server.serve("/good", rss(article_items(2)))
    bad = server.url("/gone")  # nothing served there: 404
    path = write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "feeds": [{"name": "good", "url": good}, {"name": "news", "url": bad}],
            "outputs": {"archive": {"type": "file", "path": "archive"}},
            "digests": [{"name": "daily", "outputs": ["archive"]}],
        },
    )
    first = run_cli("send", "--now", FIRST, config=path)
    assert first.code == 1, first.stderr  # this run saw it fail: reported as before
    assert "still failing" not in first.stderr

    later = run_cli("send", "--now", LATER, config=path)
    assert later.code == 4, later.stdout + later.stderr
    assert "dispatch: still failing: feed 'news': failing since 2026-11-27 03:00 UTC" in (
        later.stderr
    )
    assert "HTTP 404" in later.stderr
    assert "'good'" not in later.stderr

    server.serve("/gone", rss(article_items(1, prefix="n")))
    fixed = run_cli("send", "--now", MUCH_LATER, config=path)
    assert fixed.code == 0, fixed.stderr
    assert "still failing" not in fixed.stderr


def test_a_digest_waiting_for_its_mail_server_keeps_the_exit_code_up(
    tmp_path: Path, server: FeedServer
) -> None:
    url = server.serve("/feed", rss(article_items(2)))
    (tmp_path / "tls").mkdir()
    smtp = SmtpStandIn(tmp_path / "tls")
    mail = smtp.output(**{"from": "J <d@journal.example>", "to": ["everyone@example.org"]})
    smtp.stop()
    mail["port"] = free_port()  # the mail server is down: nothing listens there
    config = {
        "state": "state.db",
        "allow_private_networks": True,
        "feeds": [{"name": "news", "url": url, "backfill": "all"}],
        "outputs": {"mail": mail},
        "digests": [{"name": "daily", "outputs": ["mail"]}],
    }
    path = write_config(tmp_path, config)
    first = run_cli("send", "--now", FIRST, config=path)
    assert first.code == 1, first.stdout + first.stderr  # left pending, to be retried

    later = run_cli("send", "--now", SOON, config=path)
    assert later.code == 4, later.stdout + later.stderr
    assert "dispatch: still failing: output 'mail': 1 waiting to be retried" in later.stderr
    # Times in messages as `status` writes them: to the second, in UTC.
    assert re.search(r"retry at 2026-11-27 03:00:\d\d UTC", first.stdout + first.stderr)
    assert "cannot connect" in later.stderr or "refused" in later.stderr, later.stderr
