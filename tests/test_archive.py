"""A digest's web archive: each issue as a static page with its text twin, monthly index
pages and an Atom feed (read back by feedparser, every issue's link in it), the email's "view
in browser" link (read with Python's email parser) opening the issue's page in Chromium, and
`dispatch preview` serving the archive too.
"""

from __future__ import annotations

import email
import email.policy
import functools
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import feedparser
import pytest

from helpers.project import State, article_items, rss, run_cli, write_config
from helpers.servers import FeedServer


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A static web server on 127.0.0.1 for the archive's folder, as any host would serve it."""
    folder = tmp_path / "web"
    folder.mkdir()
    handler = functools.partial(Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/news/"
    server.shutdown()
    server.server_close()


def configure(tmp_path: Path, state: State, server: FeedServer, base_url: str) -> Path:
    server.serve("/feed", rss(article_items(3, prefix="budget")))
    return write_config(
        tmp_path,
        {
            "state": state.value,
            "allow_private_networks": True,
            "feeds": [{"name": "news", "url": server.url("/feed"), "backfill": "all"}],
            "outputs": {"mail": {"type": "file", "path": "out", "format": "eml"}},
            "digests": [
                {
                    "name": "daily",
                    "title": "The Evening Post",
                    "outputs": ["mail"],
                    "schedule": "0 7 * * *",
                    "timezone": "Asia/Karachi",
                    "archive": {"path": "web/news", "base_url": base_url},
                }
            ],
        },
    )


def emails(tmp_path: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for path in sorted((tmp_path / "out").glob("*.eml"))
    ]


def link_in(message: EmailMessage) -> tuple[str, str]:
    """The "view in browser" link of the HTML part, and the one in the text part."""
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    found = re.search(r'<a href="([^"]+)"[^>]*>View in your browser</a>', html.get_content())
    said = re.search(r"View in your browser: (\S+)", text.get_content())
    assert found and said
    return found.group(1), said.group(1)


def test_each_issue_gets_a_page_an_index_and_a_feed_entry(
    tmp_path: Path, state: State, server: FeedServer, web: tuple[Path, str]
) -> None:
    folder, base = web
    config = configure(tmp_path, state, server, base)
    # 02:00 UTC is 07:00 in Karachi: the first issue; the next day, with new articles, a second.
    assert run_cli("send", "--now", "2026-12-03T02:00Z", config=config).code == 0
    server.serve("/feed", rss(article_items(3, prefix="budget") + article_items(2, "rates", 9)))
    assert run_cli("send", "--now", "2026-12-04T02:00Z", config=config).code == 0
    assert run_cli("send", "--now", "2026-12-04T02:30Z", config=config).code == 0  # nothing new

    archive = folder / "news"
    pages = sorted(p.relative_to(archive).as_posix() for p in archive.rglob("*.html"))
    assert pages == [
        "2026/12/daily-2026-12-03-0700.html",
        "2026/12/daily-2026-12-04-0700.html",
        "2026/12/index.html",
        "index.html",
    ]
    first = (archive / "2026/12/daily-2026-12-03-0700.html").read_text()
    assert "Story budget3" in first and "Unsubscribe" not in first
    assert "View in your browser" not in first  # the page does not link to itself
    assert "Story budget3" in (archive / "2026/12/daily-2026-12-03-0700.txt").read_text()
    month = (archive / "2026/12/index.html").read_text()
    assert month.index("daily-2026-12-04-0700.html") < month.index("daily-2026-12-03-0700.html")

    feed = feedparser.parse((archive / "feed.xml").read_bytes())
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "The Evening Post"
    links = [entry.link for entry in feed.entries]
    assert links == [
        f"{base}2026/12/daily-2026-12-04-0700.html",
        f"{base}2026/12/daily-2026-12-03-0700.html",
    ]
    # Each email's link is its own issue's page, in the HTML and the text alike.
    sent = [link_in(message) for message in emails(tmp_path)]
    assert sorted(html for html, _ in sent) == sorted(links)
    assert all(html == text for html, text in sent)


def test_a_dry_run_writes_no_archive(
    tmp_path: Path, state: State, server: FeedServer, web: tuple[Path, str]
) -> None:
    folder, base = web
    config = configure(tmp_path, state, server, base)
    dry = tmp_path / "dry"
    result = run_cli(
        "send", "--dry-run", "--now", "2026-12-03T02:00Z", "--out", str(dry), config=config
    )
    assert result.code == 0, result.stderr
    assert list(folder.rglob("*")) == []  # nothing written
    (text,) = dry.glob("*.txt")  # but the email shows where its page will be
    assert f"View in your browser: {base}2026/12/daily-2026-12-03-0700.html" in text.read_text()


@pytest.mark.browser
@pytest.mark.slow
def test_the_emails_link_opens_its_page_in_chromium(
    tmp_path: Path, state: State, server: FeedServer, web: tuple[Path, str]
) -> None:
    from helpers.browser import chromium_page

    _, base = web
    config = configure(tmp_path, state, server, base)
    assert run_cli("send", "--now", "2026-12-03T02:00Z", config=config).code == 0
    (message,) = emails(tmp_path)
    html = message.get_body(("html",))
    assert html is not None
    page_file = tmp_path / "email.html"
    page_file.write_text(html.get_content())
    with chromium_page(local_only=True) as page:
        page.goto(page_file.as_uri())
        page.get_by_text("View in your browser").click()
        page.wait_for_load_state()
        assert page.url == f"{base}2026/12/daily-2026-12-03-0700.html"
        assert page.title() == message["Subject"]
        assert page.get_by_role("link", name="Story budget3").first.is_visible()  # a headline
        page.goto(base + "feed.xml")  # the feed, from the same host
        assert "daily-2026-12-03-0700.html" in page.content()


@pytest.mark.slow
def test_dispatch_preview_serves_the_archive(
    tmp_path: Path, state: State, server: FeedServer, web: tuple[Path, str]
) -> None:
    from helpers.preview import running_preview

    _, base = web
    config = configure(tmp_path, state, server, base)
    assert run_cli("send", "--now", "2026-12-03T02:00Z", config=config).code == 0
    with running_preview(config) as url:
        for path, expected in [
            ("", "2026-12"),  # the months
            ("2026/12/", "daily-2026-12-03-0700.html"),
            ("2026/12/daily-2026-12-03-0700.html", "Story budget3"),
            ("feed.xml", f"{base}2026/12/daily-2026-12-03-0700.html"),
        ]:
            with urllib.request.urlopen(f"{url}archive/daily/{path}", timeout=10) as answer:
                assert expected in answer.read().decode()
        for outside in ("../feeds.yaml", "2026/12/nothing.html"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"{url}archive/daily/{outside}", timeout=10)
            refused.value.close()
            assert refused.value.code == 404
