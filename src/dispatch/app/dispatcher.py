"""The flow of one run: poll the feeds, then render and deliver what is pending.

The CLI, and later the daemon, call these functions; the clock, the store, the fetcher, the
summariser and the outputs are all passed in. One feed, template or output failing never stops
the others: each gets its own result in the report.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING

from dispatch.config import Config, FeedConfig
from dispatch.enrich.stories import StoryIndex, with_shingles
from dispatch.enrich.summarise import ExtractiveSummariser, Summariser
from dispatch.errors import FeedError, FetchError
from dispatch.models import (
    Article,
    Candidate,
    FeedResult,
    FeedState,
    FeedUpdate,
    Push,
    Route,
    RunReport,
)
from dispatch.net.fetch import Fetcher, FetchRequest, FetchResponse
from dispatch.net.hosts import host_of
from dispatch.outputs.base import Output
from dispatch.plan.decisions import (
    RATE_WINDOW,
    classify,
    is_due,
    next_poll,
    patience,
    poll_interval,
    recent_in,
    settings_fingerprint,
    slowest_answer,
)
from dispatch.plan.websub import pushed_interval
from dispatch.store.core import Store
from dispatch.urls import normalise_url

if TYPE_CHECKING:  # rendering and sending are imported when used: a poll needs neither
    from dispatch.outbox.deliverer import Deliverer, Progress
    from dispatch.render.renderer import Renderer
# Nor does a poll where nothing changed need parsing (lxml, nh3), filters (regex) or the
# reading of article pages: those are imported where a changed feed first needs them.

# A permanent redirect is followed for good once consecutive polls have seen it this often:
# one answer from a misconfigured server should not move a feed.
MOVE_AFTER = 2


@dataclass
class Dispatcher:
    """Everything one run needs, injected."""

    config: Config
    store: Store
    fetcher: Fetcher
    outputs: dict[str, Output]
    summariser: Summariser
    rng: random.Random = field(default_factory=random.Random)
    # What routing filters decided about this run's new articles, for the report.
    routing: list[str] = field(default_factory=list)
    # `dispatch catch-up`: record what the feeds hold now as seen, send none of it.
    catch_up: bool = False

    @classmethod
    def build(cls, config: Config, store: Store, outputs: dict[str, Output]) -> Dispatcher:
        return cls(
            config=config,
            store=store,
            fetcher=Fetcher(config.fetch, config.base_dir),
            outputs=outputs,
            summariser=summariser(config),
        )

    @cached_property
    def renderer(self) -> Renderer:
        from dispatch.render.renderer import Renderer

        return Renderer(self.config.templates_dir)

    def deliverer(self) -> Deliverer:
        from dispatch.outbox.deliverer import Deliverer

        return Deliverer(self.config, self.store, self.renderer, self.outputs)

    # Polling

    def poll(
        self,
        now: datetime,
        *,
        force: bool = False,
        only: str | None = None,
        ahead: timedelta = timedelta(0),
    ) -> list[FeedResult]:
        """Fetch every due feed (every feed with ``force``; just ``only`` if named) and record
        what is new. A feed whose URL or settings changed in feeds.yaml is due at once; one
        due within ``ahead`` counts as due now (the daemon polls on a tick: a feed is polled
        at the tick nearest its time, not a whole tick late).
        """
        feeds = [f for f in self.config.feeds if only is None or f.name == only]
        if self.store.shared:  # workers sharing the store: poll only the feeds leased to us
            # Only the due ones are claimed, so the others stay free for other workers; under
            # the lease, _poll reads the states again and checks once more.
            states = self.store.feed_states()
            wanted = _due(feeds, states, now + ahead, force)
            until = datetime.now(UTC) + self.config.daemon.lease
            leased = self.store.claim_feeds([(f.name, f.url) for f in wanted], until)
            try:
                polled = self._poll([f for f in feeds if f.name in leased], now, force, ahead)
            finally:
                self.store.release()
            return [
                polled.get(f.name)
                or FeedResult(f.name, "disabled" if _disabled(states.get(f.name), f) else "not-due")
                for f in feeds
            ]
        polled = self._poll(feeds, now, force, ahead)
        return [polled[f.name] for f in feeds]

    def _poll(
        self, feeds: list[FeedConfig], now: datetime, force: bool, ahead: timedelta
    ) -> dict[str, FeedResult]:
        states = self.store.feed_states()
        fingerprints = {f.name: settings_fingerprint(f) for f in feeds}
        results = {
            f.name: FeedResult(
                f.name, "disabled" if _disabled(states.get(f.name), f) else "not-due"
            )
            for f in feeds
        }
        due_feeds = _due(feeds, states, now + ahead, force, fingerprints)
        quick = self.config.fetch.quick_timeout.total_seconds()
        longest = self.config.fetch.timeout.total_seconds()
        slowest = _slowest_by_host(states)  # none while every host answers quickly
        requests = []
        for feed in due_feeds:
            state = states.get(feed.name)
            same_url = state is not None and state.url == feed.url
            requests.append(
                FetchRequest(
                    feed.name,
                    _poll_url(feed, state),
                    etag=state.etag if same_url and state else None,
                    last_modified=state.last_modified if same_url and state else None,
                    allow_private=self.config.private_allowed(feed.allow_private_networks),
                    local=True,
                    timeout=patience(
                        slowest.get(host_of(feed.url)) if slowest else None, quick, longest
                    ),
                )
            )
        responses = self.fetcher.fetch_all(requests)
        self._take(now, states, due_feeds, requests, responses, results)
        # Every polled feed has its row by now: the settings it was polled with, and how
        # long it took to answer.
        with self.store.batch():
            self.store.keep_settings(
                [
                    (f.name, fingerprints[f.name])
                    for f in due_feeds
                    if f.name not in states or states[f.name].settings != fingerprints[f.name]
                ]
            )
            self.store.keep_answer_times(
                _answer_times(due_feeds, states, responses, quick, longest)
            )
        return results

    def take_pushes(self, now: datetime) -> list[FeedResult]:
        """Read the bodies hubs pushed (WebSub fat pings) as a poll's: the same parsing,
        identity and store. Those of feeds no longer in feeds.yaml are dropped.
        """
        configured = {feed.name: feed for feed in self.config.feeds}
        pending = self.store.pushes()
        gone = [push.id for push in pending if push.feed not in configured]
        if gone:
            self.store.drop_pushes(gone)
        pending = [push for push in pending if push.feed in configured]
        if not pending:
            return []
        leased = set(configured)
        if self.store.shared:  # workers sharing the store: read only the feeds leased to us
            until = datetime.now(UTC) + self.config.daemon.lease
            names = sorted({push.feed for push in pending})
            leased = self.store.claim_feeds([(n, configured[n].url) for n in names], until)
        results: list[FeedResult] = []
        try:
            pending = [push for push in pending if push.feed in leased]
            links = self.store.push_links()
            while pending:  # a feed's pushes one at a time, oldest first
                first: dict[str, Push] = {}
                for push in pending:
                    first.setdefault(push.feed, push)
                taken = list(first.values())
                pending = [push for push in pending if first[push.feed] is not push]
                states = self.store.feed_states()
                feeds = [configured[push.feed] for push in taken]
                requests = [FetchRequest(feed.name, feed.url) for feed in feeds]
                responses: list[FetchResponse | FetchError] = [
                    _pushed(push, feed, states.get(feed.name), links.get(feed.name))
                    for push, feed in zip(taken, feeds, strict=True)
                ]
                round_results = {feed.name: FeedResult(feed.name, "not-modified") for feed in feeds}
                self._take(now, states, feeds, requests, responses, round_results, pushed=True)
                self.store.drop_pushes([push.id for push in taken])
                results += round_results.values()
        finally:
            if self.store.shared:
                self.store.release()
        return results

    def _take(
        self,
        now: datetime,
        states: dict[str, FeedState],
        feeds: list[FeedConfig],
        requests: list[FetchRequest],
        responses: list[FetchResponse | FetchError],
        results: dict[str, FeedResult],
        *,
        pushed: bool = False,
    ) -> None:
        """Record what came for ``feeds`` (fetched, or ``pushed`` by their hubs): failures,
        unchanged feeds, and new articles, enriched and routed.
        """
        # How many articles each `every: auto` feed had lately: its pace, read in one query.
        auto = [f.name for f in feeds if not isinstance(f.every, timedelta)]
        recent = self.store.recent_counts(auto, now - RATE_WINDOW) if auto else {}
        live = set()  # pushed feeds; none while push is off, whatever hubs still think
        if self.config.websub.public_url is not None:
            live = {name for name, sub in self.store.subscriptions().items() if sub.live(now)}
        # Two transactions, not one per feed; the article pages are fetched between them.
        with self.store.batch():
            fetched = self._record(
                now, states, feeds, requests, responses, results, recent, live, pushed
            )
        enriched = self._enrich([(feed, a) for feed, _, new, _ in fetched for a in new])
        stories = self._stories(now) if enriched else StoryIndex()
        with self.store.batch():
            for feed, response, new, update in fetched:
                articles = [enriched.get(id(a), a) for a in new]
                told = [_candidate(article) for article in articles]
                routes = [
                    self._route(a, now, stories, c) for a, c in zip(articles, told, strict=True)
                ]
                pace = recent.get(feed.name, 0) + recent_in([*update.new, *update.baseline], now)
                interval = self._interval(feed, pace, _asked(update.publisher_hint, response), live)
                state = states.get(feed.name)
                next_at = now + interval
                if pushed and state is not None and state.next_poll_at is not None:
                    next_at = state.next_poll_at  # a push is not a poll: the next one stays
                ids = self.store.record_poll(
                    replace(update, new=articles, routes=routes), now, next_at
                )
                for candidate, article_id, route in zip(told, ids, routes, strict=True):
                    stories.add(replace(candidate, id=article_id, story=route.story or article_id))

    def _interval(
        self, feed: FeedConfig, pace: int, asked: timedelta | None, live: set[str]
    ) -> timedelta:
        """How long until ``feed`` is polled again after a successful poll: by its pace and
        what its publisher asks, and rarely while its hub pushes it (``live``).
        """
        interval = poll_interval(feed, pace, asked)
        if feed.name in live:
            interval = pushed_interval(interval, self.config.websub.poll_every)
        return interval

    def _stories(self, now: datetime) -> StoryIndex:
        """What this poll's new articles may repeat: recent articles of every feed."""
        settings = self.config.stories
        if not settings.merge:
            return StoryIndex()
        recent = self.store.story_candidates(now - settings.window)
        return StoryIndex([with_shingles(c) for c in recent])

    def _record(
        self,
        now: datetime,
        states: dict[str, FeedState],
        due_feeds: list[FeedConfig],
        requests: list[FetchRequest],
        responses: list[FetchResponse | FetchError],
        results: dict[str, FeedResult],
        recent: dict[str, int],
        live: set[str],
        pushed: bool,
    ) -> list[tuple[FeedConfig, FetchResponse, list[Article], FeedUpdate]]:
        """Record failures and unchanged feeds; parse the rest, for the caller to enrich.
        ``recent``: the articles of each `every: auto` feed in the last week; ``live``: the
        feeds their hubs push; ``pushed``: the bodies were pushed, not polled.
        """
        fetched: list[tuple[FeedConfig, FetchResponse, list[Article], FeedUpdate]] = []
        for feed, request, response in zip(due_feeds, requests, responses, strict=True):
            errors = states[feed.name].error_count if feed.name in states else 0
            try:
                if isinstance(response, FetchError):
                    raise response
                state = states.get(feed.name)
                moved = () if pushed else self._note_move(feed, state, request.url, response)
                outcome = self._examine(feed, state, response)
            except FeedError as e:
                retry = next_poll(
                    now, feed.tick, errors + 1, jitter=self.rng.random(), retry_after=e.retry_after
                )
                self.store.record_failure(feed.name, feed.url, e.reason, now, retry, disable=e.gone)
                results[feed.name] = FeedResult(feed.name, "failed", error=e.reason, hint=e.hint)
                continue
            if outcome is None:
                if pushed:  # what was pushed is what the feed already had
                    results[feed.name] = FeedResult(feed.name, "not-modified")
                    continue
                asked = _asked(state.publisher_hint if state else None, response)
                interval = self._interval(feed, recent.get(feed.name, 0), asked, live)
                self.store.record_unchanged(feed.name, feed.url, now, now + interval)
                results[feed.name] = FeedResult(feed.name, "not-modified", warnings=moved)
                continue
            new, update, warnings = outcome
            fetched.append((feed, response, new, update))
            results[feed.name] = FeedResult(
                feed.name,
                "ok",
                new=len(update.new),
                seen=len(update.baseline),
                warnings=(*moved, *warnings),
            )
        return fetched

    def _note_move(
        self, feed: FeedConfig, state: FeedState | None, polled: str, response: FetchResponse
    ) -> tuple[str, ...]:
        """Count consecutive permanent redirects to one place; a warning says what it means."""
        target = response.moved_to
        if target is None and (polled != feed.url or state is None or state.moved_to is None):
            return ()  # nothing moved, or already polling the new place and it stays put
        count = self.store.record_move(feed.name, feed.url, target)
        if target is None:
            return ()
        if count >= MOVE_AFTER:
            return (f"moved permanently to {target}; polled there now (update feeds.yaml)",)
        return (
            f"redirected permanently to {target}; polled there from the next poll on if it "
            "is redirected there again",
        )

    def _examine(
        self, feed: FeedConfig, state: FeedState | None, response: FetchResponse
    ) -> tuple[list[Article], FeedUpdate, tuple[str, ...]] | None:
        """Parse and classify one fetched feed; None when nothing changed.

        Raises:
            ParseError: the body is not a feed.
        """
        if response.not_modified:
            return None
        body_hash = hashlib.sha256(response.body).hexdigest()
        if state is not None and state.url == feed.url and state.body_hash == body_hash:
            return None  # the same bytes as last time: nothing to parse
        from dispatch.ingest.parse import parse_feed

        parsed = parse_feed(
            feed.name,
            response.body,
            url=response.url,
            content_type=response.content_type,
            # A feed polled for the first time has nothing stored to ask about.
            stored=partial(self.store.fingerprints, feed.name) if state is not None else None,
        )
        articles = parsed.articles
        if feed.title:
            articles = tuple(replace(a, source=feed.title) for a in articles)
        known = self.store.known(feed.name, (a.key for a in articles))
        decision = classify(articles, known, feed.backfill)
        if self.catch_up:  # everything there now counts as seen: nothing is sent
            decision = replace(decision, new=(), baseline=(*decision.baseline, *decision.new))
        update = FeedUpdate(
            feed=feed.name,
            url=feed.url,
            etag=response.etag,
            last_modified=response.last_modified,
            body_hash=body_hash,
            new=decision.new,
            baseline=decision.baseline,
            aliases=decision.aliases,
            updated=decision.updated,
            publisher_hint=parsed.hint,
            # WebSub: the Link header first, then the feed's own links.
            hub=response.hub or parsed.hub,
            topic=response.topic or parsed.topic,
        )
        return list(decision.new), update, parsed.warnings

    def _route(
        self, article: Article, now: datetime, stories: StoryIndex, told: Candidate
    ) -> Route:
        """The digests and posts that take this new article, by each rule's feeds and filters,
        and the story it repeats, if another feed told it first; what a filter decided, and
        each story merged, is noted for the run's report.
        """
        story = None
        if self.config.stories.merge:
            settings = self.config.stories
            match = stories.find(article.feed, told.norm_link, told.shingles, settings.similarity)
            if match is not None:
                story = match.story
                self.routing.append(
                    f"“{article.title}” ({article.feed}) is a story {match.source!r} told first "
                    f"({match.reason}): it goes out once"
                )
        from dispatch.plan.filters import route

        digests: list[str] = []
        posts: list[tuple[str, str, str | None]] = []
        for kind, rules in (("digest", self.config.digests), ("post", self.config.posts)):
            for rule in rules:
                verdict = route(rule, article, now)
                covered = rule.feeds is None or article.feed in rule.feeds
                if covered and verdict.reason:  # a filter decided
                    taken = "taken by" if verdict.passed else "kept out of"
                    self.routing.append(
                        f"“{article.title}” ({article.feed}) {taken} {kind} {rule.name!r}: "
                        f"{verdict.reason}"
                    )
                if not verdict.passed:
                    continue
                if kind == "digest":
                    digests.append(rule.name)
                else:
                    posts.extend(
                        (rule.name, output, recipient)
                        for output in rule.outputs
                        for recipient in self._post_recipients(output)
                    )
        return Route(tuple(digests), tuple(posts), story)

    def _post_recipients(self, output: str) -> list[str | None]:
        """Where one output posts each article: once ([None]), or once per place it names
        (an Apprise output's URLs), each its own delivery.
        """
        known = self.outputs.get(output)
        return list(known.recipients()) if known is not None else [None]

    def notes(self, most: int = 20) -> tuple[str, ...]:
        """What the filters decided this run, and each summary the model failed to write, at
        most ``most`` lines of each.
        """
        failed = [
            f"summary of {failure}; the extractive summary stands in"
            for failure in getattr(self.summariser, "failures", [])
        ]
        notes: list[str] = []
        for lines, what in ((self.routing, "routing decisions"), (failed, "summaries")):
            notes += lines[:most]
            if len(lines) > most:
                notes.append(f"... and {len(lines) - most:,} more {what}")
        return tuple(notes)

    def _enrich(self, articles: Sequence[tuple[FeedConfig, Article]]) -> dict[int, Article]:
        """Full text for excerpt-only articles (fetched once, all at once), then a summary."""
        from dispatch.enrich.extract import main_text, wants_full_text

        pages = [
            (feed, article)
            for feed, article in articles
            if wants_full_text(article, feed.full_text)
        ]
        requests = [
            FetchRequest(
                f"{feed.name}: {article.link}",
                article.link or "",
                allow_private=self.config.private_allowed(feed.allow_private_networks),
            )
            for feed, article in pages
        ]
        full: dict[int, str] = {}
        for (_, article), page in zip(pages, self.fetcher.fetch_all(requests), strict=True):
            if isinstance(page, FetchResponse) and page.body:
                text = main_text(page.body, page.url)
                if text:
                    full[id(article)] = text

        def summarised(article: Article) -> Article:
            full_text = full.get(id(article))
            summary = self.summariser.summarise(article, full_text or article.text)
            return replace(article, full_text=full_text, summary=summary)

        new = [article for _, article in articles]
        workers = getattr(self.summariser, "concurrency", 1)  # a model is asked in parallel
        if workers > 1 and len(new) > 1:
            with ThreadPoolExecutor(workers) as pool:
                done = list(pool.map(summarised, new))
        else:
            done = [summarised(article) for article in new]
        return {id(article): result for article, result in zip(new, done, strict=True)}


