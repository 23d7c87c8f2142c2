"""Real outputs against local stand-ins that speak each network's wire format: SMTP (aiosmtpd),
X API v2, Mastodon, the AT Protocol, and a Standard Webhooks receiver.
"""

from __future__ import annotations

import email
import json
import socket
import threading
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest

from conftest import FeedServer, State, article_items, rss, run_cli, write_config
from dispatch.errors import Rejected
from dispatch.models import Message
from dispatch.outputs.base import OutputContext
from dispatch.outputs.smtp import SmtpOutput, SmtpSettings
from standins import (
    AtprotoStandIn,
    MastodonStandIn,
    SmtpStandIn,
    WebhookReceiver,
    XStandIn,
    free_port,
)

NOW = "2026-11-27T03:00:00+00:00"
LOCAL = State("sqlite", "state.db")  # for tests that do not look into the store
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
    b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe"
    b"\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82"
)


def setup(
    state: State,
    tmp_path: Path,
    server: FeedServer,
    outputs: dict[str, Any],
    *,
    articles: int = 1,
    digest: bool = False,
    items: list[dict[str, str]] | None = None,
) -> Path:
    url = server.serve("/feed", rss(items or article_items(articles)))
    data: dict[str, Any] = {
        "state": state.value,
        "allow_private_networks": True,
        "feeds": [{"name": "news", "url": url, "backfill": "all"}],
        "outputs": outputs,
    }
    if digest:
        data["digests"] = [
            {
                "name": "daily",
                "outputs": list(outputs),
                "title": "Tägliche Post",
                "max_items": 100,
                "locale": "en_GB",
            }
        ]
    else:
        data["posts"] = [{"name": "social", "outputs": list(outputs)}]
    return write_config(tmp_path, data)


def deliveries(state: State) -> list[tuple[Any, ...]]:
    return state.rows(
        "SELECT id, output, recipient, status, remote_id, last_error, idempotency_key,"
        " record_key, next_attempt_at FROM deliveries ORDER BY id"
    )


def smtp_output(standin: SmtpStandIn, **extra: Any) -> dict[str, Any]:
    return standin.output(
        **{
            "password": "${SMTP_PASSWORD}",
            "from": "Zoë’s Journal <digest@journal.example>",
            "to": ["ana@example.org", "refuse@example.org", "bo@example.org"],
            "unsubscribe": "https://journal.example/unsubscribe?u=1",
            **extra,
        }
    )


def test_smtp_sends_side_by_side_on_a_few_reused_connections(
    tmp_path: Path, state: State, server: FeedServer, smtp: SmtpStandIn
) -> None:
    smtp.recorder.delay = 0.1  # a relay far enough away that waiting for it dominates
    smtp.recorder.pipelining = True
    smtp.recorder.refuse.add("refuse@example.org")
    readers = [f"reader{n}@example.org" for n in range(11)] + ["refuse@example.org"]
    output = smtp_output(smtp, to=readers, connections=3)
    path = setup(state, tmp_path, server, {"mail": output}, articles=2, digest=True)
    env = {"SMTP_PASSWORD": "mail-pass"}
    result = run_cli("send", "--json", "--now", NOW, config=path, env=env)
    assert result.code == 1, result.stderr  # one recipient refused, the rest sent
    assert sorted(tos[0] for _, tos, _ in smtp.recorder.messages) == sorted(readers[:11])
    assert smtp.recorder.most_at_once == 3  # three in flight, never more
    assert smtp.recorder.connections == 3  # each connection carried several messages
    assert all(count >= 2 for count in smtp.recorder.by_peer.values()), smtp.recorder.by_peer
    rows = {row[2]: row for row in deliveries(state)}
    assert {rows[r][3] for r in readers[:11]} == {"sent"}
    assert all("queued as Q" in rows[r][4] for r in readers[:11])
    assert rows["refuse@example.org"][3] == "failed"
    reported = {m["recipient"]: m["status"] for m in result.messages() if m.get("recipient")}
    assert reported == {r: "sent" for r in readers[:11]} | {"refuse@example.org": "failed"}


