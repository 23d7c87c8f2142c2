"""The feeds table: each feed's HTTP validators, health, redirects and leases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from dispatch.models import (
    FeedState,
)
from dispatch.store.tables import Tables, in_chunks, iso_text, parse_time


class FeedTables(Tables):
    """What the store knows of each feed, and which worker polls it."""

    def feed_states(self, *, failing: bool = False) -> dict[str, FeedState]:
        """Every feed's state; with ``failing``, only those whose last poll failed or that
        are no longer polled (gone): a few rows, where all would be thousands.
        """
        where = " WHERE error_count > 0 OR disabled IS NOT NULL" if failing else ""
        rows = self._db.execute("SELECT * FROM feeds" + where).fetchall()
        return {
            row["name"]: FeedState(
                name=row["name"],
                url=row["url"],
                etag=row["etag"],
                last_modified=row["last_modified"],
                body_hash=row["body_hash"],
                last_success_at=parse_time(row["last_success_at"]),
                next_poll_at=parse_time(row["next_poll_at"]),
                error_count=row["error_count"],
                last_error=row["last_error"],
                failing_since=parse_time(row["failing_since"]),
                disabled=row["disabled"],
                moved_to=row["moved_to"],
                moved_count=row["moved_count"],
                settings=row["settings"],
                publisher_hint=row["publisher_hint"],
                answer_seconds=row["answer_seconds"],
            )
            for row in rows
        }

    def recent_counts(self, feeds: Sequence[str], since: datetime) -> dict[str, int]:
        """How many articles each of ``feeds`` published (or, undated, was found with) since
        ``since``: what `every: auto` learns a feed's pace from.
        """
        counts: dict[str, int] = {}
        for chunk, marks in in_chunks(feeds):
            rows = self._db.execute(
                f"""SELECT feed, COUNT(*) AS n FROM articles WHERE feed IN ({marks})
                      AND COALESCE(published, first_seen) >= ? GROUP BY feed""",
                (*chunk, iso_text(since)),
            )
            counts.update((row["feed"], int(row["n"])) for row in rows)
        return counts

    def article_counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT feed, COUNT(*) AS n FROM articles GROUP BY feed").fetchall()
        return {row["feed"]: int(row["n"]) for row in rows}

    def _ensure_feed(self, name: str, url: str) -> None:
        # A feed whose URL changed in feeds.yaml loses its HTTP validators, not its articles.
        self._db.execute(
            """INSERT INTO feeds (name, url) VALUES (?, ?)
               ON CONFLICT (name) DO UPDATE SET url = excluded.url,
                 etag = CASE WHEN feeds.url = excluded.url THEN feeds.etag END,
                 last_modified = CASE WHEN feeds.url = excluded.url THEN feeds.last_modified END,
                 body_hash = CASE WHEN feeds.url = excluded.url THEN feeds.body_hash END,
                 disabled = CASE WHEN feeds.url = excluded.url THEN feeds.disabled END,
                 moved_to = CASE WHEN feeds.url = excluded.url THEN feeds.moved_to END,
                 moved_count = CASE WHEN feeds.url = excluded.url THEN feeds.moved_count ELSE 0 END
            """,
            (name, url),
        )

    def keep_answer_times(self, times: Sequence[tuple[str, float]]) -> None:
        """(name, seconds) of feeds just polled: each one's slowest recent answer."""
        self._db.executemany(
            "UPDATE feeds SET answer_seconds = ? WHERE name = ?", [(s, n) for n, s in times]
        )

    def keep_settings(self, settings: Sequence[tuple[str, str]]) -> None:
        """(name, fingerprint) of feeds just polled: the settings they were polled with."""
        self._db.executemany(
            "UPDATE feeds SET settings = ? WHERE name = ?", [(f, n) for n, f in settings]
        )

    def record_failure(
        self,
        name: str,
        url: str,
        error: str,
        now: datetime,
        next_poll: datetime,
        *,
        disable: bool = False,
    ) -> None:
        """A failed poll: the error and when, the next try, and, for a feed that is gone for
        good, ``disable`` (polled again only once its URL changes in feeds.yaml).
        """
        with self._transaction():
            self._ensure_feed(name, url)
            self._db.execute(
                """UPDATE feeds SET last_polled_at = ?, next_poll_at = ?, last_error = ?,
                     error_count = error_count + 1, failing_since = COALESCE(failing_since, ?),
                     disabled = CASE WHEN ? THEN ? ELSE disabled END
                   WHERE name = ?""",
                (iso_text(now), iso_text(next_poll), error, iso_text(now), disable, error, name),
            )

    def record_move(self, name: str, url: str, target: str | None) -> int:
        """A permanent redirect to ``target`` seen on this poll (None: none was). Returns how
        many consecutive polls have now seen it.
        """
        with self._transaction():
            self._ensure_feed(name, url)
            self._db.execute(
                """UPDATE feeds SET
                     moved_count = CASE WHEN CAST(? AS TEXT) IS NULL THEN 0
                                        WHEN moved_to = ? THEN moved_count + 1 ELSE 1 END,
                     moved_to = ? WHERE name = ?""",
                (target, target, target, name),
            )
            row = self._db.execute(
                "SELECT moved_count FROM feeds WHERE name = ?", (name,)
            ).fetchone()
        return int(row["moved_count"])

    def record_unchanged(self, name: str, url: str, now: datetime, next_poll: datetime) -> None:
        with self._transaction():
            self._ensure_feed(name, url)
            self._record_success(name, now, next_poll)

    def _record_success(self, name: str, now: datetime, next_poll: datetime) -> None:
        self._db.execute(
            """UPDATE feeds SET last_polled_at = ?, last_success_at = ?, next_poll_at = ?,
                 error_count = 0, last_error = NULL, failing_since = NULL WHERE name = ?""",
            (iso_text(now), iso_text(now), iso_text(next_poll), name),
        )

    def due_by(self, moment: datetime) -> None:
        """Every feed whose next poll is later than ``moment`` polled by then: after the clock
        was stepped back, a next poll an hour off would starve the feed for that hour.
        """
        with self._transaction():
            self._db.execute(
                "UPDATE feeds SET next_poll_at = ? WHERE next_poll_at > ?",
                (iso_text(moment), iso_text(moment)),
            )

    def claim_feeds(self, feeds: Sequence[tuple[str, str]], until: datetime) -> set[str]:
        """Lease these feeds (name, URL) to this worker until ``until``, skipping those another
        worker holds; returns the names leased. Feeds never polled get their row here.
        """
        taken: set[str] = set()
        with self._transaction():
            self._db.executemany(
                "INSERT INTO feeds (name, url) VALUES (?, ?) ON CONFLICT DO NOTHING", feeds
            )
            names = [name for name, _ in feeds]
            for chunk, marks in in_chunks(names):
                rows = self._db.execute(
                    f"""UPDATE feeds SET leased_by = ?, lease_until = ? WHERE name IN (
                          SELECT name FROM feeds WHERE name IN ({marks})
                            AND (lease_until IS NULL OR lease_until < ? OR leased_by = ?)
                          {self._db.skip_locked})
                        RETURNING name""",
                    (
                        self.worker,
                        iso_text(until),
                        *chunk,
                        iso_text(datetime.now(UTC)),
                        self.worker,
                    ),
                )
                taken.update(row["name"] for row in rows)
        return taken
