"""Shared fixtures: a real HTTP server on 127.0.0.1, configs written to disk, the CLI as a
subprocess. Nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

if TYPE_CHECKING:
    from postgres import PostgresServer
    from standins import SmtpStandIn

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the golden files from the current output",
    )


class Backlogged(ThreadingHTTPServer):
    """A threaded server that queues 128 connections, not socketserver's 5. With 5, a poll's
    burst of connections overflowed the queue whenever the test process was busy, and the
    kernel dropped the rest, which asked again only after the 1 s connect timeout.
    """

    request_queue_size = 128


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    status: int


class FeedServer:
    """Serves routes set by the test, answers conditional GETs with 304, records requests."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        # The most requests waiting for their answer at one time. Counted until the answer
        # starts, not until the thread is done: a client may ask again before that.
        self.most_at_once = 0
        waiting = [0]
        counting = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with counting:
                    waiting[0] += 1
                    server.most_at_once = max(server.most_at_once, waiting[0])
                route = server.routes.get(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                if route is not None:
                    time.sleep(route.delay)
                with counting:
                    waiting[0] -= 1
                if route is None:
                    status = 404
                    self.send_response(404)
                    self.end_headers()
                else:
                    status = route.status
                    if route.status == 200 and (
                        (route.etag and headers.get("if-none-match") == route.etag)
                        or (
                            route.last_modified
                            and headers.get("if-modified-since") == route.last_modified
                        )
                    ):
                        status = 304
                    self.send_response(status)
                    if route.etag:
                        self.send_header("ETag", route.etag)
                    if route.last_modified:
                        self.send_header("Last-Modified", route.last_modified)
                    for name, value in route.headers.items():
                        self.send_header(name, value)
                    body = b"" if status == 304 else route.body
                    if status != 304:
                        self.send_header("Content-Type", route.content_type)
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                server.requests.append(Request(self.path, headers, status))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = Backlogged(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, body: bytes | str, **options: Any) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(body=data, **options)
        return self.url(path)

    def hits(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    feed_server = FeedServer()
    feed_server.thread.start()
    yield feed_server
    feed_server.httpd.shutdown()
    feed_server.httpd.server_close()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpStandIn]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 with STARTTLS and a login."""
    from standins import SmtpStandIn

    (tmp_path / "tls").mkdir()
    standin = SmtpStandIn(tmp_path / "tls")
    yield standin
    standin.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One private PostgreSQL server for the session; its password is in PGPASSWORD, where
    dispatch (through libpq) finds it.
    """
    from postgres import PostgresServer

    server = PostgresServer()
    server.start()
    previous = os.environ.get("PGPASSWORD")
    os.environ["PGPASSWORD"] = server.password
    yield server
    if previous is None:
        os.environ.pop("PGPASSWORD", None)
    else:
        os.environ["PGPASSWORD"] = previous
    server.stop()


@dataclass
class State:
    """Where a test's store lives, and a way to look inside it with plain SQL."""

    kind: str  # "sqlite" or "postgresql"
    value: str  # what feeds.yaml says: a file name (relative to feeds.yaml) or a URL
    file: Path | None = None

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.file is not None:
            import sqlite3

            connection = sqlite3.connect(self.file)
            try:
                with connection:  # commits
                    return connection.execute(sql).fetchall()
            finally:
                connection.close()  # the last connection to close tidies away -wal and -shm
        import psycopg

        with psycopg.connect(self.value) as connection:
            cursor = connection.execute(sql)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def dump(self) -> dict[str, list[str]]:
        """Every row of every table: what "unchanged" means on either engine."""
        tables = ("feeds", "articles", "aliases", "digest_queue", "digests", "deliveries")
        return {table: sorted(map(repr, self.rows(f"SELECT * FROM {table}"))) for table in tables}


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> State:
    """The same test on both engines the store runs on."""
    if request.param == "sqlite":
        return State("sqlite", "state.db", tmp_path / "state.db")
    server: PostgresServer = request.getfixturevalue("postgres")
    return State("postgresql", server.database())


def write_config(directory: Path, data: dict[str, Any]) -> Path:
    path = directory / "feeds.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def run_cli(*args: str, config: Path, env: dict[str, str] | None = None) -> Result:
    """Run ``python -m dispatch`` for real, in a clean environment apart from ``env``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    environ.update(env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "dispatch", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


def rss(items: list[dict[str, str]], title: str = "Test feed") -> str:
    """A small RSS 2.0 feed; each item may set title, link, guid, description, content, date,
    author and categories (comma-separated).
    """
    parts = []
    for item in items:
        fields = [f"<title>{item.get('title', 'Untitled')}</title>"]
        if "link" in item:
            fields.append(f"<link>{item['link']}</link>")
        if "guid" in item:
            fields.append(f'<guid isPermaLink="false">{item["guid"]}</guid>')
        if "date" in item:
            fields.append(f"<pubDate>{item['date']}</pubDate>")
        if "author" in item:
            fields.append(f"<dc:creator>{item['author']}</dc:creator>")
        for category in item.get("categories", "").split(","):
            if category:
                fields.append(f"<category>{category}</category>")
        if "description" in item:
            fields.append(f"<description><![CDATA[{item['description']}]]></description>")
        if "content" in item:
            fields.append(f"<content:encoded><![CDATA[{item['content']}]]></content:encoded>")
        parts.append("<item>" + "".join(fields) + "</item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>{title}</title><link>https://example.org/</link>"
        + "".join(parts)
        + "</channel></rss>"
    )


def article_items(count: int, prefix: str = "a", start_day: int = 1) -> list[dict[str, str]]:
    """Distinct articles, newest first, each with enough text to summarise."""
    items = []
    for number in range(count, 0, -1):
        day = start_day + number
        items.append(
            {
                "title": f"Story {prefix}{number}",
                "link": f"https://example.org/{prefix}/{number}",
                "guid": f"{prefix}-{number}",
                "date": f"Mon, {day:02d} Nov 2026 10:00:00 +0000",
                "content": f"<p>This is story {prefix}{number}. It has two sentences of text.</p>",
            }
        )
    return items
