"""Printing a run report: one block per message for people, JSON Lines for scripts.

Messages go to stdout; failures go to stderr, by name, with the reason and a hint. Feed text is
always printed as plain ``Text``, never as rich markup, so a title cannot restyle the terminal.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from dispatch.models import Delivery, DeliveryResult, FeedResult, Message, RunReport

if TYPE_CHECKING:
    from rich.console import Console

    from dispatch.app.operations import OutputInfo, Status
    from dispatch.config import Config, FeedConfig
    from dispatch.models import FeedState, Subscription


def print_report(
    report: RunReport, *, as_json: bool, dry_run: bool, out_dir: Path | None, sends: bool = True
) -> None:
    """The run's messages, feeds and what was sent; ``sends`` False for the commands that
    send nothing (poll, catch-up), which have no sending to sum up.
    """
    from rich.text import Text

    out = _console()
    err = _console(stderr=True)
    shown = [d for d in report.deliveries if d.message is not None]
    if as_json:
        for delivery in shown:
            assert delivery.message is not None
            record = {
                **delivery.message.to_record(),
                "status": delivery.status,
                "cannot_send": delivery.error if delivery.status == "dry-run" else None,
                "planned": delivery.planned.isoformat() if delivery.planned else None,
                "files": list(delivery.files),
            }
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        for group in _same_message(shown):
            _print_message(out, group[0], [d.recipient for d in group if d.recipient])
        if report.feeds:
            _print_feeds(out, report.feeds)
        if sends:
            _print_summary(out, report, dry_run=dry_run, out_dir=out_dir)
    for feed in report.feeds:
        for warning in feed.warnings:
            err.print(Text(f"warning: feed {feed.feed!r}: {warning}"))
    for note in report.notes:
        err.print(Text(f"note: {note}"))
    for group in _same_message(shown):
        message = group[0].message
        assert message is not None
        if message.kind == "digest" and message.limit and message.length > message.limit:
            err.print(
                Text(
                    f"warning: digest {message.name!r} → {message.output!r}: {message.length:,} "
                    f"bytes of HTML; Gmail clips messages past about 102 KB (fewer items, or "
                    f"shorter summaries)"
                )
            )
    failures: list[FeedResult | DeliveryResult] = [*report.feeds, *report.deliveries]
    for failure in failures:
        if failure.error and failure.status in ("failed", "pending", "ambiguous"):
            _print_failure(err, failure)


def print_outputs(infos: list[OutputInfo], types: dict[str, str]) -> None:
    from rich.text import Text

    console = _console()
    console.print(Text("Outputs", style="bold"))
    for info in infos:
        ready = "ready" if info.ready is None else f"not ready: {info.ready}"
        sends = " and ".join(f"{kind}s" for kind in info.kinds)
        line = Text(f"  {info.name} ({info.type}, sends {sends}): ")
        line.append(ready, style="green" if info.ready is None else "red")
        console.print(line)
        if info.held:
            console.print(Text(f"    {info.held}", style="red"))
        if info.limit:
            console.print(Text(f"    limit: {info.limit}"))
        console.print(Text(f"    {info.settings}", style="dim"))
    if not infos:
        console.print("  none configured")
    console.print(Text("Output types installed", style="bold"))
    for name, origin in types.items():
        console.print(Text(f"  {name}: {origin}"))


def print_status(status: Status) -> None:
    from zoneinfo import ZoneInfo

    from rich.table import Table

    console = _console()
    if not status.counts and not status.feeds:
        console.print("The outbox is empty.")
    if status.digests:
        table = Table(title="Digests", title_justify="left")
        for column in ("digest", "queued", "next issue", "schedule"):
            table.add_column(column)
        for plan in status.digests:
            rule, zone = plan.rule, ZoneInfo(plan.rule.timezone)
            when = "due now" if plan.due else _when(plan.next_at and plan.next_at.astimezone(zone))
            schedule = f"{rule.schedule} ({rule.timezone})"
            table.add_row(rule.name, str(len(plan.queued)), when, schedule)
        console.print(table)
    if status.counts:
        table = Table(title="Deliveries by output", title_justify="left")
        states = ("pending", "sending", "sent", "failed", "ambiguous")
        table.add_column("output")
        for state in states:
            table.add_column(state, justify="right")
        for output, counts in sorted(status.counts.items()):
            table.add_row(output, *(str(counts.get(state, 0)) for state in states))
        console.print(table)
    if status.attention:
        table = Table(
            title="Needing attention (dispatch retry ID, dispatch resolve ID)", title_justify="left"
        )
        for column in ("ID", "status", "delivery", "to", "tries", "last error"):
            table.add_column(column)
        for d in status.attention:
            table.add_row(
                str(d.id),
                d.status,
                f"{d.kind} {d.rule} → {d.output}",
                d.recipient or "",
                str(d.attempts),
                d.last_error or "",
            )
        console.print(table)
    if status.waiting:
        table = Table(title="Waiting", title_justify="left")
        for column in ("ID", "delivery", "to", "tries", "next try", "last error"):
            table.add_column(column)
        for d in status.waiting:
            table.add_row(
                str(d.id),
                f"{d.kind} {d.rule} → {d.output}",
                d.recipient or "",
                str(d.attempts),
                _next_try(d, status.planned.get(d.id), status.now),
                d.last_error or status.held.get(d.output, ""),
            )
        console.print(table)
    outputs = [o for o in status.outputs.values() if o.refused_since or o.limits]
    if outputs:
        table = Table(title="Outputs", title_justify="left")
        for column in ("output", "credentials", "limits read from the network"):
            table.add_column(column)
        for kept in sorted(outputs, key=lambda o: o.name):
            limits = ", ".join(f"{key} {value}" for key, value in sorted(kept.limits.items()))
            if limits and kept.limits_read_at:
                limits += f" (read {_when(kept.limits_read_at)})"
            table.add_row(kept.name, kept.held() if kept.refused_since else "ok", limits)
        console.print(table)
    if status.feeds:
        table = Table(title="Feeds", title_justify="left")
        for column in (
            "feed",
            "articles",
            "last success",
            "failing since",
            "next poll",
            "push (WebSub)",
            "last error",
        ):
            table.add_column(column)
        for feed in status.feeds:
            table.add_row(
                feed.name,
                str(status.articles.get(feed.name, 0)),
                _when(feed.last_success_at),
                _when(feed.failing_since),
                "disabled (gone)" if feed.disabled else _when(feed.next_poll_at),
                _push(status.subscriptions.get(feed.name), status.now),
                feed.last_error or "",
            )
        console.print(table)


def _push(sub: Subscription | None, now: datetime | None) -> str:
    """Whether a feed is pushed or polled: the hub, and the lease's end or what went wrong."""
    if sub is None:
        return "polled"
    hub = urlsplit(sub.hub).netloc or sub.hub
    if now is not None and sub.live(now):
        return f"pushed by {hub} until {_when(sub.lease_until)}"
    if sub.state == "failed":
        return f"polled: {hub} failed ({sub.last_error}); asked again {_when(sub.retry_at)}"
    if sub.state == "leaving":
        return f"polled: unsubscribing from {hub}"
    return f"polled: {hub} asked {_when(sub.asked_at)}, not verified yet"


