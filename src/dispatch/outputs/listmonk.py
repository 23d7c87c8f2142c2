"""listmonk, the self-hosted mailing engine: a digest handed over to reach thousands of
subscribers through listmonk's own queue, bounces and unsubscribes.

Two ways, by ``mode``:

- ``campaign`` (the default): one campaign per digest to the configured lists, created and
  started through the HTTP API. Each campaign is tagged with the delivery's key and looked up
  by it before one is made, so a retry (or a crash mid-send) finishes the same campaign rather
  than mailing the lists twice.
- ``transactional``: one transactional message per recipient (``to``) through ``/api/tx``.
  listmonk keeps no record to look it up by, so a send cut off mid-request is ambiguous.

listmonk runs the body as a Go template. Feed text could hold ``{{``, so every ``{{`` is
escaped, and the digest's unsubscribe link becomes listmonk's own ``{{ UnsubscribeURL }}``.
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import Field

from dispatch.config import OutputSettings
from dispatch.config.secrets import Secret
from dispatch.errors import Ambiguous, Rejected, TransientError
from dispatch.models import Kind, Message
from dispatch.net.guard import BlockedAddress
from dispatch.net.http import HttpFailure, HttpResponse, http_request
from dispatch.outputs.base import BaseOutput, Capabilities
from dispatch.outputs.http import check_status, request, said

# Where the digest template puts the unsubscribe link; replaced by listmonk's own per-subscriber
# link when the campaign is sent.
UNSUBSCRIBE = "https://listmonk.invalid/unsubscribe"


class ListmonkSettings(OutputSettings):
    type: Literal["listmonk"]
    url: str  # the listmonk instance, without /api
    username: str  # an API user (Admin -> Users)
    token: Secret
    mode: Literal["campaign", "transactional"] = "campaign"
    lists: list[int] = Field(default_factory=list)  # campaign mode: the lists to mail
    to: list[str] = Field(default_factory=list)  # transactional mode: the subscribers
    # campaign mode: a campaign template that holds only {{ template "content" . }}, since the
    # digest is a whole email; transactional mode: the template showing {{ .Tx.Data.html }}.
    template_id: int | None = None
    from_email: str | None = Field(default=None, alias="from")
    tags: list[str] = Field(default_factory=lambda: ["dispatch"])
    unsubscribe: str = UNSUBSCRIBE


class ListmonkOutput(BaseOutput):
    """Hands digests to listmonk, as campaigns or transactional messages."""

    settings_model: ClassVar[type[OutputSettings]] = ListmonkSettings
    kinds: ClassVar[frozenset[Kind]] = frozenset({"digest"})
    can_lookup: ClassVar[bool] = True

    @property
    def listmonk(self) -> ListmonkSettings:
        assert isinstance(self.settings, ListmonkSettings)
        return self.settings

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(html=True, unsubscribe=self.listmonk.unsubscribe, inbox=True)

    def ready(self) -> str | None:
        unset = super().ready()
        if unset is not None:
            return unset
        settings = self.listmonk
        if settings.mode == "campaign" and not settings.lists:
            return "campaign mode needs `lists`: the ids of the lists to mail"
        if settings.mode == "transactional" and (not settings.to or settings.template_id is None):
            return "transactional mode needs `to` and a transactional `template_id`"
        return None

    def recipients(self) -> list[str | None]:
        if self.listmonk.mode == "transactional":
            return list(self.listmonk.to)
        return [None]

    def send(self, message: Message) -> str:
        if self.listmonk.mode == "transactional":
            return self._send_transactional(message)
        found = self.lookup(message)  # a retry finishes the campaign it began
        if found is not None:
            return found
        campaign: dict[str, Any] = {
            "name": f"{message.subject or message.name} [{message.key[:12]}]",
            "subject": message.subject or message.name,
            "lists": self.listmonk.lists,
            "type": "regular",
            "content_type": "html",
            "body": self._body(message.html or message.text),
            "altbody": self._body(message.text),
            "messenger": "email",
            "tags": [*self.listmonk.tags, _tag(message)],
        }
        if self.listmonk.template_id is not None:
            campaign["template_id"] = self.listmonk.template_id
        if self.listmonk.from_email:
            campaign["from_email"] = self.listmonk.from_email
        created = self._call("POST", "/api/campaigns", campaign)
        _refused_or_raise(self.name, created)
        return self._start(created.json()["data"])

    def lookup(self, message: Message) -> str | None:
        """The campaign tagged with this delivery's key: started if a crash left it a draft."""
        if self.listmonk.mode == "transactional":
            return None
        tag = quote(_tag(message))
        found = self._call("GET", f"/api/campaigns?tags={tag}&per_page=all")
        check_status(self.name, found, detail=_error(found))
        for campaign in found.json()["data"].get("results") or []:
            if _tag(message) in (campaign.get("tags") or []):
                return self._start(campaign)
        return None

    def _start(self, campaign: dict[str, Any]) -> str:
        remote = f"campaign {campaign['id']}"
        if campaign.get("status") not in ("draft", "paused"):
            return remote  # running, finished or scheduled: out of our hands
        started = self._call(
            "PUT", f"/api/campaigns/{campaign['id']}/status", {"status": "running"}
        )
        _refused_or_raise(self.name, started)
        return remote

    def _send_transactional(self, message: Message) -> str:
        payload: dict[str, Any] = {
            "subscriber_email": message.recipient,
            "template_id": self.listmonk.template_id,
            "content_type": "html",
            "data": {
                "subject": message.subject,
                "html": self._body(message.html or message.text),
                "text": self._body(message.text),
            },
        }
        if self.listmonk.from_email:
            payload["from_email"] = self.listmonk.from_email
        try:
            response = http_request(
                "POST",
                self._url("/api/tx"),
                headers=self._headers(),
                body=json.dumps(payload, ensure_ascii=False).encode(),
                allow_private=self.allow_private,
                timeout=self.settings.timeout.total_seconds(),
            )
        except BlockedAddress as e:
            raise Rejected(self.name, f"refused: {e}") from None
        except HttpFailure as e:
            if e.maybe_sent:  # listmonk keeps no record of a transactional message to ask
                raise Ambiguous(self.name, str(e)) from None
            raise TransientError(self.name, str(e)) from None
        _refused_or_raise(self.name, response)
        return f"tx to {message.recipient}"

    def _body(self, content: str) -> str:
        """Feed text as listmonk shows it, never run: ``{{`` escaped for Go's templates."""
        escaped = content.replace("{{", '{{ "{{" }}')
        if self.listmonk.unsubscribe == UNSUBSCRIBE:
            escaped = escaped.replace(UNSUBSCRIBE, "{{ UnsubscribeURL }}")
        return escaped

    def _url(self, path: str) -> str:
        return self.listmonk.url.rstrip("/") + path

    def _headers(self) -> dict[str, str]:
        credentials = f"{self.listmonk.username}:{self.listmonk.token.reveal()}"
        return {
            "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
            "Accept": "application/json",
            "Content-Type": "application/json; charset=utf-8",
        }

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> HttpResponse:
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        # No answer is safe to retry: the next try looks the campaign up before making one.
        return request(self, method, self._url(path), headers=self._headers(), body=data)


def _tag(message: Message) -> str:
    return f"dispatch-{message.key}"


def _refused_or_raise(output: str, response: HttpResponse) -> None:
    if response.status in (400, 422):
        raise Rejected(output, f"listmonk refused it: {_error(response)}")
    check_status(output, response, detail=_error(response))


def _error(response: HttpResponse) -> str:
    return said(response, "message")