class WireSmtp:
    """A relay speaking SMTP on a raw socket, offering PIPELINING, that keeps what arrived in
    each read: whether the envelope came in one flight is seen on the wire.
    """

    def __init__(self, refuse: str = "") -> None:
        self.refuse = refuse
        self.reads: list[bytes] = []
        self.taken: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        self.listener.close()
        with connection:
            connection.sendall(b"220 wire ESMTP\r\n")
            pending, in_data, body = b"", False, b""
            while chunk := connection.recv(65536):
                self.reads.append(chunk)
                pending += chunk
                while True:
                    if in_data:
                        end = pending.find(b"\r\n.\r\n")
                        if end < 0:
                            break
                        body, pending, in_data = pending[: end + 2], pending[end + 5 :], False
                        self.taken.append(body)
                        connection.sendall(b"250 2.0.0 queued as W1\r\n")
                        continue
                    line, found, rest = pending.partition(b"\r\n")
                    if not found:
                        break
                    pending = rest
                    connection.sendall(self._answer(line))
                    in_data = line == b"DATA" and self._rcpt_ok
                    if line == b"QUIT":
                        return

    _rcpt_ok = False

    def _answer(self, line: bytes) -> bytes:
        verb = line.split(b":")[0].split(b" ")[0].upper()
        if verb == b"EHLO":
            return b"250-wire\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
        if verb == b"RCPT":
            self._rcpt_ok = not self.refuse or self.refuse.encode() not in line
            return b"250 ok\r\n" if self._rcpt_ok else b"550 5.1.1 no such user\r\n"
        if verb == b"DATA":
            return b"354 go on\r\n" if self._rcpt_ok else b"503 5.5.1 no valid recipients\r\n"
        return b"221 bye\r\n" if verb == b"QUIT" else b"250 ok\r\n"


def wire_output(relay: WireSmtp, tmp_path: Path) -> SmtpOutput:
    settings = SmtpSettings.model_validate(
        {
            "type": "smtp",
            "host": "127.0.0.1",
            "port": relay.port,
            "starttls": False,
            "from": "Digest <digest@journal.example>",
            "to": ["ana@example.org", "refuse@example.org"],
        }
    )
    return SmtpOutput("mail", settings, OutputContext(base_dir=tmp_path))


def wire_message(recipient: str) -> Message:
    body = "Line one\n.A line that starts with a dot\n"
    return Message(
        1, "mail", "smtp", "digest", "daily", "News", body, None, 0, None, (), (), "k1",
        recipient=recipient,
    )  # fmt: skip


def test_smtp_sends_the_envelope_in_one_flight_where_pipelining_is_offered(
    tmp_path: Path,
) -> None:
    relay = WireSmtp()
    output = wire_output(relay, tmp_path)
    answer = output.send(wire_message("Ana <ana@example.org>"))
    output.close()
    assert "queued as W1" in answer
    flight = b"MAIL FROM:<digest@journal.example>\r\nRCPT TO:<ana@example.org>\r\nDATA\r\n"
    assert flight in relay.reads  # one read: the three commands came together
    (body,) = relay.taken
    assert b"\r\n..A line that starts with a dot\r\n" in body  # dot-stuffed on the wire


def test_smtp_pipelined_refusal_sends_no_data(tmp_path: Path) -> None:
    relay = WireSmtp(refuse="refuse@example.org")
    output = wire_output(relay, tmp_path)
    with pytest.raises(Rejected, match=r"recipient refuse@example\.org refused: 550 5\.1\.1"):
        output.send(wire_message("refuse@example.org"))
    answer = output.send(wire_message("ana@example.org"))  # the same connection, reset
    output.close()
    assert "queued as W1" in answer and len(relay.taken) == 1
    assert b"rset\r\n" in b"".join(relay.reads).lower()


