"""``feeds``: add a feed (found from a site's page), import and export OPML, and list each
feed with its health.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dispatch.cli.base import EXIT_FAILED, EXIT_OK, load

if TYPE_CHECKING:
    from dispatch.config import Config


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    manage.add_parser(
        "list",
        help="each feed with its health: ok, failing, gone or moved",
        description="Each feed in feeds.yaml with its health (ok, failing since when and "
        "why, gone, moved), when it was last read and how many articles it has given.",
    )
    feeds.set_defaults(run=_feeds)


def _feeds(arguments: argparse.Namespace) -> int:
    from dispatch.app.feeds import FeedsError, add_from_url, import_opml, write_opml
    from dispatch.config import config_path

    config = load(arguments)
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
            _list(config)
    except FeedsError as e:
        print(f"dispatch: {e}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _list(config: Config) -> None:
    from dispatch.app.operations import status
    from dispatch.cli.report import print_feed_list
    from dispatch.store.core import opened

    with opened(config.state_location, snapshot=True) as store:
        print_feed_list(config, status(store))
