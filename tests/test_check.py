"""`dispatch check` on good and broken template sets, and test sends that record nothing."""

from __future__ import annotations

import email
import sqlite3
from email import policy
from pathlib import Path
from typing import Any

from helpers.project import ROOT, article_items, rss, run_cli, write_config
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
            "digests": [{"name": "daily", "outputs": ["mail"]}],
            "posts": [{"name": "social", "outputs": ["x"]}],
        },
    )


def built_in(name: str) -> str:
    return (BUILT_IN / name).read_text()


def test_the_bundled_example_and_built_in_templates_are_clean() -> None:
    result = run_cli("check", config=ROOT / "feeds.yaml")
    assert result.code == 0 and "0 error(s), 0 warning(s)" in result.stdout


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
