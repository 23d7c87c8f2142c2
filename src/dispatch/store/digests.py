"""The digest tables: the queue each digest fills, and the digests made from it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dispatch.identity import idempotency_key
from dispatch.models import (
    Article,
)
from dispatch.store.articles import ArticleTables
from dispatch.store.tables import iso_text, parse_time


class DigestTables(ArticleTables):
    """Digests: queued articles moved into a digest with its deliveries, in one transaction."""

    def clear_queues(self) -> int:
        """Empty every digest's queue (catch-up: what waited counts as seen); how many left."""
        row = self._db.execute("SELECT COUNT(*) AS n FROM digest_queue").fetchone()
        self._db.execute("DELETE FROM digest_queue")
        return int(row["n"])

    def queued(self, digest: str) -> list[int]:
        """Article ids waiting for this digest, oldest first, so none waits for ever."""
        rows = self._db.execute(
            "SELECT article_id FROM digest_queue WHERE digest = ? ORDER BY article_id", (digest,)
        )
        return [row["article_id"] for row in rows]

    def ready_since(self, digest: str, items: int) -> datetime | None:
        """When the digest first had ``items`` articles waiting: since then, each scheduled
        issue should have been made.
        """
        row = self._db.execute(
            """SELECT a.first_seen FROM digest_queue q JOIN articles a ON a.id = q.article_id
               WHERE q.digest = ? ORDER BY a.first_seen LIMIT 1 OFFSET ?""",
            (digest, items - 1),
        ).fetchone()
        return parse_time(row["first_seen"]) if row else None

    def last_digest_period(self, digest: str) -> datetime | None:
        row = self._db.execute(
            "SELECT MAX(period) AS period FROM digests WHERE name = ?", (digest,)
        ).fetchone()
        return parse_time(row["period"])

    def create_digest(
        self,
        name: str,
        period: datetime,
        article_ids: Sequence[int],
        targets: Sequence[tuple[str, str | None]],
        now: datetime,
    ) -> int:
        """Move articles from the queue into a new digest with a delivery per output and
        recipient (``None`` for outputs without recipients).
        """
        with self._transaction():
            digest_id = int(
                self._db.execute(
                    "INSERT INTO digests (name, period, created_at) VALUES (?, ?, ?) RETURNING id",
                    (name, iso_text(period), iso_text(now)),
                ).fetchone()["id"]
            )
            for position, article_id in enumerate(article_ids):
                self._db.execute(
                    "INSERT INTO digest_items (digest_id, article_id, position) VALUES (?, ?, ?)",
                    (digest_id, article_id, position),
                )
                self._db.execute(
                    "DELETE FROM digest_queue WHERE digest = ? AND article_id = ?",
                    (name, article_id),
                )
            for output, recipient in targets:
                key = idempotency_key(
                    "digest", output, name, iso_text(period) or "", recipient or ""
                )
                self._insert_delivery(
                    "digest", name, output, key, now, digest_id=digest_id, recipient=recipient
                )
        return digest_id

    def digest_articles(self, digest_id: int) -> list[Article]:
        rows = self._db.execute(
            "SELECT article_id FROM digest_items WHERE digest_id = ? ORDER BY position",
            (digest_id,),
        )
        return self.articles([row["article_id"] for row in rows])

    def digest_period(self, digest_id: int) -> datetime:
        row = self._db.execute("SELECT period FROM digests WHERE id = ?", (digest_id,)).fetchone()
        period = parse_time(row["period"])
        assert period is not None
        return period

    def hold_digests(self) -> None:
        """Within a transaction (``batch``): wait until no other worker is creating digests,
        and keep them out until it ends.
        """
        self._db.lock_rows_while("digests")
