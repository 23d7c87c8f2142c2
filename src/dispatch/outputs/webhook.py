"""Webhooks: the message and its articles as JSON, signed the Standard Webhooks way.

``webhook-id`` is derived from the delivery, so it is the same on every retry and a receiver
that remembers ids never acts twice; that makes this output safe to retry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import ClassVar, Literal

from dispatch.config import OutputSettings
from dispatch.config.secrets import Secret
from dispatch.models import Kind, Message
from dispatch.outputs.base import BaseOutput, Capabilities
from dispatch.outputs.http import check_status, request


class WebhookSettings(OutputSettings):
    type: Literal["webhook"]
    url: str
    secret: Secret | None = None


class WebhookOutput(BaseOutput):
    """POSTs ``{"type", "timestamp", "data"}`` with webhook-id, -timestamp and -signature."""

    settings_model: ClassVar[type[OutputSettings]] = WebhookSettings
    kinds: ClassVar[frozenset[Kind]] = frozenset({"digest", "post"})

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(html=True, idempotent=True)

    def send(self, message: Message) -> str:
        assert isinstance(self.settings, WebhookSettings)
        webhook_id = f"msg_{message.key}"
        body = json.dumps(
            {
                "type": f"dispatch.{message.kind}",
                "timestamp": datetime.now(UTC).isoformat(),
                "data": message.to_record(),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        headers = {
            "content-type": "application/json",
            **webhook_headers(webhook_id, int(time.time()), body, self.settings.secret),
        }
        response = request(self, "POST", self.settings.url, headers=headers, body=body)
        check_status(self.name, response)
        return webhook_id


def webhook_headers(
    webhook_id: str, timestamp: int, body: bytes, secret: Secret | None
) -> dict[str, str]:
    """The Standard Webhooks headers; the signature only when a secret is configured.

    A secret written ``whsec_<base64>`` is the key's base64; any other string is the key.
    """
    headers = {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp)}
    if secret is not None and secret.value:
        raw = secret.reveal()
        key = (
            base64.b64decode(raw.removeprefix("whsec_"))
            if raw.startswith("whsec_")
            else raw.encode()
        )
        signed = f"{webhook_id}.{timestamp}.".encode() + body
        digest = hmac.new(key, signed, hashlib.sha256).digest()
        headers["webhook-signature"] = "v1," + base64.b64encode(digest).decode()
    return headers
