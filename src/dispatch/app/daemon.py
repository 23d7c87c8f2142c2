"""`dispatch run`: the long-running service. APScheduler is the clock, the store the memory.

Jobs are built from feeds.yaml: one that polls the due feeds on the shortest interval any feed
asks for, one per digest (its cron schedule, in its time zone), one that retries waiting
deliveries, and, with WebSub on, one that looks after subscriptions each minute; a hub's
notification adds a job that reads it now.
Each job runs the same library functions as `dispatch send`, on one worker thread, and the
store decides what is due, so a daemon that was down catches up once, not once per missed tick.

One daemon per SQLite store (the store's lock). On PostgreSQL, any number of daemons, on any
machines, share the work: each claims due feeds and deliveries under a lease its heartbeat
renews, and one at a time creates digests. SIGTERM or SIGINT: no new job starts, the running one
stops after its current send, and the process exits within `daemon.shutdown_timeout`.
SIGHUP, or a change to feeds.yaml: the configuration is reloaded; a new one that is invalid is
logged and the old one kept.
"""

from __future__ import annotations

import itertools
import logging
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from dispatch.app.callback import CallbackServer
from dispatch.app.dispatcher import Dispatcher
from dispatch.app.health import HealthServer
from dispatch.app.metrics import Metrics
from dispatch.app.operations import status
from dispatch.app.websub import maintain
from dispatch.config import Config, cron_trigger, load_config
from dispatch.errors import ConfigError, StoreError
from dispatch.models import DeliveryResult, FeedResult, RunReport
from dispatch.outbox.deliverer import Deliverer
from dispatch.outbox.heartbeat import working
from dispatch.outputs.registry import open_outputs
from dispatch.store.core import Store, opened

WEBSUB_EVERY = timedelta(minutes=1)  # how often subscriptions are looked after
CLOCK_JUMP = 30.0  # seconds the wall clock may move apart from a steady one before it counts


