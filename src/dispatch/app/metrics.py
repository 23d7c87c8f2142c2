"""Prometheus metrics for the daemon, fed from run reports (the library knows nothing of them)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from dispatch.models import RunReport


class Metrics:
    """Polls, fetch errors per feed, articles found, deliveries by output and status, send
    latency, and queue depth.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.polls = Counter(
            "dispatch_polls",
            "Feed polls, by feed and result",
            ["feed", "result"],
            registry=self.registry,
        )
        self.fetch_errors = Counter(
            "dispatch_fetch_errors", "Failed polls, by feed", ["feed"], registry=self.registry
        )
        self.articles = Counter(
            "dispatch_articles_found",
            "New articles found, by feed",
            ["feed"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "dispatch_deliveries",
            "Delivery attempts, by output and outcome",
            ["output", "status"],
            registry=self.registry,
        )
        self.send_seconds = Histogram(
            "dispatch_send_seconds", "Time to send one message", ["output"], registry=self.registry
        )
        self.queue = Gauge(
            "dispatch_queue_depth",
            "Deliveries waiting to be sent, by output",
            ["output"],
            registry=self.registry,
        )
        self.ambiguous = Gauge(
            "dispatch_ambiguous_deliveries",
            "Deliveries waiting for the operator to resolve",
            ["output"],
            registry=self.registry,
        )
        self.notifications = Counter(
            "dispatch_websub_notifications",
            "Notifications hubs pushed, by feed and result (taken, or refused: bad signature)",
            ["feed", "result"],
            registry=self.registry,
        )
        self.last_cycle = Gauge(
            "dispatch_last_cycle_timestamp_seconds",
            "When the daemon last finished a job",
            registry=self.registry,
        )

    def record(self, report: RunReport, finished_at: float) -> None:
        for feed in report.feeds:
            if feed.status in ("not-due", "disabled"):
                continue
            self.polls.labels(feed.feed, feed.status).inc()
            if feed.status == "failed":
                self.fetch_errors.labels(feed.feed).inc()
            if feed.new:
                self.articles.labels(feed.feed).inc(feed.new)
        for delivery in report.deliveries:
            self.deliveries.labels(delivery.output, delivery.status).inc()
            if delivery.seconds is not None:
                self.send_seconds.labels(delivery.output).observe(delivery.seconds)
        self.last_cycle.set(finished_at)

    def set_outbox(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        for output, by_status in counts.items():
            self.queue.labels(output).set(by_status.get("pending", 0) + by_status.get("sending", 0))
            self.ambiguous.labels(output).set(by_status.get("ambiguous", 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