def summariser(config: Config) -> Summariser:
    """The extractive summariser, or the model with it as the fallback."""
    extractive = ExtractiveSummariser(config.summary.max_chars)
    if config.summary.llm is None:
        return extractive
    from dispatch.enrich.llm import LlmSummariser

    return LlmSummariser(config.summary.llm, config.summary.max_chars, extractive)


def _asked(feed_hint: float | None, response: FetchResponse) -> timedelta | None:
    """The least time between polls the publisher asks: in its feed (ttl, sy:*) or in this
    answer's headers (Cache-Control, Expires), whichever is longer.
    """
    asked = [s for s in (feed_hint, response.lifetime) if s is not None]
    return timedelta(seconds=max(asked)) if asked else None


def _candidate(article: Article) -> Candidate:
    """A new article as a story candidate; its id and story are known once it is stored."""
    link = normalise_url(article.link) if article.link else None
    text = article.full_text or article.text
    return with_shingles(Candidate(0, 0, article.feed, article.source, link, article.title, text))


def _pushed(
    push: Push,
    feed: FeedConfig,
    state: FeedState | None,
    links: tuple[str | None, str | None] | None,
) -> FetchResponse:
    """A pushed body as the answer to a poll would be: the validators of the last real poll
    kept (the next one stays conditional), and the hub and topic it found standing in for a
    Link header, so they come first, as they do for a poll.
    """
    hub, topic = links or (None, None)
    return FetchResponse(
        feed.name,
        topic or feed.url,
        200,
        push.body,
        etag=state.etag if state else None,
        last_modified=state.last_modified if state else None,
        content_type=push.content_type,
        hub=hub,
        topic=topic,
    )


