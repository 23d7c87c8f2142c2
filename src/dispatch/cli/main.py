"""The command line: parses arguments, calls one library function, maps errors to exit codes.

Exit codes:
    0  everything went well
    1  a feed, template or output failed (everything else was still done)
    2  usage or configuration error (nothing was done)
    3  the state store cannot be used
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dispatch import __version__

if TYPE_CHECKING:
    from dispatch.config import Config
    from dispatch.models import RunReport

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_STORE = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dispatch",
        description="Turn feeds into email digests and social posts.",
        epilog="Exit codes: 0 ok; 1 a feed, template or output failed (the rest was done); "
        "2 usage or configuration error; 3 the state store cannot be used.",
    )
    parser.add_argument("--version", action="version", version=f"dispatch {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="the configuration file (default: $DISPATCH_CONFIG, else ./feeds.yaml)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
        type=_moment,
        help="pretend it is this time (for example 2026-11-28T07:00+05:00)",
    )
    send.add_argument(
        "--test-to",
        metavar="ADDRESS",
        help="send the digest that would go out next to this one address, marked [TEST]; "
        "nothing is recorded and nobody else receives it",
    )
    send.add_argument("--digest", metavar="NAME", help="with --test-to: which digest")

    poll = commands.add_parser("poll", help="fetch due feeds and record new articles; send nothing")
    poll.add_argument("--all", action="store_true", help="poll every feed, due or not")
    poll.add_argument("--now", metavar="ISO-TIME", type=_moment, help="pretend it is this time")

    run = commands.add_parser(
        "run",
        help="run as a service: poll on schedule, send as articles come, digests on time",
        description="Poll each feed on its interval, send posts as articles are found, send "
        "digests on their cron schedules, and retry what waits. Stops on SIGTERM after the "
        "send in flight; reloads feeds.yaml on SIGHUP or when it changes.",
    )
    run.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines as plain text (default) or JSON objects",
    )

    preview = commands.add_parser(
        "preview",
        help="the editors' live preview: every digest and post, in the browser",
        description="Serve a page that shows each digest as the email will look (desktop and "
        "phone), each post as each network gets it, and why every recent article is in or "
        "out; it updates on every save of feeds.yaml or a template. Sends and records nothing.",
    )
    preview.add_argument("--port", type=int, default=8025, help="the port (default: 8025)")
    preview.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default: 127.0.0.1, this machine only)",
    )

    commands.add_parser(
        "outputs",
        help="list the output types installed and the configured outputs",
        description="Each configured output, whether it can send now, and its settings "
        "(secrets masked); then every output type installed.",
    )
    commands.add_parser(
        "check",
        help="validate feeds.yaml and compile every template against sample articles",
        description="Exits 1 on errors (template syntax with file and line, MJML, posts that "
        "cannot fit, a missing unsubscribe link), 0 when only warnings (Gmail clipping, "
        "images without alt text) or nothing is found; 2 when feeds.yaml is invalid.",
    )
    commands.add_parser(
        "status",
        help="show the outbox: waiting, failed and ambiguous deliveries",
    )
    retry = commands.add_parser("retry", help="send a failed or ambiguous delivery again")
    retry.add_argument("id", type=int, help="the delivery's ID, as `dispatch status` shows it")
    resolve = commands.add_parser(
        "resolve",
        help="settle an ambiguous delivery after checking the network",
    )
    resolve.add_argument("id", type=int, help="the delivery's ID, as `dispatch status` shows it")
    outcome = resolve.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--sent", action="store_true", help="it did go out: never send it")
    outcome.add_argument("--unsent", action="store_true", help="it did not: send it again")

    articles = commands.add_parser("articles", help="list recent articles; edit a summary")
    what = articles.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = what.add_parser("list", help="the newest articles: ID, feed, title, summary")
    listing.add_argument("--limit", type=int, default=20, help="how many (default: 20)")
    summary = what.add_parser(
        "summary",
        help="replace one article's summary, in every digest and post not yet sent",
    )
    summary.add_argument("id", type=int, help="the article's ID, as `articles list` shows it")
    summary.add_argument("text", help="the new summary, as plain text")

    feeds = commands.add_parser("feeds", help="add, import, export and list the feeds")
    manage = feeds.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = manage.add_parser(
        "add",
        help="add a feed to feeds.yaml, found from a site's page when the URL is not a feed",
    )
    add.add_argument("url", help="the feed, or a page that announces it (a site's home page)")
    add.add_argument("--name", help="the feed's name (default: from its title)")
    add.add_argument("--every", metavar="DURATION", help="poll interval, like 15m (default: 30m)")
    opml_in = manage.add_parser("import-opml", help="add every feed an OPML file lists")
    opml_in.add_argument("file", type=Path, help="the OPML file (from a feed reader's export)")
    opml_out = manage.add_parser("export-opml", help="write the feeds as OPML")
    opml_out.add_argument("file", type=Path, nargs="?", help="where (default: standard output)")
    manage.add_parser("list", help="each feed with its health: ok, failing, gone or moved")
    templates = commands.add_parser("templates", help="copy the built-in templates out to edit")
    template_actions = templates.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = template_actions.add_parser(
        "init",
        help="copy the built-in templates into a folder (default: templates/ beside feeds.yaml)",
        description="Write every built-in template into DIR, keeping files already there "
        "unless --force. A templates/ folder beside feeds.yaml is used without setting "
        "`templates:`; a file there overrides the built-in of the same name, and can extend "
        'it to change one block: {% extends "default:email/digest.mjml.j2" %}.',
    )
    init.add_argument("folder", type=Path, nargs="?", metavar="DIR", help="where to copy them")
    init.add_argument("--force", action="store_true", help="overwrite files already there")
    commands.add_parser(
        "catch-up",
        help="mark everything the feeds hold now as seen, without sending any of it",
        description="Poll every feed and record every article in it as seen; empty the "
        "digest queues. Nothing is sent; deliveries already waiting stay (see `status`).",
    )
    return parser


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO time like 2026-11-28T07:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# The cyclic garbage collector runs after this many new objects, not 700. With the default,
# a poll of 10,000 feeds spent a fifth of its time (0.6 to 0.9 s) in it, mostly rescanning
# feed states that live to the end; with this, 0.15 s, at the same peak memory. Almost
# everything dispatch makes is freed by reference counting anyway. (mypy does the same.)
GC_THRESHOLD = 10_000


def main(argv: Sequence[str] | None = None) -> int:
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    arguments = _parser().parse_args(argv)
    from dispatch.errors import ConfigError, StoreError

    if arguments.command == "templates":  # needs no feeds.yaml yet
        return _templates(arguments)
    try:
        config = _load(arguments.config)
        command = {
            "send": _send,
            "poll": _poll,
            "outputs": _outputs,
            "status": _status,
            "retry": _operate,
            "resolve": _operate,
            "run": _run,
            "check": _check,
            "preview": _preview,
            "articles": _articles,
            "feeds": _feeds,
            "catch-up": _catch_up,
        }[arguments.command]
        return command(config, arguments)
    except ConfigError as e:
        print(f"dispatch: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreError as e:
        print(f"dispatch: {e}", file=sys.stderr)
        return EXIT_STORE


def _load(explicit: str | None) -> Config:
    from dispatch.config import config_path, load_config

    return load_config(config_path(explicit))


def _dispatcher(config: Config, *, dry_run: bool):  # type: ignore[no-untyped-def]
    from dispatch.app.dispatcher import Dispatcher
    from dispatch.outputs.registry import open_outputs
    from dispatch.store.core import Store

    state = config.state_location
    store = Store.snapshot(state) if dry_run else Store.open(state)
    return Dispatcher.build(config, store, open_outputs(config))


def _send(config: Config, arguments: argparse.Namespace) -> int:
    from dispatch.app.dispatcher import send
    from dispatch.cli.report import print_report
    from dispatch.outbox.heartbeat import working

    now = arguments.now or datetime.now(UTC)
    out_dir = arguments.out
    if out_dir is None and arguments.dry_run:
        import hashlib
        import tempfile  # with shutil, a tenth of `dispatch --help`: only here

        digest = hashlib.sha256(str(config.base_dir).encode()).hexdigest()[:8]
        out_dir = Path(tempfile.gettempdir()) / f"dispatch-dry-run-{digest}"
    if arguments.test_to:
        return _send_test(config, arguments, now)
    from dispatch.cli.progress import terminal_progress

    dispatcher = _dispatcher(config, dry_run=arguments.dry_run)
    try:
        with terminal_progress() as tracker:
            dispatcher.fetcher.watcher = tracker
            if arguments.dry_run:
                report = send(
                    dispatcher, now, dry_run=True, out_dir=out_dir, progress=tracker.message
                )
            else:
                with working(dispatcher.store, config.daemon.lease):
                    report = send(
                        dispatcher, now, dry_run=False, out_dir=out_dir, progress=tracker.message
                    )
    finally:
        dispatcher.store.close()
    print_report(report, as_json=arguments.json, dry_run=arguments.dry_run, out_dir=out_dir)
    return _exit(report)


def _send_test(config: Config, arguments: argparse.Namespace, now: datetime) -> int:
    from dispatch.errors import OperationError

    dispatcher = _dispatcher(config, dry_run=True)  # a snapshot: nothing is recorded
    try:
        dispatcher.poll(now)
        result = dispatcher.deliverer().send_test(arguments.test_to, now, arguments.digest)
    except OperationError as e:
        print(f"dispatch: {e}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        dispatcher.store.close()
    if result.status != "sent":
        print(f"dispatch: test not sent: {result.error}\n  hint: {result.hint}", file=sys.stderr)
        return EXIT_FAILED
    assert result.message is not None
    print(
        f"sent a test of digest {result.name!r} through {result.output!r} to "
        f"{arguments.test_to}: {result.message.subject} ({result.remote_id})"
    )
    return EXIT_OK


def _poll(config: Config, arguments: argparse.Namespace) -> int:
    from dispatch.cli.progress import terminal_progress
    from dispatch.cli.report import print_report
    from dispatch.models import RunReport
    from dispatch.outbox.heartbeat import working

    dispatcher = _dispatcher(config, dry_run=False)
    try:
        with working(dispatcher.store, config.daemon.lease), terminal_progress() as tracker:
            dispatcher.fetcher.watcher = tracker
            feeds = dispatcher.poll(arguments.now or datetime.now(UTC), force=arguments.all)
    finally:
        dispatcher.store.close()
    report = RunReport(feeds=tuple(feeds))
    print_report(report, as_json=False, dry_run=False, out_dir=None)
    return _exit(report)


def _run(config: Config, arguments: argparse.Namespace) -> int:
    from dispatch.app.daemon import Daemon
    from dispatch.app.logs import setup
    from dispatch.config import config_path

    log = setup(arguments.log_format)
    return Daemon(config_path(arguments.config), config, log).run()


def _check(config: Config, arguments: argparse.Namespace) -> int:
    from dispatch.app.check import check
    from dispatch.outputs.registry import open_outputs

    findings = check(config, open_outputs(config))
    for finding in findings:
        print(finding, file=sys.stderr if finding.level == "error" else sys.stdout)
    errors = sum(finding.level == "error" for finding in findings)
    print(f"{errors} error(s), {len(findings) - errors} warning(s)")
    return EXIT_FAILED if errors else EXIT_OK


def _preview(config: Config, arguments: argparse.Namespace) -> int:
    from dispatch.config import config_path
    from dispatch.preview.server import serve

    serve(config_path(arguments.config), config, arguments.host, arguments.port)
    return EXIT_OK


def _outputs(config: Config, arguments: argparse.Namespace) -> int:
    from dispatch.app.operations import describe_outputs, known_types
    from dispatch.cli.report import print_outputs
    from dispatch.errors import StoreError
    from dispatch.outputs.registry import open_outputs
    from dispatch.store.core import Store

    try:  # what the last runs learned: limits kept, credentials refused
        store = Store.snapshot(config.state_location)
    except StoreError:
        states = {}
    else:
        try:
            states = store.output_states()
        finally:
            store.close()
    infos = describe_outputs(config, open_outputs(config), states)
    print_outputs(infos, known_types())
    return EXIT_OK


def _status(config: Config, arguments: argparse.Namespace) -> int:
    from dispatch.app.operations import status
    from dispatch.cli.report import print_status
    from dispatch.store.core import Store

    store = Store.snapshot(config.state_location)
    try:
        print_status(status(store))
    finally:
        store.close()
    return EXIT_OK


def _operate(config: Config, arguments: argparse.Namespace) -> int:
    from dispatch.app.operations import resolve, retry
    from dispatch.errors import OperationError
    from dispatch.store.core import Store

    store = Store.open(config.state_location)
    now = datetime.now(UTC)
    try:
        with store.exclusive():
            if arguments.command == "retry":
                delivery = retry(store, arguments.id, now)
                done = "will be sent again at the next `dispatch send`"
            else:
                delivery = resolve(store, arguments.id, sent=arguments.sent, now=now)
                done = "is marked sent" if arguments.sent else "will be sent again"
    except OperationError as e:
        print(f"dispatch: {e}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.close()
    print(f"delivery {delivery.id} ({delivery.kind} {delivery.rule!r} → {delivery.output}) {done}")
    return EXIT_OK


def _articles(config: Config, arguments: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from dispatch.app.operations import set_summary
    from dispatch.errors import OperationError
    from dispatch.store.core import Store

    store = Store.open(config.state_location)
    try:
        if arguments.action == "summary":
            try:
                article = set_summary(store, arguments.id, arguments.text)
            except OperationError as e:
                print(f"dispatch: {e}", file=sys.stderr)
                return EXIT_FAILED
            print(f"article {article.id} (“{article.title}”) now reads: {article.summary}")
            return EXIT_OK
        table = Table("id", "feed", "title", "summary")
        for article in store.articles(store.newest(arguments.limit)):
            table.add_row(str(article.id), article.feed, article.title, article.summary)
        Console().print(table)
        return EXIT_OK
    finally:
        store.close()


def _templates(arguments: argparse.Namespace) -> int:
    from dispatch.app.templates import copy_built_ins
    from dispatch.config import TEMPLATES_FOLDER, config_path

    beside = config_path(arguments.config).parent / TEMPLATES_FOLDER
    folder = arguments.folder or beside
    try:
        copied = copy_built_ins(folder, overwrite=arguments.force)
    except OSError as e:
        print(
            f"dispatch: cannot write the templates into {folder}: {e.strerror or e}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    written, kept = ", ".join(copied.written) or "none", ", ".join(copied.kept)
    print(f"wrote {len(copied.written)} template(s) to {folder}: {written}")
    if copied.kept:
        print(f"kept {len(copied.kept)} already there (--force overwrites them): {kept}")
    if folder.resolve() != beside.resolve():
        print(f"to use them, set `templates: {folder}` in feeds.yaml")
    print(
        'to change one block only, start a file with {% extends "default:email/digest.mjml.j2" %}'
    )
    return EXIT_OK


def _feeds(config: Config, arguments: argparse.Namespace) -> int:
    from dispatch.app.feeds import FeedsError, add_from_url, import_opml, write_opml
    from dispatch.config import config_path

    path = config_path(arguments.config)
    try:
        if arguments.action == "add":
            name = add_from_url(path, config, arguments.url, arguments.name, arguments.every)
            print(f"added feed {name!r} to {path}; its first poll is a baseline")
        elif arguments.action == "import-opml":
            try:
                data = arguments.file.read_bytes()
            except OSError as e:
                raise FeedsError(f"cannot read {arguments.file}: {e.strerror or e}") from None
            added, skipped, refused = import_opml(path, config, data)
            print(f"added {len(added)} feed(s) to {path}: {', '.join(added) or 'none'}")
            if skipped:
                print(f"{len(skipped)} already there: {', '.join(skipped)}")
            for refusal in refused:
                print(f"dispatch: not added: {refusal}", file=sys.stderr)
            if refused:
                return EXIT_FAILED
        elif arguments.action == "export-opml":
            opml = write_opml(config)
            if arguments.file is None:
                sys.stdout.write(opml)
            else:
                arguments.file.write_text(opml, encoding="utf-8")
                print(f"wrote {len(config.feeds)} feed(s) to {arguments.file}")
        else:
            return _feed_list(config)
    except FeedsError as e:
        print(f"dispatch: {e}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _feed_list(config: Config) -> int:
    from dispatch.app.operations import status
    from dispatch.cli.report import print_feed_list
    from dispatch.store.core import Store

    store = Store.snapshot(config.state_location)
    try:
        print_feed_list(config, status(store))
    finally:
        store.close()
    return EXIT_OK


def _catch_up(config: Config, arguments: argparse.Namespace) -> int:
    from dispatch.cli.report import print_report
    from dispatch.models import RunReport
    from dispatch.outbox.heartbeat import working

    dispatcher = _dispatcher(config, dry_run=False)
    dispatcher.catch_up = True
    try:
        with working(dispatcher.store, config.daemon.lease):
            feeds = dispatcher.poll(datetime.now(UTC), force=True)
            cleared = dispatcher.store.clear_queues()
            waiting = len(dispatcher.store.deliveries("pending"))
    finally:
        dispatcher.store.close()
    print_report(RunReport(feeds=tuple(feeds)), as_json=False, dry_run=False, out_dir=None)
    print(f"caught up: every article in the feeds now counts as seen; {cleared} left digest queues")
    if waiting:
        print(f"{waiting} delivery(ies) made before still wait; `dispatch status` lists them")
    return EXIT_OK


def _exit(report: RunReport) -> int:
    return EXIT_OK if report.ok else EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
