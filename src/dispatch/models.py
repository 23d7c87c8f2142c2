"""Frozen values that flow between the stages: articles, cards, messages, what an output
accepts, run reports, and the records the store keeps and gives back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
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
    ``unsubscribe``: the link each digest must carry (``{{ unsubscribe }}`` in templates).
    ``test_sends``: it can send one digest to an address given at the command line
    (``dispatch send --test-to``).
    ``inbox``: it delivers digests to people's inboxes, where the law and the mailbox
    providers ask for an unsubscribe link and the sender's postal address.
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
    unsubscribe: str | None = None
    test_sends: bool = False
    inbox: bool = False

    @property
    def clip_bytes(self) -> int | None:
        """Bytes of HTML past which mail clients clip a message: the limit of an output that
        counts its HTML in bytes (Gmail's ~102 KB, for email); None for the rest.
        """
        return self.limit if self.counting == "bytes" else None


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
    # A post's media: the link's card, the article's image (the feed's, with its alt text;
    # None: the page's og:image, looked up when sent), or none.
    media: Literal["card", "image", "none"] = "card"
    image: str | None = None
    image_alt: str = ""
    # Threads: every part's text (this message is part ``part``), and the remote ids of the
    # part this one replies to and of the first part.
    thread: tuple[str, ...] = ()
    part: int = 1
    reply_to: str | None = None
    thread_root: str | None = None

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
            **(
                {
                    "media": {"kind": self.media, "image": self.image, "alt": self.image_alt},
                    "thread": list(self.thread),  # every part, where the post is a thread
                    "part": self.part,
                }
                if self.kind == "post"
                else {}
            ),
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
    planned: datetime | None = None  # a queued post: when it goes (posting windows, gaps)


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


# What the store keeps and gives back: plain values, so the decisions that read them need
# no store.


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
    settings: str | None = None  # the fingerprint of its settings when last polled
    publisher_hint: float | None = None  # seconds its feed asks between polls (ttl, sy:*)
    answer_seconds: float | None = None  # its slowest recent answer: how long it is waited for


SubscriptionState = Literal["asked", "live", "leaving", "failed"]


@dataclass(frozen=True)
class Subscription:
    """One feed's WebSub subscription as the store keeps it.

    ``state``: ``asked`` (the hub was asked; it has not verified yet), ``live`` (verified,
    until ``lease_until``; a renewal may be asked meanwhile), ``leaving`` (the feed left
    feeds.yaml: unsubscribing), ``failed`` (refused, denied, never verified or run out: asked
    again at ``retry_at``). ``token`` ends the callback URL; ``secret`` signs what the hub
    pushes and is never shown.
    """

    feed: str
    hub: str
    topic: str
    token: str
    secret: str = field(repr=False)
    state: SubscriptionState
    asked_at: datetime | None = None
    verified_at: datetime | None = None
    lease_until: datetime | None = None
    retry_at: datetime | None = None
    failures: int = 0
    last_error: str | None = None
    pushes: int = 0  # notifications taken
    refused: int = 0  # notifications dropped: a bad or missing signature
    last_push_at: datetime | None = None

    def live(self, now: datetime) -> bool:
        return self.state == "live" and self.lease_until is not None and self.lease_until > now


@dataclass(frozen=True)
class Push:
    """A feed body a hub pushed (a fat ping), kept until it is read like a poll's."""

    id: int
    feed: str
    received_at: datetime
    content_type: str | None
    body: bytes


@dataclass(frozen=True)
class OutputState:
    """What the store keeps of one output. ``limits``: what its network said of itself, read
    at ``limits_read_at``. ``refused_since``: its credentials were refused from then on (the
    last time with ``refused_error``), ``refusals`` times; the next try is at ``retry_at``, or
    at once when the credentials differ from ``refused_credentials`` (a fingerprint).
    """

    name: str
    limits: dict[str, int] = field(default_factory=dict)
    limits_read_at: datetime | None = None
    refused_since: datetime | None = None
    refused_error: str | None = None
    refusals: int = 0
    retry_at: datetime | None = None
    refused_credentials: str | None = None

    def held(self) -> str:
        """Why the output waits, and until when (credentials refused)."""
        since = f"{self.refused_since:%Y-%m-%d %H:%M} UTC" if self.refused_since else "lately"
        until = f"{self.retry_at:%Y-%m-%d %H:%M} UTC" if self.retry_at else "the next run"
        return (
            f"credentials refused since {since} ({self.refused_error}); "
            f"next try at {until}, or as soon as they change"
        )


@dataclass(frozen=True)
class Known:
    """What the store knows of one feed, for telling new articles from seen ones."""

    first_poll: bool
    keys: dict[str, int]
    content_hashes: dict[int, str]
    fingerprints: dict[int, str | None]
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
    parent_id: int | None = None  # a thread's later part: the part it replies to
    part: int = 1  # its place in the thread


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
    found: datetime | None = None  # when dispatch first saw it


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
    routes: Sequence[Route] = ()  # where each new article goes, in the order of ``new``
    publisher_hint: float | None = None  # seconds the feed asks between polls (ttl, sy:*)
    hub: str | None = None  # WebSub: the hub the feed names, and its own address there
    topic: str | None = None


@dataclass(frozen=True)
class Route:
    """Where one new article goes: the digests it is queued for, and (rule, output, recipient)
    for each post made of it (the recipient None but for outputs that post to several places,
    like Apprise's URLs).
    """

    digests: tuple[str, ...] = ()
    posts: tuple[tuple[str, str, str | None], ...] = ()
    story: int | None = None  # the story it repeats, told first by another feed


@dataclass(frozen=True)
class Candidate:
    """An article already seen that a new one may repeat. ``story`` is its story's id."""

    id: int
    story: int
    feed: str
    source: str
    norm_link: str | None
    title: str
    text: str
    shingles: frozenset[str] = field(default=frozenset(), compare=False)
