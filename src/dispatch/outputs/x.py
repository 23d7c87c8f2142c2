"""X with tweepy's v2 ``create_tweet`` (OAuth 1.0a user context).

X has no idempotency key and the Free tier cannot read posts back, so a send that may have gone
through is ambiguous: flagged for the operator (or resent, if ``on_ambiguous: resend``).

With ``media: image``, the article's picture goes first to ``POST /2/media/upload`` and its alt
text to ``POST /2/media/metadata``, signed by tweepy's OAuth 1.0a handler on tweepy's session.
tweepy's own ``API.media_upload`` speaks v1.1's upload.twitter.com, which X retired in 2025.
Nothing is posted until the upload is done, so a failed upload is safe to retry; a picture X
will not take leaves a text post and a note in the run's report.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from dispatch.config import OutputSettings
from dispatch.config.secrets import Secret
from dispatch.errors import Ambiguous, AuthError, RateLimited, Rejected, TransientError
from dispatch.models import Kind, Message
from dispatch.outputs.base import BaseOutput, Capabilities
from dispatch.outputs.pictures import NoPicture, Picture, article_picture

X_API = "https://api.twitter.com"
IMAGE_BYTES = 5_000_000  # X's limit for an image in a post
_ACCESS_LEVEL = 453
_DUPLICATE = 187


class XSettings(OutputSettings):
    type: Literal["x"]
    consumer_key: Secret
    consumer_secret: Secret
    access_token: Secret
    access_token_secret: Secret
    api_url: str = X_API  # another base URL, for an API gateway or a local stand-in
    daily_limit: int | None = Field(default=17, gt=0)  # the Free tier's posts per 24 hours


class XOutput(BaseOutput):
    """Posts with tweepy; 280 weighted characters, every URL 23 (t.co)."""

    settings_model: ClassVar[type[OutputSettings]] = XSettings
    kinds: ClassVar[frozenset[Kind]] = frozenset({"post"})

    _client: Any = None

    @property
    def x(self) -> XSettings:
        assert isinstance(self.settings, XSettings)
        return self.settings

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            limit=280,
            counting="weighted",
            url_length=23,
            media=True,
            template="x",
            rate_per_minute=1,  # spaced by the daemon; the daily_limit is the real cap
        )

    def ready(self) -> str | None:
        if importlib.util.find_spec("tweepy") is None:
            return "tweepy is not installed: pip install 'dispatch[x]'"
        return super().ready()

    def send(self, message: Message) -> str:
        import requests
        import tweepy

        client = self._tweepy()
        media_ids = None
        if message.media == "image" and message.articles:
            try:
                picture = article_picture(self, message.articles[0], max_bytes=IMAGE_BYTES)
                media_ids = [self._upload(picture)]
            except NoPicture as e:
                self.note(f"{e}; the post goes out as text")
        try:
            response = client.create_tweet(
                text=message.text,
                media_ids=media_ids,
                in_reply_to_tweet_id=message.reply_to,  # a thread's later part
                user_auth=True,
            )
        except tweepy.TooManyRequests as e:
            raise self._rate_limited(e.response.headers) from None
        except tweepy.Unauthorized as e:
            raise AuthError(
                self.name,
                f"X refused the credentials: {_said(e)}",
                hint="check the four X_* secrets and the app's permissions",
            ) from None
        except tweepy.Forbidden as e:
            if _ACCESS_LEVEL in e.api_codes:
                raise AuthError(
                    self.name,
                    "your X API access level does not allow posting with this app "
                    f"(X error 453: {_said(e)})",
                    hint="in the X developer portal, give the app Read and Write permission "
                    "on a plan that includes POST /2/tweets, then regenerate the access token",
                ) from None
            if _DUPLICATE in e.api_codes or "duplicate" in _said(e).lower():
                raise Rejected(
                    self.name,
                    "X refused it as a duplicate of a recent post",
                    hint="it may already be posted; check, then `dispatch resolve ID --sent`",
                ) from None
            raise Rejected(self.name, f"X refused the post: {_said(e)}") from None
        except tweepy.BadRequest as e:
            raise Rejected(self.name, f"X refused the post: {_said(e)}") from None
        except tweepy.TwitterServerError as e:
            raise Ambiguous(self.name, f"X failed while posting: {_said(e)}") from None
        except requests.ConnectionError as e:
            if isinstance(e, requests.ConnectTimeout) or "Connection refused" in str(e):
                raise TransientError(self.name, f"cannot reach X: {e}") from None
            raise Ambiguous(self.name, f"the connection to X dropped: {e}") from None
        except requests.Timeout as e:
            raise Ambiguous(self.name, f"X did not answer in time: {e}") from None
        return str(response.data["id"])

    def _upload(self, picture: Picture) -> str:
        """Upload the picture with its alt text; its media id. Nothing is posted yet, so any
        failure to reach X is safe to retry.

        Raises:
            NoPicture: X refused the picture.
            AuthError, RateLimited, TransientError: as for a post.
        """
        import requests

        session, auth = self._tweepy().session, self._auth()
        base = X_API + "/2/media"
        try:
            answer = session.post(
                f"{base}/upload",
                data={"media_category": "tweet_image", "media_type": picture.mime},
                files={"media": ("picture", picture.data, picture.mime)},
                auth=auth,
            )
            self._media_status(answer)
            media_id = str(answer.json()["data"]["id"])
            described = session.post(
                f"{base}/metadata",
                json={"id": media_id, "metadata": {"alt_text": {"text": picture.alt}}},
                auth=auth,
            )
            self._media_status(described)
        except requests.RequestException as e:
            raise TransientError(self.name, f"cannot upload the picture to X: {e}") from None
        return media_id

    def _media_status(self, answer: Any) -> None:
        """Sort a media endpoint's answer: 2xx goes on, the rest raises."""
        if answer.status_code < 300:
            return
        said = answer.text[:300]
        if answer.status_code == 401:
            raise AuthError(self.name, f"X refused the credentials: {said}")
        if answer.status_code == 429:
            raise self._rate_limited(answer.headers)
        if answer.status_code >= 500:
            raise TransientError(self.name, f"X failed to take the picture: {said}")
        raise NoPicture(f"X refused the picture (HTTP {answer.status_code}): {said}")

    def _rate_limited(self, headers: Any) -> RateLimited:
        """X's 429, waiting until its ``x-rate-limit-reset`` (epoch seconds) where it says."""
        reset = headers.get("x-rate-limit-reset")
        wait = float(reset) - datetime.now(UTC).timestamp() if reset else None
        return RateLimited(self.name, "X says: too many requests", retry_after=wait)

    def _auth(self) -> Any:
        import tweepy

        settings = self.x
        return tweepy.OAuth1UserHandler(
            settings.consumer_key.reveal(),
            settings.consumer_secret.reveal(),
            settings.access_token.reveal(),
            settings.access_token_secret.reveal(),
        ).apply_auth()

    def _tweepy(self) -> Any:
        import tweepy

        if self._client is None:
            settings = self.x
            self._client = tweepy.Client(
                consumer_key=settings.consumer_key.reveal(),
                consumer_secret=settings.consumer_secret.reveal(),
                access_token=settings.access_token.reveal(),
                access_token_secret=settings.access_token_secret.reveal(),
            )
            self._client.user_agent = self.context.user_agent
            # tweepy names X's host itself; a transport adapter (requests' own mechanism)
            # points it at api_url and bounds every request with our timeout.
            self._client.session.mount(
                X_API, _adapter(settings.api_url.rstrip("/"), settings.timeout.total_seconds())
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.session.close()
            self._client = None


def _adapter(base: str, default_timeout: float) -> Any:
    from requests import PreparedRequest, Response
    from requests.adapters import HTTPAdapter

    class Rebased(HTTPAdapter):
        def send(
            self,
            request: PreparedRequest,
            stream: bool = False,
            timeout: float | tuple[float | None, float | None] | None = None,
            verify: bool | str = True,
            cert: str | tuple[str, str] | None = None,
            proxies: dict[str, str] | None = None,
        ) -> Response:
            url = request.url or ""
            if base != X_API and url.startswith(X_API):
                request.url = base + url[len(X_API) :]
            return super().send(request, stream, timeout or default_timeout, verify, cert, proxies)

    return Rebased()


def _said(error: Any) -> str:
    messages = list(getattr(error, "api_messages", []) or [])
    return "; ".join(messages) or str(error)
