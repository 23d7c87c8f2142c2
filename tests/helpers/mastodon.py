"""A Mastodon instance on 127.0.0.1, speaking the API's documented wire format."""

from __future__ import annotations

import html
import itertools
import re
import threading
from typing import Any

from helpers.servers import Call, JsonServer, Reply, reply


class MastodonStandIn(JsonServer):
    """Mastodon: /api/v2/instance, POST /api/v1/statuses (Idempotency-Key remembered),
    verify_credentials and an account's statuses; POST /api/v2/media (processed in the
    background: 202, then 206 on the first GET /api/v1/media/:id and 200 after), and a status
    refused for media that is unknown or not processed yet, as Mastodon refuses it.
    """

    def __init__(
        self,
        token: str = "mastodon-token",
        max_characters: int = 500,
        image_size_limit: int = 16_777_216,
    ) -> None:
        super().__init__()
        self.token = token
        self.max_characters = max_characters
        self.image_size_limit = image_size_limit
        self.statuses: list[dict[str, Any]] = []
        self.by_key: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(1000)
        self.media: dict[str, dict[str, Any]] = {}  # id -> the attachment, with its bytes
        self.polls: dict[str, int] = {}  # GET /api/v1/media/:id calls per id
        # While set, a status just made (the ``hold_from``-th or later) waits for this before
        # it is answered: a sender can be killed after the status exists, before it hears so.
        self.hold_status: threading.Event | None = None
        self.hold_from = 1

    def output(self, **settings: Any) -> dict[str, Any]:
        """Output settings that reach this stand-in, with ``settings`` added or replaced."""
        return {"type": "mastodon", "base_url": self.url, "access_token": self.token, **settings}

    def handle(self, call: Call) -> Reply:
        if call.path == "/api/v2/instance":
            return reply(
                200,
                {
                    "configuration": {
                        "statuses": {
                            "max_characters": self.max_characters,
                            "characters_reserved_per_url": 23,
                        },
                        "media_attachments": {
                            "image_size_limit": self.image_size_limit,
                            "image_matrix_limit": 33_177_600,
                        },
                    }
                },
            )
        if call.headers.get("authorization") != f"Bearer {self.token}":
            return reply(401, {"error": "The access token is invalid"})
        if call.path == "/api/v2/media" and call.method == "POST":
            return self._upload(call)
        if call.path.startswith("/api/v1/media/") and call.method == "GET":
            media_id = call.path.rsplit("/", 1)[1]
            if media_id not in self.media:
                return reply(404, {"error": "Record not found"})
            self.polls[media_id] = self.polls.get(media_id, 0) + 1
            attachment = self.media[media_id]
            if self.polls[media_id] == 1:  # still processing the first time it is asked
                return reply(206, _shown(attachment))
            attachment["url"] = f"{self.url}/media/{media_id}.jpg"
            return reply(200, _shown(attachment))
        if call.path == "/api/v1/statuses" and call.method == "POST":
            key = call.headers.get("idempotency-key")
            if key and key in self.by_key:
                return reply(200, self.by_key[key])
            payload = call.json()
            attached = [self.media.get(str(i)) for i in payload.get("media_ids", [])]
            if any(a is None for a in attached):
                return reply(422, {"error": "Validation failed: media ids are unknown"})
            if any(a["url"] is None for a in attached if a):
                return reply(
                    422, {"error": "Cannot attach files that have not finished processing"}
                )
            reply_to = payload.get("in_reply_to_id")
            if reply_to is not None and not any(st["id"] == reply_to for st in self.statuses):
                return reply(404, {"error": "Record not found"})  # what Mastodon answers
            text = payload["status"]
            if len(re.sub(r"https?://\S+", "x" * 23, text)) > self.max_characters:
                return reply(422, {"error": "Validation failed: Text character limit exceeded"})
            linked = re.sub(r"(https?://\S+)", r'<a href="\1">\1</a>', html.escape(text))
            status = {
                "id": str(next(self.ids)),
                "content": f"<p>{linked}</p>",
                "visibility": payload.get("visibility"),
                "language": payload.get("language"),
                "spoiler_text": payload.get("spoiler_text", ""),
                "text": text,
                "media_attachments": [_shown(a) for a in attached if a],
                "in_reply_to_id": reply_to,
            }
            self.statuses.append(status)
            if key:
                self.by_key[key] = status
            if self.hold_status is not None and len(self.statuses) >= self.hold_from:
                self.hold_status.wait(30)
            return reply(200, status)
        if call.path == "/api/v1/accounts/verify_credentials":
            return reply(200, {"id": "1", "username": "journal"})
        if call.path == "/api/v1/accounts/1/statuses":
            return reply(200, list(reversed(self.statuses))[:40])
        return reply(404, {"error": "Record not found"})

    def _upload(self, call: Call) -> Reply:
        try:
            form = call.form()
        except ValueError as e:
            return reply(422, {"error": f"Validation failed: {e}"})
        if "file" not in form:
            return reply(422, {"error": "Validation failed: File can't be blank"})
        _, content_type, data = form["file"]
        if not content_type.startswith("image/"):
            return reply(422, {"error": f"Validation failed: {content_type} is not supported"})
        if len(data) > self.image_size_limit:
            return reply(422, {"error": "Validation failed: File file size must be less than"})
        media_id = str(next(self.ids))
        description = form.get("description", (None, "", b""))[2].decode()
        self.media[media_id] = {
            "id": media_id,
            "type": "image",
            "url": None,  # processed in the background
            "description": description,
            "bytes": data,
        }
        return reply(202, _shown(self.media[media_id]))


def _shown(attachment: dict[str, Any]) -> dict[str, Any]:
    """A MediaAttachment as the API shows it (without the bytes kept here)."""
    return {key: value for key, value in attachment.items() if key != "bytes"}


def mastodon_output(standin: MastodonStandIn, **extra: Any) -> dict[str, Any]:
    settings = {
        "access_token": "${MASTODON_TOKEN}",
        "visibility": "unlisted",
        "language": "en",
        "spoiler_text": "news",
    }
    return standin.output(**{**settings, **extra})
