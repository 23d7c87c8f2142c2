"""A canary secret set in the environment never shows: not in any command's output, the dry
run's files, error messages, the outbox, the preview page, or the service's logs.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.bluesky import AtprotoStandIn
from helpers.mastodon import MastodonStandIn
from helpers.project import article_items, rss, run_process, write_config
from helpers.servers import FeedServer, free_port
from helpers.smtp import SmtpStandIn

pytestmark = pytest.mark.slow  # a process per command, on purpose

CANARY = "CANARY-" + base64.b32encode(os.urandom(10)).decode().rstrip("=")
ENV = {
    "SMTP_PASSWORD": CANARY + "-smtp",
    "MASTODON_TOKEN": CANARY + "-mastodon",
    "BSKY_APP_PASSWORD": CANARY + "-bluesky",
    "X_SECRET": CANARY + "-x",
    "HOOK_SECRET": "whsec_" + base64.b64encode(CANARY.encode()).decode(),
}
SHOWN = [CANARY, base64.b64encode(CANARY.encode()).decode()]


def leaks(text: str) -> list[str]:
    return [secret for secret in SHOWN if secret in text]


@pytest.fixture
def standins(tmp_path: Path) -> Iterator[tuple[SmtpStandIn, MastodonStandIn, AtprotoStandIn]]:
    (tmp_path / "tls").mkdir()
    smtp, mastodon, pds = SmtpStandIn(tmp_path / "tls"), MastodonStandIn(), AtprotoStandIn()
    yield smtp, mastodon, pds
    for standin in (smtp, mastodon, pds):
        standin.stop()


def test_a_canary_secret_never_shows(
    tmp_path: Path,
    server: FeedServer,
    standins: tuple[SmtpStandIn, MastodonStandIn, AtprotoStandIn],
) -> None:
    smtp, mastodon, pds = standins
    url = server.serve("/feed", rss(article_items(2)))
    outputs = {
        # Every secret is wrong for its server, so every output also fails and says why.
        "mail": smtp.output(
            password="${SMTP_PASSWORD}", to=["ana@example.org"], **{"from": "d@journal.example"}
        ),
        "mastodon": mastodon.output(access_token="${MASTODON_TOKEN}"),
        "bluesky": pds.output(app_password="${BSKY_APP_PASSWORD}"),
        "x": {
            "type": "x",
            "api_url": "http://127.0.0.1:9",
            "consumer_key": "k",
            "consumer_secret": "${X_SECRET}",
            "access_token": "t",
            "access_token_secret": "${X_SECRET}",
        },
        "hook": {"type": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "${HOOK_SECRET}"},
    }
    health = free_port()
    path = write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "fetch": {"timeout": "3s", "connect_timeout": "1s"},
            "daemon": {"listen": f"127.0.0.1:{health}"},  # not the default port
            "feeds": [{"name": "news", "url": url, "backfill": "all"}],
            "outputs": outputs,
            "digests": [{"name": "daily", "outputs": ["mail"]}],
            "posts": [{"name": "social", "outputs": ["mastodon", "bluesky", "x", "hook"]}],
        },
    )
    seen: dict[str, str] = {}
    for command in (
        ["outputs"],
        ["check"],
        ["send", "--dry-run", "--out", str(tmp_path / "dry")],
        ["send", "--dry-run", "--json"],
        ["send"],
        ["status"],
    ):
        result = run_process(*command, config=path, env=ENV)
        seen[" ".join(command)] = result.stdout + result.stderr
    assert "hint:" in seen["send"]  # the sends failed and said so
    for where, text in seen.items():
        assert leaks(text) == [], where
    for file in (tmp_path / "dry").rglob("*"):
        if file.is_file():
            assert leaks(file.read_text(encoding="utf-8", errors="replace")) == [], file
    assert leaks((tmp_path / "state.db").read_bytes().decode("utf-8", "replace")) == []

    # The preview page.
    port = free_port()
    environ = {**os.environ, **ENV}
    preview = subprocess.Popen(
        [sys.executable, "-m", "dispatch", "--config", str(path), "preview", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=environ,
        text=True,
    )
    try:
        assert preview.stdout is not None
        assert "dispatch preview" in preview.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as response:
            page = response.read().decode()
        assert "Digests" in page and leaks(page) == []
    finally:
        preview.terminate()
        assert leaks(preview.communicate(timeout=10)[0]) == []

    # The service's log, in both formats, through a poll and a failing send.
    for log_format in ("text", "json"):
        (tmp_path / "state.db").unlink()  # so that it has everything to do again
        daemon = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dispatch",
                "--config",
                str(path),
                "run",
                "--log-format",
                log_format,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=environ,
            text=True,
        )
        assert daemon.stdout is not None
        lines = []
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # until it has tried Mastodon and failed
                line = daemon.stdout.readline()
                lines.append(line)
                if "HTTP 401" in line or not line:  # not "401": a timestamp may hold it
                    break
            assert "HTTP 401" in lines[-1], "".join(lines)  # it still runs, and tried
            for endpoint in ("healthz", "metrics"):  # answered while it runs
                request = urllib.request.Request(f"http://127.0.0.1:{health}/{endpoint}")
                try:
                    with urllib.request.urlopen(request) as response:
                        answer = response.read().decode()
                except urllib.error.HTTPError as e:  # /healthz answers 503 when unhealthy
                    answer = e.read().decode()
                assert answer and leaks(answer) == [], endpoint
        finally:
            daemon.send_signal(signal.SIGTERM)
            lines.append(daemon.communicate(timeout=30)[0])
        log = "".join(lines)
        assert "mastodon" in log and "HTTP 401" in log, log  # it tried, failed, and said so
        assert leaks(log) == [], log
