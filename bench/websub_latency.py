"""Publish-to-post latency (issue #21, part 5): `dispatch run` subscribed through WebSub to a
local hub (the spec's hub of the tests, ``tests/helpers/hub.py``), which publishes 100 new
items one by one; each latency is from the moment the hub starts notifying to the moment a
local webhook receives the post. Reported as p50 and p95, beside polling every 5 minutes.

    .venv/bin/python bench/websub_latency.py            # 100 items
    .venv/bin/python bench/websub_latency.py --items 20

Polling is not waited out for real (100 items × up to 5 minutes): an item published at a
random moment waits for the next poll, uniformly 0 to 5 minutes, and then for the same
processing a push gets. So the polling figures are that wait (its exact percentiles, 150 s and
285 s) plus the measured time from a poll's start to the post, measured here on the same
daemon with the feed polled every second.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers.hub import SpecHub  # noqa: E402  (the tests' hub, written from the spec)

POLL_EVERY = 300.0  # seconds: the polling the push is compared with


class Receiver:
    """A webhook endpoint noting when each article's post arrives."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.event = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(204)
                self.end_headers()
                with receiver.event:
                    for article in json.loads(body)["data"]["articles"]:
                        receiver.arrived.setdefault(article["title"], at)
                    receiver.event.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def wait(self, title: str, timeout: float = 60.0) -> float:
        with self.event:
            if not self.event.wait_for(lambda: title in self.arrived, timeout):
                raise SystemExit(f"{title!r} was not posted within {timeout:g}s")
            return self.arrived[title]


class Publisher:
    """The publisher's feed, growing one item at a time, naming the hub."""

    def __init__(self, hub: str) -> None:
        self.hub = hub
        self.items: list[int] = [0]
        self.requests: list[float] = []  # when each request came
        publisher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                publisher.requests.append(time.perf_counter())
                body = publisher.body()
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/feed"

    def body(self) -> bytes:
        entries = "".join(
            f"<entry><title>Item {i}</title><id>urn:item:{i}</id>"
            f'<link href="https://news.example/{i}"/><updated>2026-12-01T08:00:00Z</updated>'
            f'<content type="html">&lt;p&gt;The text of item {i}.&lt;/p&gt;</content></entry>'
            for i in reversed(self.items[-20:])
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f'<title>News</title><id>urn:news</id><link rel="self" href="{self.url}"/>'
            f'<link rel="hub" href="{self.hub}"/>{entries}</feed>'
        ).encode()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_daemon(
    folder: Path, feed: str, hook: str, every: str, *, push: bool
) -> subprocess.Popen[bytes]:
    callback = free_port()
    config: dict[str, Any] = {
        "state": "state.db",
        "allow_private_networks": True,
        "summary": {"max_chars": 280},
        "daemon": {"listen": None, "retry_every": "1s"},
        "websub": {"listen": f"127.0.0.1:{callback}", "public_url": f"http://127.0.0.1:{callback}"},
        "feeds": [{"name": "news", "url": feed, "every": every, "full_text": "never"}],
        "outputs": {"hook": {"type": "webhook", "url": hook, "secret": "bench-secret"}},
        "posts": [{"name": "social", "outputs": ["hook"]}],
    }
    if not push:
        del config["websub"]
    (folder / "feeds.yaml").write_text(yaml.safe_dump(config))
    log = (folder / "daemon.log").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    return subprocess.Popen(
        [sys.executable, "-m", "dispatch", "--config", str(folder / "feeds.yaml"), "run"],
        stdout=log,
        stderr=log,
        env=env,
    )


def live(folder: Path) -> bool:
    import sqlite3

    try:
        with sqlite3.connect(folder / "state.db") as db:
            return db.execute("SELECT state FROM subscriptions").fetchall() == [("live",)]
    except sqlite3.Error:
        return False


def pushed(items: int) -> list[float]:
    """Seconds from the hub's notification to the post, for each item."""
    hub, receiver = SpecHub(grant=86400), Receiver()
    publisher = Publisher(hub.url)
    with tempfile.TemporaryDirectory() as folder:
        daemon = start_daemon(Path(folder), publisher.url, receiver.url, "1h", push=True)
        try:
            deadline = time.monotonic() + 60
            while not live(Path(folder)):
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise SystemExit((Path(folder) / "daemon.log").read_text()[-2000:])
                time.sleep(0.05)
            latencies = []
            for i in range(1, items + 1):
                publisher.items.append(i)
                start = time.perf_counter()
                statuses = hub.publish(publisher.url, publisher.body())
                assert statuses == [202], statuses
                latencies.append(receiver.wait(f"Item {i}") - start)
            return latencies
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
            hub.stop()


def polled_processing(items: int) -> list[float]:
    """Seconds from the poll that finds an item to its post: the feed polled every second,
    each item timed from the first request after it was added.
    """
    receiver = Receiver()
    publisher = Publisher("http://127.0.0.1:9/hub")  # never asked: push is off here
    with tempfile.TemporaryDirectory() as folder:
        daemon = start_daemon(Path(folder), publisher.url, receiver.url, "1s", push=False)
        try:
            deadline = time.monotonic() + 60
            while len(publisher.requests) < 2:  # the baseline poll, and one after it
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise SystemExit((Path(folder) / "daemon.log").read_text()[-2000:])
                time.sleep(0.05)
            found = []
            for i in range(1, items + 1):
                publisher.items.append(i)
                added = time.perf_counter()
                arrived = receiver.wait(f"Item {i}")
                first_poll = next(t for t in publisher.requests if t >= added)
                found.append(arrived - first_poll)
            return found
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100)
    items = parser.parse_args().items
    push = pushed(items)
    poll = polled_processing(min(items, 20))
    processing = statistics.median(poll)
    rows = [
        ("WebSub push", percentile(push, 0.5), percentile(push, 0.95), max(push)),
        (
            "polling every 5 min",
            POLL_EVERY * 0.5 + processing,
            POLL_EVERY * 0.95 + processing,
            POLL_EVERY + max(poll),
        ),
    ]
    print(f"{items} items published one by one; from the hub's notification to the webhook:")
    print(f"{'':22}{'p50':>10}{'p95':>10}{'max':>10}")
    for name, p50, p95, most in rows:
        print(f"{name:22}{p50:>9.2f}s{p95:>9.2f}s{most:>9.2f}s")
    print(f"(polling: the wait for the next poll, plus {processing:.2f}s measured from a poll's")
    sooner = rows[1][1] / rows[0][1]
    print(f" start to the post, median of {len(poll)}; push is {sooner:,.0f}x sooner at p50)")


if __name__ == "__main__":
    main()
