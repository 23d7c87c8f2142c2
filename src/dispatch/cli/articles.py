"""``articles``: the newest articles, and an editor's own summary for one of them."""

from __future__ import annotations

import argparse
import sys

from dispatch.cli.base import EXIT_FAILED, EXIT_OK, load


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    articles = commands.add_parser("articles", help="list recent articles; edit a summary")
    what = articles.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = what.add_parser(
        "list",
        help="the newest articles: ID, feed, title, summary",
        description="The newest articles the store holds, newest first, with the IDs "
        "`articles summary ID TEXT` takes.",
    )
    listing.add_argument("--limit", type=int, default=20, help="how many (default: 20)")
    listing.set_defaults(run=_list)
    summary = what.add_parser(
        "summary",
        help="replace one article's summary, in every digest and post not yet sent",
    )
    summary.add_argument("id", type=int, help="the article's ID, as `articles list` shows it")
    summary.add_argument("text", help="the new summary, as plain text")
    summary.set_defaults(run=_summary)


def _list(arguments: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from dispatch.store.core import opened

    table = Table("id", "feed", "title", "summary")
    with opened(load(arguments).state_location) as store:
        for article in store.articles(store.newest(arguments.limit)):
            table.add_row(str(article.id), article.feed, article.title, article.summary)
    Console().print(table)
    return EXIT_OK


def _summary(arguments: argparse.Namespace) -> int:
    from dispatch.app.operations import set_summary
    from dispatch.errors import OperationError
    from dispatch.store.core import opened

    try:
        with opened(load(arguments).state_location) as store:
            article = set_summary(store, arguments.id, arguments.text)
    except OperationError as e:
        print(f"dispatch: {e}", file=sys.stderr)
        return EXIT_FAILED
    print(f"article {article.id} (“{article.title}”) now reads: {article.summary}")
    return EXIT_OK
