"""Every YouTube form yields the right card."""

from __future__ import annotations

import feedparser
import pytest

from dispatch.ingest.media import cards_in_entry, cards_in_html, youtube_id

VIDEO = "dQw4w9WgXcQ"


FORMS = [
    f"https://youtu.be/{VIDEO}",
    f"https://youtu.be/{VIDEO}?si=abcdef&t=42",
    f"https://www.youtube.com/watch?v={VIDEO}",
    f"https://www.youtube.com/watch?feature=share&v={VIDEO}&t=10s",
    f"https://www.youtube.com/watch?feature=share&amp;v={VIDEO}",
    f"https://youtube.com/watch?v={VIDEO}",
    f"https://m.youtube.com/watch?v={VIDEO}",
    f"https://music.youtube.com/watch?v={VIDEO}&list=RDAMVM",
    f"https://www.youtube.com/embed/{VIDEO}?feature=oembed",
    f"https://www.youtube-nocookie.com/embed/{VIDEO}",
    f"//www.youtube.com/embed/{VIDEO}",
    f"https://www.youtube.com/shorts/{VIDEO}",
    f"https://www.youtube.com/live/{VIDEO}?feature=share",
    f"https://www.youtube.com/v/{VIDEO}?version=3",
    f"http://www.youtube.com/watch?v={VIDEO}",
    f"HTTPS://WWW.YOUTUBE.COM/watch?v={VIDEO}",
]


@pytest.mark.parametrize("url", FORMS)
def test_every_url_form(url: str) -> None:
    assert youtube_id(url) == VIDEO


@pytest.mark.parametrize("url", FORMS)
def test_every_url_form_is_found_in_html(url: str) -> None:
    html = f'<p>Watch <a href="{url}">this</a>.</p><p>Or paste {url} in a browser.</p>'
    assert [card.video_id for card in cards_in_html(html, "t")] == [VIDEO]


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/",
        "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv",
        "https://www.youtube.com/watch?v=short",
        "https://www.youtube.com/playlist?list=PL123",
        f"https://example.org/watch?v={VIDEO}",
        f"https://notyoutube.com/embed/{VIDEO}",
        "https://youtu.be/",
        f"https://[www.youtube.com/embed/{VIDEO}",  # a host urlsplit cannot take apart
        f"//youtu.be]/{VIDEO}",
    ],
)
def test_not_videos(url: str) -> None:
    assert youtube_id(url) is None


def test_iframe_embed_gives_card_with_its_title() -> None:
    html = (
        f'<p>Intro</p><iframe title="The &amp; explainer" width="640" '
        f'src="https://www.youtube-nocookie.com/embed/{VIDEO}?feature=oembed"></iframe>'
    )
    (card,) = cards_in_html(html, "Article title")
    assert card.video_id == VIDEO
    assert card.title == "The & explainer"
    assert card.url == f"https://www.youtube.com/watch?v={VIDEO}"
    assert card.thumbnail == f"https://i.ytimg.com/vi/{VIDEO}/hqdefault.jpg"


def test_wordpress_embed_block_with_bare_url() -> None:
    html = (
        '<figure class="wp-block-embed is-provider-youtube"><div class="wp-block-embed__wrapper">'
        f"\nhttps://www.youtube.com/watch?v={VIDEO}\n</div></figure>"
    )
    (card,) = cards_in_html(html, "Article title")
    assert (card.video_id, card.title) == (VIDEO, "Article title")


def test_lazy_iframe_link_and_text_url_are_found_once_each_in_order() -> None:
    html = (
        f'<iframe data-src="https://www.youtube.com/embed/{VIDEO}"></iframe>'
        '<a href="https://youtu.be/jNQXAC9IVRw">watch</a> and https://youtu.be/jNQXAC9IVRw'
        f" again https://m.youtube.com/watch?v={VIDEO}"
    )
    assert [card.video_id for card in cards_in_html(html, "t")] == [VIDEO, "jNQXAC9IVRw"]


def test_youtube_channel_feed_fields() -> None:
    feed = f"""<?xml version="1.0"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/"
      xmlns="http://www.w3.org/2005/Atom"><title>Chan</title>
 <entry><id>yt:video:{VIDEO}</id><yt:videoId>{VIDEO}</yt:videoId><title>Budget explained</title>
  <link rel="alternate" href="https://www.youtube.com/watch?v={VIDEO}"/>
  <media:group><media:title>Budget explained</media:title>
   <media:thumbnail url="https://i3.ytimg.com/vi/{VIDEO}/hqdefault.jpg" width="480" height="360"/>
   <media:description>What it means.</media:description></media:group></entry></feed>"""
    entry = feedparser.parse(feed.encode(), sanitize_html=False).entries[0]
    (card,) = cards_in_entry(entry, entry.get("summary", ""), "Budget explained")
    assert card.video_id == VIDEO
    assert card.thumbnail == f"https://i3.ytimg.com/vi/{VIDEO}/hqdefault.jpg"
    assert card.title == "Budget explained"
