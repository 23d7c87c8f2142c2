"""Fetching feeds and pages: conditional GET, timeouts, a size cap, redirects, and the
address guard on every hop.

feedparser never fetches. Every hop of a redirect is checked again, and the guard also sits in
the resolver, so a name that resolves to a private address is refused at connect time.
Local paths are read from disk, for bundled and test feeds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urljoin

import aiohttp

from dispatch.config import FetchSettings
from dispatch.errors import FetchError
from dispatch.net.guard import BlockedAddress, NotFetched, check_target, guarded_connector
from dispatch.net.hosts import HostQueue, Refusal
from dispatch.net.http import cache_lifetime, retry_after_seconds

# What a URL may hold as it is, besides letters, digits and "-._~": percent-encoding the rest.
_URL_PUNCTUATION = "!#$%&'()*+,/:;=?@[]"
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class FetchRequest:
    """One URL to fetch, with the validators of the last good fetch. ``local``: the URL comes
    from feeds.yaml, so a path (or file:// URL) is read from disk; never for URLs from feeds.
    """

    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    allow_private: bool = False
    local: bool = False
    timeout: float | None = None  # seconds to wait for the answer; None: ``fetch.timeout``


@dataclass(frozen=True)
class FetchResponse:
    """A fetched body, or ``status == 304`` with no body."""

    name: str
    url: str
    status: int
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    redirects: tuple[tuple[int, str], ...] = ()
    lifetime: float | None = None  # seconds the server says the answer stays fresh
    # WebSub's links in the Link header: the hub, and the feed's own address there.
    hub: str | None = None
    topic: str | None = None
    seconds: float = 0.0  # how long the answer took, redirects included

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def moved_to(self) -> str | None:
        """Where the leading permanent redirects (301, 308) led, if the first hop was one."""
        target = None
        for status, url in self.redirects:
            if status not in (301, 308):
                break
            target = url
        return target


def _redirect_target(name: str, status: int, url: str, location: str) -> str:
    """Where a redirect from ``url`` leads (``check_target`` then judges it). Bytes of the
    Location that are not UTF-8 (aiohttp reads them as lone surrogates) go on percent-encoded,
    as browsers send them: the URL is stored, and shown in errors.

    Raises:
        FetchError: ``location`` cannot be read as a URL (a broken host).
    """
    if _text(location) is None:
        location = quote(location.encode("utf-8", "surrogateescape"), safe=_URL_PUNCTUATION)
    try:
        return urljoin(url, location)
    except ValueError:
        raise FetchError(
            name,
            f"HTTP {status} to {location!r}, which is not a URL",
            hint="the site's redirect is broken; open the feed URL in a browser",
        ) from None


def _text(value: str | None) -> str | None:
    """A header's value, or None where it is not text: aiohttp reads bytes that are not UTF-8
    as lone surrogates, which no database stores and no parser reads. Without its ETag and
    Last-Modified a feed is fetched whole; without its Content-Type, read as it declares.
    """
    if value is None or value.isascii():
        return value
    try:
        value.encode()
    except UnicodeEncodeError:
        return None
    return value


class FetchWatcher(Protocol):
    def started(self, total: int) -> None: ...

    def done(self, ok: bool) -> None: ...


class Fetcher:
    """Fetches many URLs at once; one failure never stops the others."""

    def __init__(self, settings: FetchSettings, base_dir: Path) -> None:
        self.settings = settings
        self.base_dir = base_dir
        self.watcher: FetchWatcher | None = None  # told of each fetch (a progress bar)
        # The most requests of the last pass in flight to each host at once.
        self.most_at_once: dict[str, int] = {}

    def fetch_all(self, requests: Sequence[FetchRequest]) -> list[FetchResponse | FetchError]:
        """Fetch every request; the result at each index is the response or the error."""
        if not requests:
            return []
        return asyncio.run(self._fetch_all(requests))

    async def _fetch_all(
        self, requests: Sequence[FetchRequest]
    ) -> list[FetchResponse | FetchError]:
        timeout = aiohttp.ClientTimeout(
            sock_connect=self.settings.connect_timeout.total_seconds(),
            sock_read=self.settings.timeout.total_seconds(),
        )
        headers = {"User-Agent": self.settings.user_agent, "Accept-Encoding": "gzip, deflate"}
        sessions: dict[bool, aiohttp.ClientSession] = {}

        def session_for(allow_private: bool) -> aiohttp.ClientSession:
            if allow_private not in sessions:
                connector = guarded_connector(
                    allow_private,
                    self.settings.nameservers,
                    self.settings.concurrency,
                    self.settings.per_host,
                )
                sessions[allow_private] = aiohttp.ClientSession(
                    connector=connector, timeout=timeout, headers=headers
                )
            return sessions[allow_private]

        watcher = self.watcher
        if watcher is not None:
            watcher.started(len(requests))

        async def one(request: FetchRequest) -> FetchResponse | FetchError:
            result = await fetch(request)
            if watcher is not None:
                watcher.done(not isinstance(result, FetchError))
            return result

        async def fetch(request: FetchRequest) -> FetchResponse | FetchError:
            longest = self.settings.timeout.total_seconds()
            seconds = min(request.timeout or longest, longest)
            try:
                if request.local and _is_local(request.url):
                    return self._read_local(request)
                async with asyncio.timeout(seconds):
                    return await self._get(session_for(request.allow_private), request)
            except FetchError as e:
                return e
            except TimeoutError:
                later = "it is tried again at the next poll"
                if seconds < longest:
                    later = f"its next poll waits longer, up to {longest:g}s (fetch.timeout)"
                return FetchError(
                    request.name,
                    f"no complete answer within {seconds:g}s",
                    hint=f"the server is slow or down; {later}",
                    unanswered=True,
                    waited=seconds,
                )

        # ``concurrency`` workers, each taking the next request whose host has room once done
        # with one, rather than a task for every request waiting on a semaphore: 10,000 feeds
        # made 10,000 tasks. A host that stalls holds only its own ``per_host`` workers.
        hosts = HostQueue(
            [request.url for request in requests],
            self.settings.per_host,
            self.settings.host_gap.total_seconds(),
        )
        done: dict[int, FetchResponse | FetchError] = {}

        async def worker() -> None:
            while (turn := await hosts.take()) is not None:
                request = requests[turn.index]
                if turn.refused is not None:
                    done[turn.index] = _not_asked(request, turn.refused)
                    if watcher is not None:
                        watcher.done(False)
                    continue
                result = await one(request)
                answered = not (isinstance(result, FetchError) and result.unanswered)
                hosts.done(request.url, _slow_down(result), answered=answered)
                done[turn.index] = result

        try:
            workers = min(self.settings.concurrency, len(requests))
            await asyncio.gather(*(worker() for _ in range(workers)))
            self.most_at_once = hosts.most_at_once
            return [done[index] for index in range(len(requests))]
        finally:
            for session in sessions.values():
                await session.close()

    async def _get(self, session: aiohttp.ClientSession, request: FetchRequest) -> FetchResponse:
        clock = asyncio.get_running_loop().time
        started = clock()
        url = request.url
        redirects: list[tuple[int, str]] = []
        conditional: dict[str, str] = {}
        if request.etag:
            conditional["If-None-Match"] = request.etag
        if request.last_modified:
            conditional["If-Modified-Since"] = request.last_modified
        while True:
            try:
                check_target(url, request.allow_private)
                async with session.get(url, headers=conditional, allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = response.headers.get("Location")
                        if not location:
                            raise FetchError(
                                request.name, f"HTTP {response.status} without a Location"
                            )
                        if len(redirects) >= MAX_REDIRECTS:
                            raise FetchError(
                                request.name,
                                f"more than {MAX_REDIRECTS} redirects (last: {url})",
                                hint="the site redirects in a loop; open the feed URL in a browser",
                            )
                        url = _redirect_target(request.name, response.status, url, location)
                        redirects.append((response.status, url))
                        continue
                    lifetime = cache_lifetime(
                        response.headers.get("Cache-Control"),
                        response.headers.get("Expires"),
                        response.headers.get("Date"),
                        datetime.now(UTC),
                    )
                    if response.status == 304:
                        return FetchResponse(
                            request.name,
                            url,
                            304,
                            redirects=tuple(redirects),
                            etag=request.etag,
                            last_modified=request.last_modified,
                            lifetime=lifetime,
                            seconds=clock() - started,
                        )
                    if response.status != 200:
                        raise _status_error(
                            request.name,
                            response.status,
                            url,
                            response.headers.get("Retry-After"),
                        )
                    body = await self._read_capped(request.name, response)
                    return FetchResponse(
                        request.name,
                        url,
                        200,
                        body,
                        etag=_text(response.headers.get("ETag")),
                        last_modified=_text(response.headers.get("Last-Modified")),
                        content_type=_text(response.headers.get("Content-Type")),
                        redirects=tuple(redirects),
                        lifetime=lifetime,
                        hub=_linked(response, "hub"),
                        topic=_linked(response, "self"),
                        seconds=clock() - started,
                    )
            except BlockedAddress as e:
                raise _blocked(request.name, e) from None
            except aiohttp.ClientConnectorError as e:
                if isinstance(e.os_error, BlockedAddress):
                    raise _blocked(request.name, e.os_error) from None
                raise FetchError(
                    request.name,
                    f"cannot connect to {e.host}:{e.port} ({e.strerror})",
                    hint="check the URL; the site may be down",
                    unanswered=True,
                ) from None
            except aiohttp.ClientError as e:
                raise FetchError(
                    request.name,
                    f"{type(e).__name__}: {e}",
                    hint="a network error; it is tried again at the next poll",
                    unanswered=isinstance(e, _UNANSWERED),
                ) from None

    async def _read_capped(self, name: str, response: aiohttp.ClientResponse) -> bytes:
        cap = self.settings.max_bytes
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(65536):
            size += len(chunk)
            if size > cap:
                raise FetchError(
                    name,
                    f"the body is over the size cap of {cap:,} bytes",
                    hint="raise fetch.max_bytes if this feed is really that large",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _read_local(self, request: FetchRequest) -> FetchResponse:
        path = Path(request.url.removeprefix("file://"))
        if not path.is_absolute():
            path = self.base_dir / path
        try:
            body = path.read_bytes()[: self.settings.max_bytes + 1]
        except OSError as e:
            raise FetchError(
                request.name,
                f"cannot read {path}: {e.strerror or e}",
                hint="check the path; relative paths start at the config file",
            ) from None
        if len(body) > self.settings.max_bytes:
            raise FetchError(request.name, f"the file is over {self.settings.max_bytes:,} bytes")
        return FetchResponse(request.name, str(path), 200, body, content_type="application/xml")


def _linked(response: aiohttp.ClientResponse, rel: str) -> str | None:
    """The first web address the Link header gives for ``rel``."""
    try:
        links = response.links
    except ValueError:  # a Link header that cannot be read says nothing
        return None
    for link in links.getall(rel, ()):
        url = str(link.get("url") or "")
        if url.lower().startswith("http"):
            return url
    return None


def _slow_down(result: FetchResponse | FetchError) -> float | None:
    """The seconds a host asked us to wait (0 when it did not say), if it answered 429 or 503."""
    if isinstance(result, FetchError) and result.status in (429, 503):
        return result.retry_after or 0.0
    return None


def _not_asked(request: FetchRequest, refusal: Refusal) -> FetchError:
    hint = "it is tried again after that wait" if refusal.wait else "it is tried again later"
    return FetchError(
        request.name,
        f"not asked in this pass: {refusal.reason}",
        hint=hint,
        retry_after=refusal.wait,
    )


def _is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def _blocked(name: str, error: OSError) -> FetchError:
    hint = "set allow_private_networks: true (globally or on this feed) to allow it"
    if isinstance(error, NotFetched):
        hint = "check the URL, and where the site redirects it, in a browser"
    return FetchError(name, f"refused: {error}", hint=hint)


# What a host that does not answer raises (a refused connection has its own message above).
_UNANSWERED = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError)

_STATUS_HINTS: dict[int, str] = {
    401: "the feed needs a login; dispatch does not send credentials to feeds",
    403: "the server refuses us; it may block unknown user agents",
    404: "check the feed URL; the site may have moved its feed",
    410: "the feed is gone for good and is no longer polled; change its URL or remove it",
    429: "the server asks us to slow down; raise this feed's `every`",
}


def _status_error(name: str, status: int, url: str, retry_after: str | None) -> FetchError:
    reason = f"HTTP {status} from {url}"
    hint = _STATUS_HINTS.get(status, "")
    if status >= 500:
        hint = "the server failed; it is tried again at the next poll"
    wait = retry_after_seconds(retry_after, datetime.now(UTC)) if status in (429, 503) else None
    if wait is not None:
        reason += f", asking us to wait {wait:.0f} s"
    return FetchError(name, reason, hint=hint, retry_after=wait, gone=status == 410, status=status)
