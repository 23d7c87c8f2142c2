"""Push through `dispatch run` (issue #21): the daemon subscribes to the hub its first poll
finds, serves the callback, and posts what a hub pushes without polling again; `dispatch
status` says the feed is pushed. Against the spec's hub (``helpers.hub``) and, for
interoperability, flask-websub's hub from PyPI, written by others, started locally.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from helpers.hub import SpecHub
from helpers.project import ROOT, run_cli, wait_for, write_config
from helpers.servers import FeedServer, free_port
from helpers.webhooks import SECRET, WebhookReceiver
from test_daemon import Daemon
from test_websub import atom

pytestmark = [pytest.mark.slow]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    standin = WebhookReceiver(SECRET)
    yield standin
    standin.stop()


def pushed_config(
    tmp_path: Path, server: FeedServer, receiver: WebhookReceiver
) -> tuple[Path, int]:
    callback = free_port()
    data: dict[str, Any] = {
        "state": "state.db",
        "allow_private_networks": True,
        "daemon": {"listen": f"127.0.0.1:{free_port()}", "retry_every": "1s"},
        "websub": {"listen": f"127.0.0.1:{callback}", "public_url": f"http://127.0.0.1:{callback}"},
        "feeds": [{"name": "news", "url": server.url("/feed"), "every": "1h"}],
        "outputs": {"hook": {"type": "webhook", "url": receiver.url, "secret": "${HOOK_SECRET}"}},
        "posts": [{"name": "social", "outputs": ["hook"]}],
    }
    return write_config(tmp_path, data), int(data["daemon"]["listen"].rsplit(":", 1)[1])


def subscription_states(tmp_path: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(tmp_path / "state.db") as connection:
        try:
            return [row[0] for row in connection.execute("SELECT state FROM subscriptions")]
        except sqlite3.OperationalError:  # not created yet
            return []


def posted_titles(receiver: WebhookReceiver) -> list[str]:
    return [a["title"] for _, payload in receiver.received for a in payload["data"]["articles"]]


def test_the_daemon_subscribes_and_posts_what_the_hub_pushes(
    tmp_path: Path, server: FeedServer, receiver: WebhookReceiver
) -> None:
    hub = SpecHub(grant=86400)
    topic = server.url("/feed")
    server.serve("/feed", atom(hub.url, topic, [1, 2]), content_type="application/atom+xml")
    config, port = pushed_config(tmp_path, server, receiver)
    daemon = Daemon(config, port, env={"HOOK_SECRET": SECRET})
    try:
        wait_for(lambda: subscription_states(tmp_path) == ["live"], timeout=30)
        wait_for(lambda: hub.subscribers)  # recorded once our answer is back with it
        assert hub.publish(topic, atom(hub.url, topic, [3, 1, 2])) == [202]
        wait_for(lambda: posted_titles(receiver), timeout=30)
        assert posted_titles(receiver) == ["Story 3"]
        assert len(server.hits("/feed")) == 1  # the first poll; the rest was pushed
        shown = run_cli("status", config=config)
        assert shown.code == 0
        assert f"pushed by 127.0.0.1:{hub.httpd.server_address[1]}" in " ".join(
            shown.stdout.split()
        )
        wait_for(lambda: "dispatch_websub_notifications_total" in daemon.get("/metrics")[1])
        assert 'feed="news",result="taken"} 1.0' in daemon.get("/metrics")[1]
    finally:
        assert daemon.stop() == 0
        hub.stop()
    assert "Traceback" not in daemon.logs()


@pytest.fixture
def flask_hub(tmp_path: Path) -> Iterator[str]:
    pytest.importorskip("flask_websub")
    port = free_port()
    log = (tmp_path / "hub.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "helpers" / "flask_hub.py"),
            str(port),
            str(tmp_path / "hub.db"),
        ],
        stdout=log,
        stderr=log,
    )

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def hub_subscriptions(base: str) -> list[list[str]]:
    with urllib.request.urlopen(base + "/subscriptions", timeout=5) as response:
        return list(json.loads(response.read()))


def test_interoperates_with_flask_websubs_hub(
    tmp_path: Path, server: FeedServer, receiver: WebhookReceiver, flask_hub: str
) -> None:
    hub = flask_hub + "/hub"
    topic = server.url("/feed")
    # flask-websub distributes only topics whose Link header names the hub and the topic.
    link = {"Link": f'<{hub}>; rel="hub", <{topic}>; rel="self"'}
    server.serve(
        "/feed", atom(None, topic, [1, 2]), content_type="application/atom+xml", headers=link
    )
    config, port = pushed_config(tmp_path, server, receiver)
    daemon = Daemon(config, port, env={"HOOK_SECRET": SECRET})
    try:
        wait_for(lambda: subscription_states(tmp_path) == ["live"], timeout=30)
        # The hub writes its own record once our answer to its challenge is back with it.
        ((subscribed_topic, callback),) = wait_for(lambda: hub_subscriptions(flask_hub))
        assert subscribed_topic == topic and "/websub/" in callback
        # The publisher changes the feed and pings the hub; the hub fetches it and pushes it
        # to us signed (sha512, flask-websub's default).
        server.serve(
            "/feed", atom(None, topic, [3, 1, 2]), content_type="application/atom+xml", headers=link
        )
        publish = urlencode({"hub.mode": "publish", "hub.topic": topic}).encode()
        with urllib.request.urlopen(urllib.request.Request(hub, data=publish), timeout=30) as r:
            assert r.status == 202
        wait_for(lambda: posted_titles(receiver), timeout=30)
        assert posted_titles(receiver) == ["Story 3"]
        dispatch_polls = [
            r for r in server.hits("/feed") if "dispatch" in r.headers.get("user-agent", "")
        ]
        assert len(dispatch_polls) == 1  # pushed, not polled
        # The feed leaves feeds.yaml: the daemon reloads and unsubscribes; the hub verifies.
        data = json.loads(json.dumps(__import__("yaml").safe_load(config.read_text())))
        data["feeds"] = [{"name": "other", "url": server.url("/other"), "every": "1h"}]
        server.serve("/other", atom(None, server.url("/other"), [9]))
        time.sleep(1.1)  # a new modification time for the reload to notice
        write_config(tmp_path, data)
        wait_for(lambda: subscription_states(tmp_path) == [], timeout=30)
        wait_for(lambda: hub_subscriptions(flask_hub) == [], timeout=30)
    finally:
        assert daemon.stop() == 0
    assert "Traceback" not in daemon.logs()
