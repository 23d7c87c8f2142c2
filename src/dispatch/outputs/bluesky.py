"""Bluesky with atproto: links as facets (byte offsets), the article's card as an explicit
``app.bsky.embed.external`` with an uploaded thumbnail (a video's thumbnail where the article
carries one), and a record key made with the delivery row, so a retry cannot post twice.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from dispatch.config import FetchSettings, OutputSettings
from dispatch.errors import AuthError, Rejected, TransientError
from dispatch.fetch import Fetcher, FetchRequest, FetchResponse
from dispatch.limits import link_spans
from dispatch.models import Kind, Message
from dispatch.outputs.base import BaseOutput, Capabilities
from dispatch.secrets import Secret
from dispatch.urls import ascii_url

POST = "app.bsky.feed.post"
MAX_THUMBNAIL = 1_000_000


class BlueskySettings(OutputSettings):
    type: Literal["bluesky"]
    service: str = "https://bsky.social"
    handle: str
    app_password: Secret
    language: str | None = None


class BlueskyOutput(BaseOutput):
    """Posts records to the account's repository through its PDS."""

    settings_model: ClassVar[type[OutputSettings]] = BlueskySettings
    kinds: ClassVar[frozenset[Kind]] = frozenset({"post"})
    can_lookup: ClassVar[bool] = True

    _client: Any = None
    _did: str = ""

    @property
    def bluesky(self) -> BlueskySettings:
        assert isinstance(self.settings, BlueskySettings)
        return self.settings

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            limit=300,
            counting="graphemes",
            media=True,
            idempotent=True,
            template="bluesky",
            rate_per_minute=20,  # 1,666 records an hour at 3 points each of 5,000
        )

    def ready(self) -> str | None:
        if importlib.util.find_spec("atproto") is None:
            return "atproto is not installed: pip install 'dispatch[bluesky]'"
        return super().ready()

    def send(self, message: Message) -> str:
        from atproto_client import exceptions

        client = self._login()
        record: dict[str, Any] = {
            "$type": POST,
            "text": message.text,
            "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        facets = [
            {
                "index": {"byteStart": start, "byteEnd": end},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}],
            }
            for start, end, uri in link_spans(message.text)
        ]
        if facets:
            record["facets"] = facets
        if self.bluesky.language:
            record["langs"] = [self.bluesky.language]
        embed = self._card(client, message)
        if embed is not None:
            record["embed"] = embed
        data = {"repo": self._did, "collection": POST, "rkey": message.record_key, "record": record}
        try:
            response = client.com.atproto.repo.create_record(data)
        except exceptions.BadRequestError as e:
            existing = self.lookup(message)
            if existing is not None:  # an earlier attempt went through: never post twice
                return existing
            raise Rejected(self.name, f"the PDS refused the post: {_said(e)}") from None
        except exceptions.UnauthorizedError as e:
            self._client = None
            raise AuthError(self.name, f"the PDS refused our session: {_said(e)}") from None
        except exceptions.AtProtocolError as e:
            raise TransientError(self.name, f"the PDS failed: {_said(e)}") from None
        return str(response.uri)

    def lookup(self, message: Message) -> str | None:
        from atproto_client import exceptions

        client = self._login()
        try:
            found = client.com.atproto.repo.get_record(
                {"repo": self._did, "collection": POST, "rkey": message.record_key}
            )
        except exceptions.BadRequestError:
            return None
        except exceptions.AtProtocolError as e:
            raise TransientError(self.name, f"the PDS failed: {_said(e)}") from None
        return str(found.uri)

    def _login(self) -> Any:
        if self._client is not None:
            return self._client
        from atproto import Client
        from atproto_client import exceptions

        client = Client(base_url=self.bluesky.service)

        def remember(event: Any, session: Any) -> None:
            self._did = session.did

        client.on_session_change(remember)
        try:
            client.login(
                self.bluesky.handle, self.bluesky.app_password.reveal(), fetch_bsky_profile=False
            )
        except (exceptions.UnauthorizedError, exceptions.BadRequestError) as e:
            raise AuthError(
                self.name,
                f"login refused: {_said(e)}",
                hint="use an app password, not the account password",
            ) from None
        except exceptions.AtProtocolError as e:
            raise TransientError(self.name, f"cannot reach {self.bluesky.service}: {e}") from None
        self._client = client
        return client

    def _card(self, client: Any, message: Message) -> dict[str, Any] | None:
        """The article as an external embed; a video's thumbnail when it carries one."""
        article = message.articles[0] if message.articles else None
        if article is None or not article.link:
            return None
        external: dict[str, Any] = {
            "uri": ascii_url(article.link),
            "title": article.title,
            "description": article.summary,
        }
        image = article.cards[0].thumbnail if article.cards else article.image
        if image:
            blob = self._upload(client, image)
            if blob is not None:
                external["thumb"] = blob
        return {"$type": "app.bsky.embed.external", "external": external}

    def _upload(self, client: Any, url: str) -> Any:
        fetcher = Fetcher(FetchSettings(max_bytes=MAX_THUMBNAIL), self.context.base_dir)
        (result,) = fetcher.fetch_all(
            [FetchRequest("thumbnail", url, allow_private=self.allow_private)]
        )
        if not isinstance(result, FetchResponse) or not result.body:
            return None  # the card goes without a picture rather than the post not at all
        from atproto_client import exceptions

        try:
            return client.upload_blob(result.body).blob
        except exceptions.AtProtocolError:
            return None

    def close(self) -> None:
        self._client = None


def _said(error: Any) -> str:
    response = getattr(error, "response", None)
    content = getattr(response, "content", None)
    message = getattr(content, "message", None) or getattr(content, "error", None)
    return str(message or error)