def _slowest_by_host(states: dict[str, FeedState]) -> dict[str, float]:
    """The slowest recent answer of any feed on each host. A host's feeds share its server:
    a feed never read is waited for as long as its siblings' answers take, and one slow
    answer (or a timeout) makes the host's other feeds waited for longer too.
    """
    slowest: dict[str, float] = {}
    for state in states.values():
        if state.answer_seconds:
            host = host_of(state.url)
            slowest[host] = max(slowest.get(host, 0.0), state.answer_seconds)
    return slowest


def _answer_times(
    feeds: list[FeedConfig],
    states: dict[str, FeedState],
    responses: list[FetchResponse | FetchError],
    quick: float,
    longest: float,
) -> list[tuple[str, float]]:
    """The fetched feeds' slowest recent answers after this poll (an answer's time, or the
    time waited for one that timed out), where that changes how long they are waited for:
    a feed that answers quickly poll after poll is not written 10,000 times over. Other
    failures (a refused connection, a 404) say nothing of how long its answers take.
    """
    times = []
    for feed, response in zip(feeds, responses, strict=True):
        took = response.waited if isinstance(response, FetchError) else response.seconds
        if took:
            state = states.get(feed.name)
            previous = state.answer_seconds if state else None
            slowest = slowest_answer(previous, took)
            if patience(slowest, quick, longest) != patience(previous, quick, longest):
                times.append((feed.name, slowest))
    return times


