"""What the editors' preview shows, built from the store without changing it: each digest as
the email will look, each post as it will go to each network, and why every recent article is
in or out of each of them.

Pure apart from reading the store: the web page (``workbench``) calls ``build`` after every
save and ``keep_last_good`` so that a broken template never blanks what the editor had.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from dispatch.config import Config, DigestConfig, PostConfig
from dispatch.errors import TemplateError
from dispatch.models import Article
from dispatch.outbox.deliverer import plan_queue
from dispatch.outputs.base import Output
from dispatch.plan.explain import DigestPlan, Reason, digest_reason, plan_digest, post_reason
from dispatch.render.fit import count, unit
from dispatch.render.messages import newest_first, render_digest, render_post
from dispatch.render.renderer import Renderer
from dispatch.render.samples import sample_articles
from dispatch.store.core import Store
from dispatch.text import truncate_words

RECENT_ARTICLES = 40
POSTS_SHOWN = 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SAMPLE_POSTS = 3


@dataclass(frozen=True)
class Problem:
    """A template error as the editor needs it: file, line, the line itself, the message."""

    template: str
    line: int | None
    source: str | None
    message: str


@dataclass(frozen=True)
class DigestView:
    key: str
    rule: str
    output: str
    schedule: str
    note: str
    timezone: str = "UTC"  # the schedule's
    subject: str = ""
    preheader: str = ""
    html: str = ""
    text: str = ""
    size: int = 0
    articles: int = 0
    problem: Problem | None = None
    stale: bool = False  # the content is the last good render, kept while ``problem`` shows
    clip_at: int | None = None  # bytes of HTML past which mail clients clip (the output says)

    @property
    def clipped(self) -> bool:
        return self.clip_at is not None and self.size > self.clip_at


@dataclass(frozen=True)
class Card:
    """The link card a network shows under a post."""

    title: str
    description: str
    image: str | None
    domain: str
    video: bool


@dataclass(frozen=True)
class PostView:
    key: str
    rule: str
    output: str
    network: str
    article: str
    note: str
    text: str = ""
    length: int = 0
    limit: int | None = None
    unit: str = "characters"
    link: str | None = None
    card: Card | None = None
    problem: Problem | None = None
    stale: bool = False

    @property
    def over(self) -> bool:
        return self.limit is not None and self.length > self.limit


@dataclass(frozen=True)
class ArticleRow:
    id: int
    title: str
    source: str
    link: str | None
    published: datetime | None
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Preview:
    source: str  # where the articles came from, in words
    digests: tuple[DigestView, ...]
    posts: tuple[PostView, ...]
    columns: tuple[str, ...]
    rows: tuple[ArticleRow, ...]
    built_at: datetime


def build(
    config: Config,
    store: Store,
    renderer: Renderer,
    outputs: dict[str, Output],
    now: datetime,
    source: str,
) -> Preview:
    """Everything the page shows, as of ``now``."""
    plans = {rule.name: _digest_plan(store, rule, now) for rule in config.digests}
    digests = [
        view
        for rule in config.digests
        for view in _digest_views(store, renderer, outputs, plans[rule.name], now)
    ]
    queues = {
        name: plan_queue(store, config, output, now)
        for name, output in outputs.items()
        if output.settings.queues
    }
    posts = [
        view
        for rule in config.posts
        for name in rule.outputs
        for view in _post_views(store, renderer, rule, outputs[name], queues.get(name, {}))
    ]
    columns = [f"digest {rule.name}" for rule in config.digests] + [
        f"{rule.name} → {name}" for rule in config.posts for name in rule.outputs
    ]
    ids = store.newest(RECENT_ARTICLES)
    trails = store.trails(ids)
    rows = []
    for article in sorted(store.articles(ids), key=newest_first):
        trail = trails[article.id]
        reasons = [digest_reason(article, trail, plans[rule.name]) for rule in config.digests]
        reasons += [
            post_reason(article, trail, rule, name)
            for rule in config.posts
            for name in rule.outputs
        ]
        rows.append(
            ArticleRow(
                article.id,
                article.title,
                article.source or article.feed,
                article.link,
                article.published,
                tuple(reasons),
            )
        )
    return Preview(source, tuple(digests), tuple(posts), tuple(columns), tuple(rows), now)


def keep_last_good(previous: Preview | None, current: Preview) -> Preview:
    """Where a template now fails, keep showing the last good render beside the error."""
    if previous is None:
        return current
    good_digests = {d.key: d for d in previous.digests if d.html}
    good_posts = {p.key: p for p in previous.posts if p.text}
    digests = tuple(
        replace(good_digests[d.key], problem=d.problem, stale=True)
        if d.problem and d.key in good_digests
        else d
        for d in current.digests
    )
    posts = tuple(
        replace(good_posts[p.key], problem=p.problem, stale=True)
        if p.problem and p.key in good_posts
        else p
        for p in current.posts
    )
    return replace(current, digests=digests, posts=posts)


def _digest_plan(store: Store, rule: DigestConfig, now: datetime) -> DigestPlan:
    return plan_digest(rule, store.queued(rule.name), store.last_digest_period(rule.name), now)


def _digest_views(
    store: Store,
    renderer: Renderer,
    outputs: dict[str, Output],
    plan: DigestPlan,
    now: datetime,
) -> list[DigestView]:
    rule = plan.rule
    ids = list(plan.queued[: rule.max_items])
    when = "due now" if plan.due else f"next at {plan.next_at:%Y-%m-%d %H:%M %Z}"
    note = f"the next issue: {len(ids)} new article(s) of {len(plan.queued)} queued, {when}"
    articles = sorted(store.articles(ids), key=newest_first)
    if not articles:
        articles = sorted(
            store.articles(store.newest(rule.max_items, rule.feeds)), key=newest_first
        )
        note = f"nothing new is queued ({when}); the newest {len(articles)} article(s) as a sample"
    if not articles:
        articles = sample_articles()
        note = "no articles read yet; dispatch's sample articles"
    views = []
    for name in rule.outputs:
        clip_at = outputs[name].capabilities.clip_bytes
        view = DigestView(
            f"{rule.name}/{name}",
            rule.name,
            name,
            rule.schedule,
            note,
            timezone=rule.timezone,
            clip_at=clip_at,
        )
        try:
            rendered = render_digest(renderer, rule, outputs[name], articles, plan.period)
        except TemplateError as e:
            views.append(replace(view, problem=_problem(renderer, e)))
            continue
        views.append(
            replace(
                view,
                subject=rendered.subject,
                preheader=rendered.preheader,
                html=rendered.html,
                text=rendered.text,
                size=len(rendered.html.encode("utf-8")),
                articles=len(articles),
            )
        )
    return views


def _post_views(
    store: Store,
    renderer: Renderer,
    rule: PostConfig,
    output: Output,
    queue: dict[int, datetime],
) -> list[PostView]:
    """A post rule's posts for one output: those pending (with when each goes, where the
    output queues them), else samples.
    """
    waiting = sorted(  # the first to go first
        (
            d
            for d in store.deliveries("pending")
            if d.kind == "post" and d.rule == rule.name and d.output == output.name
        ),
        key=lambda d: (queue[d.id], d.id) if d.id in queue else (_EPOCH, d.id),
    )[:POSTS_SHOWN]
    planned = {d.article_id: queue[d.id] for d in waiting if d.id in queue}
    pending = [d.article_id for d in waiting if d.article_id]
    note = "pending: goes out at the next send"
    articles = store.articles(pending)
    if not articles:
        articles = store.articles(store.newest(SAMPLE_POSTS, rule.feeds))
        note = "nothing pending; one of the newest articles as a sample"
    if not articles:
        articles = sample_articles()[:SAMPLE_POSTS]
        note = "no articles read yet; one of dispatch's sample articles"
    capabilities = output.capabilities
    views = []
    for article in sorted(articles, key=newest_first):
        view = PostView(
            f"{rule.name}/{output.name}/{article.feed}/{article.key}",
            rule.name,
            output.name,
            output.settings.type,
            article.title,
            f"queued: goes at {planned[article.id]:%Y-%m-%d %H:%M %Z}"
            if article.id in planned
            else note,
            limit=capabilities.limit,
            unit=unit(capabilities),
        )
        try:
            text = render_post(renderer, rule, output, article)
        except TemplateError as e:
            views.append(replace(view, problem=_problem(renderer, e)))
            continue
        link = _link_in(text, article)
        views.append(
            replace(
                view,
                text=text,
                length=count(text, capabilities),
                link=link,
                card=_card(article, link),
            )
        )
    return views


def _link_in(text: str, article: Article) -> str | None:
    """The article's link as the post carries it (tagged, perhaps)."""
    for word in text.split():
        if article.link and word.startswith(article.link.split("?")[0]):
            return word
    return article.link


def _card(article: Article, link: str | None) -> Card | None:
    """The card the network builds for the post's link: the article's title and picture; a
    video's thumbnail with a play mark where the article carries one.
    """
    if link is None:
        return None
    video = article.cards[0] if article.cards else None
    return Card(
        title=article.title,
        description=truncate_words(article.summary, 160),
        image=video.thumbnail if video else article.image,
        domain=(urlsplit(link).hostname or "").removeprefix("www."),
        video=video is not None,
    )


def _problem(renderer: Renderer, error: TemplateError) -> Problem:
    return Problem(
        error.template, error.line, renderer.source_line(error.template, error.line), error.reason
    )
