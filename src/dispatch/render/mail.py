"""Email messages: multipart/alternative with a plain-text twin, safe one-line headers,
a deterministic Message-ID, and RFC 8058 one-click unsubscribe.

Encoded as the receiving server can take them: names that are not ASCII in RFC 2047
encoded words; UTF-8 headers only for addresses that are not ASCII (SMTPUTF8, RFC 6531);
bodies in 8 bits only where the server offers 8BITMIME, else quoted-printable or base64.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8, EmailPolicy
from email.utils import format_datetime, parseaddr

from dispatch.models import Message

SUBJECT_LIMIT = 250
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")


def one_line(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """A header value on one line: control characters and line breaks become spaces."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def sender_domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "dispatch.invalid"


_TO = "dispatch-recipient@placeholder.invalid"
_ID = "<dispatch-message-id@placeholder.invalid>"
_LEADING_DOT = re.compile(rb"(?m)^\.")


def mail_policy(*, utf8: bool = False, seven_bit: bool = False) -> EmailPolicy[EmailMessage]:
    """The policy to serialise with: UTF-8 headers (SMTPUTF8) or encoded words, and bodies
    in 8 bits or in a 7-bit transfer encoding.
    """
    policy = SMTPUTF8 if utf8 else SMTP
    return policy.clone(cte_type="7bit") if seven_bit else policy


# A bare ASCII address (a dot-atom at a domain), or one in angle brackets as a Message-ID is:
# the policy writes it as it is. Its header parser takes 50 to 100 µs a header, and a digest
# to 1,000 readers needs two headers each.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def header(name: str, value: str, policy: EmailPolicy[EmailMessage] = SMTP) -> bytes:
    """One header, folded and encoded by ``policy``: a display name that is not ASCII in
    encoded words (or as UTF-8 under SMTPUTF8), never a UnicodeEncodeError.
    """
    bare = value[1:-1] if name == "Message-ID" and value[:1] == "<" and value[-1:] == ">" else value
    longest = policy.max_line_length or 78  # SMTP's and SMTPUTF8's: 78
    if _PLAIN_ADDRESS.fullmatch(bare) and len(name) + 2 + len(value) <= longest:
        return f"{name}: {value}{policy.linesep}".encode("ascii")
    folded: str = policy.header_factory(name, value).fold(policy=policy)
    return folded.encode("utf-8" if policy.utf8 else "ascii")


class EmailTemplate:
    """A digest's email serialised once, as SMTP's DATA carries it: each recipient's copy
    differs only in To and Message-ID, put in as bytes the email policy itself encoded.
    """

    def __init__(
        self,
        message: Message,
        *,
        sender: str,
        date: datetime,
        unsubscribe: str | None = None,
        policy: EmailPolicy[EmailMessage] = SMTP,
    ) -> None:
        email = build_email(
            message,
            sender=sender,
            recipient=_TO,
            date=date,
            unsubscribe=unsubscribe,
            policy=policy,
        )
        del email["Message-ID"]
        email["Message-ID"] = _ID  # now the last header, after To
        # A line starting with a dot gets another (RFC 5321 4.5.2). Done here once: searching
        # each recipient's copy took longer than sending it. The headers put in later are
        # folded, so none of their lines starts with a dot.
        data = _LEADING_DOT.sub(b"..", email.as_bytes(policy=policy))
        self._head, _, rest = data.partition(header("To", _TO, policy))
        self._middle, _, self._tail = rest.partition(header("Message-ID", _ID, policy))
        self._domain = sender_domain(sender)
        self._policy = policy
        self.eight_bit = not data.isascii()  # for MAIL's BODY=8BITMIME

    def for_recipient(self, message: Message, recipient: str) -> bytes:
        """The email for ``recipient``, with the Message-ID of ``message`` (its delivery),
        dot-stuffed for DATA.
        """
        return b"".join(
            (
                self._head,
                header("To", one_line(recipient), self._policy),
                self._middle,
                header("Message-ID", f"<{message.key}@{self._domain}>", self._policy),
                self._tail,
            )
        )


def build_email(
    message: Message,
    *,
    sender: str,
    recipient: str,
    date: datetime,
    unsubscribe: str | None = None,
    policy: EmailPolicy[EmailMessage] = SMTP,
) -> EmailMessage:
    """The email for one digest and one recipient. The Message-ID comes from the delivery's
    idempotency key, so the same digest to the same recipient always has the same id.
    """
    email = EmailMessage(policy=policy)
    email["Subject"] = one_line(message.subject or message.name)
    name, address = parseaddr(one_line(sender))
    email["From"] = Address(display_name=name, addr_spec=address) if name else address
    email["To"] = one_line(recipient)
    email["Date"] = format_datetime(date)
    email["Message-ID"] = f"<{message.key}@{sender_domain(sender)}>"
    if unsubscribe:
        target = one_line(unsubscribe)
        if ":" not in target and "@" in target:
            target = f"mailto:{target}"
        email["List-Unsubscribe"] = f"<{target}>"
        if unsubscribe.startswith("https://"):
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(message.text, subtype="plain", charset="utf-8")
    if message.html is not None:
        email.add_alternative(message.html, subtype="html", charset="utf-8")
    return email
