"""feeds.yaml as typed models: unknown keys rejected, durations and time zones read, cron
schedules checked. ``dispatch.config.load`` fills them from the file.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from functools import cache, partial
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dispatch import __version__
from dispatch.config.secrets import Secret
from dispatch.text import MAX_HASHTAG, did_you_mean, hashtag, is_hashtag
from dispatch.urls import split_url

TEMPLATES_FOLDER = "templates"  # beside feeds.yaml, used when `templates` is not set
# Who we are, to every server we fetch from or post to.
USER_AGENT = f"dispatch/{__version__} (+https://github.com/dispatch-feeds/dispatch)"

_DURATION = re.compile(r"(\d+)\s*(ms|[smhdw])")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# http(s), a host name or IPv4 address, and a port of at most five digits.
_PLAIN_WEB_URL = re.compile(r"https?://[a-z0-9.-]+(?::([0-9]{1,5}))?(?:[/?#]|$)", re.IGNORECASE)


def parse_duration(raw: Any, *, zero: bool = False) -> timedelta:
    """``"15m"``, ``"1h30m"``, ``"2d"``, ``"250ms"`` or a number of seconds; ``zero``: none
    (``0`` or ``0s``) is a duration too.
    """
    if isinstance(raw, timedelta):
        return raw
    least = 0 if zero else 1
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= least:
        return timedelta(seconds=raw)
    if isinstance(raw, str):
        text = raw.strip().lower().replace(" ", "")
        parts = _DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            seconds = sum(int(n) * _UNITS[u] for n, u in parts)
            if seconds > 0 or zero:
                return timedelta(seconds=seconds)
    raise ValueError(f"{raw!r} is not a duration; write it like 30s, 15m, 2h or 1d")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def parse_every(raw: Any) -> timedelta | str:
    """A feed's ``every``: a duration, or ``auto`` (learnt from the feed)."""
    if isinstance(raw, str) and raw.strip().lower() == "auto":
        return "auto"
    try:
        return parse_duration(raw)
    except ValueError:
        raise ValueError(
            f"{raw!r} is neither auto nor a duration; write auto, or like 30s, 15m, 2h or 1d"
        ) from None


Every = Annotated[timedelta | Literal["auto"], BeforeValidator(parse_every)]
# A wait that may be none at all.
Wait = Annotated[timedelta, BeforeValidator(partial(parse_duration, zero=True))]


def _host_port(value: str | None) -> str | None:
    if value is not None:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r} is not host:port, like 127.0.0.1:9477")
    return value


