"""`dispatch init`: a commented feeds.yaml, templates/ and a sample feed that a first dry run
sends at once; questions on a terminal (a real pseudo-terminal), none elsewhere.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import yaml

from helpers.project import NOW, run_cli


def test_init_without_a_terminal_asks_nothing_and_the_dry_run_works(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = run_cli("init", str(site), config=tmp_path / "unused.yaml")
    assert result.code == 0, result.stderr
    assert "wrote feeds.yaml, sample-feed.xml and templates/" in result.stdout
    assert f"dispatch --config {site / 'feeds.yaml'} send --dry-run" in result.stdout
    text = (site / "feeds.yaml").read_text(encoding="utf-8")
    assert text.startswith("# feeds.yaml: the feeds dispatch reads")
    assert "# newsletter:" in text and "postal_address" in text  # what to set up next
    assert (site / "templates" / "email" / "digest.mjml.j2").is_file()

    config = site / "feeds.yaml"
    dry = run_cli(
        "send", "--dry-run", "--json", "--now", NOW, "--out", str(tmp_path), config=config
    )
    assert dry.code == 0, dry.stderr
    kinds = {(m["kind"], m["output"]) for m in dry.messages()}
    assert kinds == {("digest", "archive"), ("post", "archive")}
    check = run_cli("check", config=config)
    assert check.code == 0 and "0 error(s)" in check.stdout, check.stdout + check.stderr

    again = run_cli("init", str(site), config=tmp_path / "unused.yaml")
    assert again.code == 1 and "is there already; nothing was written" in again.stderr
    assert (site / "feeds.yaml").read_text(encoding="utf-8") == text
    forced = run_cli("init", str(site), "--force", config=tmp_path / "unused.yaml")
    assert forced.code == 0


def test_init_on_a_terminal_asks_and_uses_the_answers(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "dispatch", "init", str(tmp_path)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=environ,
    )
    os.close(follower)
    # Typed ahead, as a quick typist would: the terminal queues the lines for each question.
    os.write(leader, b"\nMorning Brief\nAsia/Karachi\nme@example.org\n")
    seen = b""
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 30)
            assert ready, seen.decode(errors="replace")
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the process has ended and closed its terminal
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
        process.wait(timeout=30)
    shown = seen.decode(errors="replace")
    assert process.returncode == 0, shown
    assert "your site or its feed" in shown and "your time zone" in shown
    config = yaml.safe_load((tmp_path / "feeds.yaml").read_text(encoding="utf-8"))
    (digest,) = config["digests"]
    assert digest["title"] == "Morning Brief" and digest["timezone"] == "Asia/Karachi"
    assert config["feeds"][0]["url"] == "sample-feed.xml"
    assert "to: [me@example.org]" in (tmp_path / "feeds.yaml").read_text(encoding="utf-8")
