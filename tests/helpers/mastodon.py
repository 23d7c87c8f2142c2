"""A Mastodon instance on 127.0.0.1, speaking the API's documented wire format."""

from __future__ import annotations

import html
import itertools
import re
from typing import Any

from helpers.servers import Call, JsonServer, Reply, reply


class MastodonStandIn(JsonServer):
    """Mastodon: /api/v2/instance, POST /api/v1/statuses (Idempotency-Key remembered),
    verify_credentials and an account's statuses.
    """

    def __init__(self, token: str = "mastodon-token", max_characters: int = 500) -> None:
        super().__init__()
        self.token = token
        self.max_characters = max_characters
        self.statuses: list[dict[str, Any]] = []
        self.by_key: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(1000)

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
                        }
                    }
                },
            )
        if call.headers.get("authorization") != f"Bearer {self.token}":
            return reply(401, {"error": "The access token is invalid"})
        if call.path == "/api/v1/statuses" and call.method == "POST":
            key = call.headers.get("idempotency-key")
            if key and key in self.by_key:
                return reply(200, self.by_key[key])
            payload = call.json()
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
            }
            self.statuses.append(status)
            if key:
                self.by_key[key] = status
            return reply(200, status)
        if call.path == "/api/v1/accounts/verify_credentials":
            return reply(200, {"id": "1", "username": "journal"})
        if call.path == "/api/v1/accounts/1/statuses":
            return reply(200, list(reversed(self.statuses))[:40])
        return reply(404, {"error": "Record not found"})


def mastodon_output(standin: MastodonStandIn, **extra: Any) -> dict[str, Any]:
    settings = {
        "access_token": "${MASTODON_TOKEN}",
        "visibility": "unlisted",
        "language": "en",
        "spoiler_text": "news",
    }
    return standin.output(**{**settings, **extra})
