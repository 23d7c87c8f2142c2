"""X's API v2 on 127.0.0.1, judging every post with twitter-text as X does."""

from __future__ import annotations

import itertools
from typing import Any

from helpers.servers import Call, JsonServer, Reply, reply


class XStandIn(JsonServer):
    """X API v2 with OAuth 1.0a user context: POST /2/tweets (media ids must have been
    uploaded), POST /2/media/upload (multipart: ``media``, ``media_category``; images up to
    5 MB) and POST /2/media/metadata (alt text up to 1,000 characters).
    """

    def __init__(self, consumer_key: str = "x-consumer", *, reject_duplicates: bool = True) -> None:
        super().__init__()
        self.consumer_key = consumer_key
        self.reject_duplicates = reject_duplicates  # off to count double posts, not hide them
        self.tweets: list[dict[str, str]] = []
        self.invalid: list[str] = []  # posts twitter-text calls invalid, refused
        self.ids = itertools.count(1_800_000_000_000_000_000)
        self.media: dict[str, dict[str, Any]] = {}  # id -> category, type, bytes, alt text

    def output(self, **settings: Any) -> dict[str, Any]:
        """Output settings that reach this stand-in, with ``settings`` added or replaced."""
        return {
            "type": "x",
            "api_url": self.url,
            "consumer_key": self.consumer_key,
            "consumer_secret": "s",
            "access_token": "t",
            "access_token_secret": "s",
            **settings,
        }

    def handle(self, call: Call) -> Reply:
        auth = call.headers.get("authorization", "")
        if not auth.startswith("OAuth ") or f'oauth_consumer_key="{self.consumer_key}"' not in auth:
            return reply(401, {"title": "Unauthorized", "detail": "Unauthorized", "status": 401})
        if call.path == "/2/media/upload" and call.method == "POST":
            return self._upload(call)
        if call.path == "/2/media/metadata" and call.method == "POST":
            data = call.json()
            alt = data["metadata"]["alt_text"]["text"]
            if data["id"] not in self.media or len(alt) > 1000:
                return reply(400, {"title": "Invalid Request", "detail": "bad media metadata"})
            self.media[data["id"]]["alt"] = alt
            return reply(200, {"data": {"associated_metadata": True, "id": data["id"]}})
        if call.path == "/2/tweets" and call.method == "POST":
            media_ids = (call.json().get("media") or {}).get("media_ids") or []
            if any(str(i) not in self.media for i in media_ids):
                return reply(
                    400,
                    {
                        "errors": [{"message": "Your media IDs are invalid."}],
                        "title": "Invalid Request",
                        "type": "https://api.twitter.com/2/problems/invalid-request",
                    },
                )
            text = call.json()["text"]
            parsed = _parse_tweet(text)
            if not parsed.valid:  # what X answers a post over its limit
                self.invalid.append(text)
                return reply(
                    400,
                    {
                        "errors": [{"message": "Your Tweet text is too long."}],
                        "title": "Invalid Request",
                        "detail": f"weighted length {parsed.weightedLength} (twitter-text)",
                        "type": "https://api.twitter.com/2/problems/invalid-request",
                    },
                )
            if self.reject_duplicates and any(tweet["text"] == text for tweet in self.tweets):
                return reply(
                    403,
                    {
                        "detail": "You are not allowed to create a Tweet with duplicate content.",
                        "type": "about:blank",
                        "title": "Forbidden",
                        "status": 403,
                    },
                )
            reply_to = (call.json().get("reply") or {}).get("in_reply_to_tweet_id")
            if reply_to is not None and not any(t["id"] == str(reply_to) for t in self.tweets):
                return reply(
                    400,
                    {"title": "Invalid Request", "detail": "the post replied to does not exist"},
                )
            tweet = {
                "id": str(next(self.ids)),
                "text": text,
                "media_ids": media_ids,
                "reply_to": reply_to,
            }
            self.tweets.append(tweet)
            return reply(
                201,
                {
                    "data": {
                        "id": tweet["id"],
                        "text": text,
                        "edit_history_tweet_ids": [tweet["id"]],
                    }
                },
            )
        return reply(404, {"title": "Not Found Error", "status": 404})

    def _upload(self, call: Call) -> Reply:
        try:
            form = call.form()
        except ValueError as e:
            return reply(400, {"title": "Invalid Request", "detail": str(e)})
        category = form.get("media_category", (None, "", b""))[2].decode()
        if "media" not in form or category != "tweet_image":
            return reply(400, {"title": "Invalid Request", "detail": "media, media_category"})
        _, content_type, data = form["media"]
        if len(data) > 5_000_000:
            return reply(400, {"title": "Invalid Request", "detail": "image over 5 MB"})
        media_id = str(next(self.ids))
        self.media[media_id] = {"type": content_type, "bytes": data, "alt": None}
        return reply(
            200,
            {
                "data": {
                    "id": media_id,
                    "media_key": f"3_{media_id}",
                    "size": len(data),
                    "expires_after_secs": 86400,
                }
            },
        )


def _parse_tweet(text: str) -> Any:
    """twitter-text's verdict on a post (its Python port), as X's own servers judge it."""
    from dispatch.render.fit import twitter_text

    return twitter_text().parse_tweet(text)


X_ENV = {"X_SECRET": "x-secret"}


def x_output(standin: XStandIn, **extra: Any) -> dict[str, Any]:
    settings = {
        "consumer_secret": "${X_SECRET}",
        "access_token": "x-token",
        "access_token_secret": "${X_SECRET}",
    }
    return standin.output(**{**settings, **extra})
