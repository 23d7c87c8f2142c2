"""``run`` and ``preview``: the two commands that stay up, the daemon and the editors' page."""

from __future__ import annotations

import argparse

from dispatch.cli.base import EXIT_OK, load


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    run.set_defaults(run=_run)

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
    preview.set_defaults(run=_preview)


def _run(arguments: argparse.Namespace) -> int:
    from dispatch.app.daemon import Daemon
    from dispatch.app.logs import setup
    from dispatch.config import config_path

    config = load(arguments)
    log = setup(arguments.log_format)
    return Daemon(config_path(arguments.config), config, log).run()


def _preview(arguments: argparse.Namespace) -> int:
    from dispatch.config import config_path
    from dispatch.preview.server import serve

    config = load(arguments)
    serve(config_path(arguments.config), config, arguments.host, arguments.port)
    return EXIT_OK