def test_smtp_digest_reaches_each_recipient_over_one_connection(
    tmp_path: Path, state: State, server: FeedServer, smtp: SmtpStandIn
) -> None:
    smtp.recorder.refuse.add("refuse@example.org")
    output = smtp_output(smtp, connections=1)
    path = setup(state, tmp_path, server, {"mail": output}, articles=2, digest=True)
    env = {"SMTP_PASSWORD": "mail-pass"}
    result = run_cli("send", "--now", NOW, config=path, env=env)
    assert result.code == 1  # one recipient was refused
    assert "refuse@example.org" in result.stderr and "550" in result.stderr
    assert len(smtp.recorder.messages) == 2
    assert smtp.recorder.connections == 1  # the refusal did not cost the connection
    rows = {row[2]: row for row in deliveries(state)}
    assert rows["ana@example.org"][3] == "sent" and "queued as Q" in rows["ana@example.org"][4]
    assert rows["refuse@example.org"][3] == "failed"
    assert "550 5.1.1" in rows["refuse@example.org"][5]

    sender, recipients, raw = smtp.recorder.messages[0]
    assert sender == "digest@journal.example" and recipients == ["ana@example.org"]
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert str(message["Subject"]).startswith("Tägliche Post — 26 November 2026")  # its period
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n")[0].lower()  # encoded, not raw UTF-8
    assert message["From"].addresses[0].display_name == "Zoë’s Journal"
    assert message["To"] == "ana@example.org"
    assert message["Message-ID"] == f"<{rows['ana@example.org'][6]}@journal.example>"
    assert message["Date"]
    assert message["List-Unsubscribe"] == "<https://journal.example/unsubscribe?u=1>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Story a2" in message.get_body(("plain",)).get_content()
    assert "Story a2" in message.get_body(("html",)).get_content()

    again = run_cli("send", "--now", "2026-11-27T03:05:00+00:00", config=path, env=env)
    assert again.code == 0 and len(smtp.recorder.messages) == 2


def test_smtp_message_ids_are_the_same_for_the_same_digest(
    tmp_path: Path, server: FeedServer, smtp: SmtpStandIn
) -> None:
    path = setup(
        LOCAL, tmp_path, server, {"mail": smtp_output(smtp, to=["ana@example.org"])}, digest=True
    )
    dry = run_cli("send", "--dry-run", "--json", "--now", NOW, config=path)
    (planned,) = dry.messages()
    run_cli("send", "--now", NOW, config=path, env={"SMTP_PASSWORD": "mail-pass"})
    sent = email.message_from_bytes(smtp.recorder.messages[0][2], policy=policy.default)
    assert sent["Message-ID"] == f"<{planned['key']}@journal.example>"


def test_smtp_wrong_password_fails_by_name_with_a_hint(
    tmp_path: Path, server: FeedServer, smtp: SmtpStandIn
) -> None:
    path = setup(
        LOCAL, tmp_path, server, {"mail": smtp_output(smtp, to=["ana@example.org"])}, digest=True
    )
    result = run_cli("send", "--now", NOW, config=path, env={"SMTP_PASSWORD": "wrong"})
    assert result.code == 1
    assert "'mail'" in result.stderr and "login refused: 535" in result.stderr
    assert "hint: check username" in result.stderr


def test_smtp_implicit_tls(tmp_path: Path, server: FeedServer) -> None:
    (tmp_path / "tls").mkdir()
    standin = SmtpStandIn(tmp_path / "tls", implicit_tls=True)
    try:
        output = smtp_output(standin, to=["ana@example.org"], starttls=False, tls=True)
        path = setup(LOCAL, tmp_path, server, {"mail": output}, digest=True)
        result = run_cli("send", "--now", NOW, config=path, env={"SMTP_PASSWORD": "mail-pass"})
        assert result.code == 0, result.stderr
        assert len(standin.recorder.messages) == 1
    finally:
        standin.stop()


@pytest.fixture
def mastodon() -> Iterator[MastodonStandIn]:
    standin = MastodonStandIn(max_characters=140)
    yield standin
    standin.stop()


def mastodon_output(standin: MastodonStandIn, **extra: Any) -> dict[str, Any]:
    settings = {
        "access_token": "${MASTODON_TOKEN}",
        "visibility": "unlisted",
        "language": "en",
        "spoiler_text": "news",
    }
    return standin.output(**{**settings, **extra})


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
    assert early.code == 0 and mastodon.statuses == []
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


@pytest.fixture
def x_api() -> Iterator[XStandIn]:
    standin = XStandIn()
    yield standin
    standin.stop()


def x_output(standin: XStandIn, **extra: Any) -> dict[str, Any]:
    settings = {
        "consumer_secret": "${X_SECRET}",
        "access_token": "x-token",
        "access_token_secret": "${X_SECRET}",
    }
    return standin.output(**{**settings, **extra})


X_ENV = {"X_SECRET": "x-secret"}


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


@pytest.fixture
def pds() -> Iterator[AtprotoStandIn]:
    standin = AtprotoStandIn()
    yield standin
    standin.stop()


def bluesky_output(standin: AtprotoStandIn) -> dict[str, Any]:
    return standin.output(app_password="${BSKY_APP_PASSWORD}", language="en")


