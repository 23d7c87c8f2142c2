"""End to end against a real HTTP server on 127.0.0.1 and the real CLI, each test on both engines
the store runs on: a real SQLite file and a real PostgreSQL database.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.project import (
    LOCAL,
    NOW,
    State,
    archive_config,
    article_items,
    rss,
    run_cli,
    run_process,
)
from helpers.servers import FeedServer


def test_second_poll_is_answered_304_and_parses_nothing(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    url = server.serve(
        "/feed", rss(article_items(3)), etag='"v1"', last_modified="Wed, 25 Nov 2026 10:00:00 GMT"
    )
    path = archive_config(state, tmp_path, [{"name": "news", "url": url, "every": "1m"}])
    assert run_cli("poll", "--now", NOW, config=path).code == 0
    second = run_cli("poll", "--all", "--now", "2026-11-27T03:05:00+00:00", config=path)
    assert second.code == 0
    first_hit, second_hit = server.hits("/feed")
    assert "if-none-match" not in first_hit.headers
    assert second_hit.headers["if-none-match"] == '"v1"'
    assert second_hit.headers["if-modified-since"] == "Wed, 25 Nov 2026 10:00:00 GMT"
    assert second_hit.status == 304
    assert "not-modified" in second.stdout
    assert state.rows("SELECT COUNT(*) FROM articles") == [(3,)]


def test_a_changed_feed_makes_only_its_changed_entries_again(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    """A feed that changed by an article: the entries that did not change are not sanitised
    and read again. The store shows it: an article whose stored text and hash were altered
    keeps them (read again, it would be seen to differ and be written again), unless its
    entry changed. Articles stored before entries were fingerprinted get their fingerprint.
    """
    url = server.serve("/feed", rss(article_items(3)))
    path = archive_config(state, tmp_path, [{"name": "news", "url": url, "backfill": "all"}])

    def poll(hour: int, items: list[dict[str, str]]) -> dict[str, str]:
        server.serve("/feed", rss(items))
        when = f"2026-11-27T{hour:02d}:00:00+00:00"
        assert run_cli("poll", "--all", "--now", when, config=path).code == 0
        return dict(state.rows("SELECT key, text FROM articles"))  # type: ignore[arg-type]

    poll(3, article_items(3))
    state.rows("UPDATE articles SET fingerprint = NULL")  # as if stored before fingerprints
    assert len(poll(4, article_items(4))) == 4
    assert state.rows("SELECT COUNT(*) FROM articles WHERE fingerprint IS NULL") == [(0,)]

    state.rows("UPDATE articles SET text = 'altered', content_hash = 'altered'")
    items = article_items(5)
    items[-1]["content"] = "<p>Story a1, corrected.</p>"
    texts = poll(5, items)
    assert texts["guid:a-5"] == "This is story a5. It has two sentences of text."  # new
    assert texts["guid:a-1"] == "Story a1, corrected."  # its entry changed: made again
    assert [texts[f"guid:a-{n}"] for n in (2, 3, 4)] == ["altered"] * 3  # left as they were
    assert state.rows("SELECT COUNT(*) FROM deliveries") == [(5,)]  # each article posted once


def test_a_store_from_before_fingerprints_is_upgraded_and_posts_nothing_twice(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    """A store made by the version before entries were fingerprinted (schema 6): opened, it
    gains the column; its articles are known, get their fingerprints, and only the feed's new
    article is posted.
    """
    url = server.serve("/feed", rss(article_items(3)))
    path = archive_config(state, tmp_path, [{"name": "news", "url": url, "backfill": "all"}])
    assert run_cli("poll", "--now", NOW, config=path).code == 0
    state.rows("ALTER TABLE articles DROP COLUMN fingerprint")  # as schema 6 had it
    state.rows("DROP TABLE outputs")  # schema 8's
    state.rows("ALTER TABLE feeds DROP COLUMN settings")  # schema 9's
    state.rows("ALTER TABLE feeds DROP COLUMN publisher_hint")  # schema 10's
    for column in ("hub", "topic"):  # schema 11's
        state.rows(f"ALTER TABLE feeds DROP COLUMN {column}")
    state.rows("DROP TABLE subscriptions")
    state.rows("DROP TABLE pushes")
    for column in ("parent_id", "part"):  # schema 12's
        state.rows(f"ALTER TABLE deliveries DROP COLUMN {column}")
    state.rows("ALTER TABLE feeds DROP COLUMN answer_seconds")  # schema 13's
    if state.file is not None:
        state.rows("PRAGMA user_version = 6")
    else:
        state.rows("UPDATE dispatch_schema SET version = 6")

    server.serve("/feed", rss(article_items(4)))
    assert run_cli("poll", "--all", "--now", "2026-11-27T04:00:00+00:00", config=path).code == 0
    assert state.rows("SELECT COUNT(*) FROM articles WHERE fingerprint IS NULL") == [(0,)]
    assert state.rows("SELECT COUNT(*) FROM deliveries") == [(4,)]  # 3, then the new one


@pytest.mark.slow
def test_a_poll_where_nothing_changed_loads_no_parser_renderer_or_sender(
    server: FeedServer, tmp_path: Path
) -> None:
    # Start-up is most of a one-off poll of unchanged feeds (docs/performance.md).
    url = server.serve("/feed", rss(article_items(2)), etag='"v1"')
    path = archive_config(LOCAL, tmp_path, [{"name": "news", "url": url}])
    timed = {"PYTHONPROFILEIMPORTTIME": "1"}  # each module imported, on stderr

    def loaded(*args: str) -> set[str]:
        result = run_process(*args, "--now", NOW, config=path, env=timed)  # a fresh process
        assert result.code == 0, result.stderr[-2000:]
        lines = result.stderr.splitlines()
        return {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time")}

    heavy = {"lxml.etree", "nh3", "regex", "feedparser", "jinja2", "mjml"}
    assert loaded("poll") & heavy >= {"lxml.etree", "nh3"}  # the first poll reads the feed
    assert loaded("poll", "--all") & heavy == set()
    assert [request.status for request in server.hits("/feed")] == [200, 304]


def test_a_feed_is_not_polled_before_it_is_due(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    url = server.serve("/feed", rss(article_items(1)))
    path = archive_config(state, tmp_path, [{"name": "news", "url": url, "every": "1h"}])
    run_cli("poll", "--now", NOW, config=path)
    result = run_cli("poll", "--now", "2026-11-27T03:30:00+00:00", config=path)
    assert len(server.hits("/feed")) == 1 and "not-due" in result.stdout


def test_first_poll_is_a_baseline_apart_from_backfill(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    url = server.serve("/feed", rss(article_items(5)))
    path = archive_config(state, tmp_path, [{"name": "news", "url": url, "backfill": 2}])
    result = run_cli("send", "--dry-run", "--json", "--now", NOW, config=path)
    assert result.code == 0, result.stderr
    titles = [m["articles"][0]["title"] for m in result.messages()]
    assert titles == ["Story a5", "Story a4"]


def test_backfill_all_and_zero(server: FeedServer, tmp_path: Path, state: State) -> None:
    url = server.serve("/feed", rss(article_items(4)))
    every = archive_config(state, tmp_path, [{"name": "news", "url": url, "backfill": "all"}])
    assert len(run_cli("send", "--dry-run", "--json", "--now", NOW, config=every).messages()) == 4
    none = archive_config(
        state, tmp_path, [{"name": "news", "url": url}]
    )  # a dry run left no state behind
    assert run_cli("send", "--dry-run", "--json", "--now", NOW, config=none).messages() == []


def test_new_articles_after_the_baseline_are_sent_once(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    server.serve("/feed", rss(article_items(3)))
    path = archive_config(
        state, tmp_path, [{"name": "news", "url": server.url("/feed"), "every": "1m"}]
    )
    assert run_cli("send", "--now", NOW, config=path).code == 0
    assert list((tmp_path / "archive").glob("*.json")) == []
    server.serve("/feed", rss(article_items(3) + article_items(1, prefix="new")))
    later = run_cli("send", "--now", "2026-11-27T03:10:00+00:00", config=path)
    assert later.code == 0, later.stderr
    written = sorted(p.name for p in (tmp_path / "archive").glob("*.json"))
    assert len(written) == 1
    again = run_cli("send", "--now", "2026-11-27T03:20:00+00:00", config=path)
    assert again.code == 0 and "nothing to send" in again.stdout
    assert len(list((tmp_path / "archive").glob("*.json"))) == 1
    assert state.rows("SELECT status, COUNT(*) FROM deliveries GROUP BY 1") == [("sent", 1)]


def test_a_changed_guid_is_not_posted_again(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    items = article_items(2)
    server.serve("/feed", rss(items))
    path = archive_config(
        state, tmp_path, [{"name": "news", "url": server.url("/feed"), "every": "1m"}]
    )
    run_cli("poll", "--now", NOW, config=path)
    for item in items:
        item["guid"] = "new-" + item["guid"]
    server.serve("/feed", rss(items))
    result = run_cli(
        "send", "--dry-run", "--json", "--now", "2026-11-27T03:10:00+00:00", config=path
    )
    assert result.code == 0 and result.messages() == []
    run_cli("poll", "--now", "2026-11-27T03:10:00+00:00", config=path)
    assert state.rows("SELECT COUNT(*) FROM aliases") == [(2,)]
    assert state.rows("SELECT COUNT(*) FROM articles") == [(2,)]


def test_an_updated_article_is_not_posted_again(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    items = article_items(2)
    server.serve("/feed", rss(items))
    path = archive_config(
        state, tmp_path, [{"name": "news", "url": server.url("/feed"), "every": "1m"}]
    )
    run_cli("poll", "--now", NOW, config=path)
    items[0]["content"] = "<p>Corrected: the story changed. A second sentence.</p>"
    items[0]["title"] = "Story a2 (updated)"
    server.serve("/feed", rss(items))
    result = run_cli("send", "--json", "--now", "2026-11-27T03:10:00+00:00", config=path)
    assert result.code == 0 and result.messages() == []
    assert state.rows("SELECT title FROM articles WHERE key = 'guid:a-2'") == [
        ("Story a2 (updated)",)
    ]


def test_dry_run_leaves_the_store_byte_for_byte_unchanged(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    server.serve("/feed", rss(article_items(2)))
    path = archive_config(
        state, tmp_path, [{"name": "news", "url": server.url("/feed"), "every": "1m"}]
    )
    dry = run_cli("send", "--dry-run", "--now", NOW, config=path)
    assert dry.code == 0
    if state.file is not None:
        assert not state.file.exists()
    else:
        tables = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'"
        assert state.rows(tables) == [(0,)]
    run_cli("poll", "--now", NOW, config=path)
    server.serve("/feed", rss(article_items(2) + article_items(2, prefix="b")))
    before = state.file.read_bytes() if state.file else b""
    rows_before = state.dump()
    files_before = sorted(path.name for path in tmp_path.iterdir())
    first = run_cli(
        "send", "--dry-run", "--json", "--now", "2026-11-27T03:10:00+00:00", config=path
    )
    second = run_cli(
        "send", "--dry-run", "--json", "--now", "2026-11-27T03:10:00+00:00", config=path
    )
    assert (state.file.read_bytes() if state.file else b"") == before
    assert sorted(path.name for path in tmp_path.iterdir()) == files_before  # no -wal, -shm
    assert state.dump() == rows_before
    assert first.stdout == second.stdout
    assert len(first.messages()) == 2
    assert not (tmp_path / "archive").exists()


BROKEN: dict[str, tuple[str | bytes, int, str]] = {
    "/malformed": (
        "<rss><channel><title>x</title><item><title>a</item></rss",
        200,
        "not well-formed XML (line 2, column 46: mismatched tag); no article could",
    ),
    "/html": ("<!DOCTYPE html><html><body><p>Welcome</p></body></html>", 200, "HTML page"),
    "/missing": ("", 404, "HTTP 404"),
    "/error": ("oops", 500, "HTTP 500"),
    # feedparser raises on it, as on a few other broken feeds (its issue #599).
    "/unreadable": (
        b'<?xml version="1.0" encoding="UTF\xf18"?><rss version="2.0"><channel><title>x'
        b"</title><item><title>a</title><guid>g</guid></item></channel></rss>",
        200,
        "feedparser could not read it (UnicodeDecodeError: 'utf-8' codec can't decode byte 0xf1",
    ),
}


@pytest.mark.slow
def test_a_broken_feed_is_reported_and_never_stops_the_others(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    feeds = [{"name": "good", "url": server.serve("/good", rss(article_items(1))), "backfill": 1}]
    for path_, (body, status, _) in BROKEN.items():
        if status != 404:
            server.serve(path_, body, status=status, content_type="text/html")
        feeds.append({"name": path_.strip("/"), "url": server.url(path_)})
    server.serve("/slow", rss(article_items(1)), delay=4)
    feeds.append({"name": "slow", "url": server.url("/slow")})
    path = archive_config(state, tmp_path, feeds)
    result = run_cli("send", "--now", NOW, config=path)
    assert result.code == 1
    assert len(list((tmp_path / "archive").glob("*.json"))) == 1
    for path_, (_, _, reason) in BROKEN.items():
        name = path_.strip("/")
        line = next(x for x in result.stderr.splitlines() if f"feed '{name}'" in x)
        assert reason in line
    assert "feed 'slow': no complete answer within 2s" in result.stderr
    assert result.stderr.count("hint:") >= 5
    failures = dict(
        state.rows(
            "SELECT name, last_error FROM feeds WHERE failing_since IS NOT NULL",
        )
    )
    assert set(failures) == {"malformed", "html", "missing", "error", "unreadable", "slow"}
    assert state.rows("SELECT error_count FROM feeds WHERE name = 'good'") == [(0,)]


def test_a_nul_in_a_guid_or_link_is_stored_on_either_engine(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    # feedparser reads a NUL out of &#0; or a raw NUL byte, and PostgreSQL refuses to store
    # one: the transaction that held every feed's poll failed.
    items = [
        {"title": "By reference", "guid": "nul-&#0;-1", "link": "https://example.org/&#0;1"},
        {"title": "By byte", "guid": "nul-\x00-2", "link": "https://example.org/\x002"},
    ]
    feeds = [
        {"name": "nul", "url": server.serve("/nul", rss(items)), "backfill": "all"},
        {"name": "good", "url": server.serve("/good", rss(article_items(1))), "backfill": 1},
    ]
    path = archive_config(state, tmp_path, feeds)
    result = run_cli("send", "--now", NOW, config=path)
    assert result.code == 0, result.stderr
    assert len(list((tmp_path / "archive").glob("*.json"))) == 3
    keys = state.rows("SELECT key FROM articles WHERE feed = 'nul'")
    assert sorted(keys) == [("guid:nul--2",), ("guid:nul-\ufffd-1",)]  # sorted as Python does
    again = run_cli("send", "--now", "2026-11-27T04:00:00+00:00", config=path)
    assert again.code == 0 and len(list((tmp_path / "archive").glob("*.json"))) == 3


def test_private_addresses_are_refused_unless_allowed(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    url = server.serve("/feed", rss(article_items(1)))
    path = archive_config(
        state, tmp_path, [{"name": "local", "url": url}], allow_private_networks=False
    )
    result = run_cli("poll", "--now", NOW, config=path)
    assert result.code == 1
    assert "refused" in result.stderr and "allow_private_networks" in result.stderr
    assert server.hits("/feed") == []
    (tmp_path / "allowed").mkdir()
    per_feed = archive_config(
        state,
        tmp_path / "allowed",
        [{"name": "local", "url": url, "allow_private_networks": True}],
        allow_private_networks=False,
    )
    # Allowed now: polled at once, even where the same store keeps the refusal's backoff.
    assert run_cli("poll", "--now", NOW, config=per_feed).code == 0
    assert len(server.hits("/feed")) == 1


def test_a_name_resolving_to_loopback_is_refused(server: FeedServer, tmp_path: Path) -> None:
    port = server.httpd.server_address[1]
    path = archive_config(
        LOCAL,
        tmp_path,
        [{"name": "sneaky", "url": f"http://localhost:{port}/feed"}],
        allow_private_networks=False,
    )
    server.serve("/feed", rss(article_items(1)))
    result = run_cli("poll", "--now", NOW, config=path)
    assert result.code == 1 and "private address" in result.stderr
    assert server.hits("/feed") == []


def test_redirects_are_followed_up_to_five(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    server.serve("/feed", rss(article_items(1)))
    for hop in range(6):
        target = "/feed" if hop == 5 else f"/r{hop + 1}"
        server.serve(f"/r{hop}", "", status=302, headers={"Location": target})
    (tmp_path / "ok").mkdir()
    (tmp_path / "over").mkdir()
    ok = archive_config(state, tmp_path / "ok", [{"name": "news", "url": server.url("/r1")}])
    assert run_cli("poll", "--now", NOW, config=ok).code == 0
    assert len(server.hits("/feed")) == 1
    too_many = archive_config(
        state, tmp_path / "over", [{"name": "news", "url": server.url("/r0")}]
    )
    result = run_cli("poll", "--now", NOW, config=too_many)
    assert result.code == 1 and "more than 5 redirects" in result.stderr


def test_a_body_over_the_size_cap_is_cut(server: FeedServer, tmp_path: Path) -> None:
    url = server.serve("/big", rss(article_items(1)) + " " * 50_000)
    path = archive_config(
        LOCAL, tmp_path, [{"name": "big", "url": url}], fetch={"max_bytes": 10_000, "timeout": "5s"}
    )
    result = run_cli("poll", "--now", NOW, config=path)
    assert result.code == 1 and "over the size cap of 10,000 bytes" in result.stderr


def test_excerpt_only_feeds_get_the_page_text_once(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    page = """<!DOCTYPE html><html><head><title>Bridge</title></head><body>
      <nav><a href="/">Home</a> <a href="/news">News</a></nav>
      <article><h1>The bridge closes</h1>
      <p>The council voted on Monday to close the old bridge for a year of repairs, after
      engineers found cracks in two of its four piers during a routine inspection.</p>
      <p>Traders on both banks fear the detour will cost them customers, and have asked for
      a temporary footbridge while the works go on.</p></article>
      <footer>Copyright The Journal. All rights reserved.</footer></body></html>"""
    server.serve("/bridge", page, content_type="text/html; charset=utf-8")
    server.serve(
        "/feed",
        rss(
            [
                {
                    "title": "The bridge closes",
                    "guid": "b1",
                    "link": server.url("/bridge"),
                    "description": "The council voted on Monday [&#8230;]",
                }
            ]
        ),
    )
    path = archive_config(
        state,
        tmp_path,
        [{"name": "news", "url": server.url("/feed"), "backfill": 1, "every": "1m"}],
    )
    result = run_cli("send", "--json", "--now", NOW, config=path)
    assert result.code == 0, result.stderr
    (message,) = result.messages()
    assert message["articles"][0]["summary"].startswith("The council voted on Monday to close")
    assert "Copyright" not in message["articles"][0]["summary"]
    run_cli("send", "--now", "2026-11-27T03:10:00+00:00", config=path)
    assert len(server.hits("/bridge")) == 1
    (stored,) = state.rows("SELECT full_text FROM articles")
    assert "temporary footbridge" in stored[0]


def test_feed_html_is_neutralised_in_the_digest(server: FeedServer, tmp_path: Path) -> None:
    items = [
        {
            "title": "<img src=x onerror=alert(1)>Evil &lt;script&gt;alert(2)&lt;/script&gt;",
            "guid": "e1",
            "link": "javascript:alert(3)",
            "content": '<p onmouseover="alert(4)">Text <a href="javascript:alert(5)">x</a>'
            "<script>alert(6)</script> and a sentence.</p>",
        },
        {
            "title": "Fine",
            "guid": "e2",
            "link": "https://example.org/fine",
            "content": "<p>A normal story. With two sentences.</p>",
        },
    ]
    url = server.serve("/feed", rss(items))
    path = archive_config(
        LOCAL,
        tmp_path,
        [{"name": "news", "url": url, "backfill": "all"}],
        posts=[],
        digests=[{"name": "daily", "outputs": ["archive"]}],
    )
    result = run_cli("send", "--dry-run", "--json", "--now", NOW, config=path)
    assert result.code == 0, result.stderr
    (digest,) = result.messages()
    html = digest["html"].lower()
    for bad in ("<script", "onerror", "onmouseover", "javascript:", "alert(6)"):
        assert bad not in html, bad
    assert "&lt;script&gt;" in html
    assert "example.org/fine" in html


def test_articles_carry_the_feeds_title_or_its_override(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    url = server.serve("/feed", rss(article_items(1), title="The Daily Bugle"))
    own = archive_config(state, tmp_path, [{"name": "bugle", "url": url, "backfill": 1}])
    (message,) = run_cli("send", "--dry-run", "--json", "--now", NOW, config=own).messages()
    assert message["articles"][0]["source"] == "The Daily Bugle"
    named = archive_config(
        state, tmp_path, [{"name": "bugle", "url": url, "backfill": 1, "title": "Bugle"}]
    )
    (message,) = run_cli("send", "--dry-run", "--json", "--now", NOW, config=named).messages()
    assert message["articles"][0]["source"] == "Bugle"


def test_an_edited_feed_is_polled_at_once_with_its_new_settings(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    url = server.serve("/feed", rss(article_items(2)))
    hourly = archive_config(state, tmp_path, [{"name": "news", "url": url, "every": "1h"}])
    first = run_cli("poll", "--now", NOW, config=hourly)
    assert first.code == 0 and "1 feed(s)" in first.stdout
    assert "to send" not in first.stdout  # poll sends nothing, so says nothing of sending
    assert run_cli("poll", "--now", "2026-11-27T03:10:00+00:00", config=hourly).code == 0
    assert len(server.hits("/feed")) == 1  # not due for an hour
    every_5m = archive_config(state, tmp_path, [{"name": "news", "url": url, "every": "5m"}])
    assert run_cli("poll", "--now", "2026-11-27T03:10:00+00:00", config=every_5m).code == 0
    assert len(server.hits("/feed")) == 2  # the shorter interval counts at once
    assert run_cli("poll", "--now", "2026-11-27T03:12:00+00:00", config=every_5m).code == 0
    assert len(server.hits("/feed")) == 2  # and from then on, every 5 minutes
    assert run_cli("poll", "--now", "2026-11-27T03:16:00+00:00", config=every_5m).code == 0
    assert len(server.hits("/feed")) == 3


def test_a_feed_answering_410_is_no_longer_polled(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    url = server.serve("/gone", "gone", status=410, content_type="text/plain")
    path = archive_config(state, tmp_path, [{"name": "old", "url": url, "every": "1m"}])
    result = run_cli("poll", "--now", NOW, config=path)
    assert result.code == 1 and "HTTP 410" in result.stderr and "no longer polled" in result.stderr
    later = run_cli("poll", "--now", "2026-11-28T03:00:00+00:00", config=path)
    # Not polled, and, until its URL is fixed, still failing: cron keeps hearing of it.
    assert later.code == 4 and "disabled" in later.stdout
    assert "still failing: feed 'old': not polled any more since" in later.stderr
    assert len(server.hits("/gone")) == 1
    assert "disabled (gone)" in run_cli("status", config=path).stdout
    server.serve("/new", rss(article_items(1)))
    moved = archive_config(
        state, tmp_path, [{"name": "old", "url": server.url("/new"), "every": "1m"}]
    )
    assert run_cli("poll", "--now", "2026-11-28T03:00:00+00:00", config=moved).code == 0
    assert len(server.hits("/new")) == 1


def test_retry_after_on_a_feed_is_honoured(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    url = server.serve(
        "/busy", "slow down", status=503, content_type="text/plain", headers={"Retry-After": "7200"}
    )
    path = archive_config(state, tmp_path, [{"name": "busy", "url": url, "every": "1m"}])
    result = run_cli("poll", "--now", NOW, config=path)
    assert result.code == 1 and "asking us to wait 7200 s" in result.stderr
    (next_poll,) = state.rows("SELECT next_poll_at FROM feeds")[0]
    assert next_poll >= "2026-11-27T05:00:00"
    run_cli("poll", "--now", "2026-11-27T04:00:00+00:00", config=path)
    assert len(server.hits("/busy")) == 1
