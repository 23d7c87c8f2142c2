"""All durable state, in SQLite: feeds, articles, aliases, digests and the outbox of deliveries.

The only module with SQL. Migrations are numbered and tracked with ``PRAGMA user_version``.
A dry run works on ``Store.snapshot``: an in-memory copy, so the file is never written.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dispatch.errors import StoreError
from dispatch.models import Article, Kind, VideoCard
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
)


@dataclass(frozen=True)
class FeedState:
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    last_success_at: datetime | None
    next_poll_at: datetime | None
    error_count: int
    last_error: str | None
    failing_since: datetime | None
    disabled: str | None = None
    moved_to: str | None = None
    moved_count: int = 0


@dataclass(frozen=True)
class Known:
    """What the store knows of one feed, for telling new articles from seen ones."""

    first_poll: bool
    keys: dict[str, int]
    content_hashes: dict[int, str]
    links: dict[str, int]
    titles: dict[tuple[str, str], int]


@dataclass(frozen=True)
class Delivery:
    id: int
    kind: Kind
    rule: str
    output: str
    article_id: int | None
    digest_id: int | None
    status: str
    idempotency_key: str
    attempts: int
    recipient: str | None = None
    record_key: str = ""
    last_error: str | None = None
    created_at: datetime | None = None
    sending_since: datetime | None = None
    next_attempt_at: datetime | None = None
    remote_id: str | None = None


@dataclass(frozen=True)
class Trail:
    """Where one article has got to, for telling editors why it is in or out of each message.

    ``queued``: the digests it waits for. ``digests``: each digest that carried it, with its
    period and its deliveries' states. ``posts``: each post made of it, as (rule, output,
    state, last error).
    """

    baseline: bool
    queued: frozenset[str]
    digests: tuple[tuple[str, datetime, frozenset[str]], ...]
    posts: tuple[tuple[str, str, str, str | None], ...]


@dataclass(frozen=True)
class FeedUpdate:
    """Everything one successful poll of one feed writes, in one transaction."""

    feed: str
    url: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    new: Sequence[Article] = ()
    baseline: Sequence[Article] = ()
    aliases: Sequence[tuple[str, int]] = ()
    updated: Sequence[tuple[int, Article]] = ()
    post_outputs: Sequence[tuple[str, str]] = ()  # (rule, output) for each new article
    digests: Sequence[str] = ()  # digests each new article is queued for


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def norm_title(title: str) -> str:
    return " ".join(title.casefold().split())


_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def record_key(row: int, created: datetime) -> str:
    """An AT Protocol TID (13 characters, sortable by time), made once with the row and stored:
    the creation time in microseconds plus the row's id, so no two rows share one even when a
    transaction makes thousands at the same instant. A retry reads it back: the same key.
    """
    micros = (int(created.timestamp() * 1_000_000) + row) & ((1 << 53) - 1)
    value = (micros << 10) | (row % 1024)
    return "".join(_TID_ALPHABET[(value >> shift) & 31] for shift in range(60, -1, -5))


def idempotency_key(*parts: str) -> str:
    """Derived from what is delivered and where, never random: the same delivery, the same key."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