class Daemon:
    """Runs until stopped; see the module docstring."""

    def __init__(self, config_path: Path, config: Config, log: logging.Logger) -> None:
        self.config_path = config_path
        self.config = config
        self.log = log
        self.metrics = Metrics()
        self.stopping = threading.Event()
        self.reload_asked = threading.Event()
        self.last_job: datetime | None = None
        self._config_stamp = _stamp(config_path)
        self._scheduler: Any = None
        self._push_jobs = itertools.count()
        self._push_waiting = threading.Event()  # a job to read pushed bodies is scheduled
        self._store_down: str | None = None  # why the store could not be used, while so
        # Kept across jobs, so what an output learned (Mastodon's limits) is asked once.
        self.outputs = open_outputs(config)

    def run(self) -> int:
        """Serve until stopped; 0 on a clean stop.

        Raises:
            StoreError: the store is locked by another dispatch, or unusable.
        """
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        with opened(self._state()) as holder, working(holder, self.config.daemon.lease):
            self._scheduler = BackgroundScheduler(
                executors={"default": ThreadPoolExecutor(1)},
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
                timezone=UTC,
            )
            self._schedule()
            self._scheduler.add_job(self._job, args=("catch-up",), id="catch-up")
            health = self._start_health()
            callback = self._start_callback()
            self._handle_signals()
            self._scheduler.start()
            self.log.info(
                "dispatch is running: %d feeds, %d digests, %d post rules",
                len(self.config.feeds),
                len(self.config.digests),
                len(self.config.posts),
            )
            try:
                self._serve()
            finally:
                self._shutdown(health, callback)
        return 0

    def _serve(self) -> None:
        wall, steady = time.time(), time.monotonic()
        while not self.stopping.wait(1.0):
            # The wall clock against a steady one: a step (NTP, an operator, a VM resumed)
            # shows as a difference between how far each went.
            jumped = (time.time() - wall) - (time.monotonic() - steady)
            wall, steady = time.time(), time.monotonic()
            if abs(jumped) >= CLOCK_JUMP:
                self._clock_jumped(jumped)
            stamp = _stamp(self.config_path)
            if self.reload_asked.is_set() or stamp != self._config_stamp:
                self.reload_asked.clear()
                self._config_stamp = stamp
                self._reload()

    def _clock_jumped(self, seconds: float) -> None:
        """The wall clock was stepped by ``seconds``. The scheduler waits for wall-clock times:
        stepped back an hour, every job would wait an hour, and every feed's next poll lies an
        hour further off. So the jobs start again from now, every feed is due, and a catch-up
        job runs at once. The store keeps any digest from being made twice.
        """
        self.log.warning(
            "the clock jumped %s by %s; the jobs start again from now",
            "forward" if seconds > 0 else "back",
            timedelta(seconds=round(abs(seconds))),
        )
        now = datetime.now(UTC)
        if seconds < 0:
            try:
                with opened(self._state()) as store:
                    store.due_by(now)
            except StoreError as e:
                self._store_failed("clock", e)
        self._schedule()
        self._scheduler.add_job(self._job, args=("catch-up",), id=f"jump:{next(self._push_jobs)}")

    def _shutdown(self, health: HealthServer | None, callback: CallbackServer | None) -> None:
        self.log.info("stopping: finishing the send in flight")
        finisher = threading.Thread(target=self._scheduler.shutdown, kwargs={"wait": True})
        finisher.start()
        finisher.join(self.config.daemon.shutdown_timeout.total_seconds())
        if finisher.is_alive():
            self.log.error(
                "a send did not finish within %s; it will be settled at the next start",
                self.config.daemon.shutdown_timeout,
            )
        for server in (health, callback):
            if server is not None:
                server.stop()
        self.log.info("stopped")

    def _handle_signals(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            self.stopping.set()

        def reload(signum: int, frame: FrameType | None) -> None:
            self.reload_asked.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    def _reload(self) -> None:
        try:
            config = load_config(self.config_path)
        except ConfigError as e:
            self.log.error("the new configuration is invalid; keeping the old one\n%s", e)
            return
        if config.state_location != self._state():
            self.log.error("`state` cannot change while running; keeping the old configuration")
            return
        self.config = config
        self.outputs = open_outputs(config)
        self._schedule()
        self.log.info(
            "configuration reloaded: %d feeds, %d digests, %d post rules",
            len(config.feeds),
            len(config.digests),
            len(config.posts),
        )

    def _schedule(self) -> None:
        """(Re)build the jobs from the configuration."""
        from apscheduler.triggers.interval import IntervalTrigger

        for job in self._scheduler.get_jobs():
            if job.id != "catch-up" and not job.id.startswith(("push:", "ping:", "jump:")):
                job.remove()
        if self.config.feeds:
            # One job polls every due feed at once, on the shortest tick of any feed (an
            # `every: auto` feed's is its min_every): the store says which are due. A job per
            # feed would pay a job's cost per feed, and a thousand feeds at 10 s would not
            # keep up.
            self._scheduler.add_job(
                self._job,
                IntervalTrigger(seconds=self._tick().total_seconds()),
                args=("poll",),
                id="poll",
            )
        for digest in self.config.digests:
            self._scheduler.add_job(
                self._job,
                cron_trigger(digest.schedule, digest.timezone),
                args=("digest", digest.name),
                id=f"digest:{digest.name}",
            )
        retry = self.config.daemon.retry_every.total_seconds()
        self._scheduler.add_job(
            self._job, IntervalTrigger(seconds=retry), args=("deliver",), id="deliver"
        )
        if self.config.websub.public_url is not None:
            self._scheduler.add_job(
                self._websub,
                IntervalTrigger(seconds=WEBSUB_EVERY.total_seconds()),
                id="websub",
                next_run_time=datetime.now(UTC),
            )

    def _job(self, what: str, name: str | None = None) -> None:
        """One job: the same library calls as `dispatch send`, then metrics and logs."""
        if self.stopping.is_set():
            return
        config, outputs = self.config, self.outputs
        try:
            with opened(self._state()) as store:
                dispatcher = Dispatcher.build(config, store, outputs)
                deliverer = Deliverer(
                    config,
                    store,
                    dispatcher.renderer,
                    dispatcher.outputs,
                    pace=True,
                    stop=self.stopping,
                )
                now = datetime.now(UTC)
                if store.shared:  # nothing is in flight between jobs: no lease is still ours
                    store.let_go()
                # One store, one daemon: what it left sending can only date from before it started.
                # Workers sharing a store: any of them may have died since, so look every time.
                recover = what == "catch-up" or store.shared
                recovered = deliverer.recover(now) if recover else []
                feeds: list[FeedResult] = []
                if what == "push":
                    self._push_waiting.clear()
                if what in ("catch-up", "poll", "push"):  # what hubs pushed first
                    feeds = dispatcher.take_pushes(now)
                if what in ("catch-up", "poll"):
                    feeds += dispatcher.poll(now, only=name, ahead=self._tick() / 2)
                if what in ("catch-up", "digest"):
                    deliverer.plan_digests(now)
                deliveries = deliverer.deliver(now, dry_run=False, out_dir=None)
                report = RunReport(
                    feeds=tuple(feeds),
                    deliveries=(*recovered, *deliveries),
                    notes=(*dispatcher.notes(), *deliverer.notes()),
                )
                self._log(report)
                if what == "catch-up":  # the hubs its polls found are asked at once
                    self._websub()
                self.metrics.record(report, time.time())
                self.metrics.set_outbox(status(store).counts)
                self.last_job = datetime.now(UTC)
                if self._store_down is not None:
                    self._store_down = None
                    self.log.info("the store answers again; the work goes on")
        except StoreError as e:  # the store's own words say it all: no traceback
            self._store_failed(what, e)
        except Exception:  # one bad job must not take the daemon down
            self.log.exception("the %s job failed", what)

    def _tick(self) -> timedelta:
        """How often the poll job runs: the shortest interval any feed asks for."""
        return min((feed.tick for feed in self.config.feeds), default=timedelta(minutes=1))

    def _store_failed(self, what: str, error: StoreError) -> None:
        """Said once while the store stays down (a database restarting, a full disk); each
        job tries it again, so the work resumes by itself when it answers.
        """
        reason = str(error)
        if self._store_down is None:
            self.log.error(
                "the %s job: the store cannot be used: %s (%s); every job tries again until "
                "it answers",
                what,
                reason,
                error.hint or "check the database",
            )
        elif reason != self._store_down:
            self.log.warning("the store still cannot be used: %s", reason)
        self._store_down = reason

    def _websub(self) -> None:
        """Ask hubs to subscribe, renew and unsubscribe, as needed now."""
        if self.stopping.is_set():
            return
        try:
            with opened(self._state()) as store:
                for note in maintain(self.config, store, datetime.now(UTC)):
                    self.log.info(note)
        except StoreError as e:
            self._store_failed("websub", e)
        except Exception:  # one bad job must not take the daemon down
            self.log.exception("the websub job failed")

    def _start_callback(self) -> CallbackServer | None:
        settings = self.config.websub
        if settings.listen is None:
            return None
        callback = CallbackServer(
            settings.listen,
            self._state(),
            lease=settings.lease,
            max_bytes=self.config.fetch.max_bytes,
            pushed=self._pushed,
            refused=lambda feed: self.metrics.notifications.labels(feed, "refused").inc(),
            log=self.log,
        )
        callback.start()
        if settings.public_url is None:
            self.log.warning(
                "WebSub callback on %s, but nothing is subscribed: set websub.public_url to "
                "the address hubs reach it at",
                settings.listen,
            )
        else:
            self.log.info("WebSub callback on %s, at %s", settings.listen, settings.public_url)
        return callback

    def _pushed(self, feed: str, thin: bool) -> None:
        """A hub pushed ``feed``: its body read now, or, a thin ping, the feed polled now."""
        self.metrics.notifications.labels(feed, "taken").inc()
        if self._scheduler is None or self.stopping.is_set():
            return  # kept in the store: the next start reads it
        if thin:
            self._scheduler.add_job(
                self._job, args=("poll", feed), id=f"ping:{next(self._push_jobs)}"
            )
        elif not self._push_waiting.is_set():
            self._push_waiting.set()
            self._scheduler.add_job(self._job, args=("push",), id=f"push:{next(self._push_jobs)}")

    def _log(self, report: RunReport) -> None:
        for note in report.notes:
            self.log.info(note)
        for feed in report.feeds:
            fields = {"feed": feed.feed, "status": feed.status, "new": feed.new}
            if feed.status == "failed":
                self.log.warning("feed %r: %s", feed.feed, feed.error, extra={"fields": fields})
            elif feed.new:
                self.log.info("feed %r: %d new", feed.feed, feed.new, extra={"fields": fields})
        waiting: dict[tuple[str, str], int] = {}
        for delivery in report.deliveries:
            if delivery.status == "pending" and delivery.error and "not ready" in delivery.error:
                key = (delivery.output, delivery.error)
                waiting[key] = waiting.get(key, 0) + 1
            else:
                self._log_delivery(delivery)
        for (output, error), count in waiting.items():  # one line per output, not per message
            self.log.warning(
                "%s; %d message(s) wait for it",
                error,
                count,
                extra={"fields": {"output": output, "waiting": count}},
            )

    def _log_delivery(self, delivery: DeliveryResult) -> None:
        fields = {
            "delivery": delivery.delivery_id,
            "output": delivery.output,
            "kind": delivery.kind,
            "rule": delivery.name,
            "status": delivery.status,
        }
        what = f"{delivery.kind} {delivery.name!r} → {delivery.output!r}"
        if delivery.recipient:
            what += f" ({delivery.recipient})"
        if delivery.status == "sent":
            self.log.info("sent %s: %s", what, delivery.remote_id, extra={"fields": fields})
        elif delivery.status == "ambiguous":
            self.log.error("ambiguous %s: %s", what, delivery.error, extra={"fields": fields})
        elif delivery.status in ("failed", "pending"):
            self.log.warning("not sent %s: %s", what, delivery.error, extra={"fields": fields})

    def _start_health(self) -> HealthServer | None:
        listen = self.config.daemon.listen
        if listen is None:
            return None
        health = HealthServer(listen, self.health, self.metrics.render)
        health.start()
        self.log.info("health and metrics on http://%s/healthz and /metrics", listen)
        return health

    def health(self) -> dict[str, Any]:
        """Alive when the scheduler runs and the store answers."""
        scheduler = self._scheduler is not None and self._scheduler.running
        reachable = Store.reachable(self._state())
        return {
            "ok": scheduler and reachable and not self.stopping.is_set(),
            "scheduler": "running" if scheduler else "stopped",
            "store": "reachable" if reachable else "unreachable",
            "last_job": self.last_job.isoformat() if self.last_job else None,
        }

    def _state(self) -> Path | str:
        return self.config.state_location


def _stamp(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
