"""The store: all durable state (feeds, articles, digests, the outbox of deliveries, what
outputs' networks said), on SQLite (the default) or PostgreSQL (many workers).

``Store`` is made of one class per table group, each in its own module (``feeds``,
``articles``, ``digests``, ``deliveries``, ``outputs``, ``websub``); ``schema`` holds the
migrations and ``engines`` the two databases. These modules are the only ones with SQL,
written once for both engines. Every command, the daemon and the preview open a store with
``opened``, which closes it however they end; a dry run works on a snapshot, which keeps
nothing.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path

from dispatch.store.digests import DigestTables
from dispatch.store.engines import Database, PostgresDatabase, SqliteDatabase, is_postgres
from dispatch.store.outputs import OutputTables
from dispatch.store.schema import migrate
from dispatch.store.tables import iso_text
from dispatch.store.websub import SubscriptionTables

# One name per process for the leases it takes, whichever connection takes them.
WORKER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@contextmanager
def opened(location: Path | str, *, snapshot: bool = False) -> Iterator[Store]:
    """The store at ``location`` (a file path or a ``postgresql://`` URL), closed at the end:
    opened (created or upgraded) to work on, or, with ``snapshot``, a copy that keeps nothing.

    Raises:
        StoreError: it cannot be opened, is not a dispatch store, or is newer.
    """
    store = Store.snapshot(location) if snapshot else Store.open(location)
    try:
        yield store
    finally:
        store.close()


class Store(DigestTables, OutputTables, SubscriptionTables):
    """The state of one dispatch installation, on SQLite or PostgreSQL (see
    ``dispatch.store.engines``).

    ``worker`` names this process in the leases it takes: on a shared (PostgreSQL) store,
    workers claim due feeds and pending deliveries with ``FOR UPDATE SKIP LOCKED``, so no two
    take the same row, and a lease that runs out hands the row to another worker.
    """

    def __init__(self, database: Database, location: Path | str, worker: str = WORKER) -> None:
        self._db = database
        self.location = location
        self.path = database.name
        self.shared = database.shared
        self.worker = worker
        try:
            migrate(database, self.path)
        except BaseException:
            database.close()
            raise

    @classmethod
    def open(cls, location: Path | str, *, worker: str = WORKER) -> Store:
        """Open (and create or upgrade) the store: a file path, or a ``postgresql://`` URL.

        Raises:
            StoreError: it cannot be opened, is not a dispatch store, or is newer.
        """
        if is_postgres(location):
            return cls(PostgresDatabase.open(str(location)), location, worker)
        return cls(SqliteDatabase.open(Path(location)), location, worker)

    @classmethod
    def snapshot(cls, location: Path | str) -> Store:
        """A copy of the store that keeps nothing: an in-memory copy of a SQLite file (or an
        empty store where there is none yet), or one PostgreSQL transaction rolled back at
        close. What a dry run uses.
        """
        if is_postgres(location):
            return cls(PostgresDatabase.open(str(location), snapshot=True), location)
        return cls(SqliteDatabase.snapshot(Path(location)), location)

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def reachable(location: Path | str) -> bool:
        """Whether the store opens and answers, without writing to it."""
        if is_postgres(location):
            return PostgresDatabase.reachable(str(location))
        return SqliteDatabase.reachable(Path(location))

    def exclusive(self) -> AbstractContextManager[None]:
        """On SQLite, hold the store's lock: one sender at a time, or a row another process is
        sending would look cut off by a crash. On PostgreSQL, workers share the store and
        claims keep them apart, so this holds nothing.

        Raises:
            StoreError: another dispatch holds the SQLite store's lock.
        """
        return self._db.exclusive()

    def batch(self) -> AbstractContextManager[None]:
        """One transaction for many writes (a poll's feeds): one commit, not one each."""
        return self._transaction()

    def renew_leases(self, until: datetime) -> None:
        """Extend every lease this worker holds: the heartbeat of a worker that is alive."""
        with self._transaction():
            self._db.execute(
                """UPDATE deliveries SET lease_until = ?
                   WHERE leased_by = ? AND status IN ('pending', 'sending')
                     AND lease_until IS NOT NULL""",
                (iso_text(until), self.worker),
            )
            self._db.execute(
                "UPDATE feeds SET lease_until = ? WHERE leased_by = ? AND lease_until IS NOT NULL",
                (iso_text(until), self.worker),
            )

    def let_go(self) -> None:
        """Give back every lease this worker holds, on rows it was sending too. Only for a
        worker with nothing in flight (between the daemon's jobs): a lease it holds then is
        left over from a job the store failed under, whose own release failed with it, and
        the heartbeat would renew it for as long as the worker lives.
        """
        with self._transaction():
            self._db.execute(
                """UPDATE deliveries SET lease_until = NULL
                   WHERE leased_by = ? AND status IN ('pending', 'sending')""",
                (self.worker,),
            )
            self._db.execute(
                "UPDATE feeds SET lease_until = NULL WHERE leased_by = ?", (self.worker,)
            )

    def release(self) -> None:
        """Give back this worker's leases on feeds and on deliveries it did not start."""
        with self._transaction():
            self._db.execute(
                """UPDATE deliveries SET lease_until = NULL
                   WHERE leased_by = ? AND status = 'pending'""",
                (self.worker,),
            )
            self._db.execute(
                "UPDATE feeds SET lease_until = NULL WHERE leased_by = ?", (self.worker,)
            )