def test_bluesky_posts_with_facets_a_card_and_its_own_record_key(
    tmp_path: Path, state: State, server: FeedServer, pds: AtprotoStandIn
) -> None:
    server.serve("/thumb.png", PNG, content_type="image/png")
    items = [
        {
            "title": "Über den Fluss",
            "guid": "u1",
            "link": "https://example.org/über",
            "content": "<p>Ein Bericht. Zwei Sätze.</p>"
            f'<p><img src="{server.url("/thumb.png")}" alt="x"></p>',
        }
    ]
    path = setup(state, tmp_path, server, {"sky": bluesky_output(pds)}, items=items)
    result = run_cli("send", "--now", NOW, config=path, env={"BSKY_APP_PASSWORD": "app-pass"})
    assert result.code == 0, result.stderr
    ((_, _, _, status, remote, _, _, rkey, _),) = deliveries(state)
    assert status == "sent" and remote == f"at://{pds.did}/app.bsky.feed.post/{rkey}"
    record = pds.records[rkey]
    text = record["text"].encode()
    (facet,) = record["facets"]
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    # The link goes out as a URI, one link that every network counts as one.
    assert text[start:end].decode() == "https://example.org/%C3%BCber"
    assert facet["features"][0]["uri"] == "https://example.org/%C3%BCber"
    external = record["embed"]["external"]
    assert record["embed"]["$type"] == "app.bsky.embed.external"
    assert external["uri"] == "https://example.org/%C3%BCber"
    assert external["title"] == "Über den Fluss"
    assert external["thumb"]["ref"]["$link"].startswith("bafkrei") and pds.blobs == [PNG]
    assert record["langs"] == ["en"]


def test_bluesky_retry_after_a_crash_never_posts_twice(
    tmp_path: Path, state: State, server: FeedServer, pds: AtprotoStandIn
) -> None:
    path = setup(state, tmp_path, server, {"sky": bluesky_output(pds)})
    env = {"BSKY_APP_PASSWORD": "app-pass"}
    assert run_cli("send", "--now", NOW, config=path, env=env).code == 0
    state.rows("UPDATE deliveries SET status = 'sending'")  # as if killed after the PDS took it
    again = run_cli("send", "--now", "2026-11-27T03:10:00+00:00", config=path, env=env)
    assert again.code == 0, again.stderr
    assert len(pds.records) == 1
    assert deliveries(state)[0][3] == "sent"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    standin = WebhookReceiver("whsec_" + "c2VjcmV0LWtleS1mb3ItdGVzdHM=")
    yield standin
    standin.stop()


def test_webhook_is_signed_and_keeps_its_id_across_retries(
    tmp_path: Path, state: State, server: FeedServer, receiver: WebhookReceiver
) -> None:
    output = {"type": "webhook", "url": receiver.url + "/hook", "secret": "${WEBHOOK_SECRET}"}
    path = setup(state, tmp_path, server, {"hook": output})
    env = {"WEBHOOK_SECRET": receiver.secret}
    receiver.failures.append((500, {}, b"oops"))
    first = run_cli("send", "--now", NOW, config=path, env=env)
    assert first.code == 1 and "HTTP 500" in first.stderr
    later = run_cli("send", "--now", "2026-11-27T05:00:00+00:00", config=path, env=env)
    assert later.code == 0, later.stderr
    ids = [c.headers["webhook-id"] for c in receiver.calls]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert all(c.headers["user-agent"].startswith("dispatch/") for c in receiver.calls)
    ((webhook_id, payload),) = receiver.received
    assert receiver.rejected == 0
    assert payload["type"] == "dispatch.post" and payload["data"]["articles"][0]["title"]
    assert webhook_id == f"msg_{deliveries(state)[0][6]}"


def test_webhook_with_a_wrong_secret_is_refused(
    tmp_path: Path, server: FeedServer, receiver: WebhookReceiver
) -> None:
    output = {"type": "webhook", "url": receiver.url, "secret": "whsec_" + "d3Jvbmc="}
    path = setup(LOCAL, tmp_path, server, {"hook": output})
    result = run_cli("send", "--now", NOW, config=path)
    assert result.code == 1 and receiver.rejected == 1 and "HTTP 401" in result.stderr


def test_webhook_to_a_private_address_needs_permission(
    tmp_path: Path, server: FeedServer, receiver: WebhookReceiver
) -> None:
    output = {"type": "webhook", "url": receiver.url, "allow_private_networks": False}
    path = setup(LOCAL, tmp_path, server, {"hook": output})
    result = run_cli("send", "--now", NOW, config=path)
    assert result.code == 1 and "private address" in result.stderr
    assert receiver.calls == []


