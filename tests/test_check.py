"""`dispatch check` on good and broken template sets, and test sends that record nothing."""

from __future__ import annotations

import email
import sqlite3
from email import policy
from pathlib import Path
from typing import Any

import yaml

from helpers.project import NOW, ROOT, article_items, rss, run_cli, write_config
from helpers.servers import FeedServer
from helpers.smtp import SmtpStandIn

BUILT_IN = ROOT / "templates"


def setup(tmp_path: Path, templates: dict[str, str], **outputs: Any) -> Path:
    folder = tmp_path / "templates"
    for name, text in templates.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return write_config(
        tmp_path,
        {
            "templates": "templates",
            "feeds": [{"name": "a", "url": "a.xml"}],
            "outputs": outputs
            or {
                "mail": {
                    "type": "smtp",
                    "host": "localhost",
                    "from": "a@example.org",
                    "to": ["b@example.org"],
                    "unsubscribe": "https://news.example/unsub",
                },
                "x": {
                    "type": "x",
                    "consumer_key": "k",
                    "consumer_secret": "s",
                    "access_token": "t",
                    "access_token_secret": "s",
                },
            },
            "digests": [{"name": "daily", "outputs": ["mail"], "postal_address": ADDRESS}],
            "posts": [{"name": "social", "outputs": ["x"]}],
        },
    )


ADDRESS = "The Journal, 1 Main Street, Springfield"


def built_in(name: str) -> str:
    return (BUILT_IN / name).read_text()


def test_the_bundled_example_and_built_in_templates_are_clean() -> None:
    # Clean but for the networks whose secrets a dry run does without: each is said.
    result = run_cli("check", config=ROOT / "feeds.yaml")
    assert result.code == 0 and "0 error(s), 3 warning(s)" in result.stdout, result.stdout
    for name in ("x", "mastodon", "bluesky"):
        assert f"warning: output {name!r}: cannot send until it is ready: secret not set" in (
            result.stdout
        )


def test_feeds_at_private_addresses_are_errors_unless_allowed(tmp_path: Path) -> None:
    path = setup(tmp_path, {})
    data = yaml.safe_load(path.read_text())
    data["feeds"] += [
        {"name": "loop", "url": "http://127.0.0.1:8080/feed"},
        {"name": "local", "url": "http://localhost/feed.xml"},
        {"name": "lan", "url": "https://192.168.1.20/rss"},
        {"name": "allowed", "url": "http://127.0.0.1/feed", "allow_private_networks": True},
        {"name": "public", "url": "https://news.example/feed"},
    ]
    path.write_text(yaml.safe_dump(data))
    result = run_cli("check", config=path)
    assert result.code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: feed")]
    assert [line.split("'")[1] for line in errors] == ["loop", "local", "lan"]
    assert "127.0.0.1 is a private address, so it would be refused" in errors[0]
    assert "set allow_private_networks: true" in errors[0]


def test_an_unset_secret_is_a_warning_that_names_it(tmp_path: Path) -> None:
    path = setup(tmp_path, {})
    data = yaml.safe_load(path.read_text())
    data["outputs"]["mail"]["password"] = "${MAIL_PASSWORD}"
    path.write_text(yaml.safe_dump(data))
    result = run_cli("check", config=path)
    assert result.code == 0
    assert "warning: output 'mail': cannot send until it is ready: secret not set: " in (
        result.stdout
    )
    assert "$MAIL_PASSWORD" in result.stdout or "${MAIL_PASSWORD}" in result.stdout
    ready = run_cli("check", config=path, env={"MAIL_PASSWORD": "s3cret"})
    assert "output 'mail'" not in ready.stdout and "s3cret" not in ready.stdout


def test_an_unclosed_reference_is_a_config_error_not_a_password(tmp_path: Path) -> None:
    path = setup(tmp_path, {})
    text = path.read_text().replace(
        "host: localhost", 'host: localhost\n    password: "${MY_SMTP_PASSWORD"'
    )
    path.write_text(text)
    line = text.splitlines().index('    password: "${MY_SMTP_PASSWORD"') + 1
    for command in (("check",), ("outputs",), ("send", "--dry-run")):
        result = run_cli(*command, config=path)
        assert result.code == 2, result.stdout
        assert f"outputs.mail.password (line {line}): a `${{` that does not make a whole" in (
            result.stderr
        )


def test_an_unknown_mjml_tag_is_an_error_at_its_line(tmp_path: Path) -> None:
    typo = built_in("email/article.mjml.j2").replace("<mj-text", "<mj-texxt", 1)
    typo = typo.replace("</mj-text>", "</mj-texxt>", 1)
    result = run_cli("check", config=setup(tmp_path, {"email/article.mjml.j2": typo}))
    assert result.code == 1
    expected = typo[: typo.index("<mj-texxt")].count("\n") + 1
    assert f"templates/email/article.mjml.j2, line {expected}: <mj-texxt> is not an MJML tag" in (
        result.stderr
    )


