"""Overload (issue #23, item 7): 50,000 posts pending for a webhook that takes 1 s to answer,
under `dispatch run`. For a minute it samples, every second, how long /healthz takes to answer
and the daemon's resident memory, threads and open descriptors; then it sends SIGTERM and times
the stop; then it counts, in the store and at the receiver, that nothing was lost or sent twice.

    .venv/bin/python bench/overload.py                    # 50,000 posts, a minute
    .venv/bin/python bench/overload.py --posts 5000 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import yaml

from servers import WebhookSink, free_port

FEEDS = 50


def feed(number: int, items: int) -> str:
    entries = "".join(
        f"<item><title>Feed {number} story {i}</title><link>https://n{number}.example/{i}</link>"
        f"<guid>n{number}-{i}</guid><description>Story {i} of feed {number}.</description></item>"
        for i in range(items)
    )
    head = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {number}</title>'
    return f"{head}{entries}</channel></rss>"


def proc(pid: int) -> tuple[float, int, int]:
    """Resident MB, threads, open descriptors."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss = int(fields["VmRSS"].split()[0]) / 1024
    threads = int(fields["Threads"])
    return rss, threads, len(os.listdir(f"/proc/{pid}/fd"))


def healthz(port: int) -> float:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
            json.loads(r.read())
    except OSError:
        return float("inf")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=50_000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--delay", type=float, default=1.0)
    arguments = parser.parse_args()
    received: list[str] = []  # each post's webhook-id, as it was taken
    receiver = WebhookSink(
        lambda headers, _: received.append(headers.get("webhook-id", "")), arguments.delay
    )
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        per_feed = arguments.posts // FEEDS
        for n in range(FEEDS):
            (root / f"feed{n}.xml").write_text(feed(n, 1))
        config = {
            "state": "state.db",
            "allow_private_networks": True,
            "daemon": {"listen": f"127.0.0.1:{port}", "retry_every": "1s"},
            "feeds": [
                {"name": f"f{n}", "url": f"feed{n}.xml", "every": "1h"} for n in range(FEEDS)
            ],
            "outputs": {"hook": {"type": "webhook", "url": receiver.url, "secret": "s3cret"}},
            "posts": [{"name": "social", "outputs": ["hook"]}],
        }
        (root / "feeds.yaml").write_text(yaml.safe_dump(config))
        dispatch = [sys.executable, "-m", "dispatch", "--config", str(root / "feeds.yaml")]
        subprocess.run([*dispatch, "poll"], check=True, capture_output=True)  # the baseline
        for n in range(FEEDS):
            (root / f"feed{n}.xml").write_text(feed(n, per_feed + 1))
        start = time.perf_counter()
        subprocess.run(
            [*dispatch, "poll", "--all", "--now", "2030-01-01T00:00:00+00:00"],
            check=True,
            capture_output=True,
        )
        poll_seconds = time.perf_counter() - start
        with sqlite3.connect(root / "state.db") as db:
            pending = db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
        print(f"{pending:,} posts pending after a poll of {poll_seconds:.1f}s")

        log = (root / "daemon.log").open("wb")
        daemon = subprocess.Popen([*dispatch, "run"], stdout=log, stderr=log)
        while healthz(port) == float("inf"):
            time.sleep(0.1)
        samples = []
        for _ in range(arguments.seconds):
            time.sleep(1)
            samples.append((healthz(port), *proc(daemon.pid)))
        stop = time.perf_counter()
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(120)
        stopped = time.perf_counter() - stop
        with sqlite3.connect(root / "state.db") as db:
            states = dict(db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status"))
        log.close()
        tracebacks = (root / "daemon.log").read_text().count("Traceback")
    answers = [s[0] for s in samples]
    rss = [s[1] for s in samples]
    ids = Counter(received)
    print(
        f"/healthz over {len(samples)} s: max {max(answers) * 1000:.0f} ms, "
        f"median {sorted(answers)[len(answers) // 2] * 1000:.1f} ms"
    )
    print(
        f"resident memory: {rss[0]:.0f} MB at first, {max(rss):.0f} MB at most, "
        f"{rss[-1]:.0f} MB at the end"
    )
    print(
        f"threads: {min(s[2] for s in samples)} to {max(s[2] for s in samples)}; "
        f"descriptors: {min(s[3] for s in samples)} to {max(s[3] for s in samples)}"
    )
    print(f"SIGTERM to exit: {stopped:.2f} s (exit code {code}; shutdown_timeout 30 s)")
    print(
        f"deliveries: {states}; the receiver got {len(ids):,} distinct, "
        f"{sum(ids.values()) - len(ids)} repeated; tracebacks in the log: {tracebacks}"
    )
    total = sum(states.values())
    assert total == pending, (total, pending)
    assert states.get("sent", 0) <= len(ids)


if __name__ == "__main__":
    main()
