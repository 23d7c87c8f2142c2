"""``templates init``: copy the built-in templates out for an editor to change."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dispatch.cli.base import EXIT_FAILED, EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    templates = commands.add_parser("templates", help="copy the built-in templates out to edit")
    actions = templates.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = actions.add_parser(
        "init",
        help="copy the built-in templates into a folder (default: templates/ beside feeds.yaml)",
        description="Write every built-in template into DIR, keeping files already there "
        "unless --force. A templates/ folder beside feeds.yaml is used without setting "
        "`templates:`; a file there overrides the built-in of the same name, and can extend "
        'it to change one block: {% extends "default:email/digest.mjml.j2" %}.',
    )
    init.add_argument("folder", type=Path, nargs="?", metavar="DIR", help="where to copy them")
    init.add_argument("--force", action="store_true", help="overwrite files already there")
    init.set_defaults(run=_init)


def _init(arguments: argparse.Namespace) -> int:
    """Needs no feeds.yaml: an editor may run it before writing one."""
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
