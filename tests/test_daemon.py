"""`dispatch run` as a real subprocess against local feed, webhook and file outputs, on both
engines the store runs on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.project import (
    State,
    article_items,
    rss,
    wait_for,
    write_config,
)
from helpers.servers import FeedServer, free_port
from helpers.webhooks import SECRET, WebhookReceiver

pytestmark = [pytest.mark.slow]


class Daemon:
    def __init__(self, config: Path, port: int, *args: str, env: dict[str, str] | None = None):
        self.port = port
        self.log = config.parent / f"daemon-{time.monotonic_ns()}.log"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
        environ.update(env or {})
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dispatch", "--config", str(config), "run", *args],
                stdout=log,
                stderr=log,
                env=environ,
            )

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status, r.read().decode()
        except OSError:
            return 0, ""

    def healthy(self) -> bool:
        status, body = self.get("/healthz")
        return status == 200 and json.loads(body)["ok"] is True

    def logs(self) -> str:
        return self.log.read_text()

    def stop(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    standin = WebhookReceiver(SECRET)
    yield standin
    standin.stop()


def daemon_config(
    tmp_path: Path,
    server: FeedServer,
    receiver: WebhookReceiver,
    port: int,
    state: str = "state.db",
    **extra: Any,
) -> Path:
    data: dict[str, Any] = {
        "state": state,
        "allow_private_networks": True,
        "daemon": {"listen": f"127.0.0.1:{port}", "retry_every": "1s"},
        "feeds": [{"name": "news", "url": server.url("/feed"), "every": "1s"}],
        "outputs": {
            "hook": {"type": "webhook", "url": receiver.url, "secret": "${HOOK_SECRET}"},
            "archive": {"type": "file", "path": "archive"},
        },
        "posts": [{"name": "social", "outputs": ["hook"]}],
    }
    data.update(extra)
    return write_config(tmp_path, data)


@pytest.fixture
def running(
    tmp_path: Path, server: FeedServer, receiver: WebhookReceiver, state: State
) -> Iterator[Daemon]:
    """A daemon on each engine."""
    server.serve("/feed", rss(article_items(2)))
    port = free_port()
    daemon = Daemon(
        daemon_config(tmp_path, server, receiver, port, state.value),
        port,
        env={"HOOK_SECRET": SECRET},
    )
    wait_for(daemon.healthy)
    yield daemon
    daemon.stop()


def test_a_new_article_is_posted_within_its_interval(
    running: Daemon, server: FeedServer, receiver: WebhookReceiver
) -> None:
    wait_for(lambda: "feed 'news'" in running.logs() or len(server.hits("/feed")) >= 2)
    assert receiver.received == []  # the first poll was a baseline
    server.serve("/feed", rss(article_items(2) + article_items(1, prefix="fresh")))
    wait_for(lambda: receiver.received, timeout=10)
    ((_, payload),) = receiver.received
    assert payload["data"]["articles"][0]["title"] == "Story fresh1"
    sent = 'dispatch_deliveries_total{output="hook",status="sent"} 1.0'
    # The receiver has the post a moment before the daemon has recorded it and counted it.
    wait_for(lambda: sent in running.get("/metrics")[1], timeout=10)
    status, metrics = running.get("/metrics")
    assert status == 200
    assert sent in metrics
    assert 'dispatch_articles_found_total{feed="news"} 1.0' in metrics
    assert "dispatch_send_seconds_count" in metrics
    assert 'dispatch_polls_total{feed="news",result="not-modified"}' in metrics
    assert running.stop() == 0
    assert "stopped" in running.logs()


def test_one_poll_job_keeps_each_feeds_own_interval(
    tmp_path: Path, server: FeedServer, receiver: WebhookReceiver
) -> None:
    """The daemon polls every due feed in one job on the shortest interval: the 1 s feeds are
    polled each second and their news posted, the hourly one is polled once, at the start.
    """
    fast = [f"/fast{n}" for n in range(20)]
    for path in [*fast, "/hourly"]:
        server.serve(path, rss(article_items(1, prefix=path[1:])))
    port = free_port()
    config = daemon_config(
        tmp_path,
        server,
        receiver,
        port,
        feeds=[
            *({"name": path[1:], "url": server.url(path), "every": "1s"} for path in fast),
            {"name": "hourly", "url": server.url("/hourly"), "every": "1h"},
        ],
    )
    daemon = Daemon(config, port, env={"HOOK_SECRET": SECRET})
    try:
        wait_for(lambda: all(server.hits(path) for path in fast), timeout=15)
        for path in [*fast, "/hourly"]:
            server.serve(
                path, rss(article_items(1, prefix=path[1:]) + article_items(1, f"{path[1:]}-new"))
            )
        wait_for(lambda: len(receiver.received) >= len(fast), timeout=20)
        wait_for(lambda: all(len(server.hits(path)) >= 4 for path in fast), timeout=20)
    finally:
        assert daemon.stop() == 0
    assert len(server.hits("/hourly")) == 1
    names = sorted(payload["data"]["articles"][0]["feed"] for _, payload in receiver.received)
    assert names == sorted(path[1:] for path in fast)


def test_a_digest_fires_on_its_schedule(
    tmp_path: Path, server: FeedServer, receiver: WebhookReceiver
) -> None:
    server.serve("/feed", rss(article_items(2)))
    port = free_port()
    config = daemon_config(
        tmp_path,
        server,
        receiver,
        port,
        posts=[],
        feeds=[{"name": "news", "url": server.url("/feed"), "every": "1s", "backfill": "all"}],
        digests=[{"name": "flash", "outputs": ["archive"], "schedule": "*/2 * * * * *"}],
    )
    daemon = Daemon(config, port, env={"HOOK_SECRET": SECRET})
    try:
        archive = tmp_path / "archive"
        wait_for(lambda: len(list(archive.glob("digest-*.json"))) == 1)
        server.serve("/feed", rss(article_items(2) + article_items(1, prefix="late")))
        wait_for(lambda: len(list(archive.glob("digest-*.json"))) == 2, timeout=10)
        titles = sorted(
            [a["title"] for a in json.loads(p.read_text())["articles"]]
            for p in archive.glob("digest-*.json")
        )
        assert titles == [["Story a2", "Story a1"], ["Story late1"]]
    finally:
        assert daemon.stop() == 0


def test_sigterm_during_a_send_leaves_no_half_done_delivery(
    tmp_path: Path, server: FeedServer, receiver: WebhookReceiver, state: State
) -> None:
    server.serve("/feed", rss(article_items(3)))
    receiver.delay = 2.0
    port = free_port()
    config = daemon_config(
        tmp_path,
        server,
        receiver,
        port,
        state.value,
        feeds=[{"name": "news", "url": server.url("/feed"), "every": "1h", "backfill": "all"}],
    )
    daemon = Daemon(config, port, env={"HOOK_SECRET": SECRET})
    wait_for(lambda: receiver.calls)  # the first send is in flight
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=15) == 0
    statuses = sorted(row[0] for row in state.rows("SELECT status FROM deliveries"))
    assert statuses == ["pending", "pending", "sent"]
    assert len(receiver.received) == 1


def test_a_second_daemon_is_refused_on_sqlite_and_shares_the_work_on_postgresql(
    running: Daemon, tmp_path: Path, state: State
) -> None:
    config = tmp_path / "second.yaml"  # the same store; no health port of its own
    listen = f"127.0.0.1:{running.port}"
    config.write_text((tmp_path / "feeds.yaml").read_text().replace(listen, "null"))
    command = [sys.executable, "-m", "dispatch", "--config", str(config), "run"]
    if state.kind == "sqlite":
        second = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert second.returncode == 3
        pid = running.process.pid
        assert f"the dispatch service (`dispatch run, pid {pid}`) is using" in second.stderr
        # `send` while the service runs: told it is not needed, and how to stop the service.
        send = subprocess.run(
            [*command[:-1], "send"], capture_output=True, text=True, timeout=30, check=False
        )
        assert send.returncode == 3, send.stderr
        assert f"(`dispatch run, pid {pid}`)" in send.stderr and f"kill {pid}" in send.stderr
    else:
        log = tmp_path / "second.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(command, stdout=out, stderr=out)
        wait_for(lambda: "dispatch is running" in log.read_text())
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    assert running.healthy()


def test_a_bad_config_on_reload_keeps_the_old_one(
    running: Daemon, tmp_path: Path, server: FeedServer, receiver: WebhookReceiver
) -> None:
    config = tmp_path / "feeds.yaml"
    good = config.read_text()
    config.write_text(good.replace("every: 1s", "every: sometimes"))
    running.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "keeping the old one" in running.logs())
    assert "feeds[0].every" in running.logs()
    server.serve("/feed", rss(article_items(2) + article_items(1, prefix="after")))
    wait_for(lambda: receiver.received, timeout=10)
    assert running.healthy()
    config.write_text(good.replace("every: 1s", "every: 2s"))
    wait_for(lambda: "configuration reloaded" in running.logs())


def test_json_logs_never_carry_secrets(
    tmp_path: Path, server: FeedServer, receiver: WebhookReceiver
) -> None:
    server.serve("/feed", rss(article_items(1)))
    port = free_port()
    canary = "whsec_" + "Y2FuYXJ5LXNlY3JldC03NzE="
    config = daemon_config(
        tmp_path,
        server,
        receiver,
        port,
        feeds=[{"name": "news", "url": server.url("/feed"), "every": "1s", "backfill": 1}],
    )
    daemon = Daemon(config, port, "--log-format", "json", env={"HOOK_SECRET": canary})
    try:
        wait_for(lambda: "not sent" in daemon.logs())  # the receiver refuses the signature
    finally:
        daemon.stop()
    lines = [json.loads(line) for line in daemon.logs().splitlines() if line.strip()]
    assert any(line.get("output") == "hook" and line["level"] == "warning" for line in lines)
    assert all({"time", "level", "message"} <= line.keys() for line in lines)
    assert canary not in daemon.logs()
