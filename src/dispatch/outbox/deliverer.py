"""Sending through the outbox: plan due digests, recover rows a crash left behind, render every
due delivery and hand it to its output, recording each step before the next.

One output failing never stops the others; every delivery gets its own result.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dispatch.config import Config, PostConfig
from dispatch.config.secrets import Secret
from dispatch.errors import (
    Ambiguous,
    AuthError,
    DispatchError,
    OperationError,
    OutputError,
    OutputUnavailable,
    TransientError,
)
from dispatch.identity import idempotency_key
from dispatch.models import (
    Article,
    Delivery,
    DeliveryResult,
    DeliveryStatus,
    Message,
    OutputState,
)
from dispatch.outbox.archive import publish
from dispatch.outbox.inflight import InFlight, Sending, taken_over
from dispatch.outputs.base import Output
from dispatch.outputs.file import write_message
from dispatch.outputs.pictures import alt_text, picture_source
from dispatch.outputs.registry import recall_limits
from dispatch.plan.decisions import digest_period, ticks_between
from dispatch.plan.explain import plan_digest
from dispatch.plan.outbox import (
    BUDGET_WINDOW,
    MAX_ATTEMPTS,
    budget_frees_at,
    next_attempt,
    recovery,
)
from dispatch.plan.windows import opens_at, planned_times
from dispatch.render.archive import Issue
from dispatch.render.fit import count, unit
from dispatch.render.messages import issue_place, newest_first, render_digest, render_thread
from dispatch.render.renderer import Renderer
from dispatch.store.core import Store

Progress = Callable[[str], None]

# Deliveries claimed at a time on a shared store: few enough that other workers find work,
# many enough that claiming costs little beside sending. Alone on SQLite (one sender, by its
# lock), a claim is a commit that shares nothing, so it takes more at once.
CLAIM_BATCH = 20
CLAIM_BATCH_ALONE = 200


@dataclass
class Deliverer:
    """Everything sending needs, injected; ``rng`` jitters the backoff."""

    config: Config
    store: Store
    renderer: Renderer
    outputs: dict[str, Output]
    rng: random.Random = field(default_factory=random.Random)
    # The daemon paces each output by its declared rate and stops between deliveries when
    # asked; a one-off `dispatch send` does neither.
    pace: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    # A digest renders (and its articles load) once per output, not once per recipient.
    _digests: dict[tuple[int, str], Message] = field(default_factory=dict)
    # Posts per output in this run, and those held back by ``max_posts_per_run``.
    _posts: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    # Digests made for a period after scheduled issues that were not made: what to note.
    skipped: list[str] = field(default_factory=list)
    # Outputs whose credentials were refused: why, for the rest of the run; and those the
    # store says were refused before, to clear once a send goes through.
    _refused: dict[str, str] = field(default_factory=dict)
    _were_refused: set[str] = field(default_factory=set)
    # Outputs with posting windows or gaps: when each queued post goes, by delivery id.
    _plans: dict[str, dict[int, datetime]] = field(default_factory=dict)
    # Digests whose web archive page this run has seen to, and what went wrong writing one.
    _archived: set[int] = field(default_factory=set)
    _archive_problems: list[str] = field(default_factory=list)

    def plan_digests(self, now: datetime) -> None:
        """Create every digest that is due and has enough articles, one delivery per output
        and recipient.
        """
        with self.store.batch():
            self.store.hold_digests()  # workers sharing a store: one at a time
            for rule in self.config.digests:
                last = self.store.last_digest_period(rule.name)
                period = digest_period(rule.schedule, rule.timezone, last, now)
                queued = self.store.queued(rule.name)
                if period is None or len(queued) < rule.min_items:
                    continue
                # Issues that should have been made since there were enough articles for one.
                ready = self.store.ready_since(rule.name, rule.min_items)
                since = max(t for t in (last, ready) if t is not None) if last or ready else None
                skipped = ticks_between(rule.schedule, rule.timezone, since, period) if since else 0
                if skipped:
                    self.skipped.append(
                        f"digest {rule.name!r}: {skipped:,} scheduled issue(s) between "
                        f"{since:%Y-%m-%d %H:%M} and {period:%Y-%m-%d %H:%M} UTC were not made "
                        "(dispatch was stopped, or the clock jumped); their articles are in "
                        "this one"
                    )
                targets = [
                    (name, recipient)
                    for name in rule.outputs
                    for recipient in self.outputs[name].recipients()
                ]
                self.store.create_digest(rule.name, period, queued[: rule.max_items], targets, now)

    def recover(self, now: datetime) -> list[DeliveryResult]:
        """Settle rows a crash left ``sending``: retry with the same key, look them up, resend
        by policy, or flag them ambiguous for the operator. On a shared store, these are the
        rows whose worker's lease ran out.
        """
        results = []
        for delivery in self.store.claim_interrupted(datetime.now(UTC) + self.config.daemon.lease):
            output = self.outputs.get(delivery.output)
            if output is None:
                continue
            decision = recovery(
                output.capabilities,
                can_lookup=output.can_lookup,
                policy=output.settings.on_ambiguous,
                sending_since=delivery.sending_since,
                now=now,
            )
            base = _result(delivery, "ambiguous")
            if decision == "retry":
                self.store.mark(delivery.id, "pending", now, error="interrupted; retried")
                continue
            if decision == "lookup":
                try:
                    remote_id = output.lookup(self.render(delivery, output))
                except DispatchError as e:
                    reason = f"was being sent when dispatch stopped; lookup failed: {e.describe()}"
                    self.store.mark(delivery.id, "ambiguous", now, error=reason)
                    results.append(replace(base, error=reason, hint=_RESOLVE_HINT))
                    continue
                if remote_id is not None:
                    self.store.mark(delivery.id, "sent", now, remote_id=remote_id)
                    results.append(replace(base, status="sent", remote_id=remote_id))
                else:
                    self.store.mark(delivery.id, "pending", now, error="interrupted; not found")
                continue
            reason = "was being sent when dispatch stopped; it may or may not have gone out"
            self.store.mark(delivery.id, "ambiguous", now, error=reason)
            results.append(replace(base, error=reason, hint=_RESOLVE_HINT))
        return results

    def send_test(self, address: str, now: datetime, digest: str | None = None) -> DeliveryResult:
        """Send the digest that would go out next to one address, marked as a test. Nothing is
        recorded: run it on a snapshot store.

        Raises:
            OperationError: no digest, or no output that sends tests, to test.
        """
        rules = [r for r in self.config.digests if digest is None or r.name == digest]
        if not rules:
            raise OperationError(f"no digest named {digest!r}" if digest else "no digest is set up")
        rule = rules[0]
        name = next((o for o in rule.outputs if self.outputs[o].capabilities.test_sends), None)
        if name is None:
            raise OperationError(f"digest {rule.name!r} goes to no output that sends tests (smtp)")
        output = self.outputs[name]
        ids = self.store.queued(rule.name)[: rule.max_items]
        ids = ids or self.store.newest(rule.max_items, rule.feeds)
        articles = sorted(self.store.articles(ids), key=newest_first)
        last = self.store.last_digest_period(rule.name)
        plan = plan_digest(rule, ids, last, now)  # dated as the real send will date it
        rendered = render_digest(self.renderer, rule, output, articles, plan.period)
        key = idempotency_key("test", name, address, now.isoformat())
        message = Message(
            delivery_id=0,
            output=name,
            type=output.settings.type,
            kind="digest",
            name=rule.name,
            subject=f"[TEST] {rendered.subject}",
            text=rendered.text,
            html=rendered.html,
            length=len(rendered.html.encode()),
            limit=output.capabilities.limit,
            articles=tuple(articles),
            cards=tuple(c for a in articles for c in a.cards),
            key=key,
            unit=unit(output.capabilities),
            recipient=address,
        )
        result = DeliveryResult(
            0, name, "digest", rule.name, "failed", recipient=address, message=message
        )
        try:
            remote_id = output.send(message)
        except DispatchError as e:
            return replace(result, error=e.describe(), hint=e.hint)
        finally:
            output.close()
        return replace(result, status="sent", remote_id=remote_id)

    def deliver(
        self,
        now: datetime,
        *,
        dry_run: bool,
        out_dir: Path | None,
        progress: Progress | None = None,
    ) -> list[DeliveryResult]:
        """Render every due delivery and send it (in a dry run, only show it, with whether its
        output could send it now).
        """
        results: list[DeliveryResult] = []
        states = self.store.output_states()
        recall_limits(self.outputs, states)
        self._refused = {}
        self._were_refused = {name for name, s in states.items() if s.refused_since is not None}
        # Asked once per run, and only of outputs with something to send: preparing can
        # reach the network (Mastodon's limits).
        readiness: dict[str, str | None] = {}
        flights = InFlight(self.store, self._settle)
        try:
            for delivery in self._claimed(now):
                if delivery.kind == "post" and self._over_run_cap(delivery.output):
                    continue
                if progress:
                    progress(f"{delivery.kind} {delivery.rule} → {delivery.output}")
                expired = self._expired(delivery, now)
                if expired is not None:
                    results.append(expired)
                    continue
                unready = None
                target = self.outputs.get(delivery.output)
                if target is not None:
                    if delivery.output not in readiness:
                        readiness[delivery.output] = self._readiness(
                            target, states.get(delivery.output), now, dry_run=dry_run
                        )
                    unready = self._refused.get(delivery.output) or readiness[delivery.output]
                results.append(self._deliver_one(delivery, now, dry_run, out_dir, unready, flights))
            landed = flights.drain()
        except BaseException:
            # What was started is recorded before the outputs close; what waits is not sent.
            flights.drain(start_waiting=False)
            raise
        finally:
            for output in self.outputs.values():
                output.close()
            self.store.release()  # what this run claimed but did not start, others may take
        final = [landed.get(id(result), result) for result in results]
        for result in final:
            if result.status == "failed" and result.kind == "post":
                self._stop_thread(result.delivery_id, now)
        return final

    def _stop_thread(self, delivery_id: int, now: datetime) -> None:
        """A thread's part failed for good: the parts after it fail too, never to reply to a
        part that is not there.
        """
        failed = self.store.delivery(delivery_id)
        if failed is None:
            return
        for later in self.store.thread(failed)[1:]:
            if later.status == "pending":
                reason = f"part {failed.part} of its thread failed; the thread stops there"
                self.store.mark(later.id, "failed", now, error=reason)

    def _claimed(self, now: datetime) -> Iterator[Delivery]:
        """Due pending deliveries, oldest first, claimed a few at a time (under a lease, so
        workers sharing a store never take the same one) until none is left or stop is asked.
        """
        after = 0
        seen: set[int] = set()
        limit = CLAIM_BATCH if self.store.shared else CLAIM_BATCH_ALONE
        while not self.stop.is_set():
            batch = self.store.claim_deliveries(
                now, datetime.now(UTC) + self.config.daemon.lease, after=after, limit=limit
            )
            if not batch:
                break
            for delivery in batch:
                if self.stop.is_set():
                    return
                seen.add(delivery.id)
                yield delivery
            after = batch[-1].id
        # Threads: a part whose part before went out in this run, behind the cursor by now.
        while not self.stop.is_set():
            fresh = [
                delivery
                for delivery in self.store.claim_deliveries(
                    now, datetime.now(UTC) + self.config.daemon.lease, limit=limit, parts=True
                )
                if delivery.id not in seen
            ]
            if not fresh:
                return
            for delivery in fresh:
                seen.add(delivery.id)
                yield delivery

    def _readiness(
        self, output: Output, state: OutputState | None, now: datetime, *, dry_run: bool
    ) -> str | None:
        """None when the output can send now, else why not: an unset secret or missing extra,
        credentials refused and not changed since (until their next try), or, in a real run,
        the network refusing to say what it accepts. A dry run asks no network.
        """
        reason = output.ready()
        if reason is not None:
            return reason
        if state is not None and state.refused_since is not None:
            changed = state.refused_credentials != credentials(output)
            if not changed and (state.retry_at is None or state.retry_at > now):
                return state.held()
        if dry_run:
            return None
        try:
            output.prepare()
        except AuthError as e:
            self._refuse(output, e, now)
            return self._refused[output.name]
        except OutputError as e:
            return e.reason
        learned = output.learned()
        if learned:
            self.store.keep_limits(output.name, learned, now)
        return None

    def _refuse(self, output: Output, error: AuthError, now: datetime) -> datetime:
        """Hold ``output``: its credentials were refused. Its deliveries wait, for the rest of
        this run and until the next try (backing off) or a change of its settings.
        """
        state = self.store.output_states().get(output.name) or OutputState(output.name)
        retry = next_attempt(now, state.refusals + 1, None, self.rng)
        self.store.refuse_credentials(output.name, error.reason, now, retry, credentials(output))
        held = replace(
            state,
            refused_since=state.refused_since or now,
            refused_error=error.reason,
            retry_at=retry,
        )
        self._refused[output.name] = held.held()
        self._were_refused.add(output.name)
        return retry

    def _expired(self, delivery: Delivery, now: datetime) -> DeliveryResult | None:
        """A post that waited past its output's ``max_delay``: failed as expired, listed."""
        output = self.outputs.get(delivery.output)
        limit = output.settings.max_delay if output is not None else None
        if delivery.kind != "post" or limit is None or delivery.created_at is None:
            return None
        waited = now - delivery.created_at
        if waited <= limit:
            return None
        reason = (
            f"expired: waited {_span(waited)} to be sent, past max_delay ({_span(limit)}); "
            f"last error: {delivery.last_error or 'none'}"
        )
        self.store.mark(delivery.id, "failed", now, error=reason)
        return replace(
            _result(delivery, "failed"),
            error=reason,
            hint="`dispatch retry ID` sends it all the same",
        )

    def _over_run_cap(self, name: str) -> bool:
        """Count a post for its output; True (and held) once the run's cap is reached."""
        output = self.outputs.get(name)
        if output is None:
            return False
        sent = self._posts.get(name, 0)
        if sent >= output.settings.max_posts_per_run:
            self.held[name] = self.held.get(name, 0) + 1
            return True
        self._posts[name] = sent + 1
        return False

    def notes(self) -> tuple[str, ...]:
        """What this run held back for later runs, issues of digests not made, and what the
        outputs noted of their sends.
        """
        said = [
            note
            for output in self.outputs.values()
            for note in getattr(output, "take_notes", list)()
        ]
        return (
            *self.skipped,
            *self._archive_problems,
            *said,
            *(
                f"{count:,} more post(s) for {name!r} wait for later runs "
                f"(max_posts_per_run: {self.outputs[name].settings.max_posts_per_run})"
                for name, count in sorted(self.held.items())
            ),
        )

    def _deliver_one(
        self,
        delivery: Delivery,
        now: datetime,
        dry_run: bool,
        out_dir: Path | None,
        unready: str | None,
        flights: InFlight,
    ) -> DeliveryResult:
        base = _result(delivery, "failed")
        output = self.outputs.get(delivery.output)
        if output is None:
            return replace(
                base,
                status="pending",
                error=f"output {delivery.output!r} is no longer configured",
                hint="add it back to feeds.yaml; the delivery waits for it",
            )
        try:
            message = self.render(delivery, output)
        except DispatchError as e:
            return replace(base, error=e.describe(), hint=e.hint)
        if delivery.kind == "digest" and not dry_run:
            self._archive(delivery)  # before the email that links to it
        if message.thread and delivery.part == 1 and not dry_run:
            # The thread's later parts, as deliveries of their own: each goes once the part
            # before it is sent, so none replies to a part that failed.
            self.store.add_parts(delivery, len(message.thread), now)
        files: tuple[str, ...] = ()
        if out_dir is not None:
            files = tuple(str(path) for path in write_message(message, out_dir))
        shown = replace(base, message=message, files=files)
        queued = delivery.kind == "post" and delivery.part == 1 and output.settings.queues
        if queued and not self._priority(delivery):  # a thread's later parts follow at once
            planned = self._planned(delivery, output, now)
            shown = replace(shown, planned=planned)
            if planned > now and not dry_run:
                self.store.mark(delivery.id, "pending", now, next_attempt=planned)
                return replace(shown, status="waiting", error=f"queued until {_time(planned)}")
        if dry_run:
            if unready is not None:
                return replace(
                    shown,
                    status="dry-run",
                    error=unready,
                    hint="it waits and goes out once the output can send",
                )
            return replace(shown, status="dry-run")
        if unready is not None:
            return replace(
                shown,
                status="pending",
                error=f"output {delivery.output!r} is not ready: {unready}",
                hint="it stays pending and goes out once the output is ready",
            )
        limit = output.settings.daily_limit
        frees_at = (
            None
            if limit is None  # no budget to count: no need to read every send of the day
            else budget_frees_at(
                self.store.sent_since(delivery.output, now - BUDGET_WINDOW), limit, now
            )
        )
        if frees_at is not None:
            self.store.mark(delivery.id, "pending", now, next_attempt=frees_at)
            return replace(shown, status="waiting", error=f"daily limit reached until {frees_at}")
        rate = output.capabilities.rate_per_minute
        if self.pace and rate:
            spacing = timedelta(minutes=1) / rate
            recent = self.store.sent_since(delivery.output, now - spacing)
            spaced = budget_frees_at(recent, 1, now, window=spacing)
            if spaced is not None:
                self.store.mark(delivery.id, "pending", now, next_attempt=spaced)
                return replace(shown, status="waiting", error=f"spaced until {spaced}")
        sending = Sending(delivery, output, shown, now, time.monotonic())
        # Sends run side by side only where no budget has to count them one by one.
        if output.capabilities.connections > 1 and limit is None and not (self.pace and rate):
            return flights.add(sending, lambda: output.send(message))
        if not self.store.start_sending(delivery.id, now):
            return taken_over(shown)
        return self._settle(sending, lambda: output.send(message))

    def _settle(self, sending: Sending, outcome: Callable[[], str]) -> DeliveryResult:
        """Record how a send ended: ``outcome`` gives the remote id or raises what the output
        raised.
        """
        delivery, output, shown, now = sending.delivery, sending.output, sending.shown, sending.now
        try:
            remote_id = outcome()
        except OutputUnavailable as e:
            self.store.mark(delivery.id, "pending", now, error=e.reason)
            return replace(shown, status="pending", error=e.describe(), hint=e.hint)
        except TransientError as e:
            attempts = delivery.attempts + 1
            if attempts >= MAX_ATTEMPTS:
                self.store.mark(delivery.id, "failed", now, error=e.describe())
                return replace(
                    shown,
                    error=f"{e.describe()} (gave up after {attempts} tries)",
                    hint="`dispatch retry ID` sends it again",
                )
            retry = next_attempt(now, attempts, e.retry_after, self.rng)
            self.store.mark(delivery.id, "pending", now, error=e.describe(), next_attempt=retry)
            return replace(
                shown,
                status="pending",
                error=f"{e.describe()}; retry at {_time(retry)}",
                hint=e.hint,
            )
        except Ambiguous as e:
            return self._ambiguous(delivery, output, shown, now, e.describe())
        except AuthError as e:
            retry = self._refuse(output, e, now)
            self.store.mark(delivery.id, "pending", now, error=e.describe())
            return replace(
                shown,
                status="pending",
                error=f"{e.describe()}; held: next try at {retry:%Y-%m-%d %H:%M} UTC, or as "
                "soon as the credentials change",
                hint=f"{e.hint}; its deliveries wait and go out once they work".lstrip("; "),
            )
        except OutputError as e:
            self.store.mark(delivery.id, "failed", now, error=e.describe())
            return replace(shown, error=e.describe(), hint=e.hint)
        except Exception as e:  # a bug in an output: it may have sent, so never blindly retry
            return self._ambiguous(
                delivery,
                output,
                shown,
                now,
                f"output {output.name!r} crashed: {type(e).__name__}: {e}",
            )
        self.store.mark(delivery.id, "sent", now, remote_id=remote_id)
        if output.name in self._were_refused:
            self.store.accept_credentials(output.name)
            self._were_refused.discard(output.name)
        return replace(
            shown, status="sent", remote_id=remote_id, seconds=time.monotonic() - sending.started
        )

    def _ambiguous(
        self, delivery: Delivery, output: Output, shown: DeliveryResult, now: datetime, reason: str
    ) -> DeliveryResult:
        if output.capabilities.idempotent or output.settings.on_ambiguous == "resend":
            retry = next_attempt(now, delivery.attempts + 1, None, self.rng)
            self.store.mark(delivery.id, "pending", now, error=reason, next_attempt=retry)
            return replace(shown, status="pending", error=f"{reason}; retry at {_time(retry)}")
        self.store.mark(delivery.id, "ambiguous", now, error=reason)
        return replace(shown, status="ambiguous", error=reason, hint=_RESOLVE_HINT)

    def _replies_to(self, delivery: Delivery) -> tuple[str | None, str | None]:
        """A thread's later part: the remote ids of the part it replies to and of the first."""
        if delivery.parent_id is None:
            return None, None
        chain = []
        parent = self.store.delivery(delivery.parent_id)
        while parent is not None:
            chain.append(parent)
            parent = self.store.delivery(parent.parent_id) if parent.parent_id else None
        return chain[0].remote_id, chain[-1].remote_id

    def _archive(self, delivery: Delivery) -> None:
        """Put the delivery's digest issue in its web archive, once: the page as the email
        shows it, without unsubscribe link, UTM tags or "view in browser". A failure is noted
        and the email still goes.
        """
        rule = next((r for r in self.config.digests if r.name == delivery.rule), None)
        if rule is None or rule.archive is None or delivery.digest_id is None:
            return
        if delivery.digest_id in self._archived:
            return
        self._archived.add(delivery.digest_id)
        articles = self.store.digest_articles(delivery.digest_id)
        articles.sort(key=newest_first)
        period = self.store.digest_period(delivery.digest_id)
        title = rule.title or rule.name
        try:
            page = self.renderer.digest(
                name=rule.name,
                title=title,
                articles=articles,
                period=period,
                timezone=rule.timezone,
                locale=rule.locale,
                postal_address=rule.postal_address,
            )
            local, path = issue_place(rule, period)
            issue = Issue(rule.name, title, page.subject, local, path, page.preheader)
            folder = self.config.resolve(rule.archive.path)
            publish(folder, rule.archive.base_url, title, issue, page.html, page.text)
        except (DispatchError, OSError) as e:
            self._archive_problems.append(
                f"digest {rule.name!r}: its web archive page could not be written ({e}); "
                'the email\'s "view in browser" link finds no page until it is'
            )

    def _priority(self, delivery: Delivery) -> bool:
        return self._post_rule(delivery).priority

    def _planned(self, delivery: Delivery, output: Output, now: datetime) -> datetime:
        """When a queued post goes: its place in its output's queue (the oldest or the newest
        first, each ``min_gap`` after the one before, within the output's windows). The plan
        is made once per run, so the posts of one run are spaced among themselves too.
        """
        if output.name not in self._plans:
            self._plans[output.name] = plan_queue(self.store, self.config, output, now)
        plan = self._plans[output.name]
        if delivery.id not in plan:  # made after the plan was: the end of the queue
            gap = output.settings.min_gap or timedelta(0)
            last = max(plan.values(), default=None)
            plan[delivery.id] = opens_at(
                now if last is None else max(now, last + gap),
                output.settings.posting_windows,
                output.settings.timezone,
            )
        return plan[delivery.id]

    def _post_rule(self, delivery: Delivery) -> PostConfig:
        """The post rule a delivery was made for; one since taken out of feeds.yaml still
        sends what it queued, with the defaults.
        """
        rule = next((r for r in self.config.posts if r.name == delivery.rule), None)
        return rule or PostConfig(name=delivery.rule, outputs=[delivery.output])

    def render(self, delivery: Delivery, output: Output) -> Message:
        """Render one delivery for its output.

        Raises:
            TemplateError: a template failed or a post cannot fit.
        """
        if delivery.kind == "post":
            assert delivery.article_id is not None
            articles = self.store.articles([delivery.article_id])
            post = self._post_rule(delivery)
            parts = render_thread(self.renderer, post, output, articles[0])
            text = parts[min(delivery.part, len(parts)) - 1]
            message = _message(delivery, output, None, text, None, articles)
            image = picture_source(articles[0]) if post.media == "image" else None
            alt = alt_text(articles[0], image) if image else ""
            reply_to, root = self._replies_to(delivery)
            return replace(
                message,
                media=post.media if delivery.part == 1 else "none",  # the card: the first part
                image=image,
                image_alt=alt,
                thread=tuple(parts) if len(parts) > 1 else (),
                part=delivery.part,
                reply_to=reply_to,
                thread_root=root,
            )
        assert delivery.digest_id is not None
        cached = (delivery.digest_id, delivery.output)
        if cached not in self._digests:
            rule = next(r for r in self.config.digests if r.name == delivery.rule)
            articles = self.store.digest_articles(delivery.digest_id)
            articles.sort(key=newest_first)
            period = self.store.digest_period(delivery.digest_id)
            rendered = render_digest(self.renderer, rule, output, articles, period)
            self._digests[cached] = _message(
                delivery, output, rendered.subject, rendered.text, rendered.html, articles
            )
        # The same digest for every recipient: only what names this delivery differs.
        return replace(
            self._digests[cached],
            delivery_id=delivery.id,
            key=delivery.idempotency_key,
            recipient=delivery.recipient,
            record_key=delivery.record_key,
        )


