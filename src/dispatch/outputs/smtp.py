"""Email over SMTP: one delivery per recipient (the per-recipient ledger is the outbox), one
connection reused across them, STARTTLS or implicit TLS, and errors sorted by what they mean:
refused before the data was sent is safe to retry or a permanent refusal; a failure during or
after the data is ambiguous.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import ClassVar, Literal

from pydantic import Field

from dispatch.config import OutputSettings
from dispatch.errors import Ambiguous, AuthError, Rejected, TransientError
from dispatch.mail import EmailTemplate, sender_domain
from dispatch.models import Kind, Message
from dispatch.outputs.base import BaseOutput, Capabilities
from dispatch.secrets import Secret

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


class SmtpOutput(BaseOutput):
    """An HTML digest with its plain-text twin, to each recipient."""

    settings_model: ClassVar[type[OutputSettings]] = SmtpSettings
    kinds: ClassVar[frozenset[Kind]] = frozenset({"digest"})

    _connection: smtplib.SMTP | None = None
    _template: tuple[tuple[str | None, str, str | None], EmailTemplate] | None = None

    @property
    def smtp(self) -> SmtpSettings:
        assert isinstance(self.settings, SmtpSettings)
        return self.settings

    @property
    def capabilities(self) -> Capabilities:
        # Gmail clips a message whose HTML passes about 102 KB.
        return Capabilities(limit=GMAIL_CLIP_BYTES, counting="bytes", html=True, media=True)

    def recipients(self) -> Sequence[str | None]:
        return list(self.smtp.to)

    def ready(self) -> str | None:
        unset = super().ready()
        if unset is None and self.smtp.username and self.smtp.password is None:
            return "a username is set but no password"
        return unset

    def send(self, message: Message) -> str:
        recipient = message.recipient or self.smtp.to[0]
        content = (message.subject, message.text, message.html)
        if self._template is None or self._template[0] != content:
            template = EmailTemplate(
                message,
                sender=self.smtp.from_,
                date=datetime.now(UTC),
                unsubscribe=self.smtp.unsubscribe,
            )
            self._template = (content, template)
        email = self._template[1].for_recipient(message, recipient)
        connection = self._connect()
        envelope_from = parseaddr(self.smtp.from_)[1]
        try:
            code, answer = connection.mail(envelope_from)
            if code != 250:
                raise self._refused(code, answer, "sender")
            code, answer = connection.rcpt(recipient)
            if code not in (250, 251):
                raise self._refused(code, answer, f"recipient {recipient}")
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            self.close()
            raise TransientError(self.name, f"the connection dropped before sending: {e}") from None
        try:
            code, answer = connection.data(email)
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            self.close()
            raise Ambiguous(self.name, f"the connection dropped while sending: {e}") from None
        except smtplib.SMTPDataError as e:
            raise self._refused(e.smtp_code, e.smtp_error, "message") from None
        if code != 250:
            raise self._refused(code, answer, "message")
        message_id = f"<{message.key}@{sender_domain(self.smtp.from_)}>"
        return f"{message_id} {answer.decode(errors='replace')}".strip()

    def _refused(self, code: int, answer: bytes | str, what: str) -> Rejected | TransientError:
        reason = f"{what} refused: {code} {_text(answer)}"
        self._reset()
        if 400 <= code < 500:
            return TransientError(self.name, reason, hint="the server asks to try later")
        return Rejected(self.name, reason, hint="check the address; it will not be retried")

    def _reset(self) -> None:
        if self._connection is not None:
            try:
                self._connection.rset()
            except (smtplib.SMTPException, OSError):
                self.close()

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        settings = self.smtp
        timeout = settings.timeout.total_seconds()
        context = ssl.create_default_context(cafile=settings.ca_file)
        try:
            if settings.tls:
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=timeout, context=context
                )
            else:
                connection = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
                if settings.starttls:
                    connection.starttls(context=context)
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
            raise TransientError(
                self.name,
                f"cannot reach {settings.host}:{settings.port}: {e}",
                hint="check host, port and TLS settings",
            ) from None
        self._connection = connection
        return connection

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._connection.quit()
            self._connection = None


def _text(answer: bytes | str) -> str:
    return answer.decode(errors="replace") if isinstance(answer, bytes) else answer
