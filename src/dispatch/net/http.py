"""The HTTP client outputs use: one request with the same guards as fetching feeds (scheme,
private addresses refused at connect time, a size cap, a deadline), and reading Retry-After.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from dispatch.net.guard import BlockedAddress, check_target, guarded_connector

LONGEST_WAIT = 365 * 86400.0  # seconds: a longer Retry-After is read as this


@dataclass(frozen=True)
class HttpResponse:
    """A response to one request an output made."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class HttpFailure(Exception):
    """No response. ``maybe_sent`` is True when the request may have reached the server (a
    timeout or a dropped connection after sending), False when it surely did not.
    """

    def __init__(self, reason: str, *, maybe_sent: bool) -> None:
        super().__init__(reason)
        self.maybe_sent = maybe_sent


def http_request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    allow_private: bool = False,
    timeout: float = 30.0,
    max_bytes: int = 10_000_000,
) -> HttpResponse:
    """One request with the same guards as feed fetching (scheme, SSRF at connect time, size
    cap, deadline), for outputs. Redirects are not followed.

    Raises:
        BlockedAddress: the target is a private address and that is not allowed.
        HttpFailure: no response came.
    """
    return asyncio.run(
        _request(method, url, headers or {}, body, allow_private, timeout, max_bytes)
    )


async def _request(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    allow_private: bool,
    timeout: float,
    max_bytes: int,
) -> HttpResponse:
    check_target(url, allow_private)
    async with aiohttp.ClientSession(
        connector=guarded_connector(allow_private), timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:
        try:
            async with session.request(
                method, url, headers=headers, data=body, allow_redirects=False
            ) as response:
                data = await response.content.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise HttpFailure(f"the answer is over {max_bytes:,} bytes", maybe_sent=True)
                return HttpResponse(
                    response.status, {k.lower(): v for k, v in response.headers.items()}, data
                )
        except aiohttp.ClientConnectorError as e:
            if isinstance(e.os_error, BlockedAddress):
                raise e.os_error from None
            raise HttpFailure(
                f"cannot connect to {e.host}:{e.port} ({e.strerror})", maybe_sent=False
            ) from None
        except aiohttp.ConnectionTimeoutError:
            raise HttpFailure(f"no connection within {timeout:g}s", maybe_sent=False) from None
        except TimeoutError:
            raise HttpFailure(f"no answer within {timeout:g}s", maybe_sent=True) from None
        except aiohttp.ClientError as e:
            raise HttpFailure(f"{type(e).__name__}: {e}", maybe_sent=True) from None


_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def cache_lifetime(
    cache_control: str | None, expires: str | None, date: str | None, now: datetime
) -> float | None:
    """The seconds a response says it stays fresh: Cache-Control's ``max-age``, else
    ``Expires`` less ``Date`` (or ``now``); None when it says nothing, or not to keep it.
    """
    if cache_control:
        lowered = cache_control.lower()
        if "no-store" in lowered or "no-cache" in lowered:
            return None
        found = _MAX_AGE.search(cache_control)
        if found:
            return min(float(found.group(1)), LONGEST_WAIT) or None
    if not expires:
        return None
    try:
        until = parsedate_to_datetime(expires.strip())
        sent = parsedate_to_datetime(date.strip()) if date else now
    except (TypeError, ValueError, OverflowError):
        return None  # "Expires: 0" and other dates in the past, or none at all
    if until.tzinfo is None or sent.tzinfo is None:
        return None
    seconds = (until - sent).total_seconds()
    return min(seconds, LONGEST_WAIT) if seconds > 0 else None


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: it may be a number of seconds or an HTTP date.
    At most a year: 400 nines would be an infinite wait, which no date can be added to.
    """
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # "²" and "٣" are digits to Python, not to HTTP
        return min(float(text), LONGEST_WAIT)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(max((moment - now).total_seconds(), 0.0), LONGEST_WAIT)
