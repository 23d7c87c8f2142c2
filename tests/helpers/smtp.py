"""SMTP servers: aiosmtpd receiving real mail, every message read with Python's email parser."""

from __future__ import annotations

import asyncio
import ssl
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from helpers.servers import free_port, self_signed


@dataclass
class SmtpRecorder:
    """An aiosmtpd handler: refuses some recipients, keeps every message, counts connections.

    Every message is checked as a mail server would: by Python's email parser (no defects,
    readable From and To), and against MAIL's parameters (8-bit data needs BODY=8BITMIME or
    SMTPUTF8, and is refused by a server that does not offer 8BITMIME). What fails goes to
    ``invalid``.
    """

    refuse: set[str] = field(default_factory=set)
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    peers: set[Any] = field(default_factory=set)
    delay: float = 0.0  # seconds before each answer to EHLO, RCPT and DATA: a slow relay
    by_peer: Counter[Any] = field(default_factory=Counter)  # messages taken per connection
    pipelining: bool = False  # offer PIPELINING (aiosmtpd answers pipelined commands in order)
    eight_bit_mime: bool = True  # offer 8BITMIME
    mail_options: list[list[str]] = field(default_factory=list)  # MAIL's parameters, per message
    invalid: list[str] = field(default_factory=list)
    most_at_once: int = 0  # the most messages whose DATA was being answered at one time
    _answering: int = 0

    @property
    def connections(self) -> int:
        """Client connections that said EHLO (a STARTTLS upgrade is the same connection)."""
        return len(self.peers)

    async def handle_EHLO(
        self, server: Any, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        await asyncio.sleep(self.delay)
        session.host_name = hostname
        self.peers.add(session.peer)
        if not self.eight_bit_mime:
            responses = [line for line in responses if "8BITMIME" not in line]
        return [*responses[:1], "250-PIPELINING", *responses[1:]] if self.pipelining else responses

    async def handle_RCPT(
        self,
        server: Any,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        await asyncio.sleep(self.delay)
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self._answering += 1
        self.most_at_once = max(self.most_at_once, self._answering)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self._answering -= 1
        data = envelope.original_content or b""
        problem = _mail_problem(data, envelope.mail_options, eight_bit_mime=self.eight_bit_mime)
        if problem is not None:
            self.invalid.append(problem)
            return f"554 5.6.0 {problem}"
        self.mail_options.append(list(envelope.mail_options))
        self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), data))
        self.by_peer[session.peer] += 1
        return f"250 2.0.0 Ok: queued as Q{len(self.messages):05d}"


def _mail_problem(data: bytes, options: list[str], *, eight_bit_mime: bool) -> str | None:
    """Why a mail server would refuse or misread ``data`` sent with MAIL ``options``."""
    said = {option.upper() for option in options}
    if not data.isascii():
        if not eight_bit_mime and "SMTPUTF8" not in said:
            return "8-bit data to a server that does not offer 8BITMIME"
        if not {"BODY=8BITMIME", "SMTPUTF8"} & said:
            return "8-bit data without BODY=8BITMIME"
    message = read_email(data, smtputf8="SMTPUTF8" in said)
    for part in message.walk():
        if part.defects:
            return f"the email parser found defects: {part.defects}"
    for name in ("From", "To"):
        value = message[name]
        if value is None:
            return f"no {name} header"
        # RFC 6532 allows a local part that is not ASCII; the parser notes it all the same.
        defects = [d for d in value.defects if type(d).__name__ != "NonASCIILocalPartDefect"]
        if not value.addresses or defects:
            return f"{name} cannot be read: {value!r}"
    return None


def read_email(data: bytes, *, smtputf8: bool = False) -> Any:
    """An email as its receiver reads it: UTF-8 headers (RFC 6532) where it came with
    SMTPUTF8, else bytes whose headers are ASCII.
    """
    import email
    from email import policy

    if smtputf8:
        return email.message_from_string(data.decode("utf-8"), policy=policy.default)
    return email.message_from_bytes(data, policy=policy.default)


class SmtpStandIn:
    """aiosmtpd on 127.0.0.1: STARTTLS (or implicit TLS) and AUTH with one user."""

    def __init__(
        self,
        directory: Path,
        *,
        implicit_tls: bool = False,
        user: str = "mailer",
        password: str = "mail-pass",
        smtputf8: bool = False,
    ) -> None:
        self.user, self.password = user, password
        self.cert, key = self_signed(directory)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        self.recorder = SmtpRecorder()

        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
                user.encode(),
                password.encode(),
            )
            return AuthResult(success=ok, handled=False)  # aiosmtpd answers 235 or 535

        class TlsController(Controller):
            def factory(self) -> SMTPServer:
                # With implicit TLS the connection is encrypted from the start.
                return SMTPServer(
                    self.handler,
                    tls_context=None if implicit_tls else context,
                    require_starttls=not implicit_tls,
                    authenticator=authenticate,
                    auth_require_tls=not implicit_tls,
                    hostname="standin.local",
                    enable_SMTPUTF8=smtputf8,
                )

        self.port = free_port()
        self.controller = TlsController(
            self.recorder,
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=context if implicit_tls else None,
        )
        self.controller.start()

    def output(self, **settings: Any) -> dict[str, Any]:
        """Output settings that reach this stand-in over STARTTLS with its login, with
        ``settings`` added or replaced.
        """
        return {
            "type": "smtp",
            "host": "127.0.0.1",
            "port": self.port,
            "ca_file": str(self.cert),
            "username": self.user,
            "password": self.password,
            **settings,
        }

    def stop(self) -> None:
        self.controller.stop()


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
