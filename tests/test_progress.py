"""A long poll shows a progress bar on a terminal (feeds done, errors, rate), and nothing of
it when its output goes to a file or a pipe.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.project import LOCAL, NOW, archive_config, article_items, rss, run_cli
from helpers.servers import FeedServer


def feeds(server: FeedServer, count: int) -> list[dict[str, str]]:
    body = rss(article_items(3))
    listed = [
        {"name": f"f{n}", "url": server.serve(f"/f{n}", body, delay=0.05)} for n in range(count)
    ]
    listed.append({"name": "broken", "url": server.url("/missing")})
    return listed


@pytest.mark.slow
def test_a_terminal_gets_a_progress_bar(server: FeedServer, tmp_path: Path) -> None:
    path = archive_config(LOCAL, tmp_path, feeds(server, 40), fetch={"concurrency": 2})
    leader, follower = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "dispatch", "--config", str(path), "poll", "--now", NOW],
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env={**environ, "TERM": "xterm", "COLUMNS": "120"},
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait(timeout=60) == 1  # the broken feed
    os.close(leader)
    text = seen.decode("utf-8", "replace")
    assert "feeds" in text and "/41" in text and "errors: 1" in text, text[-2000:]


def test_no_progress_bar_when_not_a_terminal(server: FeedServer, tmp_path: Path) -> None:
    path = archive_config(LOCAL, tmp_path, feeds(server, 5))
    result = run_cli("poll", "--now", NOW, config=path)
    assert result.code == 1
    assert "errors:" not in result.stderr and "\x1b[" not in result.stderr
