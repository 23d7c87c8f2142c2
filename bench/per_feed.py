"""CPU time for one changed 100 KB WordPress feed (20 items of WordPress's own feed template;
``--mix classic``: the classic corpus's plainer one), from its bytes to its articles stored:
parse (the fast path), tell new from seen, and write, in a real SQLite file. Prints the median
in seconds. The fetch is not in it: bench/run.py times whole polls, fetches included.

By default every one of the feed's 20 articles is new. With ``--one-new`` the feed is one
the store has read before, and it changed the way feeds usually do: one new article on top,
the other 20 as they were.

Each feed is written in a transaction of its own, and pays a commit (with its fsync, in
SQLite's write-ahead log). A poll writes all its changed feeds in one transaction;
``--in-poll N`` does so with N changed feeds and prints the CPU of the whole divided by N: a
feed's share of a poll.

    .venv/bin/python bench/per_feed.py --runs 50
    .venv/bin/python bench/per_feed.py --runs 50 --one-new
    .venv/bin/python bench/per_feed.py --runs 50 --in-poll 20 [--one-new]
    .venv/bin/python bench/per_feed.py --runs 50 --mix classic
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus
from dispatch.ingest.parse import parse_feed
from dispatch.models import FeedUpdate, Route
from dispatch.plan.decisions import classify
from dispatch.store.core import Store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--one-new", action="store_true", help="one new article, 20 seen")
    parser.add_argument("--mix", choices=sorted(corpus.MIXES), default="web")
    parser.add_argument("--in-poll", type=int, default=1, help="feeds a transaction (a poll)")
    arguments = parser.parse_args()
    feed = corpus.feeds(1, arguments.mix)[0]
    render = corpus.RENDER[feed.kind]
    now = datetime(2026, 11, 27, tzinfo=UTC)
    url = "https://news0.example/feed/"
    times = []
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "state.db")

        def record(name: str, body: bytes) -> int:
            """Poll ``body`` as feed ``name``; the count of articles new or written again."""
            parsed = parse_feed(name, body, url=url, stored=partial(store.fingerprints, name))
            decision = classify(
                parsed.articles, store.known(name, (a.key for a in parsed.articles)), "all"
            )
            store.record_poll(
                FeedUpdate(
                    feed=name,
                    url=url,
                    etag=None,
                    last_modified=None,
                    body_hash=hashlib.sha256(body).hexdigest(),
                    new=decision.new,
                    baseline=decision.baseline,
                    updated=decision.updated,
                    routes=[Route()] * len(decision.new),  # recorded, routed nowhere
                ),
                now,
                now + timedelta(minutes=15),
            )
            return len(decision.new) + len(decision.updated)

        feeds = arguments.in_poll
        for run in range(arguments.runs + 3):
            bodies = {}
            for n in range(feeds):
                name = f"wp-{run}-{n}"
                body = render(feed, run * feeds + n, 20)
                if arguments.one_new:
                    record(name, body.encode())  # read before: its 20 articles are stored
                    body = with_one_more(render(feed, run * feeds + n, 21), body)
                bodies[name] = body.encode()
            started = time.process_time()
            with store.batch():
                written = [record(name, body) for name, body in bodies.items()]
            times.append((time.process_time() - started) / feeds)
            assert set(written) == {1 if arguments.one_new else 20}, written
        store.close()
    print(
        f"{statistics.median(times[3:]):.6f} seconds "
        f"(median of {arguments.runs}, {len(body):,} bytes"
        + (f", a share of a poll of {feeds} feeds)" if feeds > 1 else ")")
    )


def with_one_more(longer: str, body: str) -> str:
    """The feed with one new item on top (from ``longer``, the same feed with one more item),
    the others byte for byte as they were.
    """
    newest = longer[longer.index("<item>") : longer.index("</item>") + len("</item>")]
    first = body.index("<item>")
    return body[:first] + newest + body[first:]


if __name__ == "__main__":
    main()
