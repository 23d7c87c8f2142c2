"""feeds.yaml as typed models: unknown keys rejected, every error reported at once with its place.

Loading goes in three steps: YAML is composed into nodes (so each value keeps its line),
``${VAR}`` references are filled from the environment, and the models validate the result.
Outputs are validated by the settings model of their ``type``, looked up in the registry, so
third-party outputs get the same checks as built-in ones.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from dispatch import __version__
from dispatch.errors import ConfigError, ConfigProblem
from dispatch.secrets import Secret, Unset, interpolate
from dispatch.urls import split_url

DEFAULT_PATH = "feeds.yaml"
# Who we are, to every server we fetch from or post to.
USER_AGENT = f"dispatch/{__version__} (+https://github.com/dispatch-feeds/dispatch)"
Place = tuple[str | int, ...]

_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# http(s), a host name or IPv4 address, and a port of at most five digits.
_PLAIN_WEB_URL = re.compile(r"https?://[a-z0-9.-]+(?::([0-9]{1,5}))?(?:[/?#]|$)", re.IGNORECASE)


def parse_duration(raw: Any) -> timedelta:
    """``"15m"``, ``"1h30m"``, ``"2d"`` or a number of seconds."""
    if isinstance(raw, timedelta):
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return timedelta(seconds=raw)
    if isinstance(raw, str):
        text = raw.strip().lower().replace(" ", "")
        parts = _DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            seconds = sum(int(n) * _UNITS[u] for n, u in parts)
            if seconds > 0:
                return timedelta(seconds=seconds)
    raise ValueError(f"{raw!r} is not a duration; write it like 30s, 15m, 2h or 1d")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FetchSettings(StrictModel):
    """How feeds and article pages are fetched."""

    timeout: Duration = timedelta(seconds=20)
    connect_timeout: Duration = timedelta(seconds=10)
    max_bytes: int = Field(default=10_000_000, gt=0)
    concurrency: int = Field(default=16, gt=0, le=1000)
    user_agent: str = USER_AGENT
    # Nameservers to resolve feed hosts with (``10.0.0.53`` or ``10.0.0.53:5353``), instead of
    # the system's resolver.
    nameservers: list[str] = Field(default_factory=list)


class DaemonSettings(StrictModel):
    """`dispatch run`: where /healthz and /metrics listen, how long a stop may take."""

    listen: str | None = "127.0.0.1:9477"  # host:port, or null for no health server
    shutdown_timeout: Duration = timedelta(seconds=30)
    retry_every: Duration = timedelta(seconds=30)  # how often waiting deliveries are tried
    # Workers sharing a PostgreSQL store lease what they work on for this long, renewed while
    # they live; a dead worker's leases run out and others take over. Longer than any send.
    lease: Duration = timedelta(minutes=5)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            host, _, port = value.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{value!r} is not host:port, like 127.0.0.1:9477")
        return value


class StoriesSettings(StrictModel):
    """One story once: articles of several feeds telling one story go out once."""

    merge: bool = True
    # How alike (word 3-shingles of title and text; see dispatch.stories) two articles of
    # different feeds must be to count as one story; the same link always is one.
    similarity: float = Field(default=0.5, gt=0, le=1)
    window: Duration = timedelta(days=3)  # how far back a new article looks for its story


class LlmSettings(StrictModel):
    """An OpenAI-compatible chat endpoint that writes summaries (see ``dispatch.llm``)."""

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
    every: Duration = timedelta(minutes=30)
    backfill: int | Literal["all"] = 0
    full_text: Literal["auto", "always", "never"] = "auto"
    allow_private_networks: bool | None = None

    @field_validator("backfill")
    @classmethod
    def _backfill_not_negative(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError("must be 0 or more, or 'all'")
        return value

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
        raise ValueError(f"{value!r} is not an IANA time zone, like Asia/Karachi or UTC") from None
    return value


class FilterSettings(StrictModel):
    """Criteria of a rule's ``include`` or ``exclude``; see ``dispatch.filters``."""

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


class DigestConfig(RuleConfig):
    schedule: str = "0 7 * * *"
    timezone: Annotated[str, BeforeValidator(_timezone)] = "UTC"
    min_items: int = Field(default=1, ge=1)
    max_items: int = Field(default=20, ge=1)
    title: str | None = None
    locale: str = "en"  # for dates and month names, as babel knows them: en, de, ur_PK ...

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
        from dispatch.plan import cron_trigger

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
    pass


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


