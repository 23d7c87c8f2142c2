"""All durable state: feeds, articles, aliases, digests and the outbox of deliveries, on SQLite
(the default) or PostgreSQL (many workers).

The only module with SQL, written once for both engines (``dispatch.store.engines``
translates). Migrations are numbered; the same ones build both. A dry run works on
``Store.snapshot``, which keeps nothing, so the store is never written.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dispatch.errors import StoreError
from dispatch.identity import idempotency_key, norm_title, record_key
from dispatch.models import (
    Article,
    Candidate,
    Delivery,
    FeedState,
    FeedUpdate,
    Kind,
    Known,
    OutputState,
    Trail,
    VideoCard,
)
from dispatch.store.engines import Database, PostgresDatabase, SqliteDatabase, is_postgres
from dispatch.urls import normalise_url

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE feeds (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        last_polled_at TEXT,
        last_success_at TEXT,
        next_poll_at TEXT,
        error_count INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        failing_since TEXT
    );
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        feed TEXT NOT NULL REFERENCES feeds (name),
        key TEXT NOT NULL,
        source TEXT NOT NULL,
        guid TEXT,
        title TEXT NOT NULL,
        link TEXT,
        norm_link TEXT,
        norm_title TEXT NOT NULL,
        author TEXT,
        published TEXT,
        categories TEXT NOT NULL,
        html TEXT NOT NULL,
        text TEXT NOT NULL,
        full_text TEXT,
        summary TEXT NOT NULL DEFAULT '',
        image TEXT,
        cards TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        baseline INTEGER NOT NULL,
        UNIQUE (feed, key)
    );
    CREATE INDEX articles_by_link ON articles (feed, norm_link);
    CREATE TABLE aliases (
        feed TEXT NOT NULL,
        key TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles (id),
        PRIMARY KEY (feed, key)
    );
    CREATE TABLE digest_queue (
        digest TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles (id),
        PRIMARY KEY (digest, article_id)
    );
    CREATE TABLE digests (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        period TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (name, period)
    );
    CREATE TABLE digest_items (
        digest_id INTEGER NOT NULL REFERENCES digests (id),
        article_id INTEGER NOT NULL REFERENCES articles (id),
        position INTEGER NOT NULL,
        PRIMARY KEY (digest_id, article_id)
    );
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('digest', 'post')),
        rule TEXT NOT NULL,
        output TEXT NOT NULL,
        article_id INTEGER REFERENCES articles (id),
        digest_id INTEGER REFERENCES digests (id),
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'ambiguous')),
        idempotency_key TEXT NOT NULL UNIQUE,
        attempts INTEGER NOT NULL DEFAULT 0,
        remote_id TEXT,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX deliveries_by_status ON deliveries (status);
    """,
    # 2: the outbox learns retries, recipients (one row each: the per-recipient ledger) and
    # record keys generated with the row (Bluesky's rkey), so a retry cannot post twice.
    """
    ALTER TABLE deliveries ADD COLUMN recipient TEXT;
    ALTER TABLE deliveries ADD COLUMN record_key TEXT;
    ALTER TABLE deliveries ADD COLUMN next_attempt_at TEXT;
    ALTER TABLE deliveries ADD COLUMN sending_since TEXT;
    ALTER TABLE deliveries ADD COLUMN sent_at TEXT;
    CREATE INDEX deliveries_sent_by_output ON deliveries (output, sent_at);
    """,
    # 3: a feed the server says is gone (410) stops being polled until its URL changes.
    """
    ALTER TABLE feeds ADD COLUMN disabled TEXT;
    """,
    # 4: a feed that redirects permanently (301, 308) to the same place on consecutive polls
    # is polled at the new place from then on.
    """
    ALTER TABLE feeds ADD COLUMN moved_to TEXT;
    ALTER TABLE feeds ADD COLUMN moved_count INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: workers sharing a store (PostgreSQL) lease the feeds and deliveries they work on; a
    # lease that runs out (its worker died) lets another worker take the row over.
    """
    ALTER TABLE feeds ADD COLUMN leased_by TEXT;
    ALTER TABLE feeds ADD COLUMN lease_until TEXT;
    ALTER TABLE deliveries ADD COLUMN leased_by TEXT;
    ALTER TABLE deliveries ADD COLUMN lease_until TEXT;
    CREATE INDEX deliveries_by_status_id ON deliveries (status, id);
    """,
    # 6: one story once: articles of several feeds that tell one story share a story id.
    """
    ALTER TABLE articles ADD COLUMN story_id INTEGER;
    CREATE INDEX articles_by_story ON articles (story_id);
    CREATE INDEX articles_by_first_seen ON articles (first_seen);
    """,
    # 7: an article remembers the feed entry it was made from: unchanged, it is not remade.
    """
    ALTER TABLE articles ADD COLUMN fingerprint TEXT;
    """,
    # 8: what each output's network said of itself (Mastodon's limits, kept with when they were
    # read, so a dry run counts as the real send will), and credentials it refused: the
    # output's deliveries wait, backing off, until the credentials change or work again.
    """
    CREATE TABLE outputs (
        name TEXT PRIMARY KEY,
        limits TEXT,
        limits_read_at TEXT,
        refused_since TEXT,
        refused_error TEXT,
        refusals INTEGER NOT NULL DEFAULT 0,
        retry_at TEXT,
        refused_credentials TEXT
    );
    """,
)

# One name per process for the leases it takes, whichever connection takes them.
WORKER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class Store:
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
            self._migrate()
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

    def set_status(self, delivery_id: int, status: str, now: datetime, note: str) -> None:
        """An operator's decision (retry, resolve): the status, with why, due at once."""
        self._db.execute(
            """UPDATE deliveries SET status = ?, updated_at = ?, next_attempt_at = NULL,
                 last_error = ?, lease_until = NULL,
                 sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END
               WHERE id = ?""",
            (status, _iso(now), note, status, _iso(now), delivery_id),
        )

    def _migrate(self) -> None:
        with self._transaction():
            self._db.lock_rows_while("migrate")  # workers starting together migrate once
            version = self._db.schema_version()
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"{self.path} was written by a newer dispatch (schema {version}); "
                    "upgrade dispatch"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in self._db.translate_schema(script).split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.set_schema_version(number)

    def _transaction(self) -> AbstractContextManager[None]:
        return self._db.transaction()

    def batch(self) -> AbstractContextManager[None]:
        """One transaction for many writes (a poll's feeds): one commit, not one each."""
        return self._transaction()

    # Feeds

    def feed_states(self) -> dict[str, FeedState]:
        rows = self._db.execute("SELECT * FROM feeds").fetchall()
        return {
            row["name"]: FeedState(
                name=row["name"],
                url=row["url"],
                etag=row["etag"],
                last_modified=row["last_modified"],
                body_hash=row["body_hash"],
                last_success_at=_moment(row["last_success_at"]),
                next_poll_at=_moment(row["next_poll_at"]),
                error_count=row["error_count"],
                last_error=row["last_error"],
                failing_since=_moment(row["failing_since"]),
                disabled=row["disabled"],
                moved_to=row["moved_to"],
                moved_count=row["moved_count"],
            )
            for row in rows
        }

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
                (_iso(now), _iso(next_poll), error, _iso(now), disable, error, name),
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
            (_iso(now), _iso(now), _iso(next_poll), name),
        )

    # Articles

    def known(self, feed: str, keys: Iterable[str], recent: int = 500) -> Known:
        """What is known of these keys in this feed, plus the feed's recent articles."""
        wanted = list(keys)
        found = dict(self._by_key("articles", "id", feed, wanted))
        found.update(self._by_key("aliases", "article_id", feed, wanted))
        rows = self._db.execute(
            """SELECT id, norm_link, norm_title, content_hash, fingerprint FROM articles
               WHERE feed = ? ORDER BY id DESC LIMIT ?""",
            (feed, recent),
        ).fetchall()
        state = self._db.execute(
            "SELECT last_success_at FROM feeds WHERE name = ?", (feed,)
        ).fetchone()
        hashes = {row["id"]: row["content_hash"] for row in rows}
        fingerprints = {row["id"]: row["fingerprint"] for row in rows}
        for article_id in set(found.values()) - hashes.keys():
            row = self._db.execute(
                "SELECT content_hash, fingerprint FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
            hashes[article_id] = row["content_hash"]
            fingerprints[article_id] = row["fingerprint"]
        return Known(
            first_poll=state is None or state["last_success_at"] is None,
            keys=found,
            content_hashes=hashes,
            fingerprints=fingerprints,
            links={row["norm_link"]: row["id"] for row in rows if row["norm_link"]},
            titles={(row["norm_title"], row["content_hash"]): row["id"] for row in rows},
        )

    def fingerprints(self, feed: str, keys: list[str]) -> dict[str, str]:
        """The fingerprints of this feed's articles stored under these keys."""
        return dict(self._by_key("articles", "fingerprint", feed, keys))

    def _by_key(self, table: str, column: str, feed: str, keys: list[str]) -> list[tuple[str, Any]]:
        """(key, column) of this feed's rows in ``table`` with these keys, where not NULL."""
        found = []
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found += [
                (row["key"], row["value"])
                for row in self._db.execute(
                    f"""SELECT key, {column} AS value FROM {table}
                        WHERE feed = ? AND key IN ({marks}) AND {column} IS NOT NULL""",
                    (feed, *chunk),
                )
            ]
        return found

    def record_poll(self, update: FeedUpdate, now: datetime, next_poll: datetime) -> list[int]:
        """Write one successful poll: feed state, articles, aliases, queues and deliveries, all
        in one transaction. Returns the ids of the new articles.
        """
        with self._transaction():
            self._ensure_feed(update.feed, update.url)
            self._db.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, body_hash = ? WHERE name = ?",
                (update.etag, update.last_modified, update.body_hash, update.feed),
            )
            self._record_success(update.feed, now, next_poll)
            self._db.executemany(_INSERT_ARTICLE, (_row(a, now, True) for a in update.baseline))
            new_ids = [self._insert_article(a, now, baseline=False) for a in update.new]
            for key, article_id in update.aliases:
                self._db.execute(
                    """INSERT INTO aliases (feed, key, article_id) VALUES (?, ?, ?)
                       ON CONFLICT DO NOTHING""",
                    (update.feed, key, article_id),
                )
            for article_id, article in update.updated:
                self._db.execute(
                    """UPDATE articles SET title = ?, html = ?, text = ?, content_hash = ?,
                         norm_title = ?, image = ?, cards = ?, fingerprint = ? WHERE id = ?""",
                    (
                        article.title,
                        article.html,
                        article.text,
                        article.content_hash,
                        norm_title(article.title),
                        article.image,
                        _cards_json(article.cards),
                        article.fingerprint,
                        article_id,
                    ),
                )
            # Every new article's story first (most are a story of their own: one statement),
            # then its queues; what is queued decides whether a later copy goes too.
            self._db.executemany(
                "UPDATE articles SET story_id = ? WHERE id = ?",
                [(route.story or i, i) for i, route in zip(new_ids, update.routes, strict=True)],
            )
            for article, article_id, route in zip(update.new, new_ids, update.routes, strict=True):
                story = route.story or article_id
                for digest in route.digests:
                    if route.story and self._story_in_digest(digest, story):
                        continue  # one story once: it is in this digest already
                    self._db.execute(
                        """INSERT INTO digest_queue (digest, article_id) VALUES (?, ?)
                           ON CONFLICT DO NOTHING""",
                        (digest, article_id),
                    )
                for rule, output in route.posts:
                    if route.story and self._story_posted(output, story):
                        continue  # one story once per output
                    # Keyed by output and article, not rule: one article, one post per output.
                    key = idempotency_key("post", output, article.feed, article.key)
                    self._insert_delivery("post", rule, output, key, now, article_id=article_id)
        return new_ids

    def _story_in_digest(self, digest: str, story: int) -> bool:
        row = self._db.execute(
            """SELECT 1 FROM articles a WHERE a.story_id = ? AND (
                 EXISTS (SELECT 1 FROM digest_queue q WHERE q.article_id = a.id AND q.digest = ?)
                 OR EXISTS (SELECT 1 FROM digest_items i JOIN digests d ON d.id = i.digest_id
                            WHERE i.article_id = a.id AND d.name = ?))""",
            (story, digest, digest),
        ).fetchone()
        return row is not None

    def _story_posted(self, output: str, story: int) -> bool:
        row = self._db.execute(
            """SELECT 1 FROM deliveries d JOIN articles a ON a.id = d.article_id
               WHERE a.story_id = ? AND d.output = ? AND d.kind = 'post'""",
            (story, output),
        ).fetchone()
        return row is not None

    def story_candidates(self, since: datetime, limit: int = 2000) -> list[Candidate]:
        """Articles found since ``since`` (not baselines: those were never sent), newest first:
        what a new article may repeat.
        """
        rows = self._db.execute(
            """SELECT id, COALESCE(story_id, id) AS story, feed, source, norm_link, title,
                 COALESCE(full_text, text) AS text FROM articles
               WHERE first_seen >= ? AND baseline = 0 ORDER BY id DESC LIMIT ?""",
            (_iso(since), limit),
        )
        return [
            Candidate(
                row["id"],
                row["story"],
                row["feed"],
                row["source"],
                row["norm_link"],
                row["title"],
                row["text"],
            )
            for row in rows
        ]

    def _insert_article(self, article: Article, now: datetime, *, baseline: bool) -> int:
        row = self._db.execute(_INSERT_ARTICLE + " RETURNING id", _row(article, now, baseline))
        return int(row.fetchone()["id"])

    def articles(self, ids: Sequence[int]) -> list[Article]:
        """Articles by id, in the order asked."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(f"SELECT * FROM articles WHERE id IN ({marks})", tuple(ids))
        by_id = {row["id"]: _article(row) for row in rows}
        also: dict[int, list[str]] = {}
        for row in self._db.execute(
            f"""SELECT story_id, feed, source FROM articles WHERE story_id IN (
                  SELECT story_id FROM articles WHERE id IN ({marks})) ORDER BY id""",
            tuple(ids),
        ):
            also.setdefault(row["story_id"], []).append(f"{row['feed']}\x1f{row['source']}")
        return [_also_in(by_id[i], also.get(by_id[i].story, [])) for i in ids]

    def articles_exist(self, ids: Sequence[int]) -> bool:
        marks = ",".join("?" * len(ids))
        row = self._db.execute(
            f"SELECT COUNT(*) AS n FROM articles WHERE id IN ({marks})", tuple(ids)
        ).fetchone()
        return int(row["n"]) == len(set(ids))

    def set_summary(self, article_id: int, summary: str) -> None:
        self._db.execute("UPDATE articles SET summary = ? WHERE id = ?", (summary, article_id))

    def clear_queues(self) -> int:
        """Empty every digest's queue (catch-up: what waited counts as seen); how many left."""
        row = self._db.execute("SELECT COUNT(*) AS n FROM digest_queue").fetchone()
        self._db.execute("DELETE FROM digest_queue")
        return int(row["n"])

    # Digests

    def queued(self, digest: str) -> list[int]:
        """Article ids waiting for this digest, oldest first, so none waits for ever."""
        rows = self._db.execute(
            "SELECT article_id FROM digest_queue WHERE digest = ? ORDER BY article_id", (digest,)
        )
        return [row["article_id"] for row in rows]

    def newest(self, limit: int, feeds: Sequence[str] | None = None) -> list[int]:
        """The ids of the newest articles (of these feeds), newest first."""
        rows = self._db.execute("SELECT id, feed FROM articles ORDER BY id DESC").fetchall()
        ids = [row["id"] for row in rows if feeds is None or row["feed"] in feeds]
        return ids[:limit]

    def trails(self, ids: Sequence[int]) -> dict[int, Trail]:
        """Each article's way through the queues and the outbox."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        args = tuple(ids)
        queued: dict[int, set[str]] = {i: set() for i in ids}
        for row in self._db.execute(
            f"SELECT digest, article_id FROM digest_queue WHERE article_id IN ({marks})", args
        ):
            queued[row["article_id"]].add(row["digest"])
        carried: dict[tuple[int, int], tuple[str, datetime, set[str]]] = {}
        for row in self._db.execute(
            f"""SELECT i.article_id, d.id, d.name, d.period, o.status
                FROM digest_items i JOIN digests d ON d.id = i.digest_id
                LEFT JOIN deliveries o ON o.digest_id = d.id
                WHERE i.article_id IN ({marks}) ORDER BY d.period, d.id""",
            args,
        ):
            entry = carried.setdefault(
                (row["article_id"], row["id"]),
                (row["name"], datetime.fromisoformat(row["period"]), set()),
            )
            if row["status"]:
                entry[2].add(row["status"])
        digests: dict[int, list[tuple[str, datetime, frozenset[str]]]] = {i: [] for i in ids}
        for (article_id, _), (name, period, states) in carried.items():
            digests[article_id].append((name, period, frozenset(states)))
        posts: dict[int, list[tuple[str, str, str, str | None]]] = {i: [] for i in ids}
        for row in self._db.execute(
            f"""SELECT article_id, rule, output, status, last_error FROM deliveries
                WHERE kind = 'post' AND article_id IN ({marks}) ORDER BY id""",
            args,
        ):
            posts[row["article_id"]].append(
                (row["rule"], row["output"], row["status"], row["last_error"])
            )
        return {
            row["id"]: Trail(
                baseline=bool(row["baseline"]),
                queued=frozenset(queued[row["id"]]),
                digests=tuple(digests[row["id"]]),
                posts=tuple(posts[row["id"]]),
                found=_moment(row["first_seen"]),
            )
            for row in self._db.execute(
                f"SELECT id, baseline, first_seen FROM articles WHERE id IN ({marks})", args
            )
        }

    def last_digest_period(self, digest: str) -> datetime | None:
        row = self._db.execute(
            "SELECT MAX(period) AS period FROM digests WHERE name = ?", (digest,)
        ).fetchone()
        return _moment(row["period"])

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
                    (name, _iso(period), _iso(now)),
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
                key = idempotency_key("digest", output, name, _iso(period) or "", recipient or "")
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
        period = _moment(row["period"])
        assert period is not None
        return period

    # Deliveries

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
            (kind, rule, output, article_id, digest_id, recipient, key, _iso(now), _iso(now)),
        ).fetchone()
        if row is not None:
            self._db.execute(
                "UPDATE deliveries SET record_key = ? WHERE id = ?",
                (record_key(row["id"], now), row["id"]),
            )

    def deliveries(self, status: str = "pending", *, due: datetime | None = None) -> list[Delivery]:
        """Deliveries in one status, oldest first; with ``due``, only those due by then."""
        sql = "SELECT * FROM deliveries WHERE status = ?"
        parameters: tuple[Any, ...] = (status,)
        if due is not None:
            sql += " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            parameters += (_iso(due),)
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
                _iso(now),
                status,
                status,
                _iso(now),
                status,
                _iso(now),
                _iso(next_attempt),
                status,
                remote_id,
                error,
                delivery_id,
            ),
        )

    # Claims: how workers sharing a store keep apart

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
            for start in range(0, len(names), 500):
                chunk = names[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"""UPDATE feeds SET leased_by = ?, lease_until = ? WHERE name IN (
                          SELECT name FROM feeds WHERE name IN ({marks})
                            AND (lease_until IS NULL OR lease_until < ? OR leased_by = ?)
                          {self._db.skip_locked})
                        RETURNING name""",
                    (self.worker, _iso(until), *chunk, _iso(datetime.now(UTC)), self.worker),
                )
                taken.update(row["name"] for row in rows)
        return taken

    def claim_deliveries(
        self, now: datetime, until: datetime, *, after: int = 0, limit: int = 20
    ) -> list[Delivery]:
        """Lease the next ``limit`` due pending deliveries (ids above ``after``), oldest first,
        skipping those another worker holds.
        """
        return self._lease(
            "status = 'pending' AND id > ? AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
            (after, _iso(now)),
            until,
            limit,
        )

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
            parameters += (_iso(datetime.now(UTC)),)
        if limit is not None:
            parameters += (limit,)
        rows = self._db.execute(
            f"""UPDATE deliveries SET leased_by = ?, lease_until = ? WHERE id IN (
                  SELECT id FROM deliveries WHERE {where}
                  ORDER BY id {"LIMIT ?" if limit is not None else ""} {self._db.skip_locked})
                RETURNING *""",
            (self.worker, _iso(until), *parameters),
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
            (_iso(now), _iso(now), delivery_id, self.worker),
        ).fetchone()
        return row is not None

    def renew_leases(self, until: datetime) -> None:
        """Extend every lease this worker holds: the heartbeat of a worker that is alive."""
        with self._transaction():
            self._db.execute(
                """UPDATE deliveries SET lease_until = ?
                   WHERE leased_by = ? AND status IN ('pending', 'sending')
                     AND lease_until IS NOT NULL""",
                (_iso(until), self.worker),
            )
            self._db.execute(
                "UPDATE feeds SET lease_until = ? WHERE leased_by = ? AND lease_until IS NOT NULL",
                (_iso(until), self.worker),
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

    def hold_digests(self) -> None:
        """Within a transaction (``batch``): wait until no other worker is creating digests,
        and keep them out until it ends.
        """
        self._db.lock_rows_while("digests")

    # Outputs: what their networks said, and credentials refused

    def output_states(self) -> dict[str, OutputState]:
        rows = self._db.execute("SELECT * FROM outputs").fetchall()
        return {
            row["name"]: OutputState(
                name=row["name"],
                limits=json.loads(row["limits"]) if row["limits"] else {},
                limits_read_at=_moment(row["limits_read_at"]),
                refused_since=_moment(row["refused_since"]),
                refused_error=row["refused_error"],
                refusals=row["refusals"],
                retry_at=_moment(row["retry_at"]),
                refused_credentials=row["refused_credentials"],
            )
            for row in rows
        }

    def _ensure_output(self, name: str) -> None:
        self._db.execute("INSERT INTO outputs (name) VALUES (?) ON CONFLICT DO NOTHING", (name,))

    def keep_limits(self, name: str, limits: Mapping[str, int], now: datetime) -> None:
        """What ``name``'s network said of its limits, read at ``now``."""
        with self._transaction():
            self._ensure_output(name)
            self._db.execute(
                "UPDATE outputs SET limits = ?, limits_read_at = ? WHERE name = ?",
                (json.dumps(dict(limits), sort_keys=True), _iso(now), name),
            )

    def refuse_credentials(
        self, name: str, error: str, now: datetime, retry_at: datetime, credentials: str
    ) -> None:
        """The network refused ``name``'s credentials (a fingerprint) at ``now``: try again at
        ``retry_at``, or at once when the credentials change.
        """
        with self._transaction():
            self._ensure_output(name)
            self._db.execute(
                """UPDATE outputs SET refused_since = COALESCE(refused_since, ?),
                     refused_error = ?, refusals = refusals + 1, retry_at = ?,
                     refused_credentials = ?
                   WHERE name = ?""",
                (_iso(now), error, _iso(retry_at), credentials, name),
            )

    def accept_credentials(self, name: str) -> None:
        """``name``'s credentials worked: nothing holds its deliveries back any more."""
        self._db.execute(
            """UPDATE outputs SET refused_since = NULL, refused_error = NULL, refusals = 0,
                 retry_at = NULL, refused_credentials = NULL
               WHERE name = ? AND refused_since IS NOT NULL""",
            (name,),
        )

    def sent_since(self, output: str, since: datetime) -> list[datetime]:
        """When this output sent, since ``since``, oldest first: what budgets count."""
        rows = self._db.execute(
            "SELECT sent_at FROM deliveries WHERE output = ? AND status = 'sent' AND sent_at >= ?"
            " ORDER BY sent_at",
            (output, _iso(since)),
        )
        return [moment for row in rows if (moment := _moment(row["sent_at"]))]


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
        created_at=_moment(row["created_at"]),
        sending_since=_moment(row["sending_since"]),
        next_attempt_at=_moment(row["next_attempt_at"]),
        remote_id=row["remote_id"],
    )


