"""A project as a test makes one: feeds.yaml written from a dict, a state store on
either engine, feeds as RSS text, and the command line run for real.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent


FIXTURES = ROOT / "tests" / "fixtures"


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


def _environment(env: dict[str, str] | None) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    environ.update(env or {})
    return environ


def run_cli(*args: str, config: Path, env: dict[str, str] | None = None) -> Result:
    """Run the command line in this process, as ``python -m dispatch`` runs it: the same
    ``main``, its standard streams captured (not terminals, as in a pipe), the environment
    clean apart from ``env`` for the call, an escaping exception a traceback and exit 1, and
    whatever it left open a failure.
    What only a process shows (signals, start-up, a crash, what a child prints of secrets)
    uses ``run_process``.
    """
    from dispatch.cli.main import main

    saved, wanted, threshold = dict(os.environ), _environment(env), gc.get_threshold()
    out, err = io.TextIOWrapper(io.BytesIO(), "utf-8"), io.TextIOWrapper(io.BytesIO(), "utf-8")
    os.environ.clear()
    os.environ.update(wanted)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _as_a_process():
            try:
                code = main(["--config", str(config), *args])
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        os.environ.clear()
        os.environ.update(saved)
        gc.set_threshold(*threshold)  # main raises it for the process it thinks it owns
    left_open = _left_open()
    assert not left_open, f"`dispatch {' '.join(args)}` left open: {left_open}"
    return Result(code, _text(out), _text(err))


def _left_open() -> list[str]:
    """What the call left open (sockets, files), found by collecting its garbage now. A
    process's exit would close them; here they would warn in some later test, and in the
    daemon they would pile up, so the call that leaked fails.
    """
    found: list[str] = []
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: found.append(str(unraisable.exc_value))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            gc.collect()
    finally:
        sys.unraisablehook = hook
    return found + [str(warning.message) for warning in caught]


@contextlib.contextmanager
def _as_a_process() -> Iterator[None]:
    """Python's own warning filters, as ``python -m dispatch`` has them, for the call: the
    suite turns warnings into errors, and a library's deprecation notice must not fail a send
    here that would go out from a real process.
    """
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning):
            warnings.simplefilter("ignore", category)
        warnings.simplefilter("ignore", ResourceWarning)
        yield


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8", "replace")


def run_process(*args: str, config: Path, env: dict[str, str] | None = None) -> Result:
    """Run ``python -m dispatch`` as a process of its own, in a clean environment apart from
    ``env``.
    """
    completed = subprocess.run(
        [sys.executable, "-m", "dispatch", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=_environment(env),
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


NOW = "2026-11-27T03:00:00+00:00"


FIXED_EVERY = "30m"  # the tests' feeds' interval, where a test does not set one
LOCAL = State("sqlite", "state.db")  # for tests of what does not touch the store


def wait_for(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s")


def archive_config(state: State, tmp_path: Path, feeds: list[dict[str, Any]], **extra: Any) -> Path:
    """A config posting every feed's articles to a file archive. Its feeds are polled every
    30 minutes unless they say otherwise: the tests that poll again an hour later expect it
    (`every: auto` has tests of its own).
    """
    data: dict[str, Any] = {
        "state": state.value,
        "allow_private_networks": True,
        "fetch": {"timeout": "2s", "connect_timeout": "1s"},
        "feeds": [{"every": FIXED_EVERY, **feed} for feed in feeds],
        "outputs": {"archive": {"type": "file", "path": "archive"}},
        "posts": [{"name": "social", "outputs": ["archive"]}],
    }
    data.update(extra)
    return write_config(tmp_path, data)