class Store:
    """The state of one dispatch installation."""

    def __init__(self, connection: sqlite3.Connection, path: str) -> None:
        self._db = connection
        self.path = path
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (and create or upgrade) the store file.

        Raises:
            StoreError: the file cannot be opened, is not a dispatch store, or is newer.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, isolation_level=None, timeout=30)
            connection.execute("PRAGMA journal_mode = DELETE")
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the state file {path}: {e}") from None
        return cls(connection, str(path))

    @classmethod
    def snapshot(cls, path: Path) -> Store:
        """An in-memory copy of the store file (or an empty store where there is none yet).

        Everything written to it is thrown away: what a dry run uses.
        """
        memory = sqlite3.connect(":memory:", isolation_level=None)
        if path.exists():
            try:
                source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
                source.backup(memory)
                source.close()
            except sqlite3.Error as e:
                raise StoreError(f"cannot read the state file {path}: {e}") from None
        return cls(memory, f"{path} (snapshot)")

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def reachable(path: Path) -> bool:
        """Whether the state file opens and answers, without writing to it."""
        try:
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                connection.execute("PRAGMA user_version").fetchone()
            finally:
                connection.close()
        except sqlite3.Error:
            return False
        return True

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the store's lock: one sender at a time, or a row another process is sending
        would look cut off by a crash. The lock dies with its process, so a crash frees it.

        Raises:
            StoreError: another dispatch holds it.
        """
        path = Path(f"{self.path}.lock")
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StoreError(
                f"another dispatch ({holder}) is using {self.path}; wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def set_status(self, delivery_id: int, status: str, now: datetime, note: str) -> None:
        """An operator's decision (retry, resolve): the status, with why, due at once."""
        with self._transaction():
            self._db.execute(
                """UPDATE deliveries SET status = ?, updated_at = ?, next_attempt_at = NULL,
                     last_error = ?, sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END
                   WHERE id = ?""",
                (status, _iso(now), note, status, _iso(now), delivery_id),
            )

    def _migrate(self) -> None:
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path} is not a dispatch state file: {e}") from None
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer dispatch (schema {version}); upgrade dispatch"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self._transaction():
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self._db.in_transaction:  # inside ``batch``: its transaction holds this one
            yield self._db
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for many writes (a poll's feeds): one commit, not one each."""
        with self._transaction():
            yield

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
        rows = self._db.execute("SELECT feed, COUNT(*) FROM articles GROUP BY feed").fetchall()
        return {feed: count for feed, count in rows}

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
                     moved_count = CASE WHEN ? IS NULL THEN 0
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
        found: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for table, column in (("articles", "id"), ("aliases", "article_id")):
                for row in self._db.execute(
                    f"SELECT key, {column} AS id FROM {table} WHERE feed = ? AND key IN ({marks})",
                    (feed, *chunk),
                ):
                    found[row["key"]] = row["id"]
        rows = self._db.execute(
            """SELECT id, norm_link, norm_title, content_hash FROM articles WHERE feed = ?
               ORDER BY id DESC LIMIT ?""",
            (feed, recent),
        ).fetchall()
        state = self._db.execute(
            "SELECT last_success_at FROM feeds WHERE name = ?", (feed,)
        ).fetchone()
        hashes = {row["id"]: row["content_hash"] for row in rows}
        for article_id in set(found.values()) - hashes.keys():
            row = self._db.execute(
                "SELECT content_hash FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
            hashes[article_id] = row["content_hash"]
        return Known(
            first_poll=state is None or state["last_success_at"] is None,
            keys=found,
            content_hashes=hashes,
            links={row["norm_link"]: row["id"] for row in rows if row["norm_link"]},
            titles={(row["norm_title"], row["content_hash"]): row["id"] for row in rows},
        )

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
                    "INSERT OR IGNORE INTO aliases (feed, key, article_id) VALUES (?, ?, ?)",
                    (update.feed, key, article_id),
                )
            for article_id, article in update.updated:
                self._db.execute(
                    """UPDATE articles SET title = ?, html = ?, text = ?, content_hash = ?,
                         norm_title = ?, image = ?, cards = ? WHERE id = ?""",
                    (
                        article.title,
                        article.html,
                        article.text,
                        article.content_hash,
                        norm_title(article.title),
                        article.image,
                        _cards_json(article.cards),
                        article_id,
                    ),
                )
            for article, article_id in zip(update.new, new_ids, strict=True):
                for digest in update.digests:
                    self._db.execute(
                        "INSERT OR IGNORE INTO digest_queue (digest, article_id) VALUES (?, ?)",
                        (digest, article_id),
                    )
                for rule, output in update.post_outputs:
                    # Keyed by output and article, not rule: one article, one post per output.
                    key = idempotency_key("post", output, article.feed, article.key)
                    self._insert_delivery("post", rule, output, key, now, article_id=article_id)
        return new_ids

    def _insert_article(self, article: Article, now: datetime, *, baseline: bool) -> int:
        cursor = self._db.execute(_INSERT_ARTICLE, _row(article, now, baseline))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def articles(self, ids: Sequence[int]) -> list[Article]:
        """Articles by id, in the order asked."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(f"SELECT * FROM articles WHERE id IN ({marks})", tuple(ids))
        by_id = {row["id"]: _article(row) for row in rows}
        return [by_id[i] for i in ids]

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
        digests: dict[int, list[tuple[str, datetime, frozenset[str]]]] = {i: [] for i in ids}
        for row in self._db.execute(
            f"""SELECT i.article_id, d.name, d.period, GROUP_CONCAT(o.status) AS states
                FROM digest_items i JOIN digests d ON d.id = i.digest_id
                LEFT JOIN deliveries o ON o.digest_id = d.id
                WHERE i.article_id IN ({marks}) GROUP BY i.article_id, d.id ORDER BY d.period""",
            args,
        ):
            states = frozenset((row["states"] or "").split(",")) - {""}
            period = datetime.fromisoformat(row["period"])
            digests[row["article_id"]].append((row["name"], period, states))
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
            )
            for row in self._db.execute(
                f"SELECT id, baseline FROM articles WHERE id IN ({marks})", args
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
            cursor = self._db.execute(
                "INSERT INTO digests (name, period, created_at) VALUES (?, ?, ?)",
                (name, _iso(period), _iso(now)),
            )
            digest_id = cursor.lastrowid
            assert digest_id is not None
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
        cursor = self._db.execute(
            """INSERT OR IGNORE INTO deliveries (kind, rule, output, article_id, digest_id,
                 recipient, idempotency_key, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (kind, rule, output, article_id, digest_id, recipient, key, _iso(now), _iso(now)),
        )
        if cursor.rowcount == 1 and cursor.lastrowid is not None:
            self._db.execute(
                "UPDATE deliveries SET record_key = ? WHERE id = ?",
                (record_key(cursor.lastrowid, now), cursor.lastrowid),
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
        """Move a delivery on, committed at once. ``sending`` counts an attempt and is committed
        before the output is called; ``sent`` records when, for budgets.
        """
        with self._transaction():
            self._db.execute(
                """UPDATE deliveries SET status = ?, updated_at = ?,
                     attempts = attempts + (? = 'sending'),
                     sending_since = CASE WHEN ? = 'sending' THEN ? ELSE sending_since END,
                     sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,
                     next_attempt_at = ?,
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
                    remote_id,
                    error,
                    delivery_id,
                ),
            )

    def sent_since(self, output: str, since: datetime) -> list[datetime]:
        """When this output sent, since ``since``, oldest first: what budgets count."""
        rows = self._db.execute(
            "SELECT sent_at FROM deliveries WHERE output = ? AND status = 'sent' AND sent_at >= ?"
            " ORDER BY sent_at",
            (output, _iso(since)),
        )
        return [moment for row in rows if (moment := _moment(row["sent_at"]))]


def _delivery(row: sqlite3.Row) -> Delivery:
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
    content_hash, first_seen, baseline)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


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
        _iso(now),
        int(baseline),
    )


def _cards_json(cards: Sequence[VideoCard]) -> str:
    return json.dumps([asdict(card) for card in cards])


def _article(row: sqlite3.Row) -> Article:
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
        summary=row["summary"],
        id=row["id"],
    )
