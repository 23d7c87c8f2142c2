"""Push (WebSub): each feed's subscription to its hub, and the bodies hubs pushed.

Every worker may answer a hub's callback, so what a callback needs (the subscription a token
names, its secret, the topic it asked for) is here, not in a worker's memory. A pushed body is
kept until it has been read like a poll's: a crash between the hub's delivery and the reading
loses nothing, and reading it twice finds nothing new the second time.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from dispatch.models import Push, Subscription
from dispatch.store.tables import Tables, iso_text, parse_time


class SubscriptionTables(Tables):
    """Subscriptions, the links feeds name, and pushed bodies waiting to be read."""

    def push_links(self) -> dict[str, tuple[str | None, str | None]]:
        """Each polled feed's hub and own address, as its last poll named them."""
        rows = self._db.execute("SELECT name, hub, topic FROM feeds").fetchall()
        return {row["name"]: (row["hub"], row["topic"]) for row in rows}

    def subscriptions(self) -> dict[str, Subscription]:
        rows = self._db.execute("SELECT * FROM subscriptions").fetchall()
        return {row["feed"]: _subscription(row) for row in rows}

    def subscription(self, token: str) -> Subscription | None:
        """The subscription whose callback ends in ``token``."""
        row = self._db.execute("SELECT * FROM subscriptions WHERE token = ?", (token,)).fetchone()
        return _subscription(row) if row else None

    def ask_subscription(
        self, feed: str, hub: str, topic: str, now: datetime, seen: datetime | None, *, leave: bool
    ) -> Subscription | None:
        """Take the asking of ``feed``'s hub (to subscribe, or with ``leave`` to unsubscribe)
        for this worker, before the hub is asked: the hub may verify before it answers. None
        when another worker asked since ``seen`` (the ``asked_at`` read before deciding).
        A new subscription gets its token and secret here, kept across renewals.
        """
        with self._transaction():
            self._db.execute(
                """INSERT INTO subscriptions (feed, hub, topic, token, secret, state)
                   VALUES (?, ?, ?, ?, ?, 'asked') ON CONFLICT DO NOTHING""",
                (feed, hub, topic, secrets.token_urlsafe(16), secrets.token_urlsafe(32)),
            )
            row = self._db.execute(
                """UPDATE subscriptions SET asked_at = ?, hub = ?, topic = ?,
                     state = CASE WHEN ? THEN 'leaving'
                                  WHEN state = 'live' AND hub = ? AND topic = ? THEN 'live'
                                  ELSE 'asked' END
                   WHERE feed = ? AND COALESCE(asked_at, '') = COALESCE(?, '')
                   RETURNING *""",
                (iso_text(now), hub, topic, leave, hub, topic, feed, iso_text(seen)),
            ).fetchone()
        return _subscription(row) if row else None

    def verified(self, token: str, lease: timedelta, now: datetime) -> None:
        """The hub verified a subscription: live for ``lease``."""
        with self._transaction():
            self._db.execute(
                """UPDATE subscriptions SET state = 'live', verified_at = ?, lease_until = ?,
                     failures = 0, last_error = NULL, retry_at = NULL WHERE token = ?""",
                (iso_text(now), iso_text(now + lease), token),
            )

    def fail_subscription(self, feed: str, error: str, now: datetime, retry: timedelta) -> None:
        """Asking failed, the hub denied it, or its lease ran out: asked again after ``retry``
        (longer at each failure, from the caller), and meanwhile the feed is polled as usual.
        """
        with self._transaction():
            self._db.execute(
                """UPDATE subscriptions SET state = 'failed', last_error = ?, retry_at = ?,
                     failures = failures + 1, lease_until = NULL WHERE feed = ?""",
                (error, iso_text(now + retry), feed),
            )
            self._db.execute(
                "UPDATE feeds SET next_poll_at = ? WHERE name = ? AND next_poll_at > ?",
                (iso_text(now), feed, iso_text(now)),
            )

    def forget_subscription(self, feed: str) -> None:
        """Unsubscribed (verified by the hub), or given up: the row goes."""
        with self._transaction():
            self._db.execute("DELETE FROM subscriptions WHERE feed = ?", (feed,))

    def refuse_notification(self, token: str) -> None:
        """A notification whose signature did not match: dropped, and counted."""
        with self._transaction():
            self._db.execute(
                "UPDATE subscriptions SET refused = refused + 1 WHERE token = ?", (token,)
            )

    def take_push(self, feed: str, content_type: str | None, body: bytes, now: datetime) -> None:
        """A signed notification: its body kept to be read (a fat ping), or, when it carries
        none (a thin ping), the feed due now.
        """
        with self._transaction():
            self._db.execute(
                """UPDATE subscriptions SET pushes = pushes + 1, last_push_at = ?
                   WHERE feed = ?""",
                (iso_text(now), feed),
            )
            if body:
                self._db.execute(
                    """INSERT INTO pushes (feed, received_at, content_type, body)
                       VALUES (?, ?, ?, ?)""",
                    (feed, iso_text(now), content_type, body),
                )
            else:
                self._db.execute(
                    "UPDATE feeds SET next_poll_at = ? WHERE name = ?", (iso_text(now), feed)
                )

    def pushes(self) -> list[Push]:
        """Pushed bodies not read yet, oldest first."""
        rows = self._db.execute("SELECT * FROM pushes ORDER BY id").fetchall()
        return [
            Push(
                id=row["id"],
                feed=row["feed"],
                received_at=_time(row["received_at"]),
                content_type=row["content_type"],
                body=bytes(row["body"]),
            )
            for row in rows
        ]

    def drop_pushes(self, ids: Sequence[int]) -> None:
        """Pushed bodies read (or of feeds no longer configured)."""
        with self._transaction():
            self._db.executemany("DELETE FROM pushes WHERE id = ?", [(i,) for i in ids])


def _subscription(row: Any) -> Subscription:
    return Subscription(
        feed=row["feed"],
        hub=row["hub"],
        topic=row["topic"],
        token=row["token"],
        secret=row["secret"],
        state=row["state"],
        asked_at=parse_time(row["asked_at"]),
        verified_at=parse_time(row["verified_at"]),
        lease_until=parse_time(row["lease_until"]),
        retry_at=parse_time(row["retry_at"]),
        failures=row["failures"],
        last_error=row["last_error"],
        pushes=row["pushes"],
        refused=row["refused"],
        last_push_at=parse_time(row["last_push_at"]),
    )


def _time(text: str) -> datetime:
    moment = parse_time(text)
    assert moment is not None
    return moment
