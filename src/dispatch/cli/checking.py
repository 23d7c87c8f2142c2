"""``check`` and ``outputs``: what is wrong with feeds.yaml and the templates before anything
goes out, and what each output can do.
"""

from __future__ import annotations

import argparse
import sys

from dispatch.cli.base import EXIT_FAILED, EXIT_OK, load


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser(
        "outputs",
        help="list the output types installed and the configured outputs",
        description="Each configured output, whether it can send now, and its settings "
        "(secrets masked); then every output type installed.",
    ).set_defaults(run=_outputs)
    commands.add_parser(
        "check",
        help="validate feeds.yaml and compile every template against sample articles",
        description="Exits 1 on errors (template syntax with file and line, MJML, posts that "
        "cannot fit, a missing unsubscribe link), 0 when only warnings (Gmail clipping, "
        "images without alt text) or nothing is found; 2 when feeds.yaml is invalid.",
    ).set_defaults(run=_check)


def _check(arguments: argparse.Namespace) -> int:
    from dispatch.app.check import check
    from dispatch.outputs.registry import open_outputs

    config = load(arguments)
    findings = check(config, open_outputs(config))
    for finding in findings:
        print(finding, file=sys.stderr if finding.level == "error" else sys.stdout)
    errors = sum(finding.level == "error" for finding in findings)
    print(f"{errors} error(s), {len(findings) - errors} warning(s)")
    return EXIT_FAILED if errors else EXIT_OK


def _outputs(arguments: argparse.Namespace) -> int:
    from dispatch.app.operations import describe_outputs, known_types
    from dispatch.cli.report import print_outputs
    from dispatch.errors import StoreError
    from dispatch.outputs.registry import open_outputs
    from dispatch.store.core import opened

    config = load(arguments)
    try:  # what the last runs learned: limits kept, credentials refused
        with opened(config.state_location, snapshot=True) as store:
            states = store.output_states()
    except StoreError:
        states = {}
    infos = describe_outputs(config, open_outputs(config), states)
    print_outputs(infos, known_types())
    return EXIT_OK
