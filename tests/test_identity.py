"""What makes an article the same article: never its date, not a GUID a publisher rewrote, and
not a GUID several articles share.
"""

from __future__ import annotations

from pathlib import Path

from helpers.project import NOW, State, archive_config, article_items, rss, run_cli
from helpers.servers import FeedServer

LATER = ["2026-11-27T04:00:00+00:00", "2026-11-27T05:00:00+00:00", "2026-11-27T06:00:00+00:00"]


def sends(path: Path, when: str, state: State) -> int:
    result = run_cli("send", "--now", when, config=path)
    assert result.code == 0, result.stderr
    return int(state.rows("SELECT COUNT(*) FROM deliveries")[0][0])


def test_every_guid_and_link_spelling_changed_gives_no_new_posts(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    items = article_items(20)
    server.serve("/feed", rss(items))
    path = archive_config(
        state, tmp_path, [{"name": "news", "url": server.url("/feed"), "backfill": "all"}]
    )
    assert sends(path, NOW, state) == 20
    for item in items:  # a new CMS: new GUIDs, https, a trailing slash and tracking tags
        item["guid"] = "urn:uuid:" + item["guid"]
        item["link"] = item["link"].replace("https://", "http://") + "/?utm_source=rss"
    server.serve("/feed", rss(items))
    assert sends(path, LATER[0], state) == 20
    assert len(server.hits("/feed")) == 2


def test_dates_in_the_future_or_missing_never_decide_identity(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    items = article_items(3)
    server.serve("/feed", rss(items))
    path = archive_config(
        state, tmp_path, [{"name": "news", "url": server.url("/feed"), "backfill": "all"}]
    )
    assert sends(path, NOW, state) == 3
    for item in items:
        item["date"] = "Thu, 01 Jan 2032 00:00:00 +0000"
    server.serve("/feed", rss(items))
    assert sends(path, LATER[0], state) == 3
    for item in items:
        del item["date"]
    server.serve("/feed", rss(items))
    assert sends(path, LATER[1], state) == 3
    # Two new articles with the same (future) date and no GUID are two articles.
    twins = [
        {
            "title": f"Twin {n}",
            "link": f"https://example.org/twin/{n}",
            "date": items[0].get("date", "Thu, 01 Jan 2032 00:00:00 +0000"),
        }
        for n in (1, 2)
    ]
    server.serve("/feed", rss(twins + items))
    assert sends(path, LATER[2], state) == 5
    assert len(server.hits("/feed")) == 4


def test_a_guid_shared_by_several_articles_swallows_none(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    items = article_items(3)
    for item in items:
        item["guid"] = "the-same-guid"
    server.serve("/feed", rss(items))
    path = archive_config(
        state, tmp_path, [{"name": "news", "url": server.url("/feed"), "backfill": "all"}]
    )
    assert sends(path, NOW, state) == 3
    fourth = {**article_items(4)[0], "guid": "the-same-guid"}  # one more, sharing the GUID
    server.serve("/feed", rss([fourth, *items]))
    assert sends(path, LATER[0], state) == 4
    assert len(server.hits("/feed")) == 2
