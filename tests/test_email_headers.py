"""Titles and names with line breaks, NUL, Unicode line separators or 5,000 characters give a
one-line subject within its limit and never an extra header, all the way through SMTP.
"""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from pathlib import Path

from dispatch.models import Message
from dispatch.render.mail import SUBJECT_LIMIT, build_email
from helpers.project import rss, run_cli, write_config
from helpers.servers import FeedServer
from helpers.smtp import SmtpStandIn

NASTY = (
    "Breaking\r\nBcc: victim@example.org\x00\u2028X-Injected: yes\u2029\x85\x0b\x0c" + "A" * 5000
)
EXPECTED = {"Subject", "From", "To", "Date", "Message-ID", "MIME-Version", "Content-Type"}


def headers(raw: bytes) -> set[str]:
    return set(email.message_from_bytes(raw, policy=policy.default).keys())


def assert_one_line(subject: str) -> None:
    assert len(subject) <= SUBJECT_LIMIT
    assert not any(c in subject for c in "\r\n\x00\u2028\u2029\x85\x0b\x0c")


def test_build_email_keeps_every_header_on_one_line() -> None:
    message = Message(
        0, "mail", "smtp", "digest", "daily", NASTY, "text", "<p>html</p>", 0, None, (), (), "key"
    )
    built = build_email(
        message,
        sender="Evil\r\nBcc: x@example.org <digest@journal.example>",
        recipient="ana@example.org\r\nCc: eve@example.org",
        date=datetime(2026, 11, 27, tzinfo=UTC),
    )
    raw = built.as_bytes()
    assert headers(raw) == EXPECTED
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert_one_line(str(parsed["Subject"]))
    assert str(parsed["Subject"]).startswith("Breaking Bcc: victim@example.org X-Injected: yes")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_hostile_titles_and_names_through_smtp(
    tmp_path: Path, server: FeedServer, smtp: SmtpStandIn
) -> None:
    title = "Breaking&#13;&#10;Bcc: victim@example.org&#x2028;X-Injected: yes " + "A" * 5000
    url = server.serve("/feed", rss([{"title": title, "link": "https://e.org/1", "guid": "1"}]))
    templates = tmp_path / "templates" / "email"
    templates.mkdir(parents=True)
    (templates / "subject.txt.j2").write_text(
        "{{ articles[0].title }} | {{ digest.title }}\n", encoding="utf-8"
    )
    output = smtp.output(
        password="${SMTP_PASSWORD}",
        to=["ana@example.org"],
        **{"from": "Evil\r\nBcc: x@example.org <digest@journal.example>"},
    )
    path = write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "templates": "templates",
            "feeds": [{"name": "news", "url": url, "backfill": "all"}],
            "outputs": {"mail": output},
            "digests": [
                {"name": "daily", "outputs": ["mail"], "title": "Daily\r\nX-Evil: 1\x00end"}
            ],
        },
    )
    result = run_cli("send", config=path, env={"SMTP_PASSWORD": "mail-pass"})
    assert result.code == 0, result.stderr
    ((_, recipients, raw),) = smtp.recorder.messages
    assert recipients == ["ana@example.org"]
    header_block = raw.split(b"\r\n\r\n")[0]
    assert {"Subject", "From", "To", "Date", "Message-ID"} <= headers(raw)
    assert not {"Bcc", "Cc", "X-Injected", "X-Evil"} & headers(raw)
    assert b"\r\nBcc:" not in header_block and b"\r\nX-Injected" not in header_block
    subject = str(email.message_from_bytes(raw, policy=policy.default)["Subject"])
    assert_one_line(subject)
    assert subject.startswith("Breaking Bcc: victim@example.org X-Injected: yes AAAA")
