"""The SMTP output against aiosmtpd and a raw relay on 127.0.0.1: connections reused and
pipelined, one message per recipient, TLS, logins, Gmail's clipping size.
"""

from __future__ import annotations

import email
import socket
import threading
from email import policy
from pathlib import Path
from typing import Any

import pytest

from dispatch.errors import Rejected
from dispatch.models import Message
from dispatch.outputs.base import OutputContext
from dispatch.outputs.smtp import SmtpOutput, SmtpSettings
from helpers.project import (
    LOCAL,
    NOW,
    State,
    article_items,
    run_cli,
)
from helpers.sending import deliveries, setup
from helpers.servers import FeedServer, free_port
from helpers.smtp import SmtpStandIn, smtp_output


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
