"""HTTP for outputs whose requests are safe to repeat (Mastodon with its Idempotency-Key,
webhooks with their webhook-id): our guarded client, with failures as output errors.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dispatch.errors import AuthError, RateLimited, Rejected, TransientError
from dispatch.net.guard import BlockedAddress
from dispatch.net.http import HttpFailure, HttpResponse, http_request, retry_after_seconds
from dispatch.outputs.base import BaseOutput
from dispatch.text import printable


def request(
    output: BaseOutput,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> HttpResponse:
    """One request on behalf of ``output``, under its timeout and private-network setting.
    No answer at all is a TransientError, whether or not the request reached the server: only
    outputs whose retries cannot send twice may use this.

    Raises:
        Rejected: the target is a private address and that is not allowed.
        TransientError: no answer came.
    """
    try:
        return http_request(
            method,
            url,
            headers={"User-Agent": output.context.user_agent, **(headers or {})},
            body=body,
            allow_private=output.allow_private,
            timeout=output.settings.timeout.total_seconds(),
        )
    except BlockedAddress as e:
        raise Rejected(
            output.name, f"refused: {e}", hint="set allow_private_networks: true on this output"
        ) from None
    except HttpFailure as e:
        raise TransientError(output.name, str(e)) from None


def check_status(output: str, response: HttpResponse, *, detail: Any = None) -> None:
    """Sort a non-2xx answer into the error it means.

    Raises:
        AuthError, RateLimited, TransientError, Rejected: by status.
    """
    status = response.status
    if 200 <= status < 300:
        return
    said = detail if detail is not None else response.body[:300].decode(errors="replace")
    reason = f"HTTP {status}: {said}".strip()
    if status in (401, 403):
        raise AuthError(output, reason, hint="check the credentials in the environment")
    if status in (429, 503):
        wait = retry_after_seconds(response.headers.get("retry-after"), datetime.now(UTC))
        raise RateLimited(output, reason, retry_after=wait)
    if status == 408 or status >= 500:
        raise TransientError(output, reason)
    raise Rejected(output, reason)


def said(response: HttpResponse, key: str) -> str:
    """What an API's error answer says: its JSON ``key`` when there is one, else the start of
    the body. Printable: it is stored with the delivery and shown in the run's report.
    """
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict) and key in payload:
        return printable(str(payload[key]))
    return printable(response.body[:200].decode(errors="replace"))
