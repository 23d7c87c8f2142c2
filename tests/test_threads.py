"""Threads (`thread: 3` on a post rule): a summary too long for one post continues in replies
on X (a reply chain, each part judged by twitter-text), Mastodon (`in_reply_to_id`) and
Bluesky (reply refs, the records checked by atproto's models); each part its own delivery;
a part that fails is retried alone and the thread finishes without repeating the parts before.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml

from helpers.bluesky import AtprotoStandIn, bluesky_output
from helpers.judges import judge
from helpers.mastodon import MastodonStandIn, mastodon_output
from helpers.project import NOW, State, run_cli, wait_for
from helpers.sending import deliveries, kill_sender_at_status, setup
from helpers.servers import FeedServer, reply
from helpers.x import XStandIn

ENV = {"MASTODON_TOKEN": "mastodon-token", "BSKY_APP_PASSWORD": "app-pass"}
SENTENCES = [
    f"The council's finance committee met for the {n}th time to argue over line {n} of the budget."
    for n in range(1, 11)
]
ITEM = {
    "title": "The budget, line by line",
    "guid": "b1",
    "link": "https://example.org/budget",
    "content": "".join(f"<p>{sentence}</p>" for sentence in SENTENCES),
}


def threaded(path: Path, parts: int = 3) -> Path:
    data = yaml.safe_load(path.read_text())
    data["posts"][0]["thread"] = parts
    data["summary"] = {"max_chars": 900}  # longer than one post on any of the three
    path.write_text(yaml.safe_dump(data))
    return path


def send(path: Path, now: str = NOW) -> None:
    result = run_cli("send", "--now", now, config=path, env=ENV)
    assert result.code == 0, result.stderr


def numbered(texts: list[str]) -> list[str]:
    return [text.rsplit("(", 1)[1].split(")")[0] for text in texts]


def test_a_long_summary_becomes_a_thread_on_each_network(
    tmp_path: Path,
    state: State,
    server: FeedServer,
    x: XStandIn,
    mastodon: MastodonStandIn,
    pds: AtprotoStandIn,
) -> None:
    mastodon.max_characters = 300
    outputs = {
        "tweets": x.output(),
        "toots": mastodon_output(mastodon),
        "sky": bluesky_output(pds),
    }
    send(threaded(setup(state, tmp_path, server, outputs, items=[ITEM])))

    # X: three posts, each replying to the one before, each valid by twitter-text.
    assert numbered([t["text"].split("\n\nhttps://")[0] for t in x.tweets]) == [
        "1/3",
        "2/3",
        "3/3",
    ]
    assert [t["reply_to"] for t in x.tweets] == [None, x.tweets[0]["id"], x.tweets[1]["id"]]
    assert all(verdict["valid"] for verdict in judge([t["text"] for t in x.tweets]))
    assert "https://example.org/budget" in x.tweets[0]["text"]  # the link, in the first part

    # Mastodon: the same chain, by in_reply_to_id.
    statuses = mastodon.statuses
    assert [s["in_reply_to_id"] for s in statuses] == [None, statuses[0]["id"], statuses[1]["id"]]

    # Bluesky: reply refs to the first part (root) and the one before (parent).
    assert pds.invalid == []
    records = sorted(pds.records.items(), key=lambda item: item[1]["createdAt"])
    assert "reply" not in records[0][1]
    for (rkey_before, _), (_, record) in itertools.pairwise(records):
        assert record["reply"]["parent"]["uri"].endswith(f"/{rkey_before}")
        assert record["reply"]["root"]["uri"].endswith(f"/{records[0][0]}")
    assert len(records) == 3
    rows = deliveries(state)
    assert len(rows) == 9 and {row[3] for row in rows} == {"sent"}


def test_a_part_that_fails_is_retried_alone_and_the_thread_goes_on(
    tmp_path: Path, state: State, server: FeedServer, mastodon: MastodonStandIn
) -> None:
    mastodon.max_characters = 300
    path = threaded(
        setup(state, tmp_path, server, {"toots": mastodon_output(mastodon)}, items=[ITEM])
    )
    # The instance fails the third part's status (after the first two were made).
    original = mastodon.handle

    def third_fails(call):  # type: ignore[no-untyped-def]
        if call.path == "/api/v1/statuses" and len(mastodon.statuses) == 2 and not failed:
            failed.append(call)
            return reply(503, {"error": "Service Unavailable"})
        return original(call)

    failed: list[object] = []
    mastodon.handle = third_fails  # type: ignore[method-assign]
    result = run_cli("send", "--now", NOW, config=path, env=ENV)
    assert result.code == 1  # the third part waits for a retry
    assert len(mastodon.statuses) == 2 and failed
    assert [row[3] for row in deliveries(state)] == ["sent", "sent", "pending"]
    send(path, "2026-11-28T08:00:00+00:00")
    statuses = mastodon.statuses
    assert len(statuses) == 3  # parts one and two were not posted again
    assert statuses[2]["in_reply_to_id"] == statuses[1]["id"]
    assert [row[3] for row in deliveries(state)] == ["sent", "sent", "sent"]


def test_a_part_never_replies_to_one_that_failed(
    tmp_path: Path, state: State, server: FeedServer, mastodon: MastodonStandIn
) -> None:
    mastodon.max_characters = 300
    path = threaded(
        setup(state, tmp_path, server, {"toots": mastodon_output(mastodon)}, items=[ITEM])
    )
    original = mastodon.handle

    def second_refused(call):  # type: ignore[no-untyped-def]
        if call.path == "/api/v1/statuses" and len(mastodon.statuses) == 1:
            return reply(422, {"error": "Validation failed: Text is refused"})
        return original(call)

    mastodon.handle = second_refused  # type: ignore[method-assign]
    run_cli("send", "--now", NOW, config=path, env=ENV)
    run_cli("send", "--now", "2026-11-28T08:00:00+00:00", config=path, env=ENV)
    assert len(mastodon.statuses) == 1
    rows = deliveries(state)
    assert [row[3] for row in rows] == ["sent", "failed", "failed"]
    assert rows[2][5] == "part 2 of its thread failed; the thread stops there"


def test_a_sender_killed_during_part_three_finishes_the_thread_once(
    tmp_path: Path, state: State, server: FeedServer, mastodon: MastodonStandIn
) -> None:
    """Part three is made, then the sender dies before it hears so: the next run settles it
    (the same Idempotency-Key, the same status) and posts none of the parts again.
    """
    mastodon.max_characters = 300
    path = threaded(
        setup(state, tmp_path, server, {"toots": mastodon_output(mastodon)}, items=[ITEM])
    )
    kill_sender_at_status(path, mastodon, 3, NOW, ENV)
    assert [row[3] for row in deliveries(state)] == ["sent", "sent", "sending"]

    def settled() -> bool:
        run_cli("send", "--now", NOW, config=path, env=ENV)
        return [row[3] for row in deliveries(state)] == ["sent", "sent", "sent"]

    wait_for(settled, timeout=20)
    statuses = mastodon.statuses
    assert len(statuses) == 3  # no part posted twice
    assert [s["in_reply_to_id"] for s in statuses] == [None, statuses[0]["id"], statuses[1]["id"]]


def test_the_dry_run_shows_every_part(
    tmp_path: Path, state: State, server: FeedServer, x: XStandIn
) -> None:
    path = threaded(setup(state, tmp_path, server, {"tweets": x.output()}, items=[ITEM]))
    result = run_cli("send", "--dry-run", "--now", NOW, config=path, env=ENV)
    assert result.code == 0, result.stderr
    assert "Continued in 2 replies:" in result.stdout
    assert "(2/3)" in result.stdout and "(3/3)" in result.stdout
    assert x.tweets == []  # nothing sent
