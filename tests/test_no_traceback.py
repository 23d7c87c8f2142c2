"""The faults a new user meets, each answered in a line or two that names it, never with a
Python traceback: a port taken (the preview's, the daemon's health port), a reader that
stops reading (`| head`), a missing or broken feeds.yaml, a store another dispatch holds, a
browser tab closed on the preview. Real processes, real sockets, a real SQLite lock.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatch.store.core import opened
from helpers.preview import running_preview
from helpers.project import NOW, ROOT, Result, article_items, rss, run_process, write_config
from helpers.servers import FeedServer


@pytest.fixture
def taken() -> Iterator[int]:
    """A port on 127.0.0.1 that another program is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def _one_clean_error(result: Result, code: int, *phrases: str) -> None:
    assert result.code == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def _config(tmp_path: Path, server: FeedServer, **extra: object) -> Path:
    url = server.serve("/feed", rss(article_items(2)))
    return write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "feeds": [{"name": "news", "url": url}],
            "outputs": {"archive": {"type": "file", "path": "archive"}},
            "digests": [{"name": "daily", "outputs": ["archive"]}],
            **extra,
        },
    )


def test_a_taken_preview_port_is_named_with_a_free_one_to_try(
    tmp_path: Path, server: FeedServer, taken: int
) -> None:
    result = run_process("preview", "--port", str(taken), config=_config(tmp_path, server))
    _one_clean_error(
        result,
        2,
        f"cannot serve the preview on 127.0.0.1:{taken}: another program is listening there",
        f"--port {taken + 1}",
    )


@pytest.mark.slow
def test_a_taken_health_port_names_daemon_listen(
    tmp_path: Path, server: FeedServer, taken: int
) -> None:
    config = _config(tmp_path, server, daemon={"listen": f"127.0.0.1:{taken}"})
    result = run_process("run", config=config)
    _one_clean_error(
        result,
        2,
        f"cannot serve health and metrics on 127.0.0.1:{taken}",
        "set daemon.listen in feeds.yaml",
    )


def test_a_reader_that_stops_reading_ends_the_run_quietly(tmp_path: Path) -> None:
    # `dispatch send --dry-run --json | head -c 1`, on the bundled example: the reader is gone
    # before dispatch prints, as when head has had its fill.
    read, write = os.pipe()
    os.close(read)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    command = [sys.executable, "-m", "dispatch", "--config", str(ROOT / "feeds.yaml")]
    process = subprocess.run(
        [*command, "send", "--dry-run", "--json", "--now", NOW, "--out", str(tmp_path)],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )
    os.close(write)
    assert process.returncode == 141, process.stderr
    assert process.stderr == ""
    assert list(tmp_path.glob("*.json")), "the run itself still went to its end"


def test_a_missing_or_broken_feeds_yaml_is_one_error(tmp_path: Path) -> None:
    missing = run_process("send", "--dry-run", config=tmp_path / "nowhere.yaml")
    _one_clean_error(missing, 2, "nowhere.yaml")
    broken = tmp_path / "feeds.yaml"
    broken.write_text("feeds:\n  - name: a\n    url: [unclosed\n", encoding="utf-8")
    _one_clean_error(run_process("send", "--dry-run", config=broken), 2, "feeds.yaml")


def test_a_store_another_dispatch_holds_is_named(tmp_path: Path, server: FeedServer) -> None:
    config = _config(tmp_path, server)
    with opened(tmp_path / "state.db") as store, store.exclusive():
        _one_clean_error(run_process("send", config=config), 3, "state.db")


@pytest.mark.slow
def test_a_browser_tab_closed_on_the_preview_leaves_no_traceback(
    tmp_path: Path, server: FeedServer
) -> None:
    # running_preview fails on a traceback in the preview's output when it stops.
    config = _config(tmp_path, server)
    with running_preview(config) as url:
        address = url.removeprefix("http://").rstrip("/").split(":")
        tab = socket.create_connection((address[0], int(address[1])))
        tab.sendall(b"GET /events HTTP/1.1\r\nHost: preview\r\n\r\n")
        seen = b""
        while b"data: " not in seen:
            chunk = tab.recv(4096)
            assert chunk, seen
            seen += chunk
        tab.close()  # the tab is closed
        with urllib.request.urlopen(url + "events", timeout=10) as other:
            assert other.readline().startswith(b"data: ")
            other.readline()
            for version in (1, 2):  # two saves: the closed tab's stream is written to
                config.write_text(config.read_text() + f"# save {version}\n")
                while not other.readline().startswith(b"data: "):
                    pass
