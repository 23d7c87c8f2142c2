"""``send``, ``poll`` and ``catch-up``: the one-off runs of the job, for cron or by hand."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dispatch.cli.base import EXIT_FAILED, EXIT_OK, dispatcher, exit_code, load, moment

if TYPE_CHECKING:
    from dispatch.config import Config


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    send = commands.add_parser(
        "send",
        help="poll the feeds, then send every digest and post that is due",
        description="Poll due feeds, build due digests, and send every pending message.",
    )
    send.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would be sent; change nothing, send nothing",
    )
    send.add_argument(
        "--json", action="store_true", help="print one JSON object per message (JSON Lines)"
    )
    send.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        help="also write each message's files (.json, .txt, .html) here; "
        "a dry run writes them to a temporary folder when this is not given",
    )
    send.add_argument(
        "--now",
        metavar="ISO-TIME",
        type=moment,
        help="pretend it is this time (for example 2026-11-28T07:00+05:00)",
    )
    send.add_argument(
        "--test-to",
        metavar="ADDRESS",
        help="send the digest that would go out next to this one address, marked [TEST]; "
        "nothing is recorded and nobody else receives it",
    )
    send.add_argument("--digest", metavar="NAME", help="with --test-to: which digest")
    send.set_defaults(run=_send)

    poll = commands.add_parser(
        "poll",
        help="fetch due feeds and record new articles; send nothing",
        description="Fetch every feed that is due (every feed with --all) and record what is "
        "new: posts are queued in the outbox and articles in their digests' queues, for the "
        "next `send` or the service. Nothing is sent. Exits 4 while a feed keeps failing.",
    )
    poll.add_argument("--all", action="store_true", help="poll every feed, due or not")
    poll.add_argument("--now", metavar="ISO-TIME", type=moment, help="pretend it is this time")
    poll.set_defaults(run=_poll)

    catch_up = commands.add_parser(
        "catch-up",
        help="mark everything the feeds hold now as seen, without sending any of it",
        description="Poll every feed and record every article in it as seen; empty the "
        "digest queues. Nothing is sent; deliveries already waiting stay (see `status`).",
    )
    catch_up.set_defaults(run=_catch_up)


def _send(arguments: argparse.Namespace) -> int:
    from dispatch.app.dispatcher import send
    from dispatch.app.troubles import still_failing
    from dispatch.cli.progress import terminal_progress
    from dispatch.cli.report import print_report
    from dispatch.outbox.heartbeat import working

    config = load(arguments)
    now = arguments.now or datetime.now(UTC)
    out_dir = arguments.out
    if out_dir is None and arguments.dry_run:
        import hashlib
        import tempfile  # with shutil, a tenth of `dispatch --help`: only here

        digest = hashlib.sha256(str(config.base_dir).encode()).hexdigest()[:8]
        chosen = os.environ.get("DISPATCH_DRY_RUN_DIR")  # the image's: in the mounted folder
        out_dir = (
            Path(chosen) if chosen else Path(tempfile.gettempdir()) / f"dispatch-dry-run-{digest}"
        )
        if not arguments.test_to:
            import shutil

            # dispatch's own folder: emptied, so it holds this run's messages and no others.
            shutil.rmtree(out_dir, ignore_errors=True)
    if arguments.test_to:
        return _send_test(config, arguments, now)
    dry_run = arguments.dry_run
    with dispatcher(config, dry_run=dry_run) as job:
        with terminal_progress() as tracker:
            job.fetcher.watcher = tracker
            if dry_run:
                report = send(job, now, dry_run=True, out_dir=out_dir, progress=tracker.message)
            else:
                with working(job.store, config.daemon.lease):
                    report = send(
                        job, now, dry_run=False, out_dir=out_dir, progress=tracker.message
                    )
        troubles = still_failing(config, job.store, report)
    print_report(report, as_json=arguments.json, dry_run=dry_run, out_dir=out_dir)
    return exit_code(report, troubles)


def _send_test(config: Config, arguments: argparse.Namespace, now: datetime) -> int:
    from dispatch.errors import OperationError

    try:
        with dispatcher(config, dry_run=True) as job:  # a snapshot: nothing is recorded
            job.poll(now)
            result = job.deliverer().send_test(arguments.test_to, now, arguments.digest)
    except OperationError as e:
        print(f"dispatch: {e}", file=sys.stderr)
        return EXIT_FAILED
    if result.status != "sent":
        print(f"dispatch: test not sent: {result.error}\n  hint: {result.hint}", file=sys.stderr)
        return EXIT_FAILED
    assert result.message is not None
    print(
        f"sent a test of digest {result.name!r} through {result.output!r} to "
        f"{arguments.test_to}: {result.message.subject} ({result.remote_id})"
    )
    return EXIT_OK


def _poll(arguments: argparse.Namespace) -> int:
    from dispatch.app.troubles import still_failing
    from dispatch.cli.progress import terminal_progress
    from dispatch.cli.report import print_report
    from dispatch.models import RunReport
    from dispatch.outbox.heartbeat import working

    config = load(arguments)
    with (
        dispatcher(config, dry_run=False) as job,
        working(job.store, config.daemon.lease),
        terminal_progress() as tracker,
    ):
        job.fetcher.watcher = tracker
        feeds = job.poll(arguments.now or datetime.now(UTC), force=arguments.all)
        report = RunReport(feeds=tuple(feeds))
        troubles = still_failing(config, job.store, report)
    print_report(report, as_json=False, dry_run=False, out_dir=None, sends=False)
    return exit_code(report, troubles)


def _catch_up(arguments: argparse.Namespace) -> int:
    from dispatch.cli.report import print_report
    from dispatch.models import RunReport
    from dispatch.outbox.heartbeat import working

    config = load(arguments)
    with dispatcher(config, dry_run=False) as job, working(job.store, config.daemon.lease):
        job.catch_up = True
        feeds = job.poll(datetime.now(UTC), force=True)
        cleared = job.store.clear_queues()
        waiting = len(job.store.deliveries("pending"))
    print_report(
        RunReport(feeds=tuple(feeds)), as_json=False, dry_run=False, out_dir=None, sends=False
    )
    print(f"caught up: every article in the feeds now counts as seen; {cleared} left digest queues")
    if waiting:
        print(f"{waiting} delivery(ies) made before still wait; `dispatch status` lists them")
    return EXIT_OK