class Config(StrictModel):
    state: str = "dispatch.db"
    templates: str | None = None
    allow_private_networks: bool = False
    fetch: FetchSettings = FetchSettings()
    summary: SummarySettings = SummarySettings()
    stories: StoriesSettings = StoriesSettings()
    daemon: DaemonSettings = DaemonSettings()
    feeds: list[FeedConfig] = Field(min_length=1)
    outputs: dict[str, OutputSettings] = {}
    digests: list[DigestConfig] = []
    posts: list[PostConfig] = []

    _base_dir: Path = PrivateAttr(default=Path("."))

    @property
    def base_dir(self) -> Path:
        return self._base_dir

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


def config_path(explicit: str | None) -> Path:
    """``--config``, else ``$DISPATCH_CONFIG``, else ``feeds.yaml`` here."""
    return Path(explicit or os.environ.get("DISPATCH_CONFIG") or DEFAULT_PATH)


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate and validate a configuration file.

    Raises:
        ConfigError: with every problem found, each with its place and line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(
            str(path), [ConfigProblem("(file)", f"cannot be read: {e.strerror or e}")]
        ) from None
    config = parse_config(text, str(path), environ)
    config._base_dir = path.resolve().parent
    return config


def parse_config(text: str, source: str, environ: Mapping[str, str] | None = None) -> Config:
    """Validate configuration text; ``source`` names it in errors.

    Raises:
        ConfigError: with every problem found.
    """
    try:
        # libyaml's composer where PyYAML has it: the same nodes and lines, far faster for a
        # file that lists thousands of feeds.
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(e, "problem", None) or str(e)
        raise ConfigError(
            source, [ConfigProblem("(file)", f"not valid YAML: {reason}", line)]
        ) from None
    if node is None:
        raise ConfigError(source, [ConfigProblem("(file)", "is empty; it needs at least `feeds:`")])
    lines: dict[Place, int] = {}
    data = _to_python(node, (), lines, _Scalars(environ))
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigProblem("(file)", "must be a mapping of keys", 1)])

    problems: list[ConfigProblem] = []
    outputs = data.get("outputs")
    if isinstance(outputs, dict):
        validated = _validate_outputs(outputs, lines, problems)
        problems += _cross_references(data, {**outputs, **validated}, lines)
        problems += _lease_problems(data, validated, lines)
        data["outputs"] = validated
    else:
        problems += _cross_references(data, {}, lines)
    try:
        config = Config.model_validate(data)
    except ValidationError as e:
        problems += _problems(e, (), lines)
    if problems:
        raise ConfigError(source, sorted(problems, key=_problem_order))
    return config


def _problem_order(problem: ConfigProblem) -> tuple[int, str]:
    return (problem.line or 0, problem.place)


def _validate_outputs(
    outputs: dict[str, Any], lines: dict[Place, int], problems: list[ConfigProblem]
) -> dict[str, Any]:
    from dispatch.outputs.registry import output_type, type_names

    validated: dict[str, Any] = {}
    for name, raw in outputs.items():
        place: Place = ("outputs", name)
        kind = raw.get("type") if isinstance(raw, dict) else None
        if not isinstance(kind, str):
            problems.append(_problem(place, "needs a `type`", lines))
            continue
        found = output_type(kind)
        if found is None:
            choices = ", ".join(type_names())
            problems.append(
                _problem((*place, "type"), f"unknown output type {kind!r}; known: {choices}", lines)
            )
            continue
        try:
            validated[name] = found.settings_model.model_validate(raw)
        except ValidationError as e:
            problems += _problems(e, place, lines)
    return validated


def _names(section: Any) -> list[Any]:
    items = section if isinstance(section, list) else []
    return [item.get("name") if isinstance(item, dict) else None for item in items]


