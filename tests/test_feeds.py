"""Feed management: autodiscovery on real-looking home pages, `feeds add` keeping feeds.yaml's
comments, an OPML round trip with a reader's export, `feeds list` with health, `catch-up`.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from dispatch.app.feeds import discover, read_opml, slug
from dispatch.config import load_config
from helpers.project import FIXTURES, article_items, rss, run_cli
from helpers.servers import FeedServer

# Real-looking pages: a WordPress home page ({base} is the server's address) and a YouTube
# channel page, trimmed to their <head>s.
WORDPRESS_HOME = (FIXTURES / "home_wordpress.html").read_text(encoding="utf-8")
YOUTUBE_CHANNEL = (FIXTURES / "home_youtube_channel.html").read_text(encoding="utf-8")

CONFIG = """\
# My newsroom's feeds. Comments like this one must survive `feeds add`.
state: state.db
allow_private_networks: true   # the test's server is on 127.0.0.1

feeds:
  - name: wire          # the wire service
    url: {wire}
    every: 15m

outputs:
  archive: {{type: file, path: archive}}

posts:
  - name: social
    outputs: [archive]
"""


def test_discovery_finds_the_site_feed_before_comments_and_resolves_links() -> None:
    page = WORDPRESS_HOME.replace("{base}", "").encode()
    found = discover(page, "https://thinktank.example.org/")
    assert [f.url for f in found] == [  # not the REST API's JSON, which is no feed
        "https://thinktank.example.org/feed/",
        "https://thinktank.example.org/comments/feed/",
    ]
    (channel,) = discover(YOUTUBE_CHANNEL.encode(), "https://www.youtube.com/@thinktanktv")
    assert channel.url.startswith("https://www.youtube.com/feeds/videos.xml?channel_id=UC4Q")
    assert discover(b"<html><head><title>No feeds</title></head></html>", "https://x.org/") == []
    broken = (  # a link whose host cannot be taken apart is passed over, not raised
        b'<html><head><link rel="alternate" type="application/rss+xml" href="//[x/feed">'
        b'<link rel="alternate" type="application/atom+xml" href="/atom.xml"></head></html>'
    )
    assert [f.url for f in discover(broken, "https://x.org/")] == ["https://x.org/atom.xml"]
    assert slug("The Think Tank Journal » Feed", {"the-think-tank-journal-feed"}).endswith("-2")


def _project(tmp_path: Path, server: FeedServer) -> Path:
    wire = server.serve("/wire.xml", rss(article_items(2, prefix="w"), title="Wire"))
    path = tmp_path / "feeds.yaml"
    path.write_text(CONFIG.format(wire=wire), encoding="utf-8")
    return path


def test_feeds_add_finds_the_feed_from_the_home_page_and_keeps_the_comments(
    tmp_path: Path, server: FeedServer
) -> None:
    config = _project(tmp_path, server)
    base = server.base
    server.serve("/", WORDPRESS_HOME.replace("{base}", base), content_type="text/html")
    server.serve("/feed/", rss(article_items(3), title="The Think Tank Journal"))
    server.serve("/comments/feed/", rss(article_items(1, prefix="c"), title="Comments"))
    result = run_cli("feeds", "add", base + "/", "--every", "1h", config=config)
    assert result.code == 0, result.stderr
    assert "added feed 'the-think-tank-journal'" in result.stdout
    text = config.read_text(encoding="utf-8")
    assert "# My newsroom's feeds. Comments like this one must survive" in text
    assert "# the wire service" in text and "# the test's server is on 127.0.0.1" in text
    added = load_config(config).feed("the-think-tank-journal")
    assert added.url == f"{base}/feed/" and added.every.total_seconds() == 3600
    again = run_cli("feeds", "add", f"{base}/feed/", config=config)
    assert again.code == 1 and "already in feeds.yaml, as 'the-think-tank-journal'" in again.stderr
    server.serve(
        "/about", "<html><head><title>About</title></head></html>", content_type="text/html"
    )
    none = run_cli("feeds", "add", f"{base}/about", config=config)
    assert none.code == 1 and "announces none" in none.stderr and "hint:" in none.stderr
    assert text == config.read_text(encoding="utf-8")  # failures wrote nothing


def test_opml_round_trip_with_a_readers_export(tmp_path: Path, server: FeedServer) -> None:
    config = _project(tmp_path, server)
    opml = FIXTURES / "subscriptions.opml"
    result = run_cli("feeds", "import-opml", str(opml), config=config)
    assert result.code == 0, result.stderr
    assert "added 4 feed(s)" in result.stdout  # the one in two folders, once
    loaded = load_config(config)
    titles = {feed.url: feed.title for feed in loaded.feeds}
    assert titles["https://wire.example.net/atom.xml"] == "Regional Wire & Co."
    assert titles["https://blog.example.com/index.xml"] == "Ünïcode Blog — notes"
    assert "ünïcode-blog-notes" in {feed.name for feed in loaded.feeds}
    exported = tmp_path / "out.opml"
    assert run_cli("feeds", "export-opml", str(exported), config=config).code == 0
    again = read_opml(exported.read_bytes())
    assert {(f.url, f.title) for f in again} == {
        (feed.url, feed.title or feed.name) for feed in loaded.feeds
    }
    repeat = run_cli("feeds", "import-opml", str(opml), config=config)
    assert "added 0 feed(s)" in repeat.stdout and "4 already there" in repeat.stdout
    broken = tmp_path / "broken.opml"
    broken.write_text("<html>not opml</html>")
    bad = run_cli("feeds", "import-opml", str(broken), config=config)
    assert bad.code == 1 and "not an OPML file" in bad.stderr


def test_an_opml_feed_that_cannot_be_fetched_is_refused_and_the_rest_added(
    tmp_path: Path, server: FeedServer
) -> None:
    config = _project(tmp_path, server)
    opml = tmp_path / "mixed.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>'
        '<outline text="Good" xmlUrl="https://good.example/feed"/>'
        '<outline text="Mail" xmlUrl="mailto:editor@example.org"/>'
        '<outline text="Broken" xmlUrl="http://[broken.example/feed"/>'
        '<outline text="Far port" xmlUrl="https://port.example:99999/feed"/>'
        "</body></opml>"
    )
    result = run_cli("feeds", "import-opml", str(opml), config=config)
    assert result.code == 1
    assert "added 1 feed(s)" in result.stdout
    assert result.stderr.splitlines() == [
        "dispatch: not added: mailto:editor@example.org: not an http(s) URL",
        "dispatch: not added: http://[broken.example/feed: the URL cannot be read "
        "(Invalid IPv6 URL)",
        "dispatch: not added: https://port.example:99999/feed: the URL cannot be read "
        "(Port out of range 0-65535)",
    ]
    urls = [feed.url for feed in load_config(config).feeds]
    assert urls[-1] == "https://good.example/feed" and len(urls) == 2


def test_feeds_list_shows_each_feeds_health(tmp_path: Path, server: FeedServer) -> None:
    config = _project(tmp_path, server)
    data = yaml.safe_load(config.read_text())
    data["feeds"] += [
        {"name": "broken", "url": server.url("/missing.xml")},
        {"name": "later", "url": server.url("/later.xml")},
    ]
    config.write_text(yaml.safe_dump(data))
    server.serve("/later.xml", rss(article_items(1)))
    run_cli("poll", "--now", "2026-11-27T07:00:00+00:00", config=config)
    data["feeds"].append({"name": "fresh", "url": server.url("/fresh.xml")})
    config.write_text(yaml.safe_dump(data))
    result = run_cli("feeds", "list", config=config)
    assert result.code == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "ok" in rows["wire"] and "15m" in rows["wire"]
    assert "failing since" in rows["broken"] and "HTTP 404" in result.stdout
    assert "new: not polled yet" in rows["fresh"]


def test_catch_up_marks_everything_seen_and_sends_nothing(
    tmp_path: Path, server: FeedServer
) -> None:
    config = _project(tmp_path, server)
    now = "2026-11-27T07:00:00+00:00"
    assert run_cli("poll", "--now", now, config=config).code == 0
    server.serve("/wire.xml", rss(article_items(6, prefix="w"), title="Wire"))  # 4 new
    caught = run_cli("catch-up", config=config)
    assert caught.code == 0, caught.stderr
    assert "caught up" in caught.stdout
    sent = run_cli("send", "--json", "--now", "2026-11-28T07:00:00+00:00", config=config)
    assert sent.code == 0 and sent.messages() == []
    assert not (tmp_path / "archive").exists()
