"""Sends in flight on other threads: an output that declares ``connections`` above 1 gets that
many sends at once, marked ``sending`` a wave at a time and recorded on the thread that owns
the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime

from dispatch.models import Delivery, DeliveryResult
from dispatch.outputs.base import Output
from dispatch.store.core import Store


@dataclass(frozen=True)
class Sending:
    """A delivery on its way to its output: what recording the outcome needs."""

    delivery: Delivery
    output: Output
    shown: DeliveryResult
    now: datetime
    started: float


class InFlight:
    """Sends on other threads, up to each output's ``connections`` at once.

    They start in waves of half that many: a wave's rows are marked ``sending`` in one commit,
    which also records the sends that have finished, and only once the wave's connections are
    free, so a row is ``sending`` only while it really is. Outcomes are recorded on the thread
    that owns the store, by ``settle``.
    """

    def __init__(
        self, store: Store, settle: Callable[[Sending, Callable[[], str]], DeliveryResult]
    ) -> None:
        self._store = store
        self._settle = settle
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._waiting: dict[str, list[tuple[Sending, Callable[[], str], DeliveryResult]]] = {}
        self._flying: dict[Future[str], tuple[Sending, DeliveryResult]] = {}
        self.landed: dict[int, DeliveryResult] = {}

    def add(self, sending: Sending, send: Callable[[], str]) -> DeliveryResult:
        """Send on another thread, with the next wave. The placeholder returned is replaced by
        the outcome ``drain`` gives.
        """
        placeholder = replace(sending.shown)  # a new object: its id names this send
        wave = self._waiting.setdefault(sending.output.name, [])
        wave.append((sending, send, placeholder))
        if len(wave) >= max(1, sending.output.capabilities.connections // 2):
            self._launch(sending.output.name)
        return placeholder

    def drain(self, *, start_waiting: bool = True) -> dict[int, DeliveryResult]:
        """Start what waits, wait for every send and record it: results by placeholder id."""
        for name in list(self._waiting):
            if start_waiting:
                self._launch(name)
            else:
                del self._waiting[name]  # never marked: they stay pending, for the next run
        self._land(list(self._flying))
        for pool in self._pools.values():
            pool.shutdown()
        return self.landed

    def _launch(self, name: str) -> None:
        wave = self._waiting.pop(name)
        output = wave[0][0].output
        self._wait_for_room(output, len(wave))
        with self._store.batch():
            self._land([future for future in self._flying if future.done()])
            started = [self._store.start_sending(s.delivery.id, s.now) for s, _, _ in wave]
        if name not in self._pools:
            room = output.capabilities.connections
            self._pools[name] = ThreadPoolExecutor(room, thread_name_prefix=f"send-{name}")
        for (sending, send, placeholder), ok in zip(wave, started, strict=True):
            if ok:
                self._flying[self._pools[name].submit(send)] = (sending, placeholder)
            else:
                self.landed[id(placeholder)] = taken_over(sending.shown)

    def _wait_for_room(self, output: Output, wanted: int) -> None:
        while True:
            running = [
                future
                for future, (sending, _) in self._flying.items()
                if sending.output is output and not future.done()
            ]
            if len(running) + wanted <= output.capabilities.connections:
                return
            wait(running, return_when=FIRST_COMPLETED)

    def _land(self, done: Iterable[Future[str]]) -> None:
        for future in done:
            sending, placeholder = self._flying.pop(future)
            self.landed[id(placeholder)] = self._settle(sending, future.result)


def taken_over(shown: DeliveryResult) -> DeliveryResult:
    """The result of a delivery this worker may no longer send: another worker has it."""
    return replace(
        shown,
        status="pending",
        error="taken over by another worker (this one's lease ran out)",
        hint="raise daemon.lease above the slowest send",
    )
