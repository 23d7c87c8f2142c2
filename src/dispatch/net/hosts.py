"""Politeness per host: which fetch may start next, so that no host sees more than ``per_host``
requests of ours at once, their starts at least ``gap`` apart, and a host that asks us to slow
down (429, 503) is slowed while the others go on.

A request waiting for its host never holds a worker: a worker takes the next request whose host
has room, so a host that stalls delays only its own feeds, and one that has not answered twice
in a row (a timeout, a refused or reset connection) is not asked again in the pass. Hosts take
turns, so one host with a thousand feeds does not keep the others waiting behind them.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# A host that asks for a longer wait than this is not asked again in this pass: its other
# requests fail at once with its wait, and go at the next poll.
LONGEST_WAIT_IN_PASS = 30.0
SLOWED_GAP = 1.0  # the least gap of a host that answered 429 or 503
UNANSWERED = 2  # requests in a row a host leaves unanswered before it is given up for the pass


@dataclass
class _Host:
    name: str
    limit: int  # requests at once
    waiting: deque[int] = field(default_factory=deque)
    running: int = 0
    gap: float = 0.0
    not_before: float = 0.0  # the loop's clock
    queued: bool = False  # in the ready queue or the later heap
    unanswered: int = 0  # requests in a row it did not answer
    given_up: Refusal | None = None  # why it is not asked again in this pass

    @property
    def room(self) -> int:
        """Requests it may have at once: after one went unanswered, one, until it answers."""
        return 1 if self.unanswered else self.limit


@dataclass(frozen=True)
class Refusal:
    """Why a host's remaining requests are not sent in this pass, and the seconds it asked us
    to wait, if it asked.
    """

    reason: str
    wait: float | None = None


@dataclass(frozen=True)
class Turn:
    """A request's turn: its index, and, for a host given up in this pass, why (the request is
    not sent).
    """

    index: int
    refused: Refusal | None = None


def host_of(url: str) -> str:
    """The host a URL's request goes to ("" for a local path)."""
    if "://" not in url:
        return ""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


class HostQueue:
    """The requests of one fetch pass, handed out host by host."""

    def __init__(
        self,
        urls: Sequence[str],
        per_host: int,
        gap: float,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._clock = clock or asyncio.get_running_loop().time
        self._hosts: dict[str, _Host] = {}
        self._left = len(urls)
        for index, url in enumerate(urls):
            name = host_of(url)
            host = self._hosts.get(name)
            if host is None:  # local files are read from disk: no host to be polite to
                local = name == ""
                host = _Host(name, len(urls) if local else per_host, gap=0.0 if local else gap)
                self._hosts[name] = host
            host.waiting.append(index)
        self._ready: deque[_Host] = deque()
        self._later: list[tuple[float, int, _Host]] = []
        self._order = 0
        self._changed = asyncio.Event()
        for host in self._hosts.values():
            self._queue(host)
        self.most_at_once: dict[str, int] = {}  # per host, for the benchmark and the tests

    async def take(self) -> Turn | None:
        """The next request that may start now, waiting until one may; None when every
        request has been handed out.
        """
        while True:
            now = self._clock()
            while self._later and self._later[0][0] <= now:
                _, _, host = heapq.heappop(self._later)
                self._ready.append(host)
            while self._ready:
                host = self._ready.popleft()
                host.queued = False
                if host.given_up is not None and host.waiting:
                    self._left -= 1
                    turn = Turn(host.waiting.popleft(), host.given_up)
                    self._queue(host)
                    return turn
                if not host.waiting or host.running >= host.room:
                    continue
                if host.not_before > now:
                    self._queue(host)
                    continue
                host.running += 1
                self.most_at_once[host.name] = max(
                    self.most_at_once.get(host.name, 0), host.running
                )
                host.not_before = now + host.gap
                self._left -= 1
                index = host.waiting.popleft()
                self._queue(host)
                return Turn(index)
            if self._left == 0:
                return None
            self._changed.clear()
            timeout = self._later[0][0] - now if self._later else None
            with contextlib.suppress(TimeoutError):  # a host's gap has passed
                await asyncio.wait_for(self._changed.wait(), timeout)

    def done(self, url: str, wait: float | None = None, *, answered: bool = True) -> None:
        """A request handed out has its answer. ``wait``: the host answered 429 or 503, asking
        for that many seconds (0 when it did not say): it is slowed for the rest of the pass.
        ``answered``: False for a timeout or a connection refused or reset.
        """
        host = self._hosts[host_of(url)]
        host.running -= 1
        host.unanswered = 0 if answered else host.unanswered + 1
        if host.unanswered >= UNANSWERED and host.given_up is None:
            host.given_up = Refusal(f"its host did not answer {UNANSWERED} requests in a row")
        if wait is not None:
            host.gap = min(max(SLOWED_GAP, host.gap * 2), LONGEST_WAIT_IN_PASS)
            if wait > LONGEST_WAIT_IN_PASS and host.given_up is None:
                host.given_up = Refusal(
                    f"its host answered another request with 429 or 503, asking us to wait "
                    f"{wait:.0f} s",
                    wait,
                )
            host.not_before = max(host.not_before, self._clock() + max(wait, host.gap))
        self._queue(host)
        self._changed.set()

    def _queue(self, host: _Host) -> None:
        """Put the host where ``take`` looks, if it has a request that may start."""
        if host.queued or not host.waiting:
            return
        if host.given_up is None and host.running >= host.room:
            return  # ``done`` queues it again
        host.queued = True
        if host.given_up is not None or host.not_before <= self._clock():
            self._ready.append(host)
        else:
            self._order += 1
            heapq.heappush(self._later, (host.not_before, self._order, host))
