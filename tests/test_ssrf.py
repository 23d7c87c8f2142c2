"""SSRF: what dispatch fetches may not reach this machine or a private network, however the
address is spelt, at any redirect hop, for feeds, article pages and webhooks, unless
``allow_private_networks`` says so. A real server listens on 127.0.0.1 to catch any request
that slips through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dispatch.config import FetchSettings
from dispatch.errors import FetchError
from dispatch.net.fetch import Fetcher, FetchRequest
from dispatch.net.guard import GuardedResolver
from helpers.dns import DnsStandIn
from helpers.project import article_items, rss, run_cli, write_config
from helpers.servers import FeedServer, Route

SETTINGS = FetchSettings(timeout=timedelta(seconds=3), connect_timeout=timedelta(seconds=1))


def fetch(url: str, *, allow_private: bool = False) -> FetchError | object:
    (result,) = Fetcher(SETTINGS, Path.cwd()).fetch_all(
        [FetchRequest("probe", url, allow_private=allow_private)]
    )
    return result


# Every spelling of this machine that resolves, or connects, to the server on 127.0.0.1.
LOOPBACK = ["127.0.0.1", "127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1", "0.0.0.0", "localhost"]
# Addresses no server here answers: refused by the guard, not by a failed connection.
PRIVATE = [
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "169.254.169.254",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[fe80::1]",
    "224.0.0.1",
]


@pytest.mark.parametrize("host", LOOPBACK)
def test_every_spelling_of_loopback_is_refused(server: FeedServer, host: str) -> None:
    server.serve("/feed", rss(article_items(1)))
    port = server.httpd.server_address[1]
    result = fetch(f"http://{host}:{port}/feed")
    assert isinstance(result, FetchError), result
    assert "private address" in result.reason and "allow_private_networks" in result.hint
    assert server.requests == []


@pytest.mark.parametrize("host", PRIVATE)
def test_private_link_local_cgnat_and_ula_addresses_are_refused(host: str) -> None:
    result = fetch(f"http://{host}/latest/meta-data/")
    assert isinstance(result, FetchError), result
    assert "private address" in result.reason


def test_allow_private_networks_lets_them_through(server: FeedServer) -> None:
    server.serve("/feed", rss(article_items(1)))
    port = server.httpd.server_address[1]
    result = fetch(f"http://localhost:{port}/feed", allow_private=True)
    assert not isinstance(result, FetchError), result
    assert server.arrivals == ["/feed"]  # noted as it came: hits() waits for the thread's end


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/feed", "gopher://127.0.0.1:70/", "data:,x"]
)
def test_only_http_and_https_are_fetched(url: str) -> None:
    result = fetch(url)
    assert isinstance(result, FetchError) and "only http and https" in result.reason


def test_every_redirect_hop_is_checked(server: FeedServer) -> None:
    """Even where the first hop is allowed, a redirect to another scheme is refused."""
    server.routes["/feed"] = Route(status=302, headers={"Location": "file:///etc/passwd"})
    result = fetch(server.url("/feed"), allow_private=True)
    assert isinstance(result, FetchError) and "only http and https" in result.reason


def test_article_pages_for_full_text_may_not_reach_private_addresses(
    server: FeedServer, tmp_path: Path
) -> None:
    """A feed read from a file (no network permission needed) whose article links point at
    this machine: the page is not fetched, and the article is kept with its excerpt.
    """
    page = server.serve("/secret-page", "<html><body><p>internal only</p></body></html>")
    items = [{"title": "Teaser", "link": page, "guid": "t1", "description": "Short teaser [...]"}]
    (tmp_path / "feed.xml").write_text(rss(items), encoding="utf-8")
    path = write_config(
        tmp_path,
        {
            "state": "state.db",
            "feeds": [{"name": "local", "url": "feed.xml", "backfill": 1, "full_text": "always"}],
            "outputs": {"archive": {"type": "file", "path": "archive"}},
            "posts": [{"name": "social", "outputs": ["archive"]}],
        },
    )
    result = run_cli("send", "--dry-run", "--json", config=path)
    assert result.code == 0, result.stderr
    (message,) = result.messages()
    assert message["articles"][0]["title"] == "Teaser"
    assert "internal only" not in result.stdout
    assert server.requests == []


@pytest.fixture
def nameserver() -> Iterator[DnsStandIn]:
    standin = DnsStandIn(
        {
            "rebind.test": [["93.184.216.34"], ["127.0.0.1"]],  # public first, then loopback
            "mixed.test": [["93.184.216.34", "127.0.0.1"]],  # both in one answer
        }
    )
    yield standin
    standin.stop()


def fetch_with(nameserver: DnsStandIn, url: str) -> FetchError | object:
    settings = SETTINGS.model_copy(update={"nameservers": [nameserver.address]})
    (result,) = Fetcher(settings, Path.cwd()).fetch_all([FetchRequest("probe", url)])
    return result


def test_a_name_that_rebinds_to_loopback_is_caught_at_connect_time(
    server: FeedServer, nameserver: DnsStandIn
) -> None:
    server.serve("/feed", rss(article_items(1)))
    port = server.httpd.server_address[1]
    # A check before connecting would see a public address (nothing connects here)...
    checked = asyncio.run(GuardedResolver([nameserver.address]).resolve("rebind.test", port))
    assert [answer["host"] for answer in checked] == ["93.184.216.34"]
    # ...but the addresses judged are the ones the connection resolves, and they have changed.
    result = fetch_with(nameserver, f"http://rebind.test:{port}/feed")
    assert isinstance(result, FetchError), result
    assert "rebind.test resolves to 127.0.0.1, a private address" in result.reason
    assert len(nameserver.queries_for("rebind.test")) == 2
    assert server.requests == []


def test_an_answer_with_any_private_address_is_refused_whole(
    server: FeedServer, nameserver: DnsStandIn
) -> None:
    port = server.httpd.server_address[1]
    result = fetch_with(nameserver, f"http://mixed.test:{port}/feed")
    assert isinstance(result, FetchError) and "127.0.0.1, a private address" in result.reason
    assert server.requests == []