def print_feed_list(config: Config, status: Status) -> None:
    """Every configured feed with its health, in feeds.yaml's order."""
    from rich.table import Table

    states = {feed.name: feed for feed in status.feeds}
    table = Table(title="Feeds", title_justify="left")
    for column in ("feed", "url", "every", "health", "articles", "last success", "next poll"):
        table.add_column(column)
    for feed in config.feeds:
        state = states.get(feed.name)
        table.add_row(
            feed.name,
            feed.url,
            _every(feed),
            _health(state, feed.url),
            str(status.articles.get(feed.name, 0)),
            _when(state.last_success_at if state else None),
            _when(state.next_poll_at if state else None),
        )
    _console().print(table)


def _every(feed: FeedConfig) -> str:
    if isinstance(feed.every, timedelta):
        return _span(feed.every)
    return f"auto, {_span(feed.min_every)} to {_span(feed.max_every)}"


def _health(state: FeedState | None, url: str) -> str:
    if state is None or state.url != url:
        return "new: not polled yet"
    if state.disabled:
        return f"gone: {state.disabled}"
    if state.failing_since:
        return (
            f"failing since {_when(state.failing_since)} ({state.error_count}×): {state.last_error}"
        )
    if state.moved_to:
        return f"ok; moving to {state.moved_to}"
    return "ok" if state.last_success_at else "new: not polled yet"


