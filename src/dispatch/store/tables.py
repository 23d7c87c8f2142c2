"""What the store's table groups share: the database, this worker's name, and how times are
kept (ISO 8601 text in UTC, on both engines).

``dispatch.store.core.Store`` is made of one class per table group (feeds, articles, digests,
deliveries, outputs, websub), each in its own module and each a ``Tables``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from dispatch.store.engines import Database


class Tables:
    """The state every table group works on; ``Store`` sets it when it opens."""

    _db: Database
    worker: str  # names this process in the leases it takes
    shared: bool  # workers share the store (PostgreSQL): leases keep them apart

    def _transaction(self) -> AbstractContextManager[None]:
        return self._db.transaction()


IN_CHUNK = 500  # values bound in one ``IN (...)``: well within both engines' limits


def in_chunks(values: Sequence[str]) -> Iterator[tuple[list[str], str]]:
    """``values`` a chunk at a time for an ``IN (...)``, each with its placeholders."""
    for start in range(0, len(values), IN_CHUNK):
        chunk = list(values[start : start + IN_CHUNK])
        yield chunk, ",".join("?" * len(chunk))


def iso_text(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
