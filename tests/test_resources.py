"""Resource limits against real servers: a slow drip is cut at the deadline, a body over the
cap and a gzip bomb are cut at the cap with memory bounded, a 10,000-item feed is a baseline,
and a flood of new articles is sent a capped number per run, the rest kept for later runs.
"""

from __future__ import annotations

import gzip
import socket
import threading
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dispatch.config import FetchSettings
from dispatch.errors import FetchError
from dispatch.net.fetch import Fetcher, FetchRequest
from helpers.project import LOCAL, NOW, State, archive_config, article_items, rss, run_cli
from helpers.servers import FeedServer

MB = 1_048_576


class Drip:
    """An HTTP server that promises 1,000 bytes and sends one every 0.2 s."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.sent = 0
        self.closed = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/feed"

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                b"Content-Length: 1000\r\n\r\n"
            )
            try:
                while self.sent < 1000:
                    connection.sendall(b"<")
                    self.sent += 1
                    if self.closed.wait(0.2):
                        break
            except OSError:
                pass  # dispatch hung up: what the test wants
        self.closed.set()


@pytest.fixture
def drip() -> Iterator[Drip]:
    server = Drip()
    yield server
    server.closed.set()
    server.listener.close()


def fetch(url: str, **settings: object) -> object:
    fetcher = Fetcher(FetchSettings(**settings), Path.cwd())  # type: ignore[arg-type]
    (result,) = fetcher.fetch_all([FetchRequest("probe", url, allow_private=True)])
    return result


def test_a_slow_drip_is_cut_at_the_total_deadline(drip: Drip) -> None:
    result = fetch(drip.url, timeout=timedelta(seconds=1))
    assert isinstance(result, FetchError) and "no complete answer within 1s" in result.reason
    assert drip.closed.wait(5) and drip.sent < 20  # about five bytes, then dispatch hung up


def test_a_gzip_bomb_is_cut_at_the_size_cap_with_memory_bounded(server: FeedServer) -> None:
    bomb = gzip.compress(b"<rss>" + b" " * (200 * MB), compresslevel=9)
    assert len(bomb) < MB // 2
    url = server.serve("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        result = fetch(url, max_bytes=2 * MB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(result, FetchError) and "2,097,152 bytes" in result.reason
    assert peak < 24 * MB, f"{peak / MB:.0f} MB"


@pytest.mark.slow
def test_a_ten_thousand_item_feed_is_a_baseline(server: FeedServer, tmp_path: Path) -> None:
    url = server.serve("/big", rss(article_items(10_000)))
    path = archive_config(LOCAL, tmp_path, [{"name": "big", "url": url}])
    result = run_cli("send", "--now", NOW, config=path)
    assert result.code == 0, result.stderr
    db = State("sqlite", "state.db", tmp_path / "state.db")
    assert db.rows("SELECT COUNT(*), SUM(baseline) FROM articles") == [(10_000, 10_000)]
    assert db.rows("SELECT COUNT(*) FROM deliveries") == [(0,)]


def test_a_flood_of_new_articles_is_posted_a_capped_number_per_run(
    server: FeedServer, tmp_path: Path
) -> None:
    url = server.serve("/flood", rss(article_items(120)))
    path = archive_config(LOCAL, tmp_path, [{"name": "flood", "url": url, "backfill": "all"}])
    text = path.read_text(encoding="utf-8").replace(
        "path: archive", "path: archive\n    max_posts_per_run: 30"
    )
    path.write_text(text, encoding="utf-8")
    db = State("sqlite", "state.db", tmp_path / "state.db")
    first = run_cli("send", "--now", NOW, config=path)
    assert first.code == 0, first.stderr
    assert "90 more post(s) for 'archive' wait for later runs" in first.stderr
    assert db.rows("SELECT status, COUNT(*) FROM deliveries GROUP BY status") == [
        ("pending", 90),
        ("sent", 30),
    ]
    for _ in range(3):
        assert run_cli("send", "--now", NOW, config=path).code == 0
    assert db.rows("SELECT status, COUNT(*) FROM deliveries GROUP BY status") == [("sent", 120)]
    assert len(list((tmp_path / "archive").glob("*.json"))) == 120
