"""The articles table with its aliases and stories: what polls found, and where it went."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from dispatch.identity import idempotency_key, norm_title
from dispatch.models import (
    Article,
    Candidate,
    FeedUpdate,
    Known,
    Trail,
    VideoCard,
)
from dispatch.store.deliveries import DeliveryTables
from dispatch.store.feeds import FeedTables
from dispatch.store.tables import in_chunks, iso_text, parse_time
from dispatch.urls import normalise_url


class ArticleTables(FeedTables, DeliveryTables):
    """Articles: written by each poll with their queues and posts, read back for rendering."""

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
        for chunk, marks in in_chunks(keys):
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
                """UPDATE feeds SET etag = ?, last_modified = ?, body_hash = ?, publisher_hint = ?,
                     hub = ?, topic = ? WHERE name = ?""",
                (
                    update.etag,
                    update.last_modified,
                    update.body_hash,
                    update.publisher_hint,
                    update.hub,
                    update.topic,
                    update.feed,
                ),
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
                told = {  # asked before this article's own posts are queued
                    output: bool(route.story) and self._story_posted(output, story)
                    for _, output, _ in route.posts
                }
                for rule, output, recipient in route.posts:
                    if told[output]:
                        continue  # one story once per output
                    # Keyed by output (and recipient: an Apprise URL) and article, not rule:
                    # one article, one post per output.
                    where = (output,) if recipient is None else (output, recipient)
                    key = idempotency_key("post", *where, article.feed, article.key)
                    self._insert_delivery(
                        "post", rule, output, key, now, article_id=article_id, recipient=recipient
                    )
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
            (iso_text(since), limit),
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
                found=parse_time(row["first_seen"]),
            )
            for row in self._db.execute(
                f"SELECT id, baseline, first_seen FROM articles WHERE id IN ({marks})", args
            )
        }


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
        iso_text(article.published),
        json.dumps(list(article.categories)),
        article.html,
        article.text,
        article.full_text,
        article.summary,
        article.image,
        _cards_json(article.cards),
        article.content_hash,
        article.fingerprint,
        iso_text(now),
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
        published=parse_time(row["published"]),
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
