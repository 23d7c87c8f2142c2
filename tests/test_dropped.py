"""Connections dropped mid-way (issue #23, item 3): an SMTP relay that drops the connection on
DATA, once the final dot has arrived, or halfway through its final reply; an HTTP output whose
server resets the connection mid-body or answers after the timeout. Each delivery lands in
the state the outbox's rules say, the run's report names it, and the next run does what that
state means: a safe retry sends once, an ambiguous one is never sent again by itself.

The servers are raw sockets on 127.0.0.1, so the drop happens exactly where the test says.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from helpers.project import NOW, State, run_cli
from helpers.sending import deliveries, setup
from helpers.servers import FeedServer

LATER = "2026-11-27T05:00:00+00:00"  # past any backoff of the first try


def _reset(connection: socket.socket) -> None:
    """Close with a TCP reset, not a FIN: what a crashed or killed peer looks like."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


class DroppingRelay:
    """SMTP on a raw socket. The first connection drops at ``drop``: ``data`` (on the DATA
    command, before 354), ``dot`` (once the final dot has arrived, before any reply) or
    ``reply`` (halfway through the final reply). Later connections are served whole.
    """

    def __init__(self, drop: str) -> None:
        self.drop = drop
        self.connections = 0
        self.taken: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(
                target=self._serve, args=(connection, self.connections == 1), daemon=True
            ).start()

    def _serve(self, connection: socket.socket, first: bool) -> None:
        reader = connection.makefile("rb")
        connection.sendall(b"220 relay ESMTP\r\n")
        while line := reader.readline():
            verb = line.strip().split(b" ")[0].split(b":")[0].upper()
            if verb == b"EHLO":
                connection.sendall(b"250-relay\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                if first and self.drop == "data":
                    return _reset(connection)
                connection.sendall(b"354 go on\r\n")
                body = b""
                while (part := reader.readline()) and part != b".\r\n":
                    body += part
                if first and self.drop == "dot":
                    return _reset(connection)
                if first and self.drop == "reply":
                    connection.sendall(b"250 2.0")
                    return _reset(connection)
                self.taken.append(body)
                connection.sendall(f"250 2.0.0 queued as R{len(self.taken)}\r\n".encode())
            elif verb == b"QUIT":
                connection.sendall(b"221 bye\r\n")
                return connection.close()
            else:
                connection.sendall(b"250 ok\r\n")
        connection.close()

    def stop(self) -> None:
        self.listener.close()


def mail_project(tmp_path: Path, server: FeedServer, relay: DroppingRelay) -> tuple[Path, State]:
    state = State("sqlite", "state.db", tmp_path / "state.db")
    output = {
        "type": "smtp",
        "host": "127.0.0.1",
        "port": relay.port,
        "starttls": False,
        "from": "digest@journal.example",
        "to": ["ana@example.org"],
    }
    return setup(state, tmp_path, server, {"mail": output}, digest=True), state


def test_a_relay_dropping_on_data_leaves_the_digest_safe_to_retry_and_it_goes_once(
    tmp_path: Path, server: FeedServer
) -> None:
    relay = DroppingRelay("data")
    path, state = mail_project(tmp_path, server, relay)
    try:
        first = run_cli("send", "--now", NOW, config=path)
        assert first.code == 1, first.stderr
        ((_, _, _, status, _, error, *_),) = deliveries(state)
        assert status == "pending"
        assert "dropped before sending" in error
        assert "not sent: [1] digest 'daily' → 'mail'" in first.stderr
        assert "; retry at 2026-11-27" in first.stderr
        second = run_cli("send", "--now", LATER, config=path)
        assert second.code == 0, second.stdout + second.stderr
        assert [row[3] for row in deliveries(state)] == ["sent"]
        assert len(relay.taken) == 1  # once: the first never reached the relay's queue
    finally:
        relay.stop()


@pytest.mark.parametrize("drop", ["dot", "reply"])
def test_a_relay_dropping_after_the_final_dot_leaves_the_digest_ambiguous(
    tmp_path: Path, server: FeedServer, drop: str
) -> None:
    """The relay had the whole message and may have queued it: sending it again could
    deliver it twice, so it waits for the operator (`dispatch resolve`), and says so.
    """
    relay = DroppingRelay(drop)
    path, state = mail_project(tmp_path, server, relay)
    try:
        first = run_cli("send", "--now", NOW, config=path)
        assert first.code == 1, first.stderr
        ((delivery_id, _, _, status, _, error, *_),) = deliveries(state)
        assert status == "ambiguous"
        assert "dropped while sending" in error
        assert "ambiguous: [1] digest 'daily' → 'mail'" in first.stderr
        assert "dispatch resolve ID --sent" in first.stderr
        second = run_cli("send", "--now", LATER, config=path)
        assert second.code == 4, second.stdout + second.stderr  # still needs the operator
        assert relay.connections == 1  # not tried again by itself
        shown = run_cli("status", config=path)
        assert f"{delivery_id}" in shown.stdout and "ambiguous" in shown.stdout
    finally:
        relay.stop()


class DroppingHook:
    """HTTP on a raw socket. The first request is reset mid-body (``reset``) or answered
    after the client's timeout (``late``); later ones are answered 204. Each request's
    webhook-id is kept.
    """

    def __init__(self, mode: str, late: float = 2.0) -> None:
        self.mode, self.late = mode, late
        self.ids: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _accept(self) -> None:
        first = True
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection, first), daemon=True).start()
            first = False

    def _serve(self, connection: socket.socket, first: bool) -> None:
        reader = connection.makefile("rb")
        headers: dict[str, str] = {}
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        self.ids.append(headers.get("webhook-id", ""))
        length = int(headers.get("content-length", "0"))
        if first and self.mode == "reset":
            reader.read(min(length, 10))  # a little of the body, then gone
            return _reset(connection)
        reader.read(length)
        if first and self.mode == "late":
            time.sleep(self.late)
        connection.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        connection.close()

    def stop(self) -> None:
        self.listener.close()


@pytest.mark.parametrize("mode", ["reset", "late"])
def test_a_webhook_dropped_mid_body_or_answered_late_is_retried_with_the_same_id(
    tmp_path: Path, server: FeedServer, mode: str
) -> None:
    """A webhook carries its webhook-id on every try, so a receiver that got the first
    (answered late) drops the second: for the outbox it is safe to retry, and it is.
    """
    hook = DroppingHook(mode)
    state = State("sqlite", "state.db", tmp_path / "state.db")
    output: dict[str, Any] = {
        "type": "webhook",
        "url": hook.url,
        "secret": "s3cret",
        "timeout": "1s",
    }
    path = setup(state, tmp_path, server, {"hook": output})
    try:
        first = run_cli("send", "--now", NOW, config=path)
        assert first.code == 1, first.stderr
        ((_, _, _, status, _, error, *_),) = deliveries(state)
        assert status == "pending"
        said = "no answer within 1s" if mode == "late" else "Connection reset by peer"
        assert said in error
        assert "not sent: [1] post 'social' → 'hook'" in first.stderr and said in first.stderr
        second = run_cli("send", "--now", LATER, config=path)
        assert second.code == 0, second.stdout + second.stderr
        assert [row[3] for row in deliveries(state)] == ["sent"]
        assert len(hook.ids) == 2 and hook.ids[0] == hook.ids[1] != ""
    finally:
        hook.stop()