def test_an_inbox_digest_without_unsubscribe_or_postal_address_is_warned(
    tmp_path: Path,
) -> None:
    path = setup(tmp_path, {})
    data = yaml.safe_load(path.read_text())
    del data["outputs"]["mail"]["unsubscribe"]
    del data["digests"][0]["postal_address"]
    path.write_text(yaml.safe_dump(data))
    result = run_cli("check", config=path)
    assert result.code == 0
    assert "warning: digest 'daily' → 'mail': no unsubscribe link" in result.stdout
    assert "warning: digest 'daily' → 'mail': no postal address in the footer" in result.stdout
    data["digests"][0]["postal_address"] = ADDRESS
    data["outputs"]["archive"] = {"type": "file", "path": "out"}
    data["digests"][0]["outputs"].append("archive")  # not an inbox: nothing to say
    data["feeds"][0]["backfill"] = "all"
    (tmp_path / "a.xml").write_text(rss(article_items(2)))
    path.write_text(yaml.safe_dump(data))
    again = run_cli("check", config=path)
    assert "postal address" not in again.stdout and "'archive'" not in again.stdout
    sent = run_cli("send", "--dry-run", "--json", "--now", NOW, config=path)
    (mail,) = [m for m in sent.messages() if m["output"] == "mail"]
    assert ADDRESS in mail["html"] and ADDRESS in mail["text"]


def test_a_template_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    broken = built_in("email/article.mjml.j2").replace("{% endif %}", "{% endiff %}", 1)
    result = run_cli("check", config=setup(tmp_path, {"email/article.mjml.j2": broken}))
    assert result.code == 1
    line = next(x for x in result.stderr.splitlines() if "article.mjml.j2" in x)
    lines = broken.splitlines()
    expected = lines.index(next(x for x in lines if "endiff" in x)) + 1
    assert f"templates/email/article.mjml.j2, line {expected}" in line
    assert "endiff" in line


def test_mjml_errors_and_missing_unsubscribe_are_errors(tmp_path: Path) -> None:
    mjml = (
        "<mjml><mj-body><mj-section><mj-column><mj-text>{{ digest.title }}</mj-text>"
        "</mj-column></mj-section></mj-body></mjml>"
    )
    path = setup(tmp_path, {"email/digest.mjml.j2": mjml})
    result = run_cli("check", config=path)
    assert result.code == 1 and "no unsubscribe link" in result.stderr
    (tmp_path / "templates" / "email" / "digest.mjml.j2").write_text("<mjml><mj-body><mj-sect")
    result = run_cli("check", config=path)
    assert result.code == 1 and "MJML:" in result.stderr
    # MRML gives no line, so the error names the editor's MJML files that went into it.
    own = tmp_path / "templates" / "email" / "digest.mjml.j2"
    assert f"(MJML made from your {own}, which override the built-ins" in result.stderr


def test_a_post_that_cannot_fit_is_an_error(tmp_path: Path) -> None:
    long = "{{ url }} " + "Breaking news, read all about it! " * 12
    path = setup(tmp_path, {"social/x.txt.j2": long})
    result = run_cli("check", config=path)
    assert result.code == 1 and "post 'social' → 'x'" in result.stderr
    assert "cannot fit the limit" in result.stderr


def test_images_without_alt_text_are_warnings(tmp_path: Path) -> None:
    partial = built_in("email/article.mjml.j2").replace('alt="{{ article.title }}" ', "")
    result = run_cli("check", config=setup(tmp_path, {"email/article.mjml.j2": partial}))
    assert result.code == 0
    assert "warning: digest 'daily' → 'mail': an image without alt text" in result.stdout
    assert "metro.jpg" in result.stdout


def test_a_digest_past_the_outputs_clipping_size_is_a_warning(tmp_path: Path) -> None:
    # The size comes from the smtp output's declared limit (bytes of HTML), not from check.
    padded = built_in("email/article.mjml.j2") + "<mj-raw><!-- " + "x" * 40_000 + " --></mj-raw>"
    result = run_cli("check", config=setup(tmp_path, {"email/article.mjml.j2": padded}))
    assert result.code == 0, result.stderr
    assert "warning: digest 'daily' → 'mail'" in result.stdout
    assert "mail clients clip past 102,000 bytes" in result.stdout


def test_a_test_send_reaches_one_address_and_records_nothing(
    tmp_path: Path, server: FeedServer
) -> None:
    (tmp_path / "tls").mkdir()
    smtp = SmtpStandIn(tmp_path / "tls")
    try:
        url = server.serve("/feed", rss(article_items(3)))
        path = write_config(
            tmp_path,
            {
                "state": "state.db",
                "allow_private_networks": True,
                "feeds": [{"name": "news", "url": url, "backfill": 1}],
                "outputs": {
                    "mail": smtp.output(
                        **{"from": "J <d@journal.example>", "to": ["everyone@example.org"]}
                    )
                },
                "digests": [{"name": "daily", "outputs": ["mail"]}],
            },
        )
        assert run_cli("poll", "--now", "2026-11-27T03:00:00+00:00", config=path).code == 0
        before = (tmp_path / "state.db").read_bytes()
        result = run_cli("send", "--test-to", "editor@example.org", config=path)
        assert result.code == 0, result.stderr
        ((_, recipients, raw),) = smtp.recorder.messages
        assert recipients == ["editor@example.org"]
        message = email.message_from_bytes(raw, policy=policy.default)
        assert str(message["Subject"]).startswith("[TEST] daily")
        assert "Story a3" in message.get_body(("plain",)).get_content()
        assert (tmp_path / "state.db").read_bytes() == before
        with sqlite3.connect(tmp_path / "state.db") as db:
            assert db.execute("SELECT COUNT(*) FROM deliveries").fetchone() == (0,)
        missing = run_cli("send", "--test-to", "e@example.org", "--digest", "weekly", config=path)
        assert missing.code == 1 and "no digest named 'weekly'" in missing.stderr
    finally:
        smtp.stop()