def test_file_output_writes_eml_json_html_and_text(tmp_path: Path, server: FeedServer) -> None:
    output = {
        "type": "file",
        "path": "archive",
        "format": "eml",
        "sender": "Archive <archive@journal.example>",
    }
    path = setup(LOCAL, tmp_path, server, {"archive": output}, digest=True)
    assert run_cli("send", "--now", NOW, config=path).code == 0
    suffixes = sorted(p.suffix for p in (tmp_path / "archive").iterdir())
    assert suffixes == [".eml", ".html", ".json", ".txt"]
    eml = next((tmp_path / "archive").glob("*.eml")).read_bytes()
    message = email.message_from_bytes(eml, policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert str(message["Subject"]).startswith("Tägliche Post")


def test_bluesky_card_for_a_video_uses_the_video_thumbnail(
    tmp_path: Path, server: FeedServer, pds: AtprotoStandIn
) -> None:
    video_thumb = PNG + b"video"
    server.serve("/vi/dQw4w9WgXcQ/hqdefault.jpg", video_thumb, content_type="image/jpeg")
    server.serve("/article.png", PNG, content_type="image/png")
    channel = f"""<?xml version="1.0"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/"
      xmlns="http://www.w3.org/2005/Atom"><title>Chan</title>
 <entry><id>yt:video:dQw4w9WgXcQ</id><yt:videoId>dQw4w9WgXcQ</yt:videoId>
  <title>Budget explained</title>
  <link rel="alternate" href="https://www.youtube.com/watch?v=dQw4w9WgXcQ"/>
  <published>2026-11-26T10:00:00+00:00</published>
  <media:group><media:title>Budget explained</media:title>
   <media:thumbnail url="{server.url("/vi/dQw4w9WgXcQ/hqdefault.jpg")}" width="480" height="360"/>
   <media:description>What it means for you. In four minutes.</media:description></media:group>
 </entry></feed>"""
    url = server.serve("/channel", channel, content_type="application/atom+xml")
    path = write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "feeds": [{"name": "tv", "url": url, "backfill": 1}],
            "outputs": {"sky": bluesky_output(pds)},
            "posts": [{"name": "social", "outputs": ["sky"]}],
        },
    )
    result = run_cli("send", "--now", NOW, config=path, env={"BSKY_APP_PASSWORD": "app-pass"})
    assert result.code == 0, result.stderr
    (record,) = pds.records.values()
    assert record["embed"]["external"]["uri"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert pds.blobs == [video_thumb]


def test_a_digest_past_gmails_clipping_size_is_warned_about(
    tmp_path: Path, server: FeedServer, smtp: SmtpStandIn
) -> None:
    items = article_items(60)
    for item in items:
        item["title"] = item["title"] + " " + "with a rather long headline " * 8
    path = setup(
        LOCAL,
        tmp_path,
        server,
        {"mail": smtp_output(smtp, to=["ana@example.org"])},
        digest=True,
        items=items,
    )
    result = run_cli("send", "--dry-run", "--now", NOW, config=path)
    assert result.code == 0
    assert "Gmail clips messages past about 102 KB" in result.stderr
    assert "OVER THE LIMIT" in result.stdout


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


def test_smtp_to_a_plain_local_relay_without_tls_or_login(
    tmp_path: Path, server: FeedServer
) -> None:
    """A relay on localhost (Postfix, say) that offers neither STARTTLS nor AUTH."""
    from aiosmtpd.controller import Controller

    received: list[bytes] = []

    class Relay:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope.content)
            return "250 queued"

    port = free_port()
    relay = Controller(Relay(), hostname="127.0.0.1", port=port)
    relay.start()
    try:
        output = {
            "type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "starttls": False,
            "from": "digest@journal.example",
            "to": ["ana@example.org", "bo@example.org"],
        }
        path = setup(LOCAL, tmp_path, server, {"mail": output}, digest=True)
        result = run_cli("send", "--now", NOW, config=path)
        assert result.code == 0, result.stderr
        assert len(received) == 2
        # One digest to a list is shown once, with its recipients, not once for each.
        assert "To: 2 recipients: ana@example.org, bo@example.org" in result.stdout
        assert result.stdout.count("Subject:") == 1
    finally:
        relay.stop()
