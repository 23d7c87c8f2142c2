"""Chat networks through Apprise, which speaks about a hundred services: Telegram, Discord,
Slack, Matrix, ntfy, Gotify, Mattermost, email and more, each by a URL (``tgram://``,
``discord://``, ``slack://``, ``matrix://``, ``ntfy://`` ...).

- **One delivery per URL**, so a service that fails is retried alone. The delivery names its
  URL by its place and as Apprise prints it with privacy on, without its options
  (``#1 tgram://1...9/``): no token is stored or shown, and a post found while a URL's
  variable was unset goes to that URL once it is set.
- **Limits**: a post is fitted to the smallest body limit Apprise declares among the output's
  URLs (Discord 2,000, Telegram 4,096, ntfy 7,800 ...); give services their own outputs to fit
  each to its own.
- **No idempotency**: Apprise has no key a service would remember, so a send cut off mid-way is
  *ambiguous* by the outbox's rules (flagged, or resent with ``on_ambiguous: resend``). A
  service's refusal is a failure to retry; Apprise does not say whether it was for good.
- Telegram: ``?preview=yes`` asks for the link preview channels expect, ``?format=html`` for
  formatting; Apprise gives both, so dispatch has no Telegram output of its own.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from typing import Any, ClassVar, Literal

from pydantic import Field

from dispatch.config import OutputSettings
from dispatch.config.secrets import Secret
from dispatch.errors import Rejected, TransientError
from dispatch.models import Kind, Message
from dispatch.outputs.base import BaseOutput, Capabilities

DEFAULT_LIMIT = 4096  # Telegram's, until Apprise has been asked


class AppriseSettings(OutputSettings):
    type: Literal["apprise"]
    urls: list[Secret] = Field(min_length=1)  # each as Apprise writes it; ${VAR} keeps tokens out


class AppriseOutput(BaseOutput):
    """Posts through Apprise, one delivery per URL."""

    settings_model: ClassVar[type[OutputSettings]] = AppriseSettings
    kinds: ClassVar[frozenset[Kind]] = frozenset({"post"})

    _plugins: list[Any] | None = None  # Apprise's plugin for each URL, or None

    @property
    def apprise(self) -> AppriseSettings:
        assert isinstance(self.settings, AppriseSettings)
        return self.settings

    @property
    def capabilities(self) -> Capabilities:
        limits = [int(plugin.body_maxlen) for plugin in self._services() if plugin is not None]
        return Capabilities(
            limit=min(limits) if limits else DEFAULT_LIMIT,
            limit_source="the smallest body limit Apprise declares for the output's URLs"
            if limits
            else "Telegram's 4,096: Apprise is not installed, or the URLs are not set",
            counting="characters",
            template="default",
        )

    def ready(self) -> str | None:
        if importlib.util.find_spec("apprise") is None:
            return "apprise is not installed: pip install 'dispatch[apprise]'"
        unset = super().ready()
        if unset:
            return unset
        broken = [f"urls[{i}]" for i, url in enumerate(self.apprise.urls) if _plugin(url) is None]
        if broken:
            return f"Apprise does not know {', '.join(broken)}: check the URL's scheme and parts"
        return None

    def recipients(self) -> list[str | None]:
        """One per URL: ``#1 ntfy://editor:****@host/topic``. The number finds the URL again;
        the rest is Apprise's masked form, or the variables of a URL not set yet.
        """
        names: list[str | None] = []
        for number, (url, plugin) in enumerate(
            zip(self.apprise.urls, self._services(), strict=True)
        ):
            shown = (
                plugin.url(privacy=True).split("?")[0] if plugin else f"${{{', '.join(url.env)}}}"
            )
            names.append(f"#{number + 1} {shown}")
        return names

    def send(self, message: Message) -> str:
        match = re.match(r"#(\d+) ", message.recipient or "")
        number = int(match.group(1)) if match else 0
        plugins = self._services()
        plugin = plugins[number - 1] if 0 < number <= len(plugins) else None
        if plugin is None:
            raise Rejected(
                self.name,
                f"{message.recipient} is not one of this output's URLs (now)",
                hint="put it back in feeds.yaml, or resolve the delivery",
            )
        import apprise

        capture = apprise.LogCapture(level=logging.WARNING, fmt="%(message)s")  # type: ignore[no-untyped-call]
        with capture as said:
            sent = plugin.notify(body=message.text, title="", body_format=apprise.NotifyFormat.TEXT)
        if not sent:
            reason = _masked(said.getvalue().strip().splitlines(), self.apprise.urls)
            raise TransientError(self.name, f"{message.recipient}: {reason or 'it failed'}")
        return str(message.recipient)

    def _services(self) -> list[Any]:
        """Apprise's plugin for each URL, in order; None for one not set or not known."""
        if self._plugins is None:
            known = importlib.util.find_spec("apprise") is not None
            self._plugins = [_plugin(url) if known else None for url in self.apprise.urls]
        return self._plugins


def _plugin(url: Secret) -> Any:
    """Apprise's plugin for ``url``, or None for a URL unset or unknown to it."""
    if url.value is None:
        return None
    import apprise

    return apprise.Apprise.instantiate(url.reveal(), suppress_exceptions=True) or None


def _masked(lines: list[str], urls: list[Secret]) -> str:
    """Apprise's last word on a failure, with any part of a URL long enough to be a token
    (eight characters or more) masked: Apprise's plugins log what a service answered, and
    some put the URL in it.
    """
    text = lines[-1] if lines else ""
    for url in urls:
        if url.value is None:
            continue
        for part in re.split(r"[/:@?&=#]+", url.value):
            if len(part) >= 8:
                text = text.replace(part, "***")
    return text