_INSERT_ARTICLE = """INSERT INTO articles (feed, key, source, guid, title, link, norm_link,
    norm_title, author, published, categories, html, text, full_text, summary, image, cards,
    content_hash, fingerprint, first_seen, baseline)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


def _row(article: Article, now: datetime, baseline: bool) -> tuple[Any, ...]:
    return (
        article.feed,
        article.key,
        article.source,
        article.guid,
        article.title,
        article.link,
        normalise_url(article.link) if article.link else None,
        norm_title(article.title),
        article.author,
        _iso(article.published),
        json.dumps(list(article.categories)),
        article.html,
        article.text,
        article.full_text,
        article.summary,
        article.image,
        _cards_json(article.cards),
        article.content_hash,
        article.fingerprint,
        _iso(now),
        int(baseline),
    )


def _also_in(article: Article, members: list[str]) -> Article:
    """The article, with the sources of its story's articles from other feeds."""
    sources: list[str] = []
    for member in members:
        feed, _, source = member.partition("\x1f")
        name = source or feed
        if feed != article.feed and name not in sources and name != article.source:
            sources.append(name)
    return replace(article, also_in=tuple(sources)) if sources else article


def _cards_json(cards: Sequence[VideoCard]) -> str:
    return json.dumps([asdict(card) for card in cards])


def _article(row: Mapping[str, Any]) -> Article:
    return Article(
        feed=row["feed"],
        key=row["key"],
        source=row["source"],
        title=row["title"],
        link=row["link"],
        guid=row["guid"],
        author=row["author"],
        published=_moment(row["published"]),
        categories=tuple(json.loads(row["categories"])),
        html=row["html"],
        text=row["text"],
        full_text=row["full_text"],
        image=row["image"],
        cards=tuple(VideoCard(**card) for card in json.loads(row["cards"])),
        content_hash=row["content_hash"],
        fingerprint=row["fingerprint"] or "",
        summary=row["summary"],
        id=row["id"],
        story=row["story_id"] or row["id"],
    )
