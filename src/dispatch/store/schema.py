"""The store's schema: numbered migrations, the same ones for SQLite and PostgreSQL
(``dispatch.store.engines`` translates), applied in order when a store opens.
"""

from __future__ import annotations

from dispatch.errors import StoreError
from dispatch.store.engines import Database

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
    # 9: a fingerprint of each feed's settings when it was last polled: a feed whose settings
    # changed in feeds.yaml (a shorter interval, private addresses allowed) is due at once.
    """
    ALTER TABLE feeds ADD COLUMN settings TEXT;
    """,
    # 10: what a feed's publisher asks between polls (its ttl, sy:updatePeriod), in seconds,
    # kept for the polls that answer 304 and carry no feed: `every: auto` never polls sooner.
    """
    ALTER TABLE feeds ADD COLUMN publisher_hint REAL;
    """,
    # 11: push (WebSub). The hub and own address each feed names; each feed's subscription,
    # whose callback any worker may answer; and the bodies hubs pushed, kept until read.
    """
    ALTER TABLE feeds ADD COLUMN hub TEXT;
    ALTER TABLE feeds ADD COLUMN topic TEXT;
    CREATE TABLE subscriptions (
        feed TEXT PRIMARY KEY,
        hub TEXT NOT NULL,
        topic TEXT NOT NULL,
        token TEXT NOT NULL UNIQUE,
        secret TEXT NOT NULL,
        state TEXT NOT NULL,
        asked_at TEXT,
        verified_at TEXT,
        lease_until TEXT,
        retry_at TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        pushes INTEGER NOT NULL DEFAULT 0,
        refused INTEGER NOT NULL DEFAULT 0,
        last_push_at TEXT
    );
    CREATE TABLE pushes (
        id INTEGER PRIMARY KEY,
        feed TEXT NOT NULL,
        received_at TEXT NOT NULL,
        content_type TEXT,
        body BLOB NOT NULL
    );
    """,
    # 12: threads. A post's later parts are deliveries of their own, each replying to the
    # part before (its parent), sent only once that part is.
    """
    ALTER TABLE deliveries ADD COLUMN parent_id INTEGER REFERENCES deliveries (id);
    ALTER TABLE deliveries ADD COLUMN part INTEGER NOT NULL DEFAULT 1;
    """,
    # 13: each feed's slowest recent answer, in seconds: how long its next poll waits for it.
    """
    ALTER TABLE feeds ADD COLUMN answer_seconds REAL;
    """,
)


def migrate(db: Database, name: str) -> None:
    """Bring the store ``name`` up to the newest schema, once even when workers start together.

    Raises:
        StoreError: a newer dispatch wrote it.
    """
    with db.transaction():
        db.lock_rows_while("migrate")
        version = db.schema_version()
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{name} was written by a newer dispatch (schema {version}); upgrade dispatch"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in db.translate_schema(script).split(";"):
                if statement.strip():
                    db.execute(statement)
            db.set_schema_version(number)
