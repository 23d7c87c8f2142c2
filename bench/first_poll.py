"""Where a first poll's time goes: one `dispatch poll --all` of a corpus served by nginx, run in
this process with a stopwatch around each stage. Prints each stage's wall time (median of
``--runs`` fresh processes) and its share of the whole.

    .venv/bin/python bench/first_poll.py --feeds 200 --runs 5 [--mix classic]

Stages: start-up (imports), config (reading feeds.yaml), fetch (every HTTP request: the feeds, then
any article pages), parse (bytes to articles), identity (keys, what the store knows, new or
seen), enrich (full text and summaries, without their fetch), stories (shingles, the same story
across feeds, routing), store (writing the poll), report (printing what the poll did), and the
rest (commits, lazy imports, the command line around them). The stopwatches wrap functions of
dispatch in this process only: this is a measurement, and nothing of it is in the tests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

STAGES = (
    "start-up",
    "config",
    "fetch",
    "parse",
    "identity",
    "enrich",
    "stories",
    "store",
    "report",
    "the rest",
)


def one_run(config: Path) -> dict[str, float]:
    """A first poll in this process, timed by stage (seconds)."""
    began = time.perf_counter()
    import dispatch.app.dispatcher as dispatcher
    import dispatch.cli.report as report
    import dispatch.config as config_package
    import dispatch.ingest.parse as parse
    from dispatch.cli.main import main
    from dispatch.net.fetch import Fetcher
    from dispatch.store.core import Store

    spent: dict[str, float] = defaultdict(float)
    running: list[str] = []

    def timed(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            running.append(stage)
            try:
                return function(*args, **kwargs)
            finally:
                running.pop()
                took = time.perf_counter() - started
                spent[stage] += took
                if running:  # a stage inside another (the pages' fetch in enrich)
                    spent[running[-1]] -= took

        return wrapper

    Fetcher.fetch_all = timed("fetch", Fetcher.fetch_all)  # type: ignore[method-assign]
    parse.parse_feed = timed("parse", parse.parse_feed)
    Store.known = timed("identity", Store.known)  # type: ignore[method-assign]
    dispatcher.classify = timed("identity", dispatcher.classify)
    dispatcher.Dispatcher._enrich = timed("enrich", dispatcher.Dispatcher._enrich)  # type: ignore[method-assign]
    dispatcher.Dispatcher._stories = timed("stories", dispatcher.Dispatcher._stories)  # type: ignore[method-assign]
    dispatcher.Dispatcher._route = timed("stories", dispatcher.Dispatcher._route)  # type: ignore[method-assign]
    dispatcher._candidate = timed("stories", dispatcher._candidate)
    Store.record_poll = timed("store", Store.record_poll)  # type: ignore[method-assign]
    config_package.load_config = timed("config", config_package.load_config)
    report.print_report = timed("report", report.print_report)
    spent["start-up"] = time.perf_counter() - began
    sys.argv = ["dispatch", "--config", str(config), "poll", "--all"]
    try:
        main()
    except SystemExit as e:
        if e.code not in (0, None):
            raise
    whole = time.perf_counter() - began
    spent["the rest"] = whole - sum(spent.values())
    spent["whole"] = whole
    return dict(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mix", default="web")
    parser.add_argument("--backfill", type=int, default=3)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # a run, in a fresh process
    arguments = parser.parse_args()
    if arguments.one:
        print(json.dumps(one_run(arguments.one)))
        return

    import corpus
    from servers import Nginx

    data = Path(__file__).resolve().parent / ".data"
    data.mkdir(exist_ok=True)
    folder = data / f"corpus-{arguments.mix}-{arguments.feeds}"
    every = corpus.write(folder, arguments.feeds, mix=arguments.mix)
    nginx = Nginx(data)
    runs: list[dict[str, float]] = []
    try:
        for _ in range(arguments.runs):
            with tempfile.TemporaryDirectory() as work:
                config = Path(work) / "feeds.yaml"
                feeds = [
                    {
                        "name": feed.name,
                        "url": nginx.url(f"{folder.name}/{feed.path}"),
                        "backfill": arguments.backfill,
                    }
                    for feed in every
                ]
                config.write_text(
                    yaml.safe_dump(
                        {
                            "state": "dispatch.db",
                            "allow_private_networks": True,
                            "fetch": {"concurrency": 64, "per_host": 64, "timeout": "60s"},
                            "feeds": feeds,
                        }
                    )
                )
                output = subprocess.run(
                    [sys.executable, __file__, "--one", str(config)],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=work,
                ).stdout
                runs.append(json.loads(output.splitlines()[-1]))
    finally:
        nginx.stop()
    whole = statistics.median(run["whole"] for run in runs)
    print(
        f"first poll of {arguments.feeds} feeds ({arguments.mix} corpus, "
        f"backfill {arguments.backfill})"
    )
    print(f"{'stage':<10} {'wall':>9} {'share':>6}")
    for stage in STAGES:
        seconds = statistics.median(run.get(stage, 0.0) for run in runs)
        print(f"{stage:<10} {seconds:>8.3f}s {seconds / whole:>6.0%}")
    print(f"{'whole':<10} {whole:>8.3f}s   (median of {len(runs)})")


if __name__ == "__main__":
    main()
