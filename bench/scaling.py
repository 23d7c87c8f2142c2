"""Deliveries per second with 1, 2 and 4 `dispatch run` workers sharing one PostgreSQL store,
beside one `dispatch send` on SQLite, in the same run.

PostgreSQL (Debian's, default durability) runs in a folder of its own on 127.0.0.1; an aiohttp
receiver stands in for a webhook endpoint, answering at once or after a network-like delay.
For each worker count: start the workers, let them settle, make DELIVERIES posts due (a feed
gains that many articles), and time the receiver from its first request to its last answer.
SQLite admits one sender, so its row is one `dispatch send` over the same posts.

    .venv/bin/python bench/scaling.py [--deliveries 1000] [--workers 1 2 4] [--delay-ms 0 50]
        [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
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
from helpers.postgres import PostgresServer  # noqa: E402
from servers import free_port  # noqa: E402


class Receiver:
    """An aiohttp webhook endpoint on its own thread: counts requests, waits ``delay`` before
    each answer, and notes when the first request came and the last answer went.
    """

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.count = 0
        self.first = self.last = 0.0
        self.port = free_port()
        self.ready = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()
        self.ready.wait()

    def _serve(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            await request.read()
            self.first = self.first or time.perf_counter()
            if self.delay:
                await asyncio.sleep(self.delay)
            self.count += 1
            self.last = time.perf_counter()
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


def sent(state: str, password: str) -> int:
    query = "SELECT COUNT(*) FROM deliveries WHERE status = 'sent'"
    if state.startswith("postgresql://"):
        with psycopg.connect(state, password=password, autocommit=True) as db:
            row = db.execute(query).fetchone()
    else:
        with sqlite3.connect(state) as lite:
            row = lite.execute(query).fetchone()
    return int(row[0]) if row else 0


def run(
    server: PostgresServer, workers: int, deliveries: int, delay: float, *, sqlite: bool = False
) -> float:
    """Seconds from the receiver's first request to its last answer."""
    work = Path(tempfile.mkdtemp(prefix="bench-scaling-"))
    receiver = Receiver(delay)
    feed = work / "feed.xml"
    feed.write_text(wordpress(Feed("wp", 0), items=1))
    config = work / "feeds.yaml"
    state = str(work / "state.db") if sqlite else server.database()
    config.write_text(
        yaml.safe_dump(
            {
                "state": state,
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

    def make_due() -> None:
        feed.write_text(wordpress(Feed("wp", 0), generation=1, items=deliveries))
        subprocess.run([*dispatch, "poll", "--all"], env=env, check=True, capture_output=True)

    subprocess.run([*dispatch, "poll"], env=env, check=True, capture_output=True)
    if sqlite:
        make_due()
        subprocess.run([*dispatch, "send"], env=env, check=True, capture_output=True)
    else:
        processes = [
            subprocess.Popen(
                [*dispatch, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            for _ in range(workers)
        ]
        time.sleep(4)  # started, migrated, first jobs done: idle and watching the outbox
        make_due()
        while sent(state, server.password) < deliveries:
            time.sleep(0.05)
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
    assert sent(state, server.password) == deliveries and receiver.count == deliveries
    return receiver.last - receiver.first


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

    def median(workers: int, delay: int, sqlite: bool = False) -> float:
        return statistics.median(
            run(server, workers, arguments.deliveries, delay / 1000, sqlite=sqlite)
            for _ in range(arguments.runs)
        )

    try:
        for delay in arguments.delay_ms:
            seconds = median(1, delay, sqlite=True)
            base = arguments.deliveries / seconds  # what every row is compared with
            rows.append((delay, "1, SQLite", seconds, base, 1.0))
            print(f"delay {delay} ms, SQLite: {base:.0f}/s", flush=True)
            for workers in arguments.workers:
                seconds = median(workers, delay)
                rate = arguments.deliveries / seconds
                rows.append((delay, f"{workers}, PostgreSQL", seconds, rate, rate / base))
                print(f"delay {delay} ms, {workers} worker(s): {rate:.0f}/s", flush=True)
    finally:
        server.stop()
    print()
    print("| receiver delay | workers, store | seconds | deliveries/s | vs SQLite |")
    print("| --- | --- | --- | --- | --- |")
    for delay, workers, seconds, rate, ratio in rows:
        print(f"| {delay} ms | {workers} | {seconds:.1f} | {rate:.0f} | {ratio:.2f}× |")


if __name__ == "__main__":
    main()
