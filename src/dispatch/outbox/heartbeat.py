"""The heartbeat of a worker sharing a store: while the process lives, every lease it holds
(the feeds it polls, the deliveries it claimed or is sending) is renewed, so a slow send is
never taken over. When the process dies, the heartbeat dies with it and its leases run out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from dispatch.errors import StoreError
from dispatch.store.core import Store, opened

log = logging.getLogger("dispatch.heartbeat")


class Heartbeat:
    """Renews this process's leases every third of ``lease``, on a connection of its own."""

    def __init__(self, location: Path | str, lease: timedelta) -> None:
        self._location = location
        self._lease = lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="dispatch-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        # A connection each beat (a third of a lease apart): one lost between beats is
        # simply opened again at the next.
        every = self._lease.total_seconds() / 3
        failing = False  # said once while the store stays down, not at every beat
        while not self._stop.wait(every):
            try:
                with opened(self._location) as store:
                    store.renew_leases(datetime.now(UTC) + self._lease)
            except StoreError as e:  # the next beat tries again
                if not failing:
                    log.warning("cannot renew leases: %s; tried again at every beat", e)
                failing = True
            else:
                if failing:
                    log.info("leases renewed again")
                failing = False


@contextmanager
def working(store: Store, lease: timedelta) -> Iterator[None]:
    """What a process that sends must hold: the lock of a SQLite store (one sender at a time),
    or, on a shared store, the heartbeat that keeps this worker's leases alive.

    Raises:
        StoreError: another dispatch holds the SQLite store's lock.
    """
    with store.exclusive():
        if not store.shared:
            yield
            return
        with Heartbeat(store.location, lease):
            yield
