"""The clock stepped under `dispatch run` (issue #23, item 4): an hour back, then two days
forward, as NTP, an operator or a resumed VM would step it. The daemon runs as a process under
libfaketime (Debian's faketime), whose offset the test rewrites while it runs; the steady
(monotonic) clock is left alone, as a real step leaves it.

Stepped back, the scheduler would wait an hour for every job and each feed's next poll would lie
an hour off: nothing would be polled or sent for that hour. Stepped forward past a digest's
schedule, an issue is skipped. What must hold: no feed starved, no digest twice, none skipped
without a note.
"""

from __future__ import annotations

import glob
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.prepared import needs
from helpers.project import article_items, rss, wait_for, write_config
from helpers.servers import FeedServer, free_port
from test_daemon import Daemon

pytestmark = [pytest.mark.slow]

LIBFAKETIME = next(iter(sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))), None)


@pytest.fixture
def stepped(tmp_path: Path, server: FeedServer) -> Iterator[tuple[Daemon, Path]]:
    needs("libfaketime (tests/prepare.sh installs Debian's faketime)", LIBFAKETIME is not None)
    offset = tmp_path / "offset"
    offset.write_text("+0")
    server.serve("/feed", rss(article_items(2)))
    port = free_port()
    config = write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "daemon": {"listen": f"127.0.0.1:{port}", "retry_every": "1s"},
            "feeds": [{"name": "news", "url": server.url("/feed"), "every": "2s"}],
            "outputs": {"files": {"type": "file", "path": "out"}},
            "posts": [{"name": "social", "outputs": ["files"]}],
            "digests": [{"name": "daily", "outputs": ["files"], "schedule": "0 7 * * *"}],
        },
    )
    daemon = Daemon(
        config,
        port,
        env={
            "LD_PRELOAD": str(LIBFAKETIME),
            "FAKETIME_TIMESTAMP_FILE": str(offset),
            "FAKETIME_NO_CACHE": "1",  # the offset is read again at each call
            "DONT_FAKE_MONOTONIC": "1",
        },
    )
    wait_for(daemon.healthy, timeout=30)
    yield daemon, offset
    assert daemon.stop() == 0


def step(offset: Path, value: str) -> None:
    """Set libfaketime's offset at once: a half-written file would read as another step."""
    draft = offset.with_suffix(".draft")
    draft.write_text(value)
    os.replace(draft, offset)


def files(tmp_path: Path, kind: str) -> list[Path]:
    return sorted((tmp_path / "out").glob(f"{kind}-*.json"))


def test_stepped_back_an_hour_and_forward_two_days_nothing_starves_doubles_or_goes_unsaid(
    stepped: tuple[Daemon, Path], server: FeedServer, tmp_path: Path
) -> None:
    daemon, offset = stepped
    wait_for(lambda: len(server.hits("/feed")) >= 2, timeout=30)  # the baseline, and after
    assert files(tmp_path, "post") == []

    step(offset, "-3600")  # an hour back
    wait_for(lambda: "the clock jumped back by" in daemon.logs(), timeout=30)
    server.serve("/feed", rss(article_items(2) + article_items(1, prefix="back")))
    # Polled and posted at once, not an hour later.
    wait_for(lambda: len(files(tmp_path, "post")) == 1, timeout=30)
    server.serve("/feed", rss(article_items(2) + article_items(2, prefix="back")))
    wait_for(lambda: len(files(tmp_path, "post")) == 2, timeout=30)

    step(offset, "+172800")  # two days on: tomorrow's issue is stepped over
    wait_for(lambda: "the clock jumped forward by" in daemon.logs(), timeout=30)
    # Today's issue (if its digest job came before the step) and the latest one are made;
    # the one stepped over is noted, whichever way.
    wait_for(lambda: "1 scheduled issue(s) between" in daemon.logs(), timeout=30)
    assert "their articles are in this one" in daemon.logs()
    server.serve("/feed", rss(article_items(2) + article_items(3, prefix="back")))
    wait_for(lambda: len(files(tmp_path, "post")) == 3, timeout=30)
    with sqlite3.connect(tmp_path / "state.db") as db:
        periods = db.execute("SELECT period, COUNT(*) FROM digests GROUP BY period").fetchall()
        waiting = db.execute("SELECT COUNT(*) FROM digest_queue").fetchone()[0]
    assert periods and all(count == 1 for _, count in periods)  # no issue twice
    assert len(files(tmp_path, "digest")) == len(periods)
    assert waiting <= 1  # only the article found after the latest issue waits
    assert "Traceback" not in daemon.logs()
    # Every line is the daemon's own, dated: none of APScheduler's bare "skipped" warnings.
    lines = [line for line in daemon.logs().splitlines() if line.strip()]
    assert all(line[:4].isdigit() for line in lines), lines
