"""Median time to render a 20-article digest (subject, MJML compiled to HTML, text twin) from
articles of the benchmark corpus, summarised as a real poll would. Prints seconds.

    .venv/bin/python bench/render_digest.py --runs 50
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus
from dispatch.enrich.summarise import ExtractiveSummariser
from dispatch.ingest.parse import parse_feed
from dispatch.render.renderer import Renderer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    runs = parser.parse_args().runs
    feed = corpus.feeds(1)[0]
    body = corpus.wordpress(feed).encode()
    parsed = parse_feed(feed.name, body, url="https://news0.example/feed/")
    summariser = ExtractiveSummariser(300)
    articles = [
        replace(a, summary=summariser.summarise(a, a.text), id=n)
        for n, a in enumerate(parsed.articles, 1)
    ]
    assert len(articles) == 20
    renderer = Renderer()
    period = datetime(2026, 11, 27, 7, tzinfo=UTC)
    times = []
    for _ in range(runs + 3):
        started = time.perf_counter()
        renderer.digest(
            name="daily", title="The Daily", articles=articles, period=period, timezone="UTC"
        )
        times.append(time.perf_counter() - started)
    print(f"{statistics.median(times[3:]):.6f} seconds (median of {runs})")


if __name__ == "__main__":
    main()
