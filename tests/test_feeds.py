"""Feed management: autodiscovery on real-looking home pages, `feeds add` keeping feeds.yaml's
comments, an OPML round trip with a reader's export, `feeds list` with health, `catch-up`.
"""

from __future__ import annotations

import difflib
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
    before = config.read_text(encoding="utf-8")
    base = server.base
    server.serve("/", WORDPRESS_HOME.replace("{base}", base), content_type="text/html")
    server.serve("/feed/", rss(article_items(3), title="The Think Tank Journal"))
    server.serve("/comments/feed/", rss(article_items(1, prefix="c"), title="Comments"))
    result = run_cli("feeds", "add", base + "/", "--every", "1h", config=config)
    assert result.code == 0, result.stderr
    assert "added feed 'the-think-tank-journal'" in result.stdout
    text = config.read_text(encoding="utf-8")
    # Only the new feed's lines are new, after the last feed and indented as it is: every
    # comment, blank line and indent of the rest is as the editor wrote it.
    added_lines = f"  - name: the-think-tank-journal\n    url: {base}/feed/\n    every: 1h\n"
    assert text == before.replace("    every: 15m\n", "    every: 15m\n" + added_lines, 1)
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


def _readers_export(tmp_path: Path, server: FeedServer) -> Path:
    """The reader's export, its sites served by the test's server (each feed as a path on it)."""
    text = (FIXTURES / "subscriptions.opml").read_text(encoding="utf-8")
    for site in SITES:
        text = text.replace(site, server.base + "/" + site.removeprefix("https://"))
    for feed in FEEDS:
        server.serve("/" + feed.removeprefix("https://"), rss(article_items(1), title="Feed"))
    path = tmp_path / "subscriptions.opml"
    path.write_text(text, encoding="utf-8")
    return path


SITES = (
    "https://thinktank.example.org",
    "https://wire.example.net",
    "https://www.youtube.com",
    "https://blog.example.com",
)
FEEDS = (
    "https://thinktank.example.org/feed/",
    "https://wire.example.net/atom.xml",
    "https://www.youtube.com/feeds/videos.xml?channel_id=UC4QobU6STFB0P71PMvOGN5A",
    "https://blog.example.com/index.xml",
)


def test_opml_round_trip_with_a_readers_export(tmp_path: Path, server: FeedServer) -> None:
    config = _project(tmp_path, server)
    opml = _readers_export(tmp_path, server)
    result = run_cli("feeds", "import-opml", str(opml), config=config)
    assert result.code == 0, result.stderr
    assert "added 4 feed(s)" in result.stdout  # the one in two folders, once
    loaded = load_config(config)
    titles = {feed.url: feed.title for feed in loaded.feeds}
    assert titles[server.base + "/wire.example.net/atom.xml"] == "Regional Wire & Co."
    assert titles[server.base + "/blog.example.com/index.xml"] == "Ünïcode Blog — notes"
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


def test_only_opml_feeds_that_work_are_added_and_the_rest_named_with_why(
    tmp_path: Path, server: FeedServer
) -> None:
    # Each URL is fetched first: a feed is added, a home page leads to the feed it announces,
    # and a 404, a page that announces no feed and URLs that cannot be fetched are refused.
    config = _project(tmp_path, server)
    base = server.base
    good = server.serve("/good/feed", rss(article_items(2), title="Good News"))
    server.serve(
        "/site/", WORDPRESS_HOME.replace("{base}", base + "/site"), content_type="text/html"
    )
    server.serve("/site/feed/", rss(article_items(1), title="The Think Tank Journal"))
    server.serve(
        "/plain", "<html><head><title>Plain</title></head></html>", content_type="text/html"
    )
    opml = tmp_path / "mixed.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>'
        f'<outline text="Good" xmlUrl="{good}"/>'
        f'<outline text="Home" xmlUrl="{base}/site/"/>'
        f'<outline text="Gone" xmlUrl="{base}/gone.xml"/>'
        f'<outline text="Plain" xmlUrl="{base}/plain"/>'
        '<outline text="Mail" xmlUrl="mailto:editor@example.org"/>'
        '<outline text="Broken" xmlUrl="http://[broken.example/feed"/>'
        '<outline text="Far port" xmlUrl="https://port.example:99999/feed"/>'
        "</body></opml>"
    )
    before = config.read_text(encoding="utf-8")
    result = run_cli("feeds", "import-opml", str(opml), config=config)
    assert result.code == 1
    assert "added 2 feed(s)" in result.stdout and "good, home" in result.stdout
    refusals = [line for line in result.stderr.splitlines() if line.startswith("dispatch:")]
    assert refusals == [
        "dispatch: not added: mailto:editor@example.org: not an http(s) URL",
        "dispatch: not added: http://[broken.example/feed: the URL cannot be read "
        "(Invalid IPv6 URL)",
        "dispatch: not added: https://port.example:99999/feed: the URL cannot be read "
        "(Port out of range 0-65535)",
        f"dispatch: not added: cannot fetch {base}/gone.xml: HTTP 404 from {base}/gone.xml",
        f"dispatch: not added: {base}/plain is not a feed, and its page announces none "
        '(no <link rel="alternate">)',
    ]
    assert result.stderr.count("  hint: ") == 2  # the fetched ones say what to try
    urls = [feed.url for feed in load_config(config).feeds]
    assert urls[1:] == [good, f"{base}/site/feed/"]
    assert not server.hits("/site/comments/feed/")  # the first feed announced was taken
    after = config.read_text(encoding="utf-8").splitlines()
    edits = difflib.SequenceMatcher(None, before.splitlines(), after).get_opcodes()
    assert {kind for kind, *_ in edits} == {"equal", "insert"}  # lines added, none changed


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
