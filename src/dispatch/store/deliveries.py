"""The outbox table: one row per message per output (per recipient), and its leases."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dispatch.identity import idempotency_key, record_key
from dispatch.models import (
    Delivery,
    Kind,
)
from dispatch.store.tables import Tables, iso_text, parse_time


class DeliveryTables(Tables):
    """Deliveries: made once (by idempotency key), moved on, leased to one worker."""

    def _insert_delivery(
        self,
        kind: Kind,
        rule: str,
        output: str,
        key: str,
        now: datetime,
        *,
        article_id: int | None = None,
        digest_id: int | None = None,
        recipient: str | None = None,
    ) -> None:
        row = self._db.execute(
            """INSERT INTO deliveries (kind, rule, output, article_id, digest_id,
                 recipient, idempotency_key, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id""",
            (
                kind,
                rule,
                output,
                article_id,
                digest_id,
                recipient,
                key,
                iso_text(now),
                iso_text(now),
            ),
        ).fetchone()
        if row is not None:
            self._db.execute(
                "UPDATE deliveries SET record_key = ? WHERE id = ?",
                (record_key(row["id"], now), row["id"]),
            )

    def deliveries(
        self, status: str = "pending", *, due: datetime | None = None, failed_before: bool = False
    ) -> list[Delivery]:
        """Deliveries in one status, oldest first; with ``due``, only those due by then; with
        ``failed_before``, only those with an error kept from an earlier try.
        """
        sql = "SELECT * FROM deliveries WHERE status = ?"
        if failed_before:
            sql += " AND last_error IS NOT NULL AND last_error <> ''"
        parameters: tuple[Any, ...] = (status,)
        if due is not None:
            sql += " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            parameters += (iso_text(due),)
        rows = self._db.execute(sql + " ORDER BY id", parameters).fetchall()
        return [_delivery(row) for row in rows]

    def delivery(self, delivery_id: int) -> Delivery | None:
        row = self._db.execute("SELECT * FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        return _delivery(row) if row else None

    def mark(
        self,
        delivery_id: int,
        status: str,
        now: datetime,
        *,
        remote_id: str | None = None,
        error: str | None = None,
        next_attempt: datetime | None = None,
    ) -> None:
        """Move a delivery on, committed at once (one statement: atomic on its own, and one
        round trip to PostgreSQL rather than three). ``sending`` counts an attempt and is committed
        before the output is called; ``sent`` records when, for budgets.
        """
        self._db.execute(
            """UPDATE deliveries SET status = ?, updated_at = ?,
                 attempts = attempts + CASE WHEN ? = 'sending' THEN 1 ELSE 0 END,
                 sending_since = CASE WHEN ? = 'sending' THEN ? ELSE sending_since END,
                 sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,
                 next_attempt_at = ?,
                 lease_until = CASE WHEN ? = 'sending' THEN lease_until END,
                 remote_id = COALESCE(?, remote_id), last_error = ? WHERE id = ?""",
            (
                status,
                iso_text(now),
                status,
                status,
                iso_text(now),
                status,
                iso_text(now),
                iso_text(next_attempt),
                status,
                remote_id,
                error,
                delivery_id,
            ),
        )

    def set_status(self, delivery_id: int, status: str, now: datetime, note: str) -> None:
        """An operator's decision (retry, resolve): the status, with why, due at once."""
        self._db.execute(
            """UPDATE deliveries SET status = ?, updated_at = ?, next_attempt_at = NULL,
                 last_error = ?, lease_until = NULL,
                 sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END
               WHERE id = ?""",
            (status, iso_text(now), note, status, iso_text(now), delivery_id),
        )

    def claim_deliveries(
        self,
        now: datetime,
        until: datetime,
        *,
        after: int = 0,
        limit: int = 20,
        parts: bool = False,
    ) -> list[Delivery]:
        """Lease the next ``limit`` due pending deliveries (ids above ``after``; with
        ``parts``, threads' later parts only), oldest first, skipping those another worker
        holds.
        """
        return self._lease(
            "status = 'pending' AND id > ? AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            # A thread's part goes once the part it replies to is sent, never before.
            + (" AND parent_id IS NOT NULL" if parts else "")
            + " AND (parent_id IS NULL OR parent_id IN"
            " (SELECT p.id FROM deliveries p WHERE p.status = 'sent'))",
            (after, iso_text(now)),
            until,
            limit,
        )

    def add_parts(self, root: Delivery, parts: int, now: datetime) -> list[Delivery]:
        """A thread's parts after ``root`` (2 to ``parts``), each replying to the one before;
        those there already are kept, so making them twice makes nothing new.
        """
        with self._transaction():
            parent = root.id
            for part in range(2, parts + 1):
                key = idempotency_key(root.idempotency_key, "part", str(part))
                self._insert_delivery(
                    "post",
                    root.rule,
                    root.output,
                    key,
                    now,
                    article_id=root.article_id,
                    recipient=root.recipient,
                )
                row = self._db.execute(
                    "SELECT id FROM deliveries WHERE idempotency_key = ?", (key,)
                ).fetchone()
                self._db.execute(
                    "UPDATE deliveries SET parent_id = ?, part = ? WHERE id = ?",
                    (parent, part, row["id"]),
                )
                parent = row["id"]
        return self.thread(root)

    def thread(self, root: Delivery) -> list[Delivery]:
        """A thread's deliveries from ``root``, in order: the parts that reply to it, each in
        turn.
        """
        found = [root]
        while True:
            row = self._db.execute(
                "SELECT * FROM deliveries WHERE parent_id = ?", (found[-1].id,)
            ).fetchone()
            if row is None:
                return found
            found.append(_delivery(row))

    def claim_interrupted(self, until: datetime) -> list[Delivery]:
        """Lease the deliveries left ``sending`` by a worker that stopped mid-send."""
        return self._lease("status = 'sending'", (), until, None)

    def _lease(
        self, where: str, parameters: tuple[Any, ...], until: datetime, limit: int | None
    ) -> list[Delivery]:
        """Lease the deliveries ``where`` says, oldest first. On a shared store, rows whose
        lease still runs are skipped; on SQLite (one sender, by the store's lock) a lease left
        by a dead process does not hold.
        """
        if self.shared:
            where += " AND (lease_until IS NULL OR lease_until < ?)"
            parameters += (iso_text(datetime.now(UTC)),)
        if limit is not None:
            parameters += (limit,)
        rows = self._db.execute(
            f"""UPDATE deliveries SET leased_by = ?, lease_until = ? WHERE id IN (
                  SELECT id FROM deliveries WHERE {where}
                  ORDER BY id {"LIMIT ?" if limit is not None else ""} {self._db.skip_locked})
                RETURNING *""",
            (self.worker, iso_text(until), *parameters),
        ).fetchall()
        return sorted((_delivery(row) for row in rows), key=lambda d: d.id)

    def start_sending(self, delivery_id: int, now: datetime) -> bool:
        """Mark a leased delivery ``sending`` (committed before the output is called). False
        when this worker no longer holds it: another took it over, so it must not be sent.
        """
        row = self._db.execute(
            """UPDATE deliveries SET status = 'sending', updated_at = ?,
                 attempts = attempts + 1, sending_since = ?, next_attempt_at = NULL
               WHERE id = ? AND status = 'pending' AND leased_by = ? RETURNING id""",
            (iso_text(now), iso_text(now), delivery_id, self.worker),
        ).fetchone()
        return row is not None

    def sent_since(self, output: str, since: datetime) -> list[datetime]:
        """When this output sent, since ``since``, oldest first: what budgets count."""
        rows = self._db.execute(
            "SELECT sent_at FROM deliveries WHERE output = ? AND status = 'sent' AND sent_at >= ?"
            " ORDER BY sent_at",
            (output, iso_text(since)),
        )
        return [moment for row in rows if (moment := parse_time(row["sent_at"]))]


def _delivery(row: Mapping[str, Any]) -> Delivery:
    return Delivery(
        id=row["id"],
        kind=row["kind"],
        rule=row["rule"],
        output=row["output"],
        article_id=row["article_id"],
        digest_id=row["digest_id"],
        status=row["status"],
        idempotency_key=row["idempotency_key"],
        attempts=row["attempts"],
        recipient=row["recipient"],
        record_key=row["record_key"] or "",
        last_error=row["last_error"],
        created_at=parse_time(row["created_at"]),
        sending_since=parse_time(row["sending_since"]),
        next_attempt_at=parse_time(row["next_attempt_at"]),
        remote_id=row["remote_id"],
        parent_id=row["parent_id"],
        part=row["part"],
    )
