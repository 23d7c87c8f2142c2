"""How dispatch answers what HTTP servers do: permanent and temporary redirects, loops,
Retry-After in both forms, and bodies that are not the feed, each against a real server; and
how many requests it makes at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from helpers.project import LOCAL, State, archive_config, article_items, rss, run_cli
from helpers.servers import FeedServer, Route

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def poll(path: Path, minutes: int) -> str:
    """One poll of every feed; what it printed on both streams."""
    moment = (NOW + timedelta(minutes=minutes)).isoformat()
    result = run_cli("poll", "--all", "--now", moment, config=path)
    assert result.code == 0, result.stderr
    return result.stdout + result.stderr


@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_moves_the_feed_only_once_it_repeats(
    server: FeedServer, tmp_path: Path, state: State, status: int
) -> None:
    server.routes["/old"] = Route(status=status, headers={"Location": "/new"})
    server.serve("/new", rss(article_items(2)))
    path = archive_config(state, tmp_path, [{"name": "news", "url": server.url("/old")}])
    first = poll(path, 0)
    assert "redirected permanently to" in first
    assert "moved permanently" in poll(path, 1)
    poll(path, 2)
    poll(path, 3)
    assert len(server.hits("/old")) == 2 and len(server.hits("/new")) == 4
    assert state.rows("SELECT url, moved_to FROM feeds") == [
        (server.url("/old"), server.url("/new"))
    ]


def test_a_permanent_redirect_that_does_not_repeat_moves_nothing(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    server.routes["/old"] = Route(status=301, headers={"Location": "/new"})
    server.serve("/new", rss(article_items(2)))
    path = archive_config(state, tmp_path, [{"name": "news", "url": server.url("/old")}])
    poll(path, 0)
    server.serve("/old", rss(article_items(2)))  # the publisher fixed the redirect
    poll(path, 1)
    poll(path, 2)
    assert len(server.hits("/old")) == 3
    assert state.rows("SELECT moved_to, moved_count FROM feeds") == [(None, 0)]


@pytest.mark.parametrize("status", [302, 307])
def test_temporary_redirects_never_move_the_feed(
    server: FeedServer, tmp_path: Path, state: State, status: int
) -> None:
    server.routes["/old"] = Route(status=status, headers={"Location": "/new"})
    server.serve("/new", rss(article_items(2)))
    path = archive_config(state, tmp_path, [{"name": "news", "url": server.url("/old")}])
    for minute in range(3):
        assert "redirected" not in poll(path, minute)
    assert len(server.hits("/old")) == 3


def test_a_redirect_loop_stops_within_five_hops(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    server.routes["/a"] = Route(status=302, headers={"Location": "/b"})
    server.routes["/b"] = Route(status=301, headers={"Location": "/a"})
    path = archive_config(state, tmp_path, [{"name": "loop", "url": server.url("/a")}])
    result = run_cli("poll", "--now", NOW.isoformat(), config=path)
    assert result.code == 1 and "more than 5 redirects" in result.stderr
    assert len(server.requests) == 6  # the first request and five redirects


def _next_poll(state: State) -> datetime:
    ((moment,),) = state.rows("SELECT next_poll_at FROM feeds")
    return datetime.fromisoformat(moment)


def test_retry_after_as_a_date_is_honoured_and_a_huge_one_is_capped(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    in_two_hours = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    server.serve(
        "/busy",
        "busy",
        status=429,
        content_type="text/plain",
        headers={"Retry-After": in_two_hours},
    )
    path = archive_config(
        state, tmp_path, [{"name": "busy", "url": server.url("/busy"), "every": "1m"}]
    )
    assert run_cli("poll", "--now", NOW.isoformat(), config=path).code == 1
    wait = _next_poll(state) - NOW
    assert timedelta(hours=1, minutes=55) <= wait <= timedelta(hours=2, minutes=5)

    server.serve(
        "/busy",
        "busy",
        status=503,
        content_type="text/plain",
        headers={"Retry-After": str(365 * 86400)},
    )
    assert run_cli("poll", "--all", "--now", NOW.isoformat(), config=path).code == 1
    assert _next_poll(state) - NOW <= timedelta(days=1, hours=6)  # a day, with jitter


# Answers no server should give, each with what dispatch must say of it. The test server
# writes header values as Latin-1, so "é" goes out as the byte E9, which is not UTF-8, and
# "Â²" as C2 B2, which is UTF-8 for "²".
HOSTILE = {
    "/broken-redirect": (
        Route(status=301, headers={"Location": "http://[x/feed"}),
        "HTTP 301 to 'http://[x/feed', which is not a URL",
    ),
    "/port-redirect": (
        Route(status=302, headers={"Location": "http://a.example:99999/feed"}),
        "refused: the URL cannot be read (Port out of range 0-65535)",
    ),
    "/script-redirect": (
        Route(status=302, headers={"Location": "javascript:alert(1)"}),
        "refused: scheme 'javascript' is not fetched",
    ),
    "/endless-wait": (
        Route(status=429, headers={"Retry-After": "9" * 400}),
        "HTTP 429 from {url}, asking us to wait 31536000 s",
    ),
    "/superscript-wait": (
        Route(status=503, headers={"Retry-After": "Â²"}),
        "HTTP 503 from {url}\n",
    ),
}


def test_a_hostile_answer_is_its_feeds_error_and_never_stops_the_others(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    feeds = [
        {"name": "good", "url": server.serve("/good", rss(article_items(1))), "backfill": 1},
        {"name": "etag", "url": server.serve("/etag", rss(article_items(1)), etag='"é"')},
        {
            "name": "type",
            "url": server.serve(
                "/type", rss(article_items(1)), content_type="application/rss+xml; charset=é"
            ),
        },
    ]
    # A permanent redirect to a Location that is not UTF-8: followed percent-encoded, as a
    # browser would, and stored so (it crashed the poll when the URL was stored or shown).
    server.routes["/moved"] = Route(status=301, headers={"Location": "/café"})
    server.serve("/caf%E9", rss(article_items(1)))
    feeds.append({"name": "moved", "url": server.url("/moved")})
    # Each hostile answer from a host of its own: a host asking to wait long is not asked
    # again in the pass, so on one host which of them answered would depend on timing.
    hosts = [FeedServer(f"127.0.{n}.1") for n in range(11, 11 + len(HOSTILE))]
    for host, (route, (answer, _)) in zip(hosts, HOSTILE.items(), strict=True):
        host.thread.start()
        host.routes[route] = answer
        feeds.append({"name": route.strip("/"), "url": host.url(route)})
    path = archive_config(state, tmp_path, feeds)
    try:
        result = run_cli("poll", "--all", "--now", NOW.isoformat(), config=path)
    finally:
        for host in hosts:
            host.httpd.shutdown()
            host.httpd.server_close()
    assert result.code == 1 and "Traceback" not in result.stderr
    for host, (route, (_, reason)) in zip(hosts, HOSTILE.items(), strict=True):
        assert f"feed {route.strip('/')!r}: {reason.format(url=host.url(route))}" in (
            result.stderr + "\n"
        )
    # The ETag that is not text is not kept (the feed is fetched whole next time); the
    # Content-Type that is not text is left out, and the feed read as it declares itself.
    rows = state.rows("SELECT name, etag FROM feeds WHERE failing_since IS NULL")
    assert sorted(rows) == [("etag", None), ("good", None), ("moved", None), ("type", None)]
    assert sorted(state.rows("SELECT feed, COUNT(*) FROM articles GROUP BY feed")) == [
        ("etag", 1),
        ("good", 1),
        ("moved", 1),
        ("type", 1),
    ]
    assert f"redirected permanently to {server.url('/caf%E9')}" in result.stdout + result.stderr
    wait = state.rows("SELECT next_poll_at FROM feeds WHERE name = 'endless-wait'")[0][0]
    assert datetime.fromisoformat(wait) - NOW <= timedelta(days=1, hours=6)


BROKEN = {
    "an HTML page": ("<!doctype html><html><body><h1>Our site</h1></body></html>", "text/html"),
    "an empty body": ("", "application/rss+xml"),
    "plain text": ("Service temporarily unavailable", "text/plain"),
    "a truncated feed": ('<?xml version="1.0"?><rss version="2.0"><channel><item><ti', None),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_body_is_reported_and_the_last_good_state_kept(
    server: FeedServer, tmp_path: Path, state: State, case: str
) -> None:
    server.serve("/feed", rss(article_items(3)), etag='"v1"')
    path = archive_config(
        state, tmp_path, [{"name": "news", "url": server.url("/feed"), "backfill": "all"}]
    )
    assert run_cli("send", "--now", NOW.isoformat(), config=path).code == 0
    before = state.rows("SELECT etag, body_hash FROM feeds")

    body, content_type = BROKEN[case]
    server.serve("/feed", body, content_type=content_type or "application/xml")
    result = run_cli("send", "--now", (NOW + timedelta(hours=1)).isoformat(), config=path)
    assert result.code == 1 and "feed 'news'" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr
    assert state.rows("SELECT etag, body_hash FROM feeds") == before

    server.serve("/feed", rss(article_items(4)))  # back, with one new article
    later = (NOW + timedelta(days=2)).isoformat()  # past the failed poll's backoff
    assert run_cli("send", "--now", later, config=path).code == 0
    assert state.rows("SELECT COUNT(*) FROM deliveries") == [(4,)]


ENCODINGS = {
    # UTF-8 bytes declared as Latin-1: read, as the declaration says.
    "a wrong declared charset": ('<?xml version="1.0" encoding="iso-8859-1"?>', "utf-8", None),
    # A UTF-8 byte order mark on a document that says it is UTF-16.
    "a BOM that contradicts the declaration": (
        '<?xml version="1.0" encoding="utf-16"?>',
        "utf-8-sig",
        None,
    ),
    # The HTTP charset contradicts the document's declaration.
    "an HTTP charset that contradicts the document": (
        '<?xml version="1.0" encoding="utf-8"?>',
        "utf-8",
        "application/xml; charset=koi8-r",
    ),
}


@pytest.mark.parametrize("case", sorted(ENCODINGS))
def test_encoding_trouble_is_read_right_and_reported(
    server: FeedServer, tmp_path: Path, state: State, case: str
) -> None:
    declaration, codec, content_type = ENCODINGS[case]
    feed = rss([{"title": "Café Zürich", "link": "https://example.org/c", "guid": "c"}])
    body = feed.replace('<?xml version="1.0" encoding="UTF-8"?>', declaration).encode(codec)
    server.serve("/feed", body, content_type=content_type or "application/xml")
    path = archive_config(
        state, tmp_path, [{"name": "news", "url": server.url("/feed"), "backfill": "all"}]
    )
    result = run_cli("poll", "--now", NOW.isoformat(), config=path)
    assert result.code == 0 and "Traceback" not in result.stderr
    assert state.rows("SELECT title FROM articles") == [("Café Zürich",)]
    if content_type:
        assert "the server says charset=koi8-r but the feed says utf-8" in result.stderr


def test_no_more_feeds_are_fetched_at_once_than_fetch_concurrency_allows(
    server: FeedServer, tmp_path: Path
) -> None:
    feeds = [
        {"name": f"f{n}", "url": server.serve(f"/f{n}", rss(article_items(1)), delay=0.3)}
        for n in range(9)
    ]
    path = archive_config(LOCAL, tmp_path, feeds, fetch={"concurrency": 3, "per_host": 10})
    poll(path, 0)
    assert server.most_at_once == 3  # as many as allowed, and never more
    assert [len(server.hits(f"/f{n}")) for n in range(9)] == [1] * 9
