"""Frozen values that flow between the stages: articles, cards, messages, what an output
accepts, and run reports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

Kind = Literal["digest", "post"]
DeliveryStatus = Literal["sent", "dry-run", "waiting", "pending", "failed", "ambiguous"]


Counting = Literal["characters", "graphemes", "weighted", "bytes"]


@dataclass(frozen=True)
class Capabilities:
    """What an output accepts; rendering fits every message to these, outputs never truncate.

    ``limit`` is counted the ``counting`` way: characters (code points), graphemes,
    X's weighted characters, or the bytes of an email's HTML (Gmail clips past ~102 KB).
    ``url_length``: every URL counts as this many, whatever its length (None: as written).
    ``idempotent``: a retry of the same delivery cannot post twice (an idempotency key, a
    pre-generated record key, a receiver that dedupes), for ``idempotency_window`` if limited.
    ``template``: which post template renders for it (``social/<template>.txt.j2``).
    ``connections``: how many sends may be in flight at once, each from its own thread; above
    1, ``send`` must be safe to call from several threads.
    ``limit_source``: where ``limit`` comes from, when that is worth saying (an instance's own
    setting, read on a date; a default because it was never asked).
    """

    limit: int | None = None
    counting: Counting = "characters"
    url_length: int | None = None
    html: bool = False
    media: bool = False
    idempotent: bool = False
    idempotency_window: timedelta | None = None
    rate_per_minute: float | None = None
    template: str = "default"
    connections: int = 1
    limit_source: str = ""


@dataclass(frozen=True)
class VideoCard:
    """A video an article carries, shown as a thumbnail with a play mark or a link card."""

    video_id: str
    url: str
    thumbnail: str
    title: str
    type: str = "youtube"


@dataclass(frozen=True)
class Article:
    """One article, normalised: sanitised HTML, plain text, identity key and video cards.

    ``source`` is the feed's title as readers know it; ``full_text`` is the article page's
    main text, for excerpt-only feeds; ``id`` is 0 until the store has it; ``summary`` is
    empty until it is summarised.
    """

    feed: str
    key: str
    title: str
    link: str | None
    source: str = ""
    guid: str | None = None
    author: str | None = None
    published: datetime | None = None
    categories: tuple[str, ...] = ()
    html: str = ""
    text: str = ""
    excerpt_only: bool = False
    full_text: str | None = None
    image: str | None = None
    cards: tuple[VideoCard, ...] = ()
    content_hash: str = ""
    fingerprint: str = ""  # of the feed entry it was made from: unchanged, it is not remade
    summary: str = ""
    id: int = 0
    story: int = 0  # the id of the story's first article (its own id when it is the first)
    also_in: tuple[str, ...] = ()  # the sources of the story's other articles


@dataclass(frozen=True)
class Message:
    """One rendered message for one output: a digest or a post."""

    delivery_id: int
    output: str
    type: str
    kind: Kind
    name: str
    subject: str | None
    text: str
    html: str | None
    length: int
    limit: int | None
    articles: tuple[Article, ...]
    cards: tuple[VideoCard, ...]
    key: str
    unit: str = "characters"
    recipient: str | None = None
    record_key: str = ""
    limit_source: str = ""  # where ``limit`` comes from, when worth saying

    def to_record(self) -> dict[str, Any]:
        """The message as printed by ``--json`` and written by the file output."""
        return {
            "output": self.output,
            "type": self.type,
            "kind": self.kind,
            "name": self.name,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "length": self.length,
            "limit": self.limit,
            "limit_source": self.limit_source or None,
            "unit": self.unit,
            "recipient": self.recipient,
            "key": self.key,
            "articles": [
                {
                    "title": article.title,
                    "url": article.link,
                    "summary": article.summary,
                    "feed": article.feed,
                    "source": article.source,
                    "published": article.published.isoformat() if article.published else None,
                }
                for article in self.articles
            ],
            "cards": [asdict(card) for card in self.cards],
        }


@dataclass(frozen=True)
class FeedResult:
    """What one poll of one feed did."""

    feed: str
    status: Literal["ok", "not-modified", "not-due", "disabled", "failed"]
    new: int = 0
    seen: int = 0
    error: str | None = None
    hint: str = ""
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one delivery: sent, shown (dry run), waiting for its output's budget,
    left pending (to be retried), failed, or ambiguous (the operator decides).
    """

    delivery_id: int
    output: str
    kind: Kind
    name: str
    status: DeliveryStatus
    recipient: str | None = None
    message: Message | None = None
    remote_id: str | None = None
    error: str | None = None
    hint: str = ""
    files: tuple[str, ...] = ()
    seconds: float | None = None  # how long the output took, for sends


@dataclass(frozen=True)
class RunReport:
    """One result per feed and per delivery, so that one failure never hides another."""

    feeds: tuple[FeedResult, ...] = ()
    deliveries: tuple[DeliveryResult, ...] = ()
    notes: tuple[str, ...] = ()  # what waits for a later run, and why

    @property
    def ok(self) -> bool:
        """True when no feed failed and every delivery was sent, shown, or waits its turn."""
        return all(result.status != "failed" for result in self.feeds) and all(
            result.status in ("sent", "dry-run", "waiting") for result in self.deliveries
        )