def _cross_references(
    data: dict[str, Any], outputs: dict[str, Any], lines: dict[Place, int]
) -> list[ConfigProblem]:
    """Names that must be unique and references that must resolve. Works on the raw data, so
    these problems are reported together with every other one.
    """
    problems: list[ConfigProblem] = []
    feed_names = set(_names(data.get("feeds")))
    for section in ("feeds", "digests", "posts"):
        seen: set[Any] = set()
        for index, name in enumerate(_names(data.get(section))):
            if name is not None and name in seen:
                problems.append(
                    _problem((section, index, "name"), f"{name!r} is used twice", lines)
                )
            seen.add(name)
    for section, kind in (("digests", "digest"), ("posts", "post")):
        rules = data.get(section)
        for index, rule in enumerate(rules if isinstance(rules, list) else []):
            if not isinstance(rule, dict):
                continue
            feeds = rule.get("feeds")
            for position, feed in enumerate(feeds if isinstance(feeds, list) else []):
                if feed not in feed_names:
                    place: Place = (section, index, "feeds", position)
                    problems.append(_problem(place, f"no feed is named {feed!r}", lines))
            targets = rule.get("outputs")
            for position, output in enumerate(targets if isinstance(targets, list) else []):
                place = (section, index, "outputs", position)
                settings = outputs.get(output)
                if output not in outputs:
                    problems.append(_problem(place, f"no output is named {output!r}", lines))
                elif isinstance(settings, OutputSettings) and kind not in _kinds(settings.type):
                    message = f"output {output!r} ({settings.type}) cannot send {section}"
                    problems.append(_problem(place, message, lines))
    return problems


def _lease_problems(
    data: dict[str, Any], outputs: dict[str, OutputSettings], lines: dict[Place, int]
) -> list[ConfigProblem]:
    """A lease must outlast every send, or a slow send could be taken over and sent twice."""
    daemon = data.get("daemon")
    try:
        lease = DaemonSettings.model_validate(daemon if isinstance(daemon, dict) else {}).lease
    except ValidationError:
        return []  # reported by the whole model's validation
    return [
        _problem(
            ("daemon", "lease"),
            f"{_seconds(lease)} is not longer than output {name!r}'s timeout "
            f"({_seconds(settings.timeout)}); a send could outlive its lease",
            lines,
        )
        for name, settings in outputs.items()
        if settings.timeout >= lease
    ]


def _seconds(duration: timedelta) -> str:
    return f"{duration.total_seconds():g}s"


def _kinds(type_name: str) -> frozenset[str]:
    from dispatch.outputs.registry import output_type

    found = output_type(type_name)
    return found.kinds if found is not None else frozenset()


_STR = "tag:yaml.org,2002:str"


class _Scalars:
    """Constructs YAML scalars the safe way and fills in ``${VAR}`` references."""

    def __init__(self, environ: Mapping[str, str] | None) -> None:
        self._loader = yaml.SafeLoader("")
        self._environ = environ

    def value(self, node: yaml.Node) -> Any:
        # A string scalar's value is its text: what the constructor would return, without its
        # bookkeeping, which took a third of loading a 10,000-feed file.
        is_text = isinstance(node, yaml.ScalarNode) and node.tag == _STR
        value = node.value if is_text else self._loader.construct_object(node)
        if isinstance(value, str) and "${" in value:
            return interpolate(value, self._environ)
        return value


def _to_python(node: yaml.Node, place: Place, lines: dict[Place, int], scalars: _Scalars) -> Any:
    lines[place] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = scalars.value(key_node)
            result[key] = _to_python(value_node, (*place, str(key)), lines, scalars)
            lines[(*place, str(key))] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*place, i), lines, scalars) for i, item in enumerate(node.value)]
    return scalars.value(node)


def _problems(
    error: ValidationError, prefix: Place, lines: dict[Place, int]
) -> list[ConfigProblem]:
    problems = []
    for detail in error.errors():
        place: Place = (*prefix, *detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        if isinstance(detail.get("input"), Unset):
            message = f"environment variable {detail['input']} is not set"
        elif detail["type"] == "extra_forbidden":
            message = "unknown key (check its spelling; the README lists every key)"
        problems.append(_problem(place, message, lines))
    return problems


def _problem(place: Place, message: str, lines: dict[Place, int]) -> ConfigProblem:
    line = None
    for end in range(len(place), -1, -1):
        line = lines.get(place[:end])
        if line is not None:
            break
    return ConfigProblem(format_place(place), message, line)


def format_place(place: Place) -> str:
    """``("feeds", 2, "every")`` -> ``feeds[2].every``."""
    text = ""
    for part in place:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(file)"
