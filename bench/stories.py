"""The cost of finding each new article's story, with the shingle index against comparing with
every recent article (what the first version did), on the benchmark's WordPress corpus.

    .venv/bin/python bench/stories.py [--feeds 100]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus
from dispatch.enrich.stories import StoryIndex, shingles, similarity
from dispatch.ingest.parse import parse_feed
from dispatch.models import Candidate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=100)
    arguments = parser.parse_args()
    articles = []
    for feed in corpus.feeds(arguments.feeds):
        if feed.kind != "wp":
            continue
        body = corpus.wordpress(feed).encode()
        articles += parse_feed(feed.name, body, url=f"https://{feed.name}.example/").articles
    prepared = [
        Candidate(n, n, a.feed, a.source, a.link, a.title, a.text, shingles(a.title, a.text))
        for n, a in enumerate(articles)
    ]
    started = time.perf_counter()
    index = StoryIndex()
    merged = 0
    for candidate in prepared:
        merged += (
            index.find(candidate.feed, candidate.norm_link, candidate.shingles, 0.5) is not None
        )
        index.add(candidate)
    indexed = time.perf_counter() - started
    started = time.perf_counter()
    for number, candidate in enumerate(prepared):
        for other in prepared[:number]:
            if other.feed != candidate.feed:
                similarity(candidate.shingles, other.shingles)
    naive = time.perf_counter() - started
    count = len(prepared)
    print(f"{count:,} new articles, {merged} merged")
    print(f"index: {indexed:.2f} s ({indexed / count * 1e3:.2f} ms an article)")
    print(f"every pair: {naive:.2f} s ({naive / count * 1e3:.2f} ms an article)")
    print(f"ratio: {naive / indexed:.0f}x")


if __name__ == "__main__":
    main()
