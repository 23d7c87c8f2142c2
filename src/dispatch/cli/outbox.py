"""``status``, ``retry`` and ``resolve``: the outbox, and an operator's say over it."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from dispatch.cli.base import EXIT_FAILED, EXIT_OK, load, moment


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = commands.add_parser(
        "status",
        help="show the outbox: waiting, failed and ambiguous deliveries",
        description="Each output's deliveries by state; the failed and ambiguous ones with "
        "their IDs and errors (for `retry` and `resolve`); what waits and why; each feed's "
        "health. Reads the store and changes nothing.",
    )
    status.add_argument("--now", metavar="ISO-TIME", type=moment, help="pretend it is this time")
    status.set_defaults(run=_status)
    retry = commands.add_parser("retry", help="send a failed or ambiguous delivery again")
    retry.add_argument("id", type=int, help="the delivery's ID, as `dispatch status` shows it")
    retry.set_defaults(run=_operate)
    resolve = commands.add_parser(
        "resolve",
        help="settle an ambiguous delivery after checking the network",
    )
    resolve.add_argument("id", type=int, help="the delivery's ID, as `dispatch status` shows it")
    outcome = resolve.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--sent", action="store_true", help="it did go out: never send it")
    outcome.add_argument("--unsent", action="store_true", help="it did not: send it again")
    resolve.set_defaults(run=_operate)


def _status(arguments: argparse.Namespace) -> int:
    from dispatch.app.operations import status
    from dispatch.cli.report import print_status
    from dispatch.outputs.registry import open_outputs
    from dispatch.store.core import opened

    config = load(arguments)
    with opened(config.state_location, snapshot=True) as store:
        print_status(status(store, config, open_outputs(config), arguments.now))
    return EXIT_OK


def _operate(arguments: argparse.Namespace) -> int:
    from dispatch.app.operations import resolve, retry
    from dispatch.errors import OperationError
    from dispatch.store.core import opened

    now = datetime.now(UTC)
    try:
        with opened(load(arguments).state_location) as store, store.exclusive():
            if arguments.command == "retry":
                delivery = retry(store, arguments.id, now)
                done = "will be sent again at the next `dispatch send`"
            else:
                delivery = resolve(store, arguments.id, sent=arguments.sent, now=now)
                done = "is marked sent" if arguments.sent else "will be sent again"
    except OperationError as e:
        print(f"dispatch: {e}", file=sys.stderr)
        return EXIT_FAILED
    print(f"delivery {delivery.id} ({delivery.kind} {delivery.rule!r} → {delivery.output}) {done}")
    return EXIT_OK
