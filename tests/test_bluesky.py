"""Bluesky as Bluesky takes it: facets its app would make (mentions resolved), thumbnails of
their real type and size, one session per process, and its rate limit's reset honoured.
The PDS stand-in checks every record with atproto's own models (strict string formats).
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from dispatch.errors import RateLimited
from dispatch.models import Article, Message
from dispatch.outputs.base import OutputContext
from dispatch.outputs.bluesky import MAX_THUMBNAIL, BlueskyOutput, BlueskySettings
from helpers.bluesky import AtprotoStandIn, bluesky_output
from helpers.project import (
    NOW,
    State,
    run_cli,
    write_config,
)
from helpers.sending import PNG, deliveries, noise_png, setup
from helpers.servers import FeedServer, reply


def send(
    state: State, tmp_path: Path, server: FeedServer, pds: AtprotoStandIn, item: dict[str, str]
) -> dict[str, Any]:
    path = setup(state, tmp_path, server, {"sky": bluesky_output(pds)}, items=[item])
    result = run_cli("send", "--now", NOW, config=path, env={"BSKY_APP_PASSWORD": "app-pass"})
    assert result.code == 0, result.stderr
    assert pds.invalid == []
    (record,) = pds.records.values()
    return record


def covered(record: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    text = record["text"].encode()
    return [
        (text[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(), f["features"][0])
        for f in record.get("facets", [])
    ]


def test_hashtags_resolved_mentions_and_bare_domains_become_facets(
    tmp_path: Path, state: State, server: FeedServer, pds: AtprotoStandIn
) -> None:
    pds.handles["reporter.example.org"] = "did:plc:reporter0000000000000000"
    item = {
        "title": "Budget day",
        "guid": "b1",
        "link": "https://example.org/budget",
        "content": "<p>Asked by @reporter.example.org and @nobody.example.org about "
        "#Budget2026 (see example.com/faq).</p>",
    }
    facets = covered(send(state, tmp_path, server, pds, item))
    assert (
        "@reporter.example.org",
        {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:reporter0000000000000000"},
    ) in facets
    assert not any(text == "@nobody.example.org" for text, _ in facets)  # unresolved: text
    assert ("#Budget2026", {"$type": "app.bsky.richtext.facet#tag", "tag": "Budget2026"}) in facets
    assert (
        "example.com/faq",
        {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/faq"},
    ) in facets
    assert (
        "https://example.org/budget",
        {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org/budget"},
    ) in facets


def test_a_link_ending_in_a_parenthesis_keeps_it(
    tmp_path: Path, state: State, server: FeedServer, pds: AtprotoStandIn
) -> None:
    link = "https://en.wikipedia.org/wiki/Budget_(disambiguation)"
    item = {"title": "Which budget?", "guid": "w1", "link": link, "content": "<p>Several.</p>"}
    facets = covered(send(state, tmp_path, server, pds, item))
    assert (link, {"$type": "app.bsky.richtext.facet#link", "uri": link}) in facets


def pictured(server: FeedServer) -> dict[str, str]:
    """An item whose article shows the picture served at /pic."""
    return {
        "title": "Pictured",
        "guid": "p1",
        "link": "https://example.org/p",
        "content": f'<p>Text.</p><p><img src="{server.url("/pic")}" alt="x"></p>',
    }


@pytest.mark.parametrize("large", [False, True])
def test_thumbnails_go_as_their_real_type_and_within_the_size_limit(
    tmp_path: Path, state: State, server: FeedServer, pds: AtprotoStandIn, large: bool
) -> None:
    picture = noise_png(900) if large else PNG
    assert (len(picture) > MAX_THUMBNAIL) is large
    # A server that does not say what it sends: the type is read from the bytes.
    server.serve("/pic", picture, content_type="application/octet-stream")
    record = send(state, tmp_path, server, pds, pictured(server))
    thumb = record["embed"]["external"]["thumb"]
    (blob,) = pds.blobs
    assert thumb["mimeType"] == ("image/jpeg" if large else "image/png")
    assert len(blob) <= MAX_THUMBNAIL
    assert Image.open(io.BytesIO(blob)).format == ("JPEG" if large else "PNG")


def test_a_picture_that_is_no_image_leaves_the_card_without_one(
    tmp_path: Path, state: State, server: FeedServer, pds: AtprotoStandIn
) -> None:
    server.serve("/pic", b"<html>not found</html>", content_type="image/png")
    record = send(state, tmp_path, server, pds, pictured(server))
    assert "thumb" not in record["embed"]["external"] and pds.blobs == []


def message(number: int) -> Message:
    article = Article(feed="f", key=f"k{number}", title="t", link=f"https://example.org/{number}")
    return Message(
        delivery_id=number,
        output="sky",
        type="bluesky",
        kind="post",
        name="social",
        subject=None,
        text=f"Post {number} https://example.org/{number}",
        html=None,
        length=0,
        limit=300,
        articles=(article,),
        cards=(),
        key=f"key-{number}",
        unit="graphemes",
        record_key=f"3kabc{number:08d}",
    )


def output(pds: AtprotoStandIn, tmp_path: Path) -> BlueskyOutput:
    settings = BlueskySettings.model_validate({**pds.output(), "allow_private_networks": True})
    return BlueskyOutput("sky", settings, OutputContext(tmp_path, allow_private_networks=True))


def test_one_session_per_process_refreshed_not_recreated(
    tmp_path: Path, pds: AtprotoStandIn
) -> None:
    """Runs close their outputs and a reload makes new ones: the session stays, and a token
    about to run out is refreshed (atproto refreshes 15 minutes ahead), never made anew.
    """
    pds.access_lifetime = 60
    for number in range(3):
        sky = output(pds, tmp_path)
        sky.send(message(number))
        sky.close()
    assert pds.sessions == 1 and pds.refreshes >= 3
    assert len(pds.records) == 3 and pds.invalid == []
    assert all(c.headers["user-agent"].startswith("dispatch/") for c in pds.calls)


def test_a_rate_limit_waits_for_bluesky_reset(tmp_path: Path, pds: AtprotoStandIn) -> None:
    sky = output(pds, tmp_path)
    sky.send(message(0))
    reset = int(time.time()) + 600
    pds.failures.append(
        reply(
            429,
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            {"ratelimit-reset": str(reset), "ratelimit-remaining": "0"},
        )
    )
    with pytest.raises(RateLimited) as caught:
        sky.send(message(1))
    assert caught.value.retry_after is not None and 590 <= caught.value.retry_after <= 600
    assert len(pds.records) == 1


def test_bluesky_posts_with_facets_a_card_and_its_own_record_key(
    tmp_path: Path, state: State, server: FeedServer, pds: AtprotoStandIn
) -> None:
    server.serve("/thumb.png", PNG, content_type="image/png")
    items = [
        {
            "title": "Über den Fluss",
            "guid": "u1",
            "link": "https://example.org/über",
            "content": "<p>Ein Bericht. Zwei Sätze.</p>"
            f'<p><img src="{server.url("/thumb.png")}" alt="x"></p>',
        }
    ]
    path = setup(state, tmp_path, server, {"sky": bluesky_output(pds)}, items=items)
    result = run_cli("send", "--now", NOW, config=path, env={"BSKY_APP_PASSWORD": "app-pass"})
    assert result.code == 0, result.stderr
    ((_, _, _, status, remote, _, _, rkey, _),) = deliveries(state)
    assert status == "sent" and remote == f"at://{pds.did}/app.bsky.feed.post/{rkey}"
    record = pds.records[rkey]
    text = record["text"].encode()
    (facet,) = record["facets"]
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    # The link goes out as a URI, one link that every network counts as one.
    assert text[start:end].decode() == "https://example.org/%C3%BCber"
    assert facet["features"][0]["uri"] == "https://example.org/%C3%BCber"
    external = record["embed"]["external"]
    assert record["embed"]["$type"] == "app.bsky.embed.external"
    assert external["uri"] == "https://example.org/%C3%BCber"
    assert external["title"] == "Über den Fluss"
    assert external["thumb"]["ref"]["$link"].startswith("bafkrei") and pds.blobs == [PNG]
    assert record["langs"] == ["en"]


def test_bluesky_retry_after_a_crash_never_posts_twice(
    tmp_path: Path, state: State, server: FeedServer, pds: AtprotoStandIn
) -> None:
    path = setup(state, tmp_path, server, {"sky": bluesky_output(pds)})
    env = {"BSKY_APP_PASSWORD": "app-pass"}
    assert run_cli("send", "--now", NOW, config=path, env=env).code == 0
    state.rows("UPDATE deliveries SET status = 'sending'")  # as if killed after the PDS took it
    again = run_cli("send", "--now", "2026-11-27T03:10:00+00:00", config=path, env=env)
    assert again.code == 0, again.stderr
    assert len(pds.records) == 1
    assert deliveries(state)[0][3] == "sent"


def test_bluesky_card_for_a_video_uses_the_video_thumbnail(
    tmp_path: Path, server: FeedServer, pds: AtprotoStandIn
) -> None:
    video_thumb = PNG + b"video"
    server.serve("/vi/dQw4w9WgXcQ/hqdefault.jpg", video_thumb, content_type="image/jpeg")
    server.serve("/article.png", PNG, content_type="image/png")
    channel = f"""<?xml version="1.0"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/"
      xmlns="http://www.w3.org/2005/Atom"><title>Chan</title>
 <entry><id>yt:video:dQw4w9WgXcQ</id><yt:videoId>dQw4w9WgXcQ</yt:videoId>
  <title>Budget explained</title>
  <link rel="alternate" href="https://www.youtube.com/watch?v=dQw4w9WgXcQ"/>
  <published>2026-11-26T10:00:00+00:00</published>
  <media:group><media:title>Budget explained</media:title>
   <media:thumbnail url="{server.url("/vi/dQw4w9WgXcQ/hqdefault.jpg")}" width="480" height="360"/>
   <media:description>What it means for you. In four minutes.</media:description></media:group>
 </entry></feed>"""
    url = server.serve("/channel", channel, content_type="application/atom+xml")
    path = write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "feeds": [{"name": "tv", "url": url, "backfill": 1}],
            "outputs": {"sky": bluesky_output(pds)},
            "posts": [{"name": "social", "outputs": ["sky"]}],
        },
    )
    result = run_cli("send", "--now", NOW, config=path, env={"BSKY_APP_PASSWORD": "app-pass"})
    assert result.code == 0, result.stderr
    (record,) = pds.records.values()
    assert record["embed"]["external"]["uri"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert pds.blobs == [video_thumb]
