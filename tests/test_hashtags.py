"""Hashtags from an article's categories: their form, judged by X's twitter-text and Bluesky's
@atproto/api (their own code, in Node.js); counted in each network's length; and on the wire
to the Mastodon and Bluesky stand-ins, the Bluesky record validated by atproto's models.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from dispatch.config import PostConfig, parse_config
from dispatch.errors import ConfigError
from dispatch.models import Capabilities
from dispatch.render.fit import count
from dispatch.render.messages import hashtags
from dispatch.render.renderer import Renderer
from dispatch.render.richtext import detect_facets
from dispatch.render.samples import sample_articles
from dispatch.text import hashtag
from helpers.bluesky import AtprotoStandIn, bluesky_output
from helpers.judges import judge
from helpers.mastodon import MastodonStandIn, mastodon_output
from helpers.project import NOW, State, run_cli
from helpers.sending import setup
from helpers.servers import FeedServer

X = Capabilities(limit=280, counting="weighted", url_length=23, template="x")
MASTODON = Capabilities(limit=500, counting="graphemes", url_length=23, template="mastodon")
BLUESKY = Capabilities(limit=300, counting="graphemes", template="bluesky")

CAMEL = [
    ("Pakistan economy", "PakistanEconomy"),
    ("covid-19", "Covid19"),
    ("iPhone tips", "IPhoneTips"),
    ("Editor's picks", "EditorsPicks"),
    ("Économie & société", "ÉconomieSociété"),
    ("پاکستان معیشت", "پاکستانمعیشت"),
    ("हिन्दी समाचार", "हिन्दीसमाचार"),
    ("#Budget2026", "Budget2026"),
    ("state_of_play", "State_of_play"),
]


def test_a_category_becomes_one_tag_that_x_and_bluesky_read_whole() -> None:
    assert [hashtag(category) for category, _ in CAMEL] == [tag for _, tag in CAMEL]
    texts = [f"Read this #{tag} now" for _, tag in CAMEL]
    for (_, tag), text, verdict in zip(CAMEL, texts, judge(texts), strict=True):
        assert verdict["hashtags"] == [tag], text  # twitter-text's extractHashtags
        (facet,) = verdict["facets"]  # @atproto/api's detectFacets
        assert facet["features"] == [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}]
        start = len(text[: text.index("#")].encode())
        assert facet["index"] == {"byteStart": start, "byteEnd": start + 1 + len(tag.encode())}
        assert [(f.kind, f.value) for f in detect_facets(text)] == [("tag", tag)]  # and ours


@pytest.mark.parametrize("category", ["2026", "—", "", "x" * 65])
def test_what_no_network_takes_as_a_tag_gives_none(category: str) -> None:
    assert hashtag(category) is None


def article(*categories: str):  # type: ignore[no-untyped-def]
    return replace(sample_articles()[0], categories=categories)


def test_the_rule_picks_maps_and_limits_the_tags() -> None:
    story = article("Cricket", "Uncategorized", "cricket", "Pakistan economy", "Gossip", "2026")
    assert hashtags(PostConfig(name="s", outputs=["o"]), story) == []  # off unless asked
    on = PostConfig(name="s", outputs=["o"], hashtags=True)
    assert hashtags(on, story) == ["#Cricket", "#PakistanEconomy", "#Gossip"]
    mapped = PostConfig(
        name="s",
        outputs=["o"],
        hashtags={"CRICKET": "CricketPK", "gossip": None},
        max_hashtags=5,
    )
    assert hashtags(mapped, story) == ["#CricketPK", "#PakistanEconomy"]
    assert hashtags(on.model_copy(update={"max_hashtags": 1}), story) == ["#Cricket"]


def test_a_mapped_tag_no_network_takes_is_a_config_error_at_its_line() -> None:
    text = """\
feeds:
  - name: a
    url: https://example.org/feed/
outputs:
  archive: {type: file, path: out/}
posts:
  - name: social
    outputs: [archive]
    hashtags:
      Pakistan economy: Pakistan economy
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "feeds.yaml", {})
    (problem,) = [str(p) for p in caught.value.problems]
    assert problem.startswith("posts[0].hashtags (line 9)")
    assert "'Pakistan economy'" in problem and "try PakistanEconomy" in problem


LONG_SUMMARY = " ".join(["The council met for hours and argued about the budget."] * 12)


@pytest.mark.parametrize("capabilities", [X, MASTODON, BLUESKY], ids=["x", "mastodon", "bluesky"])
def test_tags_are_counted_and_the_summary_gives_way_first(capabilities: Capabilities) -> None:
    story = replace(article("Local politics", "Budget"), summary=LONG_SUMMARY)
    tags = ["#LocalPolitics", "#Budget"]
    text = Renderer().post(story, capabilities=capabilities, hashtags=tags)
    assert capabilities.limit is not None
    assert count(text, capabilities) <= capabilities.limit
    assert "#LocalPolitics #Budget" in text and "…" in text  # the summary was cut, not the tags
    if capabilities.template == "x":
        (verdict,) = judge([text])
        assert verdict["valid"] and verdict["x"] <= 280
        assert verdict["hashtags"] == ["LocalPolitics", "Budget"]


def test_tags_go_last_first_when_even_the_title_would_not_fit_with_them() -> None:
    # 233 characters, the link 23 and the blank lines 4: room for "#Budget", not both.
    title = " ".join(["Headline"] * 26)
    story = replace(article(), title=title, summary="", cards=(), link="https://example.org/b")
    text = Renderer().post(story, capabilities=X, hashtags=["#Budget", "#LocalPolitics"])
    assert title in text
    (verdict,) = judge([text])
    assert verdict["hashtags"] == ["Budget"] and verdict["valid"]


ITEM = {
    "title": "The budget, line by line",
    "guid": "b1",
    "link": "https://example.org/budget",
    "categories": "Pakistan economy,Uncategorized,covid-19",
    "content": "<p>The finance minister moved three tax bands. We read every line.</p>",
}


def with_hashtags(path: Path) -> Path:
    data = yaml.safe_load(path.read_text())
    data["posts"][0]["hashtags"] = {"covid-19": "Covid"}
    path.write_text(yaml.safe_dump(data))
    return path


def test_mastodon_and_bluesky_posts_carry_the_tags(
    tmp_path: Path,
    state: State,
    server: FeedServer,
    mastodon: MastodonStandIn,
    pds: AtprotoStandIn,
) -> None:
    outputs = {"toots": mastodon_output(mastodon), "sky": bluesky_output(pds)}
    path = with_hashtags(setup(state, tmp_path, server, outputs, items=[ITEM]))
    env = {"MASTODON_TOKEN": "mastodon-token", "BSKY_APP_PASSWORD": "app-pass"}
    result = run_cli("send", "--now", NOW, config=path, env=env)
    assert result.code == 0, result.stderr
    (status,) = mastodon.statuses
    assert "#PakistanEconomy #Covid" in status["text"]
    assert "Uncategorized" not in status["text"]
    assert pds.invalid == []  # atproto's models took the record
    (record,) = pds.records.values()
    text = record["text"].encode()
    tags = [
        (text[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(), f["features"][0])
        for f in record["facets"]
        if f["features"][0]["$type"] == "app.bsky.richtext.facet#tag"
    ]
    assert tags == [
        ("#PakistanEconomy", {"$type": "app.bsky.richtext.facet#tag", "tag": "PakistanEconomy"}),
        ("#Covid", {"$type": "app.bsky.richtext.facet#tag", "tag": "Covid"}),
    ]
