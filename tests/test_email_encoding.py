"""Email as mail servers expect it: names that are not ASCII encoded, SMTPUTF8 for addresses
that are not ASCII, BODY=8BITMIME for 8-bit data or a 7-bit encoding where it is not offered.
The aiosmtpd stand-in reads every message with Python's email parser and checks MAIL's
parameters against the data (standins.SmtpRecorder).
"""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.render.mail import header
from helpers.project import NOW, State, run_cli
from helpers.sending import deliveries, setup
from helpers.servers import FeedServer
from helpers.smtp import SmtpStandIn, read_email, smtp_output

ENV = {"SMTP_PASSWORD": "mail-pass"}


@pytest.fixture
def utf8_smtp(tmp_path: Path) -> Iterator[SmtpStandIn]:
    (tmp_path / "tls").mkdir()
    standin = SmtpStandIn(tmp_path / "tls", smtputf8=True)
    yield standin
    standin.stop()


@pytest.mark.parametrize("eight_bit_mime", [True, False])
def test_a_name_that_is_not_ascii_is_encoded_and_8_bit_data_is_declared(
    tmp_path: Path, state: State, server: FeedServer, smtp: SmtpStandIn, eight_bit_mime: bool
) -> None:
    smtp.recorder.eight_bit_mime = eight_bit_mime
    output = smtp_output(smtp, to=["Zoë Reader <zoe@example.org>"])
    path = setup(state, tmp_path, server, {"mail": output}, articles=1, digest=True)
    result = run_cli("send", "--now", NOW, config=path, env=ENV)
    assert result.code == 0, result.stderr
    assert smtp.recorder.invalid == []
    ((_, recipients, raw),) = smtp.recorder.messages
    assert recipients == ["zoe@example.org"]
    message = email.message_from_bytes(raw, policy=policy.default)
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Zoë Reader", "zoe@example.org")
    assert "Tägliche Post" in message["Subject"]
    assert "Story a1" in message.get_body(("plain",)).get_content()
    (options,) = smtp.recorder.mail_options
    if eight_bit_mime:
        assert not raw.isascii() and "BODY=8BITMIME" in options
    else:
        assert raw.isascii() and "BODY=8BITMIME" not in options  # quoted-printable or base64
    assert deliveries(state)[0][3] == "sent"


def test_an_address_that_is_not_ascii_goes_with_smtputf8(
    tmp_path: Path, state: State, server: FeedServer, utf8_smtp: SmtpStandIn
) -> None:
    output = smtp_output(utf8_smtp, to=["Zoë <zoë@exämple.org>"])
    path = setup(state, tmp_path, server, {"mail": output}, articles=1, digest=True)
    result = run_cli("send", "--now", NOW, config=path, env=ENV)
    assert result.code == 0, result.stderr
    assert utf8_smtp.recorder.invalid == []
    ((_, recipients, raw),) = utf8_smtp.recorder.messages
    assert recipients == ["zoë@exämple.org"] and "SMTPUTF8" in utf8_smtp.recorder.mail_options[0]
    message = read_email(raw, smtputf8=True)
    assert message["To"].addresses[0].addr_spec == "zoë@exämple.org"


def test_an_address_that_is_not_ascii_is_refused_by_name_without_smtputf8(
    tmp_path: Path, state: State, server: FeedServer, smtp: SmtpStandIn
) -> None:
    """Refused before anything was sent: a failure with its reason, never ambiguous."""
    output = smtp_output(smtp, to=["zoë@exämple.org", "ana@example.org"])
    path = setup(state, tmp_path, server, {"mail": output}, articles=1, digest=True)
    result = run_cli("send", "--now", NOW, config=path, env=ENV)
    assert result.code == 1
    assert "SMTPUTF8" in result.stderr and "Traceback" not in result.stderr
    rows = {row[2]: row for row in deliveries(state)}
    assert rows["zoë@exämple.org"][3] == "failed" and "SMTPUTF8" in rows["zoë@exämple.org"][5]
    assert rows["ana@example.org"][3] == "sent"
    assert [recipients for _, recipients, _ in smtp.recorder.messages] == [["ana@example.org"]]


def test_a_test_send_to_a_name_that_is_not_ascii(
    tmp_path: Path, state: State, server: FeedServer, smtp: SmtpStandIn
) -> None:
    path = setup(state, tmp_path, server, {"mail": smtp_output(smtp)}, articles=1, digest=True)
    result = run_cli("send", "--test-to", "Zoë Reader <zoe@example.org>", config=path, env=ENV)
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr and smtp.recorder.invalid == []
    ((_, recipients, raw),) = smtp.recorder.messages
    message = email.message_from_bytes(raw, policy=policy.default)
    assert recipients == ["zoe@example.org"]
    assert message["To"].addresses[0].display_name == "Zoë Reader"
    assert message["Subject"].startswith("[TEST]")


# Mostly what a plain address is made of, now and then what makes one that is not.
_ATEXT = st.sampled_from("abcXYZ019!#$%&'*+/=?^_`{|}~-....")
_OTHER = st.sampled_from(' "(),:;<>[\\]é')
_LOCAL = st.text(st.one_of(_ATEXT, _ATEXT, _ATEXT, _OTHER), min_size=1, max_size=60)
_DOMAIN = st.text(st.one_of(st.sampled_from("abz019.-"), _OTHER), min_size=1, max_size=40)


@settings(max_examples=400, deadline=None)
@given(local=_LOCAL, domain=_DOMAIN, utf8=st.booleans(), message_id=st.booleans())
def test_each_readers_headers_are_what_the_email_policy_writes(
    local: str, domain: str, utf8: bool, message_id: bool
) -> None:
    """A plain address or Message-ID is written without the policy's header parser, which
    took 100 µs a reader; what is written is byte for byte what the policy writes.
    """
    chosen = policy.SMTPUTF8 if utf8 else policy.SMTP
    name, value = (
        ("Message-ID", f"<{local}@{domain}>") if message_id else ("To", f"{local}@{domain}")
    )
    expected: object
    try:
        folded = chosen.header_factory(name, value).fold(policy=chosen)
        expected = folded.encode("utf-8" if utf8 else "ascii")
    except Exception as error:  # the policy's parser refuses some: so must ``header``
        expected = type(error)
    try:
        written: object = header(name, value, chosen)
    except Exception as error:
        written = type(error)
    assert written == expected
