"""The command line: parses arguments, runs the command, maps errors to exit codes.

Each command group lives in its own module (``starting``, ``sending``, ``serving``,
``outbox``, ``checking``, ``articles``, ``feeds``, ``templates``), which adds its parsers
here and names the function that runs it.

Exit codes:
    0  everything went well
    1  a feed, template or output failed (everything else was still done)
    2  usage or configuration error, or a port to serve on is taken (nothing was done)
    3  the state store cannot be used
    4  nothing failed in this run, but something failing before still is (a feed in
       backoff or gone, deliveries waiting to be retried or ambiguous): each is printed
    141  the reader of standard output went away (``| head``), as for any tool SIGPIPE stops
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from collections.abc import Sequence

from dispatch import __version__
from dispatch.cli import (
    articles,
    checking,
    feeds,
    outbox,
    sending,
    serving,
    starting,
    templates,
)
from dispatch.cli.base import EXIT_CONFIG, EXIT_PIPE_CLOSED, EXIT_STORE

GROUPS = (starting, sending, serving, checking, outbox, articles, feeds, templates)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dispatch",
        description="Turn feeds into email digests and social posts.",
        epilog="Exit codes: 0 ok; 1 a feed, template or output failed (the rest was done); "
        "2 usage or configuration error, or a port taken; 3 the state store cannot be used; "
        "4 something that failed before still fails (send, poll).",
    )
    parser.add_argument("--version", action="version", version=f"dispatch {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="the configuration file (default: $DISPATCH_CONFIG, else ./feeds.yaml)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    return parser


# The cyclic garbage collector runs after this many new objects, not 700. With the default,
# a poll of 10,000 feeds spent a fifth of its time (0.6 to 0.9 s) in it, mostly rescanning
# feed states that live to the end; with this, 0.15 s, at the same peak memory. Almost
# everything dispatch makes is freed by reference counting anyway. (mypy does the same.)
GC_THRESHOLD = 10_000


def main(argv: Sequence[str] | None = None) -> int:
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    arguments = _parser().parse_args(argv)
    from dispatch.store import engines

    engines.PROCESS = f"dispatch {arguments.command}"  # named in the lock, for another to see
    from dispatch.errors import ConfigError, ListenError, StoreError

    try:
        code: int = arguments.run(arguments)
        sys.stdout.flush()  # here, not at exit, so a closed pipe is caught below
    except (ConfigError, ListenError) as e:
        print(f"dispatch: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreError as e:
        print(f"dispatch: {e}", file=sys.stderr)
        return EXIT_STORE
    except BrokenPipeError:
        # The reader went away (`dispatch send --json | head`): stop quietly, as a shell tool
        # killed by SIGPIPE would, and send what Python still holds nowhere.
        _discard_stdout()
        return EXIT_PIPE_CLOSED
    return code


def _discard_stdout() -> None:
    with contextlib.suppress(OSError, ValueError):  # not a real file (a test's capture)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    raise SystemExit(main())
