"""Bluesky with atproto: links, mentions and hashtags as facets found the way Bluesky's app
finds them, the article's card as an explicit ``app.bsky.embed.external`` with an uploaded
thumbnail (a video's thumbnail where the article carries one) or, with ``media: image``, the
article's picture as ``app.bsky.embed.images`` with its alt text, a record key made with the
delivery row, so a retry cannot post twice, and one session per account for the whole process.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from dispatch.config import OutputSettings
from dispatch.config.secrets import Secret
from dispatch.errors import AuthError, RateLimited, Rejected, TransientError
from dispatch.models import Article, Kind, Message
from dispatch.outputs.base import BaseOutput, Capabilities
from dispatch.outputs.pictures import NoPicture, Picture, article_picture
from dispatch.render.richtext import detect_facets
from dispatch.urls import ascii_url

POST = "app.bsky.feed.post"
# app.bsky.embed.external's thumb and app.bsky.embed.images' image: at most 1,000,000 bytes.
# A larger picture is scaled down to fit.
MAX_THUMBNAIL = 1_000_000

# One logged-in client per account for the whole process: Bluesky allows 30 createSession
# calls in 5 minutes and 300 a day, so a session is made once and refreshed, not made per run.
_sessions: dict[tuple[str, str, str], tuple[Any, str]] = {}
_sessions_lock = threading.Lock()


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
        facets = self._facets(client, message.text)
        if facets:
            record["facets"] = facets
        if self.bluesky.language:
            record["langs"] = [self.bluesky.language]
        embed = self._embed(client, message)
        if embed is not None:
            record["embed"] = embed
        if message.reply_to and message.thread_root:  # a thread's later part
            record["reply"] = {
                "root": self._reference(client, message.thread_root),
                "parent": self._reference(client, message.reply_to),
            }
        data = {"repo": self._did, "collection": POST, "rkey": message.record_key, "record": record}
        try:
            response = client.com.atproto.repo.create_record(data)
        except exceptions.BadRequestError as e:
            existing = self.lookup(message)
            if existing is not None:  # an earlier attempt went through: never post twice
                return existing
            raise Rejected(self.name, f"the PDS refused the post: {_said(e)}") from None
        except exceptions.UnauthorizedError as e:
            self._forget_session()
            raise AuthError(self.name, f"the PDS refused our session: {_said(e)}") from None
        except exceptions.RateLimitExceededError as e:
            raise self._rate_limited(e) from None
        except exceptions.AtProtocolError as e:
            raise TransientError(self.name, f"the PDS failed: {_said(e)}") from None
        return str(response.uri)

    def _facets(self, client: Any, text: str) -> list[dict[str, object]]:
        """The text's facets; a mention whose handle does not resolve to a DID stays text."""
        from atproto_client import exceptions

        facets = []
        for facet in detect_facets(text):
            did = None
            if facet.kind == "mention":
                try:
                    did = client.com.atproto.identity.resolve_handle({"handle": facet.value}).did
                except exceptions.AtProtocolError:
                    continue
            facets.append(facet.record(did))
        return facets

    def _reference(self, client: Any, uri: str) -> dict[str, str]:
        """A strong reference to one of our posts (its URI and CID), as a reply names it."""
        from atproto_client import exceptions

        rkey = uri.rsplit("/", 1)[1]
        try:
            found = client.com.atproto.repo.get_record(
                {"repo": self._did, "collection": POST, "rkey": rkey}
            )
        except exceptions.AtProtocolError as e:
            raise TransientError(
                self.name, f"cannot read the post replied to: {_said(e)}"
            ) from None
        return {"uri": str(found.uri), "cid": str(found.cid)}

    def _rate_limited(self, error: Any) -> RateLimited:
        reset = getattr(error, "reset_at", None)
        wait = (reset - datetime.now(UTC)).total_seconds() if reset is not None else None
        return RateLimited(
            self.name, f"the PDS asks us to wait until {reset or 'later'}", retry_after=wait
        )

    def lookup(self, message: Message) -> str | None:
        from atproto_client import exceptions

        client = self._login()
        try:
            found = client.com.atproto.repo.get_record(
                {"repo": self._did, "collection": POST, "rkey": message.record_key}
            )
        except exceptions.BadRequestError:
            return None
        except exceptions.RateLimitExceededError as e:
            raise self._rate_limited(e) from None
        except exceptions.AtProtocolError as e:
            raise TransientError(self.name, f"the PDS failed: {_said(e)}") from None
        return str(found.uri)

    def _account(self) -> tuple[str, str, str]:
        password = self.bluesky.app_password.reveal()
        digest = hashlib.sha256(password.encode()).hexdigest()
        return (self.bluesky.service, self.bluesky.handle, digest)

    def _login(self) -> Any:
        """The account's client, logged in once per process; atproto refreshes its session
        (``refreshSession``) when the access token runs out.
        """
        if self._client is not None:
            return self._client
        from atproto import Client
        from atproto_client import exceptions

        with _sessions_lock:
            session = _sessions.get(self._account())
            if session is None:
                client = Client(base_url=self.bluesky.service)
                client.request.add_additional_header("User-Agent", self.context.user_agent)
                dids: list[str] = []
                client.on_session_change(lambda event, made: dids.append(made.did))
                try:
                    client.login(
                        self.bluesky.handle,
                        self.bluesky.app_password.reveal(),
                        fetch_bsky_profile=False,
                    )
                except exceptions.RateLimitExceededError as e:
                    raise self._rate_limited(e) from None
                except (exceptions.UnauthorizedError, exceptions.BadRequestError) as e:
                    raise AuthError(
                        self.name,
                        f"login refused: {_said(e)}",
                        hint="use an app password, not the account password",
                    ) from None
                except exceptions.AtProtocolError as e:
                    raise TransientError(
                        self.name, f"cannot reach {self.bluesky.service}: {e}"
                    ) from None
                session = _sessions[self._account()] = (client, dids[-1])
        self._client, self._did = session
        return self._client

    def _forget_session(self) -> None:
        """The PDS refused the session: the next send logs in anew."""
        with _sessions_lock:
            _sessions.pop(self._account(), None)
        self._client = None

    def _embed(self, client: Any, message: Message) -> dict[str, Any] | None:
        """What the post shows besides its text, as the rule asks: the article's card, its
        picture (``app.bsky.embed.images``, with alt text), or nothing. A picture that cannot
        be had leaves the card, without one, and a note in the run's report.
        """
        article = message.articles[0] if message.articles else None
        if article is None or message.media == "none":
            return None
        if message.media == "image":
            try:
                picture = article_picture(self, article, max_bytes=MAX_THUMBNAIL)
            except NoPicture as e:
                self.note(f"{e}; the post goes out with the link's card")
                return self._card(client, article, with_picture=False)
            blob = self._upload(client, picture)
            if blob is not None:
                image = {
                    "alt": picture.alt,
                    "image": blob,
                    "aspectRatio": {"width": picture.width, "height": picture.height},
                }
                return {"$type": "app.bsky.embed.images", "images": [image]}
        return self._card(client, article)

    def _card(
        self, client: Any, article: Article, *, with_picture: bool = True
    ) -> dict[str, Any] | None:
        """The article as an external embed; a video's thumbnail when it carries one."""
        if not article.link:
            return None
        external: dict[str, Any] = {
            "uri": ascii_url(article.link),
            "title": article.title,
            "description": article.summary,
        }
        # The card shows the video it plays, where the article carries one.
        thumbnail = article.cards[0].thumbnail if article.cards else article.image
        if with_picture and thumbnail:
            try:
                picture = article_picture(self, article, max_bytes=MAX_THUMBNAIL, source=thumbnail)
            except NoPicture:
                picture = None  # a card without a picture, rather than no post
            blob = self._upload(client, picture) if picture else None
            if blob is not None:
                external["thumb"] = blob
        return {"$type": "app.bsky.embed.external", "external": external}

    def _upload(self, client: Any, picture: Picture) -> Any:
        """The picture as a blob, or None when the PDS will not take it."""
        from atproto_client import exceptions

        try:
            return client.com.atproto.repo.upload_blob(
                picture.data, headers={"Content-Type": picture.mime}
            ).blob
        except exceptions.AtProtocolError as e:
            self.note(f"the PDS did not take the picture: {_said(e)}; the post goes without it")
            return None

    def close(self) -> None:
        self._client = None  # the session stays, for this account's next send in this process


def _said(error: Any) -> str:
    response = getattr(error, "response", None)
    content = getattr(response, "content", None)
    message = getattr(content, "message", None) or getattr(content, "error", None)
    return str(message or error)
