"""Routing filters: the pure rules, then a dry run and the preview saying which rule let an
article in or kept it out, against a real feed server and store.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dispatch.app.dispatcher import Dispatcher
from dispatch.config import DigestConfig, load_config, parse_config
from dispatch.errors import ConfigError
from dispatch.models import Article
from dispatch.outputs.registry import open_outputs
from dispatch.plan.filters import route
from dispatch.preview.model import build
from dispatch.store.core import Store
from helpers.project import rss, run_cli, write_config
from helpers.servers import FeedServer

FOUND = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def article(**fields: Any) -> Article:
    base: dict[str, Any] = {
        "feed": "news",
        "key": "k",
        "title": "Council approves the bridge",
        "link": "https://example.org/1",
        "author": "Ann Lee",
        "categories": ("Politics", "City"),
        "text": "The council voted to rebuild the old bridge next spring.",
        "published": FOUND - timedelta(hours=3),
    }
    return Article(**{**base, **fields})


def rule(**fields: Any) -> DigestConfig:
    return DigestConfig.model_validate({"name": "daily", "outputs": ["mail"], **fields})


@pytest.mark.parametrize(
    ("settings", "passed", "reason"),
    [
        ({}, True, ""),
        ({"include": {"categories": ["politics"]}}, True, "let in by include category 'politics'"),
        ({"include": {"authors": ["ann lee"]}}, True, "let in by include author 'ann lee'"),
        ({"include": {"keywords": ["Bridge"]}}, True, "let in by include keyword 'Bridge'"),
        ({"include": {"keywords": ["bri"]}}, False, "matches none of include (keywords 'bri')"),
        ({"include": {"patterns": [r"re(build|pair)"]}}, True, "pattern 're(build|pair)'"),
        ({"exclude": {"categories": ["City"]}}, False, "excluded by category 'City'"),
        ({"exclude": {"keywords": ["sponsored"]}}, True, ""),
        (
            {"include": {"keywords": ["bridge"]}, "exclude": {"authors": ["Ann Lee"]}},
            False,
            "excluded by author 'Ann Lee'",
        ),
        ({"max_age": "2h"}, False, "published 3 h before it was found, over max_age 2 h"),
        ({"max_age": "1d"}, True, ""),
        ({"feeds": ["wire"]}, False, "feed 'news' is not among the rule's feeds"),
    ],
)
def test_a_rule_takes_an_article_or_says_why_not(
    settings: dict[str, Any], passed: bool, reason: str
) -> None:
    verdict = route(rule(**settings), article(), FOUND)
    assert verdict.passed is passed
    assert reason in verdict.reason and (reason or not verdict.reason)


def test_an_article_without_a_date_is_not_judged_by_age() -> None:
    assert route(rule(max_age="1h"), article(published=None), FOUND).passed


def test_a_pattern_that_runs_away_on_an_article_is_cut_off_as_no_match() -> None:
    hostile = article(title="a" * 40 + "!", text="a" * 40 + "!")
    started = time.monotonic()
    verdict = route(rule(include={"patterns": ["(a+)+$"]}), hostile, FOUND)
    assert not verdict.passed and time.monotonic() - started < 2


def test_a_bad_pattern_is_a_config_error_at_its_line() -> None:
    text = """\
feeds: [{name: news, url: feed.xml}]
outputs: {archive: {type: file}}
posts:
  - name: social
    outputs: [archive]
    include:
      patterns: ["(unclosed"]
"""
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "feeds.yaml")
    (problem,) = raised.value.problems
    assert problem.place == "posts[0].include.patterns" and problem.line == 7
    assert "not a regular expression" in problem.message


ITEMS = [
    {
        "title": "Bridge reopens after repairs",
        "guid": "b1",
        "link": "https://example.org/b1",
        "date": "Thu, 26 Nov 2026 20:00:00 +0000",
        "author": "Ann Lee",
        "categories": "City",
        "content": "<p>The bridge reopened on Thursday. Traffic is back to normal.</p>",
    },
    {
        "title": "Our partner's winter sale",
        "guid": "s1",
        "link": "https://example.org/s1",
        "date": "Thu, 26 Nov 2026 21:00:00 +0000",
        "author": "Marketing",
        "categories": "Sponsored,City",
        "content": "<p>Everything must go. Visit the bridge shop today.</p>",
    },
    {
        "title": "Archive: the 1998 flood",
        "guid": "o1",
        "link": "https://example.org/o1",
        "date": "Mon, 02 Nov 2026 09:00:00 +0000",
        "author": "Ann Lee",
        "categories": "History",
        "content": "<p>From our archive, republished today. The river rose fast.</p>",
    },
]


def _config(tmp_path: Path, server: FeedServer) -> Path:
    url = server.serve("/feed", rss(ITEMS))
    return write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "feeds": [{"name": "news", "url": url, "backfill": "all"}],
            "outputs": {"archive": {"type": "file", "path": "archive"}},
            "digests": [
                {
                    "name": "daily",
                    "outputs": ["archive"],
                    "exclude": {"categories": ["Sponsored"]},
                    "max_age": "7d",
                }
            ],
            "posts": [
                {"name": "social", "outputs": ["archive"], "include": {"keywords": ["bridge"]}}
            ],
        },
    )


def test_the_dry_run_says_which_rule_let_each_article_in_or_kept_it_out(
    tmp_path: Path, server: FeedServer
) -> None:
    config = _config(tmp_path, server)
    result = run_cli("send", "--dry-run", "--now", "2026-11-27T07:00:00+00:00", config=config)
    assert result.code == 0, result.stderr
    out = " ".join(result.stderr.split())  # notes go to stderr, beside warnings
    assert "“Our partner's winter sale” (news) kept out of digest 'daily': excluded by " in out
    assert "category 'Sponsored'" in out
    assert "“Archive: the 1998 flood” (news) kept out of digest 'daily': published 24.9 days" in out
    assert "“Archive: the 1998 flood” (news) kept out of post 'social': matches none" in out
    assert "“Bridge reopens after repairs” (news) taken by post 'social': let in by " in out
    messages = run_cli(
        "send", "--dry-run", "--json", "--now", "2026-11-27T07:00:00+00:00", config=config
    ).messages()
    digest = next(m for m in messages if m["kind"] == "digest")
    assert [a["title"] for a in digest["articles"]] == ["Bridge reopens after repairs"]
    posts = sorted(m["articles"][0]["title"] for m in messages if m["kind"] == "post")
    # "bridge" is a whole word in the sale's text too: include matches text, not only titles.
    assert posts == ["Bridge reopens after repairs", "Our partner's winter sale"]


def test_the_preview_gives_the_filter_as_the_reason(tmp_path: Path, server: FeedServer) -> None:
    config = load_config(_config(tmp_path, server))
    store = Store.open(tmp_path / "state.db")
    now = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    dispatcher = Dispatcher.build(config, store, open_outputs(config))
    dispatcher.poll(now)
    preview = build(config, store, dispatcher.renderer, dispatcher.outputs, now, "test")
    reasons = {row.title: " | ".join(r.text for r in row.reasons) for row in preview.rows}
    assert "filtered: excluded by category 'Sponsored'" in reasons["Our partner's winter sale"]
    assert "let in by include keyword 'bridge'" in reasons["Bridge reopens after repairs"]
    assert "over max_age" in reasons["Archive: the 1998 flood"]
    store.close()