def _span(every: timedelta) -> str:
    seconds = int(every.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _console(*, stderr: bool = False) -> Console:
    """A console for reports: the terminal's width, or 160 columns when piped, so tables
    written to a file or read by a script are not squeezed to 80.
    """
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def _next_try(delivery: Delivery, planned: datetime | None, now: datetime | None) -> str:
    """When a waiting delivery goes: a queued post's place in its output's queue, else its
    next try, else now.
    """
    if planned is not None:
        return "now" if now is not None and planned <= now else f"{_when(planned)} (queued)"
    return _when(delivery.next_attempt_at) if delivery.next_attempt_at else "now"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "-"


def _same_message(deliveries: list[DeliveryResult]) -> list[list[DeliveryResult]]:
    """Deliveries grouped where only the recipient differs (one digest to a list), in order."""
    groups: dict[tuple[object, ...], list[DeliveryResult]] = {}
    for delivery in deliveries:
        message = delivery.message
        assert message is not None
        key: tuple[object, ...] = (
            (message.output, message.name, message.subject, message.text, delivery.status)
            if message.kind == "digest"
            else (id(delivery),)
        )
        groups.setdefault(key, []).append(delivery)
    return list(groups.values())


def _print_message(console: Console, delivery: DeliveryResult, recipients: list[str]) -> None:
    from rich.rule import Rule
    from rich.text import Text

    assert delivery.message is not None
    message = delivery.message
    title = f"{message.kind} “{message.name}” → {message.output} ({message.type})"
    console.print(Rule(Text(title, style="bold"), align="left"))
    body = Text()
    if len(recipients) == 1:
        body.append("To: ", style="bold").append(recipients[0] + "\n")
    elif recipients:
        shown = ", ".join(recipients[:3]) + (
            f", … ({len(recipients) - 3:,} more)" if len(recipients) > 3 else ""
        )
        body.append("To: ", style="bold").append(f"{len(recipients):,} recipients: {shown}\n")
    if message.subject is not None:
        body.append("Subject: ", style="bold").append(message.subject + "\n")
    if message.kind == "post":
        body.append(message.text.rstrip() + "\n\n")
        if message.thread and message.part == 1:
            body.append(f"Continued in {len(message.thread) - 1} replies:\n", style="bold")
            for later in message.thread[1:]:
                body.append(later.rstrip() + "\n\n")
    body.append(_length_line(message) + "\n", style="dim")
    body.append("Articles:\n", style="bold")
    for article in message.articles:
        body.append(f"  • {article.title}\n")
        if article.link:
            body.append(f"    {article.link}\n", style="cyan")
        if article.summary:
            body.append(f"    {article.summary}\n", style="italic")
    if message.cards:
        body.append("Video cards:\n", style="bold")
        for card in message.cards:
            body.append(f"  ▶ {card.title}\n    {card.url}\n    thumbnail {card.thumbnail}\n")
    if delivery.files:
        body.append("Files:\n", style="bold")
        for path in delivery.files:
            note = "  (open it in a browser)" if path.endswith(".html") else ""
            body.append(f"  {path}{note}\n")
    if message.kind == "post" and message.media == "image":
        picture = message.image or "the page's og:image, looked up when sent"
        body.append("Picture: ", style="bold").append(f"{picture}\n")
        if message.image_alt:
            body.append(f"  alt: {message.image_alt}\n", style="dim")
    if delivery.planned is not None:
        body.append("Goes at: ", style="bold").append(f"{_when(delivery.planned)} (queued)\n")
    if delivery.error:
        label = "Cannot go out now: " if delivery.status == "dry-run" else "Not sent: "
        body.append(f"{label}{delivery.error}\n", style="red")
    console.print(body)


def _length_line(message: Message) -> str:
    if message.limit is None:
        return f"length {message.length:,} {message.unit}, no limit"
    flag = "  OVER THE LIMIT" if message.length > message.limit else ""
    source = f"\nthe limit: {message.limit_source}" if message.limit_source else ""
    return f"length {message.length:,} / {message.limit:,} {message.unit}{flag}{source}"


def _print_feeds(console: Console, feeds: tuple[FeedResult, ...]) -> None:
    """A row for each feed with something to tell (new articles, a failure, a warning), then
    one line of counts: thousands of unchanged feeds make no thousand rows.
    """
    from rich.table import Table
    from rich.text import Text

    telling = [f for f in feeds if f.new or f.status == "failed" or f.warnings]
    if telling:
        table = Table(title="Feeds", title_justify="left")
        for column in ("feed", "status", "new", "baseline"):
            table.add_column(column, justify="right" if column in ("new", "baseline") else "left")
        for feed in telling:
            table.add_row(feed.feed, feed.status, str(feed.new), str(feed.seen))
        console.print(table)
    counts: dict[str, int] = {}
    for feed in feeds:
        counts[feed.status] = counts.get(feed.status, 0) + 1
    new, seen = sum(feed.new for feed in feeds), sum(feed.seen for feed in feeds)
    summary = ", ".join(f"{n:,} {status}" for status, n in sorted(counts.items()))
    line = f"{len(feeds):,} feed(s): {summary}; {new:,} new article(s)"
    if seen:
        line += f", {seen:,} already there at the first poll (the baseline; not sent)"
    console.print(Text(line))


def _print_summary(
    console: Console, report: RunReport, *, dry_run: bool, out_dir: Path | None
) -> None:
    from rich.text import Text

    counts: dict[str, int] = {}
    for delivery in report.deliveries:
        counts[delivery.status] = counts.get(delivery.status, 0) + 1
    if dry_run:
        shown = [d for d in report.deliveries if d.status == "dry-run"]
        blocked: dict[str, list[DeliveryResult]] = {}
        for delivery in shown:
            if delivery.error:
                blocked.setdefault(delivery.output, []).append(delivery)
        waiting = sum(map(len, blocked.values()))
        line = f"Dry run: {len(shown) - waiting} message(s) would go out"
        if blocked:
            line += f"; {waiting} cannot now (they wait, and go out once their output can send):"
            for name, held in sorted(blocked.items()):
                line += f"\n  {len(held)} to {name!r}: {held[0].error}"
            line += "\n"
        else:
            line += ". "
        line += "Nothing was sent and no state was changed."
        if out_dir is not None:
            line += f" Rendered files: {out_dir}"
    else:
        parts = [f"{n} {status}" for status, n in sorted(counts.items())]
        line = ", ".join(parts) or "nothing to send"
    console.print(Text(line))


def _print_failure(console: Console, failure: FeedResult | DeliveryResult) -> None:
    from rich.text import Text

    if isinstance(failure, FeedResult):
        head = f"feed {failure.feed!r}: {failure.error}"
    else:
        head = f"{failure.kind} {failure.name!r} → {failure.output!r}: {failure.error}"
    label = {"failed": "error: ", "ambiguous": "ambiguous: "}.get(failure.status, "not sent: ")
    if isinstance(failure, DeliveryResult):
        head = f"[{failure.delivery_id}] {head}"
    text = Text(label + head)
    if failure.hint:
        text.append(f"\n  hint: {failure.hint}")
    console.print(text)
