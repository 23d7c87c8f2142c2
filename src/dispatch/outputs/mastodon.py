"""Mastodon over its REST API: an ``Idempotency-Key`` on every status (the server remembers it
for an hour), the instance's own character limit, and a lookup of our own recent statuses for
a row that was cut off mid-send longer ago than that. With ``media: image``, the article's
picture is uploaded first (``/api/v2/media``, its alt text as the description, within the
instance's own image limits) and waited for until processed; a retry may upload it again, but
the status's key still makes one status.
"""

from __future__ import annotations

import html
import json
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field

from dispatch.config import OutputSettings
from dispatch.config.secrets import Secret
from dispatch.errors import RateLimited, Rejected
from dispatch.models import Kind, Message
from dispatch.net.http import HttpResponse
from dispatch.outputs.base import BaseOutput, Capabilities
from dispatch.outputs.http import check_status, request, said
from dispatch.outputs.pictures import NoPicture, Picture, article_picture

DEFAULT_LIMIT = 500
KEY_LIFETIME = timedelta(hours=1)
# How long limits read from the instance are trusted before a real run reads them again.
LIMITS_MAX_AGE = timedelta(days=1)
# Images: what Mastodon before 4.0 allowed, until the instance says (4.x: 16 MB, 8K pixels).
IMAGE_BYTES = 10_485_760
IMAGE_PIXELS = 16_777_216
PROCESSING_WAIT = 30.0  # seconds an uploaded image may take to be processed


class MastodonSettings(OutputSettings):
    type: Literal["mastodon"]
    base_url: str
    access_token: Secret
    visibility: Literal["public", "unlisted", "private", "direct"] = "public"
    language: str | None = None
    spoiler_text: str | None = None
    max_characters: int | None = Field(default=None, gt=0)  # None: as the instance says


