"""The article's picture in posts (`media: image`), on the wire to each network's stand-in:
Mastodon's /api/v2/media (processed in the background, waited for), Bluesky's
app.bsky.embed.images (the record validated by atproto's models), X's /2/media/upload and
/2/media/metadata. Alt text, scaling to each limit, og:image, a picture that cannot be had,
and a sender killed between the upload and the post.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

from helpers.bluesky import AtprotoStandIn, bluesky_output
from helpers.mastodon import MastodonStandIn, mastodon_output
from helpers.project import NOW, State, run_cli, wait_for
from helpers.sending import PNG, deliveries, kill_sender_at_status, noise_png, setup
from helpers.servers import FeedServer
from helpers.x import XStandIn

ENV = {
    "MASTODON_TOKEN": "mastodon-token",
    "BSKY_APP_PASSWORD": "app-pass",
}


def pictured(server: FeedServer, alt: str = "The finance minister at the podium") -> dict[str, str]:
    return {
        "title": "The budget, line by line",
        "guid": "b1",
        "link": "https://example.org/budget",
        "content": "<p>The minister moved three tax bands. We read every line.</p>"
        f'<p><img src="{server.url("/pic")}" alt="{alt}"></p>',
    }


def configured(path: Path, media: str = "image") -> Path:
    data = yaml.safe_load(path.read_text())
    data["posts"][0]["media"] = media
    path.write_text(yaml.safe_dump(data))
    return path


def send(path: Path) -> Any:
    result = run_cli("send", "--now", NOW, config=path, env=ENV)
    assert result.code == 0, result.stderr
    return result


def test_each_network_gets_the_picture_with_its_alt_text(
    tmp_path: Path,
    state: State,
    server: FeedServer,
    mastodon: MastodonStandIn,
    pds: AtprotoStandIn,
    x: XStandIn,
) -> None:
    server.serve("/pic", PNG, content_type="image/png")
    outputs = {
        "toots": mastodon_output(mastodon),
        "sky": bluesky_output(pds),
        "tweets": x.output(),
    }
    send(configured(setup(state, tmp_path, server, outputs, items=[pictured(server)])))
    alt = "The finance minister at the podium"

    (status,) = mastodon.statuses
    (attachment,) = status["media_attachments"]
    assert attachment["description"] == alt and attachment["url"]  # processed, then posted
    assert mastodon.media[attachment["id"]]["bytes"] == PNG
    assert mastodon.polls[attachment["id"]] >= 2  # 206 while processing, then 200

    assert pds.invalid == []  # atproto's models took the record
    (record,) = pds.records.values()
    (image,) = record["embed"]["images"]
    assert record["embed"]["$type"] == "app.bsky.embed.images"
    assert image["alt"] == alt
    assert (image["aspectRatio"]["width"], image["aspectRatio"]["height"]) == (1, 1)
    assert pds.blobs == [PNG] and image["image"]["mimeType"] == "image/png"

    (tweet,) = x.tweets
    (media_id,) = tweet["media_ids"]
    assert x.media[media_id] == {"type": "image/png", "bytes": PNG, "alt": alt}
    assert {row[3] for row in deliveries(state)} == {"sent"}


def test_a_picture_over_the_limit_is_scaled_to_fit(
    tmp_path: Path, state: State, server: FeedServer, x: XStandIn, pds: AtprotoStandIn
) -> None:
    picture = noise_png(1400)  # about 5.9 MB: over X's 5 MB and Bluesky's 1 MB
    assert len(picture) > 5_000_000
    server.serve("/pic", picture, content_type="image/png")
    outputs = {"tweets": x.output(), "sky": bluesky_output(pds)}
    send(configured(setup(state, tmp_path, server, outputs, items=[pictured(server)])))
    ((media_id,),) = [tweet["media_ids"] for tweet in x.tweets]
    sent = x.media[media_id]["bytes"]
    assert len(sent) <= 5_000_000 and x.media[media_id]["type"] == "image/jpeg"
    assert Image.open(io.BytesIO(sent)).format == "JPEG"
    assert pds.invalid == []
    (blob,) = pds.blobs
    assert len(blob) <= 1_000_000 and Image.open(io.BytesIO(blob)).format == "JPEG"


def test_without_a_picture_in_the_feed_the_pages_og_image_is_used(
    tmp_path: Path, state: State, server: FeedServer, mastodon: MastodonStandIn
) -> None:
    server.serve("/pic", PNG, content_type="image/png")
    page = (
        "<html><head><title>Budget</title>"
        '<meta property="og:image" content="/pic"></head><body><p>Text.</p></body></html>'
    )
    article = server.serve("/budget", page, content_type="text/html")
    item = {
        "title": "The budget, line by line",
        "guid": "b1",
        "link": article,
        "content": "<p>The minister moved three tax bands. We read every line.</p>",
    }
    path = setup(state, tmp_path, server, {"toots": mastodon_output(mastodon)}, items=[item])
    send(configured(path))
    (status,) = mastodon.statuses
    (attachment,) = status["media_attachments"]
    assert attachment["description"] == "The budget, line by line"  # no alt: the title
    assert mastodon.media[attachment["id"]]["bytes"] == PNG


def test_a_picture_that_cannot_be_had_leaves_a_text_post_and_a_note(
    tmp_path: Path,
    state: State,
    server: FeedServer,
    mastodon: MastodonStandIn,
    pds: AtprotoStandIn,
) -> None:
    server.serve("/pic", b"<html>not found</html>", status=404, content_type="text/html")
    outputs = {"toots": mastodon_output(mastodon), "sky": bluesky_output(pds)}
    result = send(configured(setup(state, tmp_path, server, outputs, items=[pictured(server)])))
    (status,) = mastodon.statuses
    assert status["media_attachments"] == [] and mastodon.media == {}
    (record,) = pds.records.values()
    assert record["embed"]["$type"] == "app.bsky.embed.external"  # the card, as with media: card
    assert "thumb" not in record["embed"]["external"] and pds.blobs == []
    assert {row[3] for row in deliveries(state)} == {"sent"}
    said = result.stdout + result.stderr
    assert "toots: " in said and "could not be fetched" in said and "goes out as text" in said


def test_media_none_posts_the_text_alone(
    tmp_path: Path, state: State, server: FeedServer, pds: AtprotoStandIn
) -> None:
    server.serve("/pic", PNG, content_type="image/png")
    path = setup(state, tmp_path, server, {"sky": bluesky_output(pds)}, items=[pictured(server)])
    send(configured(path, "none"))
    (record,) = pds.records.values()
    assert "embed" not in record and pds.blobs == []


def test_a_sender_killed_between_upload_and_post_answer_posts_once(
    tmp_path: Path, state: State, server: FeedServer, mastodon: MastodonStandIn
) -> None:
    """The status is made, then the sender dies before it hears so: the next run sends again
    with the same Idempotency-Key, and Mastodon answers with the status it made.
    """
    server.serve("/pic", PNG, content_type="image/png")
    path = configured(
        setup(
            state, tmp_path, server, {"toots": mastodon_output(mastodon)}, items=[pictured(server)]
        )
    )
    kill_sender_at_status(path, mastodon, 1, NOW, ENV)
    (row,) = deliveries(state)
    assert row[3] == "sending"  # cut off mid-send

    def settled() -> bool:
        send(path)
        return bool(deliveries(state)[0][3] == "sent")

    wait_for(settled, timeout=20)
    assert len(mastodon.statuses) == 1  # the same status, not a second one
    (row,) = deliveries(state)
    assert row[4] == mastodon.statuses[0]["id"]
    assert len(mastodon.statuses[0]["media_attachments"]) == 1