def _poll_url(feed: FeedConfig, state: FeedState | None) -> str:
    """Where to poll: the feed's URL, or where it has moved permanently on consecutive polls
    (until feeds.yaml names another URL).
    """
    if state is None or state.url != feed.url or state.moved_to is None:
        return feed.url
    return state.moved_to if state.moved_count >= MOVE_AFTER else feed.url


def _due(
    feeds: list[FeedConfig],
    states: dict[str, FeedState],
    by: datetime,
    force: bool,
    fingerprints: dict[str, str] | None = None,
) -> list[FeedConfig]:
    """The feeds to poll: due ``by`` then, or moved or edited in feeds.yaml since their last
    poll (every one with ``force``).
    """
    if fingerprints is None:
        fingerprints = {f.name: settings_fingerprint(f) for f in feeds}

    def due(feed: FeedConfig) -> bool:
        state = states.get(feed.name)
        moved = state is not None and state.url != feed.url
        edited = state is not None and state.settings not in (None, fingerprints[feed.name])
        return force or moved or edited or is_due(state, by)

    return [f for f in feeds if due(f)]


def _disabled(state: FeedState | None, feed: FeedConfig) -> bool:
    return state is not None and state.disabled is not None and state.url == feed.url


def send(
    dispatcher: Dispatcher,
    now: datetime,
    *,
    dry_run: bool,
    out_dir: Path | None,
    poll: bool = True,
    progress: Progress | None = None,
) -> RunReport:
    """Poll, plan digests, and deliver everything pending: the whole of ``dispatch send``."""
    deliverer = dispatcher.deliverer()
    recovered = [] if dry_run else deliverer.recover(now)
    # What hubs pushed while no daemon was reading it, then the due feeds.
    feeds = [*dispatcher.take_pushes(now), *dispatcher.poll(now)] if poll else []
    deliverer.plan_digests(now)
    deliveries = deliverer.deliver(now, dry_run=dry_run, out_dir=out_dir, progress=progress)
    return RunReport(
        feeds=tuple(feeds),
        deliveries=(*recovered, *deliveries),
        notes=(*dispatcher.notes(), *deliverer.notes()),
    )
