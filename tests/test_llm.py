"""LLM summaries against a local OpenAI-compatible server: a good answer is used, a hostile one
is cleaned, and a slow, malformed or failing one falls back to the extractive summary while the
run goes on. Then an editor's own summary replaces one article's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.project import article_items, rss, run_cli, write_config
from helpers.servers import FeedServer
from helpers.webhooks import ChatStandIn

KEY = "sk-llm-canary-77e1"
NOW = "2026-11-27T07:00:00+00:00"


@pytest.fixture
def model() -> Iterator[ChatStandIn]:
    standin = ChatStandIn(key=KEY)
    yield standin
    standin.stop()


def _config(tmp_path: Path, server: FeedServer, model: ChatStandIn) -> Path:
    items = article_items(5)
    for item, title in zip(items, ["Injected", "Slow", "Broken", "Failing", "Plain"], strict=True):
        item["title"] = f"{title} story {item['guid']}"
    url = server.serve("/feed", rss(items))
    return write_config(
        tmp_path,
        {
            "state": "state.db",
            "allow_private_networks": True,
            "summary": {
                "max_chars": 200,
                "llm": {
                    "base_url": f"{model.url}/v1",
                    "model": "tiny",
                    "api_key": "${LLM_KEY}",
                    "timeout": "1s",
                },
            },
            "feeds": [{"name": "news", "url": url, "backfill": "all"}],
            "outputs": {"archive": {"type": "file", "path": "archive"}},
            "posts": [{"name": "social", "outputs": ["archive"]}],
        },
    )


def _summaries(result: Any) -> dict[str, str]:
    return {m["articles"][0]["title"]: m["articles"][0]["summary"] for m in result.messages()}


def test_model_summaries_are_cleaned_and_failures_fall_back(
    tmp_path: Path, server: FeedServer, model: ChatStandIn
) -> None:
    config = _config(tmp_path, server, model)
    result = run_cli(
        "send", "--dry-run", "--json", "--now", NOW, config=config, env={"LLM_KEY": KEY}
    )
    assert result.code == 0, result.stderr
    summaries = _summaries(result)
    assert summaries["Plain story a-1"] == "Model summary of Plain story a-1."
    injected = summaries["Injected story a-5"]
    assert "evil.example" not in injected and "<" not in injected and "**" not in injected
    assert "https://example.org/a/5" in injected  # the article's own link may stay
    assert "alert" not in injected and len(injected) <= 200
    for title in ("Slow story a-4", "Broken story a-3", "Failing story a-2"):
        number = title.split("-")[-1]
        assert summaries[title].startswith(f"This is story a{number}."), summaries[title]
    notes = " ".join(result.stderr.split())
    assert "summary of “Slow story a-4” (news): no answer within 1s" in notes
    assert "summary of “Broken story a-3” (news): the reply is not an OpenAI-style" in notes
    assert "summary of “Failing story a-2” (news): HTTP 500" in notes
    assert KEY not in result.stdout + result.stderr
    assert len(model.calls) == 5


@pytest.mark.slow
def test_an_editor_replaces_one_summary(
    tmp_path: Path, server: FeedServer, model: ChatStandIn
) -> None:
    config = _config(tmp_path, server, model)
    env = {"LLM_KEY": KEY}
    assert run_cli("poll", "--now", NOW, config=config, env=env).code == 0
    listing = run_cli("articles", "list", config=config)
    assert listing.code == 0 and "Model summary of Plain story a-1." in listing.stdout
    plain = next(line for line in listing.stdout.splitlines() if "Plain story a-1" in line)
    article_id = plain.split("│")[1].strip()
    edited = run_cli(
        "articles", "summary", article_id, "<b>The desk's</b> own   summary.", config=config
    )
    assert edited.code == 0 and "The desk's own summary." in edited.stdout
    missing = run_cli("articles", "summary", "999", "x", config=config)
    assert missing.code == 1 and "no article has ID 999" in missing.stderr
    sent = run_cli("send", "--json", "--now", NOW, config=config, env=env)
    assert _summaries(sent)["Plain story a-1"] == "The desk's own summary."
    assert len(model.calls) == 5  # summaries are stored: the model is not asked again
