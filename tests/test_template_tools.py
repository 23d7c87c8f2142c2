"""Template tools editors use: UTM tagging, dates in the digest's locale and time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from dispatch.models import Article, VideoCard
from dispatch.outputs.base import Capabilities
from dispatch.render.renderer import LinkTags, Renderer
from dispatch.urls import tag_url
from helpers.project import rss, run_cli, write_config
from helpers.servers import FeedServer

TAGS = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "daily"}
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
values = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~ %&=+", max_size=10)
urls = st.builds(
    lambda scheme, host, path, query, fragment: (
        f"{scheme}://{host}/{path}"
        + (f"?{query}" if query else "")
        + (f"#{fragment}" if fragment else "")
    ),
    st.sampled_from(["http", "https"]),
    st.sampled_from(["example.org", "www.news.example", "a.b.example:8080"]),
    st.text(alphabet="abc/-_0123", max_size=15),
    st.lists(st.tuples(names, values), max_size=3).map(
        lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)
    ),
    st.text(alphabet="abc", max_size=4),
)


@given(url=urls)
def test_tagging_is_idempotent(url: str) -> None:
    once = tag_url(url, TAGS)
    assert tag_url(once, TAGS) == once


@given(url=urls)
def test_tagging_keeps_existing_parameters_scheme_host_and_fragment(url: str) -> None:
    tagged = urlsplit(tag_url(url, TAGS))
    original = urlsplit(url)
    assert (tagged.scheme, tagged.netloc, tagged.path, tagged.fragment) == (
        original.scheme,
        original.netloc,
        original.path,
        original.fragment,
    )
    assert tagged.query.startswith(original.query)
    before = parse_qsl(original.query, keep_blank_values=True)
    after = parse_qsl(tagged.query, keep_blank_values=True)
    assert after[: len(before)] == before


def test_an_existing_utm_parameter_is_not_replaced() -> None:
    url = "https://example.org/a?utm_source=rss&x=1"
    assert tag_url(url, TAGS) == (
        "https://example.org/a?utm_source=rss&x=1&utm_medium=email&utm_campaign=daily"
    )
    assert tag_url("mailto:me@example.org", TAGS) == "mailto:me@example.org"


def test_links_to_other_sites_are_tagged_only_when_asked() -> None:
    article = Article(
        feed="f",
        key="k",
        title="T",
        link="https://news.example/a",
        summary="A summary.",
        cards=(
            VideoCard(
                "dQw4w9WgXcQ",
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
                "https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg",
                "V",
            ),
        ),
    )
    renderer = Renderer()
    caps = Capabilities(limit=500, counting="graphemes", url_length=23, template="mastodon")
    own = renderer.post(article, capabilities=caps, links=LinkTags(TAGS))
    assert "https://news.example/a?utm_source=newsletter" in own
    assert "watch?v=dQw4w9WgXcQ\n" in own + "\n" and "watch?v=dQw4w9WgXcQ&utm" not in own
    every = renderer.post(article, capabilities=caps, links=LinkTags(TAGS, other_sites=True))
    assert "watch?v=dQw4w9WgXcQ&utm_source=newsletter" in every


def test_dates_follow_the_digests_locale_and_time_zone() -> None:
    published = datetime(2026, 11, 26, 20, 30, tzinfo=UTC)
    article = Article(
        feed="f",
        key="k",
        title="T",
        link="https://news.example/a",
        published=published,
        summary="S.",
    )
    renderer = Renderer()
    period = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    german = renderer.digest(
        name="d",
        title="Post",
        articles=[article],
        period=period,
        timezone="Europe/Berlin",
        locale="de",
    )
    assert "27. November 2026" in german.text
    karachi = renderer.digest(
        name="d",
        title="Post",
        articles=[article],
        period=period,
        timezone="Asia/Karachi",
        locale="en_GB",
    )
    assert "27 November 2026" in karachi.text  # 01:30 in Karachi is already the 27th
    template = renderer.env.from_string("{{ when | date('EEEE d MMMM') }}")
    assert template.render(when=published, locale="fr", timezone="Asia/Karachi") == (
        "vendredi 27 novembre"
    )


def test_utm_settings_reach_the_rendered_messages(server: FeedServer, tmp_path: Path) -> None:
    url = server.serve(
        "/feed",
        rss(
            [
                {
                    "title": "One",
                    "guid": "1",
                    "link": "https://news.example/one?id=7",
                    "content": "<p>First sentence. Second.</p>",
                }
            ]
        ),
    )
    path = write_config(
        tmp_path,
        {
            "state": "s.db",
            "allow_private_networks": True,
            "feeds": [{"name": "news", "url": url, "backfill": 1}],
            "outputs": {"archive": {"type": "file", "utm": {"campaign": "launch"}}},
            "posts": [{"name": "social", "outputs": ["archive"]}],
            "digests": [{"name": "daily", "outputs": ["archive"], "locale": "de"}],
        },
    )
    messages = run_cli(
        "send", "--dry-run", "--json", "--now", "2026-11-27T08:00:00+00:00", config=path
    ).messages()
    post = next(m for m in messages if m["kind"] == "post")
    digest = next(m for m in messages if m["kind"] == "digest")
    tagged = (
        "https://news.example/one?id=7&utm_source=archive&utm_medium=social&utm_campaign=launch"
    )
    assert tagged in post["text"]
    assert "utm_medium=email&amp;utm_campaign=launch" in digest["html"]
    assert "27. November 2026" in digest["text"]
    bad = write_config(
        tmp_path,
        {
            "feeds": [{"name": "a", "url": "a.xml"}],
            "outputs": {"archive": {"type": "file"}},
            "digests": [{"name": "d", "outputs": ["archive"], "locale": "xx_nowhere"}],
        },
    )
    result = run_cli("send", "--dry-run", config=bad)
    assert result.code == 2 and "digests[0].locale" in result.stderr
