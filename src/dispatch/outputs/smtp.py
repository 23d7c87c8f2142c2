"""Email over SMTP: one delivery per recipient (the per-recipient ledger is the outbox), a few
connections each reused across them (``connections`` sends at once), STARTTLS or implicit TLS,
and errors sorted by what they mean: refused before the data was sent is safe to retry or a
permanent refusal; a failure during or after the data is ambiguous.

Each message is encoded for the server it goes to: ``BODY=8BITMIME`` on MAIL whenever the
data holds 8-bit bytes, a 7-bit transfer encoding where the server does not offer 8BITMIME,
and ``SMTPUTF8`` for an address that is not ASCII (refused by name where it is not offered).
"""

from __future__ import annotations

import contextlib
import queue
import smtplib
import ssl
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from dispatch.config import OutputSettings
from dispatch.config.secrets import Secret
from dispatch.errors import Ambiguous, AuthError, Rejected, TransientError
from dispatch.models import Kind, Message
from dispatch.outputs.base import BaseOutput, Capabilities, OutputContext
from dispatch.render.mail import EmailTemplate, mail_policy, sender_domain

GMAIL_CLIP_BYTES = 102_000


class SmtpSettings(OutputSettings):
    type: Literal["smtp"]
    host: str
    port: int = Field(default=587, gt=0, lt=65536)
    starttls: bool = True
    tls: bool = False
    username: str | None = None
    password: Secret | None = None
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    unsubscribe: str | None = None
    ca_file: str | None = None
    # Messages in flight at once, each on a connection of its own. More is faster against a
    # distant relay; a crash can leave this many messages not known to be sent or not.
    connections: int = Field(default=4, ge=1, le=32)

    @field_validator("to")
    @classmethod
    def _one_line(cls, value: list[str]) -> list[str]:
        """A recipient goes into RCPT and To: a line break would start another command or
        header.
        """
        for address in value:
            if "\r" in address or "\n" in address:
                raise ValueError(f"a line break in the address {address!r}")
        return value