_RESOLVE_HINT = (
    "check the network, then `dispatch resolve ID --sent` or `dispatch resolve ID --unsent`"
)


def credentials(output: Output) -> str:
    """A fingerprint of the output's settings, secrets included: when it changes, credentials
    refused before may work now.
    """
    shown = []
    for key, value in output.settings:
        if isinstance(value, Secret):
            value = value.value
        shown.append(f"{key}={value!r}")
    return hashlib.sha256("\n".join(shown).encode()).hexdigest()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def plan_queue(store: Store, config: Config, output: Output, now: datetime) -> dict[int, datetime]:
    """When each post queued for ``output`` goes, by delivery id: priority posts aside, the
    oldest (or, with ``order: newest``, the newest) first, the first no sooner than
    ``min_gap`` after the output's last send, each in a posting window.
    """
    settings = output.settings
    priority = {rule.name for rule in config.posts if rule.priority}
    waiting = [
        d
        for d in store.deliveries("pending")
        if d.output == output.name and d.kind == "post" and d.rule not in priority and d.part == 1
    ]
    # By when the article was published (as found, for one without a date), then as queued.
    articles = store.articles([d.article_id for d in waiting if d.article_id])
    published = {a.id: a.published for a in articles if a.published}
    queued = [
        d.id
        for d in sorted(
            waiting,
            key=lambda d: (published.get(d.article_id or 0) or d.created_at or _EPOCH, d.id),
            reverse=settings.order == "newest",
        )
    ]
    gap = settings.min_gap
    last = store.sent_since(output.name, now - gap)[-1:] if gap else []
    times = planned_times(
        len(queued),
        now,
        last_sent=last[0] if last else None,
        gap=gap,
        windows=settings.posting_windows,
        timezone=settings.timezone,
    )
    return dict(zip(queued, times, strict=True))