class MastodonOutput(BaseOutput):
    """Posts statuses; counts as the instance counts (URLs as its reserved length)."""

    settings_model: ClassVar[type[OutputSettings]] = MastodonSettings
    kinds: ClassVar[frozenset[Kind]] = frozenset({"post"})
    can_lookup: ClassVar[bool] = True

    _instance_limit: int | None = None
    _url_length: int = 23
    _image_bytes: int = IMAGE_BYTES
    _image_pixels: int = IMAGE_PIXELS
    _read_at: datetime | None = None  # when the instance's limits were read
    _fresh = False  # read by prepare since learned() last told

    @property
    def mastodon(self) -> MastodonSettings:
        assert isinstance(self.settings, MastodonSettings)
        return self.settings

    @property
    def capabilities(self) -> Capabilities:
        limit = self.mastodon.max_characters or self._instance_limit or DEFAULT_LIMIT
        if self.mastodon.max_characters:
            source = "max_characters in feeds.yaml"
        elif self._instance_limit and self._read_at:
            source = f"the instance's own limit, read {self._read_at:%Y-%m-%d %H:%M} UTC"
        else:
            source = (
                f"the default {DEFAULT_LIMIT}: the instance has not been asked yet "
                "(a real send asks it first)"
            )
        return Capabilities(
            limit=limit,
            limit_source=source,
            counting="graphemes",
            url_length=self._url_length,
            media=True,
            idempotent=True,
            idempotency_window=KEY_LIFETIME,
            rate_per_minute=1.6,  # Mastodon allows an account 300 statuses in 3 hours
            template="mastodon",
        )

    def prepare(self) -> None:
        """Read the instance's status limits (``/api/v2/instance``), unless configured or
        read within LIMITS_MAX_AGE.
        """
        if self.mastodon.max_characters is not None:
            return
        if self._read_at is not None and datetime.now(UTC) - self._read_at < LIMITS_MAX_AGE:
            return
        response = self._call("GET", "/api/v2/instance")
        if response.status == 404:
            response = self._call("GET", "/api/v1/instance")
        check_status(self.name, response)
        statuses = (response.json().get("configuration") or {}).get("statuses") or {}
        limit = statuses.get("max_characters")
        if isinstance(limit, int) and limit > 0:
            self._instance_limit = limit
        reserved = statuses.get("characters_reserved_per_url")
        if isinstance(reserved, int) and reserved > 0:
            self._url_length = reserved
        media = (response.json().get("configuration") or {}).get("media_attachments") or {}
        self._image_limits(media)
        self._read_at = datetime.now(UTC)
        self._fresh = True

    def learned(self) -> Mapping[str, int]:
        fresh, self._fresh = self._fresh, False
        if not fresh or self._instance_limit is None:
            return {}
        return {
            "max_characters": self._instance_limit,
            "characters_reserved_per_url": self._url_length,
            "image_size_limit": self._image_bytes,
            "image_matrix_limit": self._image_pixels,
        }

    def recall(self, limits: Mapping[str, int], read_at: datetime | None) -> None:
        limit = limits.get("max_characters")
        if isinstance(limit, int) and limit > 0 and read_at is not None:
            self._instance_limit = limit
            self._url_length = limits.get("characters_reserved_per_url") or self._url_length
            self._image_limits(limits)
            self._read_at = read_at

    def _image_limits(self, said: Mapping[str, Any]) -> None:
        size, pixels = said.get("image_size_limit"), said.get("image_matrix_limit")
        if isinstance(size, int) and size > 0:
            self._image_bytes = size
        if isinstance(pixels, int) and pixels > 0:
            self._image_pixels = pixels

    def send(self, message: Message) -> str:
        status: dict[str, Any] = {"status": message.text, "visibility": self.mastodon.visibility}
        if self.mastodon.language:
            status["language"] = self.mastodon.language
        if self.mastodon.spoiler_text:
            status["spoiler_text"] = self.mastodon.spoiler_text
        if message.reply_to:  # a thread's later part
            status["in_reply_to_id"] = message.reply_to
        if message.media == "image" and message.articles:
            try:
                picture = article_picture(
                    self,
                    message.articles[0],
                    max_bytes=self._image_bytes,
                    max_pixels=self._image_pixels,
                )
                status["media_ids"] = [self._upload(picture)]
            except NoPicture as e:
                self.note(f"{e}; the post goes out as text")
        response = self._call(
            "POST", "/api/v1/statuses", body=status, headers={"Idempotency-Key": message.key}
        )
        if response.status == 422:
            raise Rejected(self.name, f"the instance refused the status: {_error(response)}")
        check_status(self.name, response, detail=_error(response))
        return str(response.json()["id"])

    def _upload(self, picture: Picture) -> str:
        """Upload the picture and wait until the instance has processed it; its media id.

        Raises:
            NoPicture: the instance refused it, or did not process it in time.
            AuthError, RateLimited, TransientError: as any call.
        """
        subtype = picture.mime.partition("/")[2]
        body, content_type = _form({"description": picture.alt}, f"picture.{subtype}", picture)
        response = self._call(
            "POST", "/api/v2/media", raw=body, headers={"Content-Type": content_type}
        )
        if response.status == 422:
            raise NoPicture(f"the instance refused the picture: {_error(response)}")
        check_status(self.name, response, detail=_error(response))
        media = response.json()
        deadline = time.monotonic() + PROCESSING_WAIT
        while media.get("url") is None:  # 202: processed in the background; 206 while so
            if time.monotonic() > deadline:
                raise NoPicture(f"the instance did not process the picture in {PROCESSING_WAIT}s")
            time.sleep(0.5)
            answer = self._call("GET", f"/api/v1/media/{media['id']}")
            check_status(self.name, answer, detail=_error(answer))
            if answer.status == 200:
                media = answer.json()
        return str(media["id"])

    def lookup(self, message: Message) -> str | None:
        """Our own recent statuses, searched for the article's link."""
        me = self._call("GET", "/api/v1/accounts/verify_credentials")
        check_status(self.name, me, detail=_error(me))
        account = me.json()["id"]
        recent = self._call("GET", f"/api/v1/accounts/{account}/statuses?limit=40")
        check_status(self.name, recent, detail=_error(recent))
        links = {html.escape(a.link) for a in message.articles if a.link}
        for status in recent.json():
            if any(link in status.get("content", "") for link in links):
                return str(status["id"])
        return None

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        request_headers = {
            "Authorization": f"Bearer {self.mastodon.access_token.reveal()}",
            "Accept": "application/json",
            **(headers or {}),
        }
        data = raw
        if body is not None:
            request_headers["Content-Type"] = "application/json"
            data = json.dumps(body, ensure_ascii=False).encode()
        # No answer is safe to retry: the same Idempotency-Key cannot post twice.
        response = request(
            self,
            method,
            self.mastodon.base_url.rstrip("/") + path,
            headers=request_headers,
            body=data,
        )
        if response.status == 429:
            reset = response.headers.get("x-ratelimit-reset")
            raise RateLimited(
                self.name, f"rate limited until {reset}", retry_after=_seconds_until(reset)
            )
        return response


def _seconds_until(reset: str | None) -> float | None:
    """Seconds until Mastodon's ``X-RateLimit-Reset`` (an ISO 8601 time in UTC), or None for
    a value that is not one: a wait that cannot be read is left to the backoff, rather than
    raising and taking the refused post for one that may have gone out.
    """
    try:
        moment = datetime.fromisoformat(reset or "")
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime.now(UTC)).total_seconds()


def _error(response: HttpResponse) -> str:
    return said(response, "error")


def _form(fields: dict[str, str], filename: str, picture: Picture) -> tuple[bytes, str]:
    """``fields`` and the picture as ``multipart/form-data`` (RFC 7578): the body, and its
    Content-Type with the boundary.
    """
    boundary = f"dispatch-{secrets.token_hex(16)}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode()
        + b"\r\n"
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
        f"\r\nContent-Type: {picture.mime}\r\n\r\n".encode()
        + picture.data
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )
