"""Deliveries per second with 1, 2 and 4 `dispatch run` workers sharing one PostgreSQL store.

PostgreSQL (Debian's, default durability) runs in a folder of its own on 127.0.0.1; an aiohttp
receiver stands in for a webhook endpoint, answering at once or after a network-like delay.
For each worker count: start the workers, let them settle, then make DELIVERIES posts due
(a feed gains that many articles) and time until every one is sent.

    .venv/bin/python bench/scaling.py [--deliveries 1000] [--workers 1 2 4] [--delay-ms 0 50]
        [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from corpus import Feed, wordpress  # noqa: E402
from postgres import PostgresServer  # noqa: E402
from servers import free_port  # noqa: E402


class Receiver:
    """An aiohttp webhook endpoint on its own thread: counts requests, waits ``delay`` first."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.count = 0
        self.port = free_port()
        self.ready = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()
        self.ready.wait()

    def _serve(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            await request.read()
            if self.delay:
                await asyncio.sleep(self.delay)
            self.count += 1
            return web.Response(status=204)

        async def main() -> None:
            app = web.Application()
            app.router.add_post("/hook", hook)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port, backlog=1024).start()
            self.ready.set()
            await asyncio.Event().wait()

        asyncio.run(main())


def run(server: PostgresServer, workers: int, deliveries: int, delay: float) -> float:
    work = Path(tempfile.mkdtemp(prefix="bench-scaling-"))
    receiver = Receiver(delay)
    feed = work / "feed.xml"
    feed.write_text(wordpress(Feed("wp", 0), items=1))
    config = work / "feeds.yaml"
    url = server.database()
    config.write_text(
        yaml.safe_dump(
            {
                "state": url,
                "allow_private_networks": True,
                "daemon": {"listen": None, "retry_every": "1s", "lease": "1m"},
                "feeds": [{"name": "news", "url": str(feed), "every": "1d"}],
                "outputs": {
                    "hook": {
                        "type": "webhook",
                        "url": f"http://127.0.0.1:{receiver.port}/hook",
                        "max_posts_per_run": 1_000_000,
                    }
                },
                "posts": [{"name": "social", "outputs": ["hook"]}],
            }
        )
    )
    env = {**os.environ, "PGPASSWORD": server.password}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    dispatch = [sys.executable, "-m", "dispatch", "--config", str(config)]
    subprocess.run([*dispatch, "poll"], env=env, check=True, capture_output=True)
    processes = [
        subprocess.Popen(
            [*dispatch, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(workers)
    ]
    time.sleep(4)  # started, migrated, first jobs done: idle and polling the outbox
    feed.write_text(wordpress(Feed("wp", 0), generation=1, items=deliveries))
    subprocess.run([*dispatch, "poll", "--all"], env=env, check=True, capture_output=True)
    began = time.perf_counter()
    with psycopg.connect(url, password=server.password, autocommit=True) as watch:
        while True:
            (sent,) = watch.execute(
                "SELECT COUNT(*) FROM deliveries WHERE status = 'sent'"
            ).fetchone() or (0,)
            if sent >= deliveries:
                break
            time.sleep(0.05)
    seconds = time.perf_counter() - began
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=60)
    assert receiver.count >= deliveries
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--delay-ms", type=int, nargs="+", default=[0, 50])
    parser.add_argument("--runs", type=int, default=1, help="report the median of this many")
    arguments = parser.parse_args()
    server = PostgresServer(durable=True)
    server.start()
    rows: list[tuple[Any, ...]] = []
    try:
        for delay in arguments.delay_ms:
            base = None
            for workers in arguments.workers:
                seconds = statistics.median(
                    run(server, workers, arguments.deliveries, delay / 1000)
                    for _ in range(arguments.runs)
                )
                rate = arguments.deliveries / seconds
                base = base or rate
                rows.append((delay, workers, seconds, rate, rate / base))
                print(f"delay {delay} ms, {workers} worker(s): {rate:.0f}/s", flush=True)
    finally:
        server.stop()
    print()
    print("| receiver delay | workers | seconds | deliveries/s | vs 1 worker |")
    print("| --- | --- | --- | --- | --- |")
    for delay, workers, seconds, rate, ratio in rows:
        print(f"| {delay} ms | {workers} | {seconds:.1f} | {rate:.0f} | {ratio:.2f}× |")


if __name__ == "__main__":
    main()
