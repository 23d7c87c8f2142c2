"""Outputs whose settings and limits are known and whose sending arrives with issue #3: SMTP, X,
Mastodon, Bluesky and webhooks. Until then their deliveries stay pending and are reported,
never dropped. Issue #3 gives each its own module.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from dispatch.config import OutputSettings
from dispatch.errors import OutputUnavailable
from dispatch.models import Kind, Message
from dispatch.outputs.base import BaseOutput, Capabilities
from dispatch.secrets import Secret


class _NotSendingYet(BaseOutput):
    def send(self, message: Message) -> str:
        raise OutputUnavailable(
            self.name,
            f"sending through {self.settings.type} is not built yet (issue #3)",
            hint="the message stays pending; `dispatch send --dry-run` shows it",
        )


class XSettings(OutputSettings):
    type: Literal["x"]
    consumer_key: Secret
    consumer_secret: Secret
    access_token: Secret
    access_token_secret: Secret


class XOutput(_NotSendingYet):
    """X (Twitter): 280 weighted characters, every URL counts 23 (t.co)."""

    settings_model: ClassVar[type[OutputSettings]] = XSettings
    kinds: ClassVar[frozenset[Kind]] = frozenset({"post"})

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(limit=280, counting="weighted", url_length=23, media=True, template="x")


class MastodonSettings(OutputSettings):
    type: Literal["mastodon"]
    base_url: str
    access_token: Secret
    visibility: Literal["public", "unlisted", "private", "direct"] = "public"
    language: str | None = None
    spoiler_text: str | None = None
    max_characters: int = Field(default=500, gt=0)


class MastodonOutput(_NotSendingYet):
    """Mastodon: 500 characters by default (per instance), every URL counts 23."""

    settings_model: ClassVar[type[OutputSettings]] = MastodonSettings
    kinds: ClassVar[frozenset[Kind]] = frozenset({"post"})

    @property
    def capabilities(self) -> Capabilities:
        assert isinstance(self.settings, MastodonSettings)
        return Capabilities(
            limit=self.settings.max_characters,
            counting="graphemes",
            url_length=23,
            media=True,
            idempotent=True,
            template="mastodon",
        )


class BlueskySettings(OutputSettings):
    type: Literal["bluesky"]
    service: str = "https://bsky.social"
    handle: str
    app_password: Secret


class BlueskyOutput(_NotSendingYet):
    """Bluesky: 300 graphemes; links are facets and the card an explicit embed."""

    settings_model: ClassVar[type[OutputSettings]] = BlueskySettings
    kinds: ClassVar[frozenset[Kind]] = frozenset({"post"})

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            limit=300, counting="graphemes", media=True, idempotent=True, template="bluesky"
        )


class SmtpSettings(OutputSettings):
    type: Literal["smtp"]
    host: str
    port: int = Field(default=587, gt=0, lt=65536)
    starttls: bool = True
    tls: bool = False
    username: str | None = None
    password: Secret | None = None
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    unsubscribe: str | None = None


class SmtpOutput(_NotSendingYet):
    """Email over SMTP: an HTML digest with its plain-text twin."""

    settings_model: ClassVar[type[OutputSettings]] = SmtpSettings
    kinds: ClassVar[frozenset[Kind]] = frozenset({"digest"})

    @property
    def capabilities(self) -> Capabilities:
        # Gmail clips a message whose HTML passes about 102 KB.
        return Capabilities(limit=102_000, counting="bytes", html=True, media=True)


class WebhookSettings(OutputSettings):
    type: Literal["webhook"]
    url: str
    secret: Secret | None = None


class WebhookOutput(_NotSendingYet):
    """A JSON payload to a URL, signed the Standard Webhooks way."""

    settings_model: ClassVar[type[OutputSettings]] = WebhookSettings
    kinds: ClassVar[frozenset[Kind]] = frozenset({"digest", "post"})

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(html=True, idempotent=True)
