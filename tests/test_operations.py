"""The operator's commands: outputs, status, retry, resolve (on both engines); one sender at a
time on SQLite."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from helpers.project import NOW, State, article_items, rss, run_cli, run_process, write_config
from helpers.servers import FeedServer
from helpers.x import XStandIn


def x_setup(
    tmp_path: Path, server: FeedServer, x_api: XStandIn, state: State, **extra: Any
) -> Path:
    url = server.serve("/feed", rss(article_items(2)))
    return write_config(
        tmp_path,
        {
            "state": state.value,
            "allow_private_networks": True,
            "feeds": [{"name": "news", "url": url, "backfill": "all"}],
            "outputs": {"x": x_api.output(**extra)},
            "posts": [{"name": "social", "outputs": ["x"]}],
        },
    )


@pytest.mark.slow
def test_an_interrupted_x_post_is_flagged_then_resolved_by_the_operator(
    tmp_path: Path, server: FeedServer, state: State
) -> None:
    x_api = XStandIn()
    try:
        path = x_setup(tmp_path, server, x_api, state)
        assert run_cli("send", "--now", NOW, config=path).code == 0
        state.rows("UPDATE deliveries SET status = 'sending' WHERE id = 1")  # as if killed
        state.rows("UPDATE deliveries SET status = 'failed', last_error = 'x' WHERE id = 2")
        recovered = run_cli("send", "--now", "2026-11-27T03:05:00+00:00", config=path)
        assert recovered.code == 1
        assert "ambiguous: [1]" in recovered.stderr and "dispatch resolve" in recovered.stderr
        assert len(x_api.tweets) == 2  # nothing was blindly resent
        status = run_cli("status", config=path)
        assert "ambiguous" in status.stdout and "failed" in status.stdout
        assert run_cli("resolve", "1", "--sent", config=path).code == 0
        wrong = run_cli("resolve", "2", "--sent", config=path)
        assert wrong.code == 1 and "delivery 2 is failed" in wrong.stderr
        assert run_cli("retry", "2", config=path).code == 0
        x_api.tweets.clear()
        again = run_cli("send", "--now", "2026-11-27T03:10:00+00:00", config=path)
        assert again.code == 0, again.stderr
        assert len(x_api.tweets) == 1
        assert "The outbox" not in run_cli("status", config=path).stdout
        missing = run_cli("retry", "99", config=path)
        assert missing.code == 1 and "there is no delivery 99" in missing.stderr
    finally:
        x_api.stop()


def test_with_resend_policy_an_interrupted_post_goes_again(
    tmp_path: Path, server: FeedServer, state: State
) -> None:
    x_api = XStandIn()
    try:
        path = x_setup(tmp_path, server, x_api, state, on_ambiguous="resend")
        run_cli("send", "--now", NOW, config=path)
        state.rows("UPDATE deliveries SET status = 'sending' WHERE id = 1")
        x_api.tweets.clear()
        result = run_cli("send", "--now", "2026-11-27T03:05:00+00:00", config=path)
        assert result.code == 0 and len(x_api.tweets) == 1
    finally:
        x_api.stop()


def test_a_second_sender_is_refused_while_one_runs(tmp_path: Path, server: FeedServer) -> None:
    url = server.serve("/feed", rss(article_items(1)))
    path = write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "feeds": [{"name": "news", "url": url}],
        },
    )
    run_cli("poll", "--now", NOW, config=path)
    with (tmp_path / "state.db.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write(f"pid {os.getpid()}")
        held.flush()
        result = run_cli("send", "--now", NOW, config=path)
    assert result.code == 3 and f"another dispatch (`pid {os.getpid()}`)" in result.stderr
    assert run_cli("send", "--now", NOW, config=path).code == 0


def test_outputs_lists_types_and_readiness(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {
            "feeds": [{"name": "a", "url": "a.xml"}],
            "outputs": {
                "toots": {
                    "type": "mastodon",
                    "base_url": "https://m.example",
                    "access_token": "${TOKEN}",
                },
                "archive": {"type": "file"},
            },
        },
    )
    result = run_cli("outputs", config=path)
    assert result.code == 0
    assert "toots (mastodon, sends posts): not ready: secret not set: access_token" in result.stdout
    assert "archive (file, sends digests and posts): ready" in result.stdout
    assert "base_url=https://m.example" in result.stdout
    for name in ("bluesky", "file", "mastodon", "smtp", "webhook", "x"):
        assert f"  {name}: dispatch.outputs." in result.stdout


@pytest.mark.slow
def test_a_third_party_output_installs_and_sends(tmp_path: Path, server: FeedServer) -> None:
    package = tmp_path / "dispatch-echo"
    (package / "dispatch_echo").mkdir(parents=True)
    (package / "pyproject.toml").write_text(
        textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "dispatch-echo"
        version = "1.0"
        [project.entry-points."dispatch.outputs"]
        echo = "dispatch_echo:EchoOutput"
    """)
    )
    (package / "dispatch_echo" / "__init__.py").write_text(
        textwrap.dedent("""
        from pathlib import Path
        from typing import ClassVar, Literal
        from dispatch.config import OutputSettings
        from dispatch.outputs.base import BaseOutput, Capabilities

        class EchoSettings(OutputSettings):
            type: Literal["echo"]
            path: str

        class EchoOutput(BaseOutput):
            settings_model: ClassVar = EchoSettings
            kinds: ClassVar = frozenset({"post"})

            @property
            def capabilities(self):
                return Capabilities(limit=100, template="echo")

            def send(self, message):
                with Path(self.settings.path).open("a") as out:
                    out.write(message.text.replace("\\n", " ") + "\\n")
                return "echo-1"
    """)
    )
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(package),
        ],
        check=True,
        capture_output=True,
    )
    url = server.serve("/feed", rss(article_items(1)))
    log = tmp_path / "echo.log"
    path = write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "feeds": [{"name": "news", "url": url, "backfill": 1}],
            "outputs": {"loud": {"type": "echo", "path": str(log)}},
            "posts": [{"name": "social", "outputs": ["loud"]}],
        },
    )
    env = {"PYTHONPATH": str(site)}
    listed = run_process("outputs", config=path, env=env)
    assert "dispatch_echo.EchoOutput" in listed.stdout
    result = run_process("send", "--now", NOW, config=path, env=env)
    assert result.code == 0, result.stderr
    assert log.read_text().startswith("Story a1")
    unknown = run_cli("send", "--now", NOW, config=path)
    assert unknown.code == 2 and "unknown output type 'echo'" in unknown.stderr


def test_a_missing_extra_is_one_line_naming_the_extra(tmp_path: Path, server: FeedServer) -> None:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    # What a machine without dispatch[x] looks like: tweepy cannot be imported.
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['tweepy'] = None\n")
    (blocker / "tweepy.py").write_text("raise ImportError('tweepy is not installed')\n")
    url = server.serve("/feed", rss(article_items(1)))
    path = write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "feeds": [{"name": "news", "url": url, "backfill": 1}],
            "outputs": {
                "x": {
                    "type": "x",
                    "consumer_key": "k",
                    "consumer_secret": "s",
                    "access_token": "t",
                    "access_token_secret": "s",
                }
            },
            "posts": [{"name": "social", "outputs": ["x"]}],
        },
    )
    env = {"PYTHONPATH": str(blocker)}
    result = run_process("send", "--now", NOW, config=path, env=env)
    assert result.code == 1
    assert "tweepy is not installed: pip install 'dispatch[x]'" in result.stderr
    assert "Traceback" not in result.stderr
