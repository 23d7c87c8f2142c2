"""``init``: a feeds.yaml to start from, asking a few questions on a terminal and none
elsewhere (a script, a Dockerfile).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dispatch.cli.base import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from dispatch.app.starter import Answers


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = commands.add_parser(
        "init",
        help="write a commented feeds.yaml and templates/ to start from",
        description="Write feeds.yaml (commented, every key explained), the built-in "
        "templates in templates/ to tune, and a sample feed, into DIR (default: here). On a "
        "terminal it asks for your site (its feed is found from the home page), the "
        "newsletter's title and your time zone; elsewhere it asks nothing and uses the "
        "sample feed. An existing feeds.yaml is kept unless --force.",
    )
    init.add_argument("folder", type=Path, nargs="?", metavar="DIR", help="where (default: .)")
    init.add_argument("--force", action="store_true", help="overwrite an existing feeds.yaml")
    init.set_defaults(run=_init)


def _init(arguments: argparse.Namespace) -> int:
    from dispatch.app.starter import CONFIG_FILE, Answers, local_timezone, start

    folder = arguments.folder or Path(".")
    answers = Answers(timezone=local_timezone())
    if sys.stdin.isatty() and sys.stdout.isatty():
        answers = _ask(answers)
    try:
        started = start(folder, answers, overwrite=arguments.force)
    except FileExistsError:
        print(
            f"dispatch: {folder / CONFIG_FILE} is there already; nothing was written\n"
            "  hint: --force overwrites it, or give another folder: dispatch init DIR",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except OSError as e:
        print(f"dispatch: cannot write into {folder}: {e.strerror or e}", file=sys.stderr)
        return EXIT_FAILED
    written = ", ".join(started.written)
    print(f"wrote {written} and templates/ ({started.templates} templates) in {folder}")
    config = "" if folder == Path(".") else f" --config {folder / CONFIG_FILE}"
    print("next:")
    print(f"  dispatch{config} send --dry-run      what would go out, changing nothing")
    print(f"  dispatch{config} preview             the digest and posts in your browser")
    print(f"  dispatch{config} feeds add URL       add a site's feed, found from its page")
    return EXIT_OK


def _ask(defaults: Answers) -> Answers:
    """A few questions; Enter keeps each default."""
    from dispatch.app.feeds import FeedsError, find_feed
    from dispatch.app.starter import Answers
    from dispatch.config import parse_config

    def ask(question: str, default: str) -> str:
        shown = f" [{default}]" if default else ""
        return input(f"{question}{shown}: ").strip() or default

    print("dispatch init: a few questions (Enter keeps what is in brackets)")
    site = ask("your site or its feed (empty: a sample feed to try)", "")
    feed_url, feed_title = None, ""
    if site:
        probe = parse_config("feeds: [{name: probe, url: x}]", "(init)")
        try:
            found = find_feed(probe, site)
            feed_url, feed_title = found.url, found.title
            print(f"  found the feed {found.url} ({found.title or 'untitled'})")
        except FeedsError as e:
            print(f"  {e.describe()}; feeds.yaml names it as given, to fix there")
            feed_url = site
    title = ask("the newsletter's title", feed_title or defaults.title)
    timezone = ask("your time zone", defaults.timezone)
    email = ask("the address the digest goes to (for the commented email output)", defaults.email)
    return Answers(feed_url, feed_title, title, timezone, email)