class SmtpOutput(BaseOutput):
    """An HTML digest with its plain-text twin, to each recipient."""

    settings_model: ClassVar[type[OutputSettings]] = SmtpSettings
    kinds: ClassVar[frozenset[Kind]] = frozenset({"digest"})

    _template: tuple[tuple[str | None, str, str | None, bool, bool], EmailTemplate] | None = None
    _context: ssl.SSLContext | None = None

    def __init__(self, name: str, settings: OutputSettings, context: OutputContext) -> None:
        super().__init__(name, settings, context)
        self._idle: queue.SimpleQueue[smtplib.SMTP] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._envelope_from = parseaddr(self.smtp.from_)[1]
        self._domain = sender_domain(self.smtp.from_)  # of every Message-ID

    @property
    def smtp(self) -> SmtpSettings:
        assert isinstance(self.settings, SmtpSettings)
        return self.settings

    @property
    def capabilities(self) -> Capabilities:
        # Gmail clips a message whose HTML passes about 102 KB.
        return Capabilities(
            limit=GMAIL_CLIP_BYTES,
            counting="bytes",
            html=True,
            media=True,
            connections=self.smtp.connections,
            unsubscribe=self.smtp.unsubscribe,
            test_sends=True,
            inbox=True,
        )

    def recipients(self) -> Sequence[str | None]:
        return list(self.smtp.to)

    def ready(self) -> str | None:
        unset = super().ready()
        if unset is None and self.smtp.username and self.smtp.password is None:
            return "a username is set but no password"
        return unset

    def send(self, message: Message) -> str:
        """Send one message on an idle connection (or a new one); safe from several threads."""
        recipient = message.recipient or self.smtp.to[0]
        connection = self._checkout()
        try:
            options, email = self._encoded(connection, message, recipient)
            connection.command_encoding = "utf-8" if "SMTPUTF8" in options else "ascii"
            code, answer, what = self._transact(connection, recipient, email, options)
        except BaseException:
            self._discard(connection)
            raise
        if code == 250 and what == "message":
            self._idle.put(connection)
            message_id = f"<{message.key}@{self._domain}>"
            return f"{message_id} {_text(answer)}".strip()
        try:
            connection.rset()  # a clean slate for the next message
        except (smtplib.SMTPException, OSError):
            self._discard(connection)
        else:
            self._idle.put(connection)
        reason = f"{what} refused: {code} {_text(answer)}"
        if 400 <= code < 500:
            raise TransientError(self.name, reason, hint="the server asks to try later")
        raise Rejected(self.name, reason, hint="check the address; it will not be retried")

    def _encoded(
        self, connection: smtplib.SMTP, message: Message, recipient: str
    ) -> tuple[str, bytes]:
        """MAIL's parameters and the email, encoded for what ``connection``'s server offers.

        Raises:
            Rejected: an address that is not ASCII, to a server without SMTPUTF8, or an email
                that cannot be encoded at all; nothing was sent.
        """
        addresses = (self._envelope_from, parseaddr(recipient)[1])
        utf8 = not all(address.isascii() for address in addresses)
        if utf8 and not connection.has_extn("smtputf8"):
            raise Rejected(
                self.name,
                f"{self.smtp.host} does not offer SMTPUTF8, which the address "
                f"{next(a for a in addresses if not a.isascii())!r} needs",
                hint="use an ASCII address (an IDN domain in its xn-- form) or a relay that "
                "offers SMTPUTF8",
            )
        seven_bit = not connection.has_extn("8bitmime")
        try:
            template = self._email_template(message, utf8=utf8, seven_bit=seven_bit)
            email = template.for_recipient(message, recipient)
        except (UnicodeError, ValueError, TypeError) as e:
            raise Rejected(self.name, f"the email cannot be encoded: {e}") from None
        options = (" BODY=8BITMIME" if template.eight_bit and not seven_bit else "") + (
            " SMTPUTF8" if utf8 else ""
        )
        return options, email

    def _email_template(self, message: Message, *, utf8: bool, seven_bit: bool) -> EmailTemplate:
        """The digest serialised once (per subject, body and encoding), then copied per
        recipient, dot-stuffed for DATA.
        """
        content = (message.subject, message.text, message.html, utf8, seven_bit)
        with self._lock:
            if self._template is None or self._template[0] != content:
                template = EmailTemplate(
                    message,
                    sender=self.smtp.from_,
                    date=datetime.now(UTC),
                    unsubscribe=self.smtp.unsubscribe,
                    policy=mail_policy(utf8=utf8, seven_bit=seven_bit),
                )
                self._template = (content, template)
            return self._template[1]

    def _transact(
        self, connection: smtplib.SMTP, recipient: str, email: bytes, options: str = ""
    ) -> tuple[int, bytes | str, str]:
        """MAIL, RCPT and DATA on one connection, in one flight where the server offers
        PIPELINING (RFC 2920): the last reply and what it answered (250 and "message" when the
        message was taken).

        Raises:
            TransientError: the connection dropped before the data was sent.
            Ambiguous: it dropped while the data was sent or answered.
        """
        envelope = (
            f"MAIL FROM:<{self._envelope_from}>{options}",
            f"RCPT TO:<{parseaddr(recipient)[1]}>",
        )
        if any("\r" in command or "\n" in command for command in envelope):
            raise Rejected(self.name, f"a line break in the envelope: {envelope!r}")
        try:
            if connection.has_extn("pipelining"):
                connection.send("\r\n".join((*envelope, "DATA", "")))
                replies = [connection.getreply() for _ in range(3)]
            else:
                replies = []
                for command in (*envelope, "DATA"):
                    replies.append(connection.docmd(command))
                    if replies[-1][0] not in (250, 251):
                        break
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            raise TransientError(self.name, f"the connection dropped before sending: {e}") from None
        refused = _refused(replies, recipient)
        opened = len(replies) == 3 and replies[2][0] == 354
        try:
            if opened:
                # The email is dot-stuffed already; a lone dot ends it. Where the envelope was
                # refused, the server should not have opened the data (RFC 2920); if it did,
                # the data is ended empty, to nobody.
                body = b"" if refused else email
                if body and not body.endswith(b"\r\n"):
                    body += b"\r\n"
                connection.send(body + b".\r\n")
                code, answer = connection.getreply()
            else:
                code, answer = replies[-1]
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            if refused:
                raise TransientError(self.name, f"the connection dropped: {e}") from None
            raise Ambiguous(self.name, f"the connection dropped while sending: {e}") from None
        return refused or (code, answer, "message")

    def _checkout(self) -> smtplib.SMTP:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return self._connect()

    def _discard(self, connection: smtplib.SMTP) -> None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            connection.quit()

    def _connect(self) -> smtplib.SMTP:
        settings = self.smtp
        timeout = settings.timeout.total_seconds()
        try:
            if settings.tls:
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=timeout, context=self._tls()
                )
            else:
                connection = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        except (TimeoutError, smtplib.SMTPException, OSError) as e:
            raise self._unreachable(e) from None
        try:
            self._greet(connection)
        except BaseException:
            # A refused login must not leave its socket open: the daemon tries again and
            # again, and nothing else would close it before the garbage collector.
            connection.close()
            raise
        return connection

    def _greet(self, connection: smtplib.SMTP) -> None:
        """STARTTLS, login and EHLO on a new connection.

        Raises:
            AuthError: the login was refused.
            TransientError: anything else went wrong.
        """
        settings = self.smtp
        try:
            if not settings.tls and settings.starttls:
                connection.starttls(context=self._tls())
            if settings.username:
                assert settings.password is not None
                connection.login(settings.username, settings.password.reveal())
            # MAIL is sent by hand (one envelope, many messages), so greet the server here;
            # STARTTLS and login have done so already, a plain connection has not.
            connection.ehlo_or_helo_if_needed()
        except smtplib.SMTPAuthenticationError as e:
            raise AuthError(
                self.name,
                f"login refused: {e.smtp_code} {_text(e.smtp_error)}",
                hint="check username and the password's environment variable",
            ) from None
        except smtplib.SMTPNotSupportedError as e:
            raise TransientError(self.name, f"the server does not offer {e}") from None
        except (TimeoutError, smtplib.SMTPException, OSError) as e:
            raise self._unreachable(e) from None

    def _unreachable(self, error: Exception) -> TransientError:
        settings = self.smtp
        return TransientError(
            self.name,
            f"cannot reach {settings.host}:{settings.port}: {error}",
            hint="check host, port and TLS settings",
        )

    def _tls(self) -> ssl.SSLContext:
        """The TLS context, made once: loading the CA bundle takes tens of milliseconds."""
        with self._lock:
            if self._context is None:
                self._context = ssl.create_default_context(cafile=self.smtp.ca_file)
            return self._context

    def close(self) -> None:
        while True:
            try:
                self._discard(self._idle.get_nowait())
            except queue.Empty:
                return


def _refused(
    replies: list[tuple[int, bytes]], recipient: str
) -> tuple[int, bytes | str, str] | None:
    """The envelope's refusal among the replies to MAIL and RCPT, if there is one."""
    if replies[0][0] != 250:
        return replies[0][0], replies[0][1], "sender"
    if len(replies) > 1 and replies[1][0] not in (250, 251):
        return replies[1][0], replies[1][1], f"recipient {recipient}"
    return None


def _text(answer: bytes | str) -> str:
    return answer.decode(errors="replace") if isinstance(answer, bytes) else answer