# Where a server of ours listens: host:port.
HostPort = Annotated[str | None, AfterValidator(_host_port)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FetchSettings(StrictModel):
    """How feeds and article pages are fetched."""

    timeout: Duration = timedelta(seconds=20)  # the longest a feed's answer is waited for
    # A feed on a host whose answers have been quick, or that has not answered yet, is waited
    # for this long, or four times the slowest recent answer of a feed on its host if longer;
    # each timeout makes the next wait four times as long, up to ``timeout``: a slow server is
    # read at its next poll, and a stalled host costs a one-shot run 3 s, not 20.
    quick_timeout: Duration = timedelta(seconds=3)
    connect_timeout: Duration = timedelta(seconds=10)
    max_bytes: int = Field(default=10_000_000, gt=0)
    concurrency: int = Field(default=64, gt=0, le=1000)  # at most per_host to one host
    # Politeness per host: requests to one host at once, and the least time between their
    # starts. A host that answers 429 or 503 is slowed further, the others not.
    per_host: int = Field(default=2, gt=0, le=1000)
    host_gap: Wait = timedelta(0)
    user_agent: str = USER_AGENT
    # Nameservers to resolve feed hosts with (``10.0.0.53`` or ``10.0.0.53:5353``), instead of
    # the system's resolver.
    nameservers: list[str] = Field(default_factory=list)


class DaemonSettings(StrictModel):
    """`dispatch run`: where /healthz and /metrics listen, how long a stop may take."""

    listen: HostPort = "127.0.0.1:9477"  # or null for no health server
    shutdown_timeout: Duration = timedelta(seconds=30)
    retry_every: Duration = timedelta(seconds=30)  # how often waiting deliveries are tried
    # Workers sharing a PostgreSQL store lease what they work on for this long, renewed while
    # they live; a dead worker's leases run out and others take over. Longer than any send.
    lease: Duration = timedelta(minutes=5)


# Hubs for hosts whose feeds name none: every YouTube channel feed is pushed through Google's.
KNOWN_HUBS = {
    "www.youtube.com": "https://pubsubhubbub.appspot.com/",
    "youtube.com": "https://pubsubhubbub.appspot.com/",
}


class WebSubSettings(StrictModel):
    """Push (WebSub): hubs tell `dispatch run` of new articles within seconds. Nothing is
    subscribed until ``public_url`` says where hubs can reach ``listen``.
    """

    listen: HostPort = None  # where the callback is served
    public_url: str | None = None  # what hubs are told: this address, as they reach it
    # Hubs by host, for feeds that name none (added to the built-in ones; null removes one).
    hubs: dict[str, str | None] = {}
    lease: Duration = timedelta(days=7)  # what is asked of hubs; they grant what they grant
    # A pushed feed is still polled, this rarely, in case a push went astray.
    poll_every: Duration = timedelta(hours=6)

    @field_validator("public_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https?://[^/?#\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL, like https://news.example/dispatch")
        return value

    def hub_for(self, host: str) -> str | None:
        """The hub for a feed on ``host`` that names none."""
        hubs = {**KNOWN_HUBS, **self.hubs}
        return hubs.get(host.lower())


class StoriesSettings(StrictModel):
    """One story once: articles of several feeds telling one story go out once."""

    merge: bool = True
    # How alike (word 3-shingles of title and text; see dispatch.enrich.stories) two articles of
    # different feeds must be to count as one story; the same link always is one.
    similarity: float = Field(default=0.5, gt=0, le=1)
    window: Duration = timedelta(days=3)  # how far back a new article looks for its story


class LlmSettings(StrictModel):
    """An OpenAI-compatible chat endpoint that writes summaries (see ``dispatch.enrich.llm``)."""

    base_url: str  # up to /v1: https://api.openai.com/v1, http://127.0.0.1:11434/v1 (Ollama)
    model: str
    api_key: Secret | None = None  # ${OPENAI_API_KEY}; local servers often need none
    timeout: Duration = timedelta(seconds=30)
    concurrency: int = Field(default=4, gt=0, le=64)  # requests at once


class SummarySettings(StrictModel):
    max_chars: int = Field(default=280, ge=40, le=5000)
    llm: LlmSettings | None = None  # none: the extractive summariser only


class FeedConfig(StrictModel):
    name: str = Field(min_length=1)
    url: str = Field(min_length=1)
    title: str | None = None  # what readers see; default: the feed's own title
    # How often it is polled: a fixed duration, or ``auto``: learnt from how often the feed
    # changes and what its publisher asks, between ``min_every`` and ``max_every``.
    every: Every = "auto"
    min_every: Duration = timedelta(minutes=15)
    max_every: Duration = timedelta(hours=4)
    backfill: int | Literal["all"] = 0
    full_text: Literal["auto", "always", "never"] = "auto"
    allow_private_networks: bool | None = None

    @field_validator("backfill")
    @classmethod
    def _backfill_not_negative(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError("must be 0 or more, or 'all'")
        return value

    @field_validator("max_every")
    @classmethod
    def _bounds_in_order(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        least = info.data.get("min_every")
        if least is not None and value < least:
            raise ValueError(f"must not be shorter than min_every ({least})")
        return value

    @property
    def tick(self) -> timedelta:
        """How often the daemon asks whether the feed is due: its fixed ``every``, or, for
        ``auto``, its shortest interval.
        """
        return self.every if isinstance(self.every, timedelta) else self.min_every

    @field_validator("url")
    @classmethod
    def _url_fetched(cls, value: str) -> str:
        problem = feed_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value


def feed_url_problem(url: str) -> str | None:
    """Why dispatch cannot fetch a feed at ``url``, or None: a web address or a local path."""
    scheme = url.split(":", 1)[0].lower() if "://" in url else ""
    if scheme and scheme not in ("http", "https", "file"):
        return f"scheme {scheme!r} is not fetched; use http(s) or a local path"
    if scheme in ("http", "https") and not _plain_web_url(url):
        try:
            parts = split_url(url)
        except ValueError as e:
            return f"the URL cannot be read ({e})"
        if not parts.hostname:
            return "the URL has no host"
    return None


def _plain_web_url(url: str) -> bool:
    """Whether ``url`` has a plain host and port, as nearly every feed URL has: one regular
    expression, where taking each of 10,000 URLs apart added 90 ms to loading them.
    """
    match = _PLAIN_WEB_URL.match(url)
    return match is not None and int(match.group(1) or 0) <= 65535


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        from zoneinfo import available_timezones

        guess = did_you_mean(value, sorted(available_timezones())) or ", like Asia/Karachi or UTC"
        raise ValueError(f"{value!r} is not an IANA time zone{guess}") from None
    return value


Window = tuple[time, time]
MAX_THREAD = 9  # parts of a thread at most: numbered with one digit (1/9)


def parse_window(text: str) -> Window:
    """A posting window, ``"07:00-22:00"``, as (start, end); one that ends before it starts
    runs past midnight.

    Raises:
        ValueError: not two HH:MM times, or the same time twice.
    """
    start, dash, end = text.partition("-")
    try:
        if not dash:
            raise ValueError
        window = (time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))
    except ValueError:
        raise ValueError(f"{text!r} is not a window like 07:00-22:00") from None
    if window[0] == window[1]:
        raise ValueError(f"{text!r} opens and closes at once; leave windows out for any time")
    return window


def _window(value: str) -> str:
    parse_window(value)
    return value


class FilterSettings(StrictModel):
    """Criteria of a rule's ``include`` or ``exclude``; see ``dispatch.plan.filters``."""

    categories: list[str] = []
    authors: list[str] = []
    keywords: list[str] = []  # whole words, without case, in the title or the text
    patterns: list[str] = []  # regular expressions searched in the title and the text

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, values: list[str]) -> list[str]:
        import regex

        for value in values:
            try:
                regex.compile(value)
            except regex.error as e:
                raise ValueError(f"{value!r} is not a regular expression: {e}") from None
        return values


class RuleConfig(StrictModel):
    """What digests and posts share: a name, the feeds they draw from, the outputs they feed,
    and the filters that route articles to them.
    """

    name: str = Field(min_length=1)
    feeds: list[str] | None = None  # None: every feed
    outputs: list[str] = Field(min_length=1)
    include: FilterSettings | None = None  # when given, an article must match one criterion
    exclude: FilterSettings | None = None  # an article matching any criterion is kept out
    max_age: Duration | None = None  # published longer than this before it was found: out


class ArchiveSettings(StrictModel):
    """A digest's web archive: each issue as a static page in ``path`` (relative to
    feeds.yaml), served at ``base_url``, with monthly index pages and an Atom feed of the
    issues; the email links to its page ("view in browser").
    """

    path: str
    base_url: str

    @field_validator("base_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) address, like https://example.org/news/")
        return value.rstrip("/") + "/"


class DigestConfig(RuleConfig):
    schedule: str = "0 7 * * *"
    timezone: Annotated[str, BeforeValidator(_timezone)] = "UTC"
    min_items: int = Field(default=1, ge=1)
    max_items: int = Field(default=20, ge=1)
    title: str | None = None
    locale: str = "en"  # for dates and month names, as babel knows them: en, de, ur_PK ...
    # The sender's postal address, printed in the footer: CAN-SPAM asks for one in every
    # commercial email, and `dispatch check` warns when an email digest has none.
    postal_address: str | None = None
    archive: ArchiveSettings | None = None

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        from babel import Locale, UnknownLocaleError

        try:
            Locale.parse(value)
        except (ValueError, UnknownLocaleError):
            raise ValueError(f"{value!r} is not a locale babel knows, like en or de_AT") from None
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            cron_trigger(value)
        except ValueError as e:
            raise ValueError(
                f"{value!r} is not a cron expression ({e}); five fields, or six with seconds"
            ) from None
        return value

    @model_validator(mode="after")
    def _items_range(self) -> DigestConfig:
        if self.min_items > self.max_items:
            raise ValueError(f"min_items ({self.min_items}) is above max_items ({self.max_items})")
        return self


class PostConfig(RuleConfig):
    """A post rule. ``hashtags``: the article's categories as hashtags (``true``), or a map
    from category to tag, which turns them on too; a category mapped to null gets none.
    ``max_hashtags``: at most this many, in the feed's order of categories. ``media``: what a
    post shows besides its text: the link's ``card`` (made by the network, or by us for
    Bluesky), the article's ``image`` uploaded with alt text, or ``none``. ``priority``: its
    posts go at once, past the outputs' posting windows and gaps (breaking news).
    """

    hashtags: bool | dict[str, str | None] = False
    max_hashtags: int = Field(default=3, ge=0)
    media: Literal["card", "image", "none"] = "card"
    priority: bool = False  # its posts skip the outputs' windows and gaps: breaking news
    # A summary too long for one post continues in replies, up to this many parts in all.
    thread: int = Field(default=1, ge=1, le=MAX_THREAD)

    @field_validator("hashtags")
    @classmethod
    def _tags_usable(cls, value: bool | dict[str, str | None]) -> bool | dict[str, str | None]:
        if isinstance(value, dict):
            for category, tag in value.items():
                if tag is not None and not is_hashtag(tag.lstrip("#＃")):
                    better = hashtag(tag)
                    raise ValueError(
                        f"{tag!r} (for {category!r}) is not a hashtag every network takes: "
                        f"letters, digits and _ only, at least one letter, at most "
                        f"{MAX_HASHTAG}" + (f"; try {better}" if better else "")
                    )
        return value


class UtmSettings(StrictModel):
    """UTM tags added to article links sent through an output."""

    source: str | None = None  # default: the output's name
    medium: str | None = None  # default: "email" for digests, "social" for posts
    campaign: str | None = None  # default: the digest or post rule's name
    other_sites: bool = False  # also tag links to other sites (videos, say)


class OutputSettings(StrictModel):
    """Base of every output's settings model; ``type`` picks the output in the registry.

    ``daily_limit``: at most this many sends in any 24 hours; the rest wait, never dropped.
    ``max_posts_per_run``: at most this many posts in one run (a feed that suddenly offers
    thousands of new articles does not flood the network); the rest wait for later runs.
    ``on_ambiguous``: for an output without idempotency, what to do with a message that may or
    may not have gone out (a crash mid-send): ``flag`` it for the operator, or ``resend`` it.
    ``max_delay``: a post still waiting this long after its article was found (credentials
    refused, a budget, the network down) is marked expired and listed, never posted late.
    """

    type: str
    allow_private_networks: bool | None = None
    daily_limit: int | None = Field(default=None, gt=0)
    max_posts_per_run: int = Field(default=50, gt=0)
    on_ambiguous: Literal["flag", "resend"] = "flag"
    utm: UtmSettings | None = None
    timeout: Duration = timedelta(seconds=30)
    max_delay: Duration | None = None
    # Posts queue and go out only within these windows (in ``timezone``), at least
    # ``min_gap`` apart, the oldest (or the newest) first; a rule with ``priority`` skips them.
    windows: list[Annotated[str, BeforeValidator(_window)]] = []
    timezone: Annotated[str, BeforeValidator(_timezone)] = "UTC"
    min_gap: Duration | None = None
    order: Literal["oldest", "newest"] = "oldest"

    @property
    def posting_windows(self) -> list[Window]:
        return [parse_window(window) for window in self.windows]

    @property
    def queues(self) -> bool:
        """Whether posts to this output wait for a window or a gap."""
        return bool(self.windows) or self.min_gap is not None

    # Fields whose ${VAR} is not set (place -> the variables), kept as written: the output
    # loads, so a dry run works without them, and reports itself not ready until they are.
    _unset: dict[str, str] = PrivateAttr(default_factory=dict)

    @property
    def unset_environment(self) -> dict[str, str]:
        return dict(self._unset)


class Config(StrictModel):
    state: str = "dispatch.db"
    templates: str | None = None
    allow_private_networks: bool = False
    fetch: FetchSettings = FetchSettings()
    summary: SummarySettings = SummarySettings()
    stories: StoriesSettings = StoriesSettings()
    daemon: DaemonSettings = DaemonSettings()
    websub: WebSubSettings = WebSubSettings()
    feeds: list[FeedConfig] = Field(min_length=1)
    outputs: dict[str, OutputSettings] = {}
    digests: list[DigestConfig] = []
    posts: list[PostConfig] = []

    _base_dir: Path = PrivateAttr(default=Path("."))

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    @property
    def templates_dir(self) -> Path | None:
        """The editor's templates: the ``templates`` folder when set, else a ``templates``
        folder beside feeds.yaml when there is one; None for the built-ins alone.
        """
        if self.templates:
            return self.resolve(self.templates)
        beside = self._base_dir / TEMPLATES_FOLDER
        return beside if beside.is_dir() else None

    def resolve(self, path: str) -> Path:
        """A path from the configuration, relative to the configuration file."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self._base_dir / candidate

    @property
    def state_location(self) -> Path | str:
        """Where the store lives: a SQLite file, relative to this file, or a PostgreSQL URL."""
        if self.state.startswith(("postgresql://", "postgres://")):
            return self.state
        return self.resolve(self.state)

    def feed(self, name: str) -> FeedConfig:
        return next(feed for feed in self.feeds if feed.name == name)

    def private_allowed(self, override: bool | None) -> bool:
        return self.allow_private_networks if override is None else override


@cache
def cron_trigger(schedule: str, timezone: str = "UTC") -> Any:
    """APScheduler's CronTrigger for a crontab line: five fields, or six with seconds first.

    Raises:
        ValueError: not a cron expression.
    """
    from apscheduler.triggers.cron import CronTrigger

    fields = schedule.split()
    zone = ZoneInfo(timezone)
    if len(fields) == 6:
        second, minute, hour, day, month, day_of_week = fields
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=day_of_week,
            timezone=zone,
        )
    return CronTrigger.from_crontab(schedule, timezone=zone)
