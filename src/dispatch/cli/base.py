"""What every command shares: exit codes, the ``--now`` argument, loading feeds.yaml, and a
dispatcher on an opened store.

This module and the command modules import the library inside their functions, so that
``dispatch --help`` starts without loading it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dispatch.app.dispatcher import Dispatcher
    from dispatch.app.troubles import Trouble
    from dispatch.config import Config
    from dispatch.models import RunReport

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_STORE = 0, 1, 2, 3
EXIT_STILL_FAILING = 4  # nothing failed in this run, but something failing before still is
EXIT_PIPE_CLOSED = 128 + 13  # SIGPIPE's number: what a shell reports for a tool it stopped


def load(arguments: argparse.Namespace) -> Config:
    """feeds.yaml, from ``--config``, else $DISPATCH_CONFIG, else ./feeds.yaml.

    Raises:
        ConfigError: it is missing or invalid.
    """
    from dispatch.config import config_path, load_config

    return load_config(config_path(arguments.config))


@contextmanager
def dispatcher(config: Config, *, dry_run: bool) -> Iterator[Dispatcher]:
    """A dispatcher on the store, opened for this command and closed after it; a dry run's
    works on a snapshot that keeps nothing.
    """
    from dispatch.app.dispatcher import Dispatcher
    from dispatch.outputs.registry import open_outputs
    from dispatch.store.core import opened

    with opened(config.state_location, snapshot=dry_run) as store:
        yield Dispatcher.build(config, store, open_outputs(config))


def moment(text: str) -> datetime:
    """An ``--now`` argument: an ISO time, UTC unless it says otherwise."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO time like 2026-11-28T07:00"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def exit_code(report: RunReport, troubles: Sequence[Trouble] = ()) -> int:
    """1 when this run failed somewhere; else 4 when something failing before still is (each
    printed, so a cron job's mail says what); else 0.
    """
    for trouble in troubles:
        print(f"dispatch: still failing: {trouble.subject}: {trouble.reason}", file=sys.stderr)
        print(f"  hint: {trouble.hint}", file=sys.stderr)
    if not report.ok:
        return EXIT_FAILED
    return EXIT_STILL_FAILING if troubles else EXIT_OK
