"""CPU time for one changed 100 KB WordPress feed, from its bytes to its articles stored:
parse (the fast path), tell new from seen, and write, in a real SQLite file. Prints the median
in seconds. The fetch is not in it: bench/run.py times whole polls, fetches included.

    .venv/bin/python bench/per_feed.py --runs 50
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus
from dispatch.parse import parse_feed
from dispatch.plan import classify
from dispatch.store import FeedUpdate, Route, Store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    runs = parser.parse_args().runs
    feed = corpus.feeds(1)[0]
    now = datetime(2026, 11, 27, tzinfo=UTC)
    times = []
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "state.db")
        for run in range(runs + 3):
            name = f"wp-{run}"
            body = corpus.wordpress(feed, generation=run).encode()
            started = time.process_time()
            parsed = parse_feed(name, body, url="https://news0.example/feed/")
            decision = classify(
                parsed.articles, store.known(name, (a.key for a in parsed.articles)), "all"
            )
            store.record_poll(
                FeedUpdate(
                    feed=name,
                    url="https://news0.example/feed/",
                    etag=None,
                    last_modified=None,
                    body_hash=hashlib.sha256(body).hexdigest(),
                    new=decision.new,
                    baseline=decision.baseline,
                    routes=[Route()] * len(decision.new),  # recorded, routed nowhere
                ),
                now,
                now + timedelta(minutes=15),
            )
            times.append(time.process_time() - started)
        store.close()
    print(f"{statistics.median(times[3:]):.6f} seconds (median of {runs}, {len(body):,} bytes)")


if __name__ == "__main__":
    main()