def _message(
    delivery: Delivery,
    output: Output,
    subject: str | None,
    text: str,
    html: str | None,
    articles: Sequence[Article],
) -> Message:
    """A rendered delivery as its output receives it, measured the way the output counts."""
    capabilities = output.capabilities
    if delivery.kind == "post":
        length = count(text, capabilities)
    elif capabilities.counting == "bytes" and html is not None:
        length = len(html.encode("utf-8"))
    else:
        length = len(text)
    return Message(
        delivery_id=delivery.id,
        output=delivery.output,
        type=output.settings.type,
        kind=delivery.kind,
        name=delivery.rule,
        subject=subject,
        text=text,
        html=html,
        length=length,
        limit=capabilities.limit,
        articles=tuple(articles),
        cards=tuple(card for article in articles for card in article.cards),
        key=delivery.idempotency_key,
        unit=unit(capabilities),
        recipient=delivery.recipient,
        record_key=delivery.record_key,
        limit_source=capabilities.limit_source,
    )


def _span(length: timedelta) -> str:
    """A duration in its two largest units: 3d 4h, 2h 5m, 40m, 30s."""
    seconds = int(length.total_seconds())
    parts = []
    for name, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{name}")
    return " ".join(parts[:2]) or "0s"


def _result(delivery: Delivery, status: DeliveryStatus) -> DeliveryResult:
    return DeliveryResult(
        delivery.id,
        delivery.output,
        delivery.kind,
        delivery.rule,
        status,
        recipient=delivery.recipient,
    )


def _time(moment: datetime) -> str:
    """A time in a message, as `dispatch status` writes times: to the second, in UTC."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
