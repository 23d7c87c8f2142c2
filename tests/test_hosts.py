"""Politeness per host (issue #21): no host sees more than ``fetch.per_host`` of our requests at
once, their starts ``fetch.host_gap`` apart; a host that stalls delays only its own feeds, and
one that answers 429 is slowed while the others go on; each feed is waited for as long as its
answers take. Real HTTP servers on distinct addresses of 127.0.0.0/8 play the hosts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from dispatch.config import FetchSettings
from dispatch.errors import FetchError
from dispatch.net.fetch import Fetcher, FetchRequest, FetchResponse
from dispatch.plan.decisions import patience, slowest_answer
from helpers.project import article_items, rss, run_cli, wait_for, write_config
from helpers.servers import FeedServer

BODY = rss(article_items(1))
HOUR_LATER = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


@pytest.fixture
def hosts() -> Iterator[list[FeedServer]]:
    servers = [FeedServer(f"127.0.0.{n}") for n in (2, 3, 4)]
    for server in servers:
        server.thread.start()
    yield servers
    for server in servers:
        server.httpd.shutdown()
        server.httpd.server_close()


def fetch(urls: list[str], **settings: object) -> tuple[Fetcher, list[FetchResponse | FetchError]]:
    fetcher = Fetcher(FetchSettings.model_validate(settings), Path("."))
    requests = [FetchRequest(f"f{n}", url, allow_private=True) for n, url in enumerate(urls)]
    return fetcher, fetcher.fetch_all(requests)


def test_no_host_sees_more_than_per_host_requests_at_once(hosts: list[FeedServer]) -> None:
    busy, other, _ = hosts
    urls = [busy.serve(f"/f{n}", BODY, delay=0.2) for n in range(10)]
    urls += [other.serve(f"/g{n}", BODY, delay=0.2) for n in range(10)]
    fetcher, results = fetch(urls, concurrency=16)
    assert all(isinstance(r, FetchResponse) and r.status == 200 for r in results)
    assert busy.most_at_once == 2 and other.most_at_once == 2  # the default, and never more
    assert fetcher.most_at_once == {"127.0.0.2": 2, "127.0.0.3": 2}
    _, results = fetch(urls[:10], concurrency=16, per_host=4)
    assert busy.most_at_once == 4


def test_a_stalling_host_delays_only_its_own_feeds(hosts: list[FeedServer]) -> None:
    stalling, quick, _ = hosts
    # The stalling host's feeds come first: four workers taking requests in order would all
    # wait on it, and the quick host's feeds would wait 3 s behind them.
    urls = [stalling.serve(f"/s{n}", BODY, delay=3.0) for n in range(4)]
    urls += [quick.serve(f"/q{n}", BODY) for n in range(20)]
    _, results = fetch(urls, concurrency=4)
    assert all(isinstance(r, FetchResponse) for r in results)
    wait_for(lambda: len(stalling.requests) == 4 and len(quick.requests) == 20)
    first_stalled_answer = min(r.answered for r in stalling.requests)
    assert max(r.arrived for r in quick.requests) < first_stalled_answer
    assert stalling.most_at_once == 2


def test_a_host_that_does_not_answer_twice_is_not_asked_again_in_the_pass(
    hosts: list[FeedServer],
) -> None:
    stalling, quick, _ = hosts
    urls = [stalling.serve(f"/s{n}", BODY, delay=3.0) for n in range(6)]
    urls.append(quick.serve("/q", BODY))
    _, results = fetch(urls, timeout="1s")
    timed_out = [r for r in results[:6] if isinstance(r, FetchError) and r.unanswered]
    given_up = [r for r in results[:6] if isinstance(r, FetchError) and not r.unanswered]
    assert len(timed_out) == 2 and all("no complete answer" in r.reason for r in timed_out)
    assert len(given_up) == 4
    assert all("its host did not answer 2 requests in a row" in r.reason for r in given_up)
    assert all(r.retry_after is None for r in given_up)  # the usual backoff, no wait asked
    assert isinstance(results[6], FetchResponse)
    assert len(stalling.arrivals) == 2  # none of the others was sent


def test_a_refused_connection_counts_as_no_answer() -> None:
    closed = FeedServer("127.0.0.5")  # bound, then closed: connections to it are refused
    port = closed.httpd.server_address[1]
    closed.httpd.server_close()
    urls = [f"http://127.0.0.5:{port}/f{n}" for n in range(5)]
    _, results = fetch(urls)
    reasons = [r.reason for r in results if isinstance(r, FetchError)]
    assert len(reasons) == 5
    assert sum("cannot connect" in reason for reason in reasons) == 2
    assert sum("not asked in this pass" in reason for reason in reasons) == 3


def test_requests_to_one_host_start_host_gap_apart(hosts: list[FeedServer]) -> None:
    spaced, _, _ = hosts
    urls = [spaced.serve(f"/f{n}", BODY) for n in range(4)]
    _, results = fetch(urls, host_gap="500ms")
    assert all(isinstance(r, FetchResponse) for r in results)
    wait_for(lambda: len(spaced.requests) == 4)
    arrivals = sorted(r.arrived for r in spaced.requests)
    gaps = [later - earlier for earlier, later in pairwise(arrivals)]
    assert len(gaps) == 3 and min(gaps) >= 0.45  # 0.5 s, less what a connection may shave


def test_a_host_answering_429_is_slowed_and_the_others_are_not(
    hosts: list[FeedServer],
) -> None:
    busy, calm, _ = hosts
    urls = [busy.serve(f"/b{n}", BODY, status=429, headers={"Retry-After": "4"}) for n in range(4)]
    urls += [calm.serve(f"/c{n}", BODY, delay=0.05) for n in range(6)]
    _, results = fetch(urls, concurrency=8)
    assert all(isinstance(r, FetchError) and r.status == 429 for r in results[:4])
    assert all(isinstance(r, FetchResponse) for r in results[4:])
    # The server notes a request once it has answered it: give it that moment.
    assert wait_for(lambda: len(busy.requests) == 4)  # a wait of 4 s is waited, in the pass
    wait_for(lambda: len(calm.requests) == 6)
    answered = sorted(busy.requests, key=lambda r: r.arrived)
    first_answer = min(r.answered for r in answered[:2])
    assert all(r.arrived >= first_answer + 3.9 for r in answered[2:])  # slowed by its wait
    assert max(r.answered for r in calm.requests) < first_answer + 3.9  # the others were not


def test_a_host_asking_for_a_long_wait_is_not_asked_again_in_the_pass(
    hosts: list[FeedServer],
) -> None:
    busy, calm, _ = hosts
    urls = [
        busy.serve(f"/b{n}", BODY, status=429, headers={"Retry-After": "3600"}, delay=0.2)
        for n in range(6)
    ]
    urls.append(calm.serve("/c", BODY))
    _, results = fetch(urls)
    wait_for(lambda: len(busy.requests) >= 2 and calm.requests)
    assert len(busy.requests) == 2  # the two in flight when it first said so
    refused = [r for r in results[:6] if isinstance(r, FetchError) and r.status is None]
    assert len(refused) == 4
    assert all(r.retry_after == 3600 and "not asked in this pass" in r.reason for r in refused)
    assert isinstance(results[6], FetchResponse)


def test_feeds_not_asked_wait_as_long_as_their_host_said(
    hosts: list[FeedServer], tmp_path: Path
) -> None:
    busy, _, _ = hosts
    feeds = [
        {
            "name": f"b{n}",
            "url": busy.serve(f"/b{n}", BODY, status=429, headers={"Retry-After": "3600"}),
        }
        for n in range(4)
    ]
    config = write_config(
        tmp_path,
        {
            "state": str(tmp_path / "state.db"),
            "allow_private_networks": True,
            "fetch": {"per_host": 1},
            "feeds": feeds,
            "outputs": {"archive": {"type": "file", "path": str(tmp_path / "out")}},
            "posts": [{"name": "all", "outputs": ["archive"]}],
        },
    )
    result = run_cli("poll", "--now", "2026-11-27T07:00:00+00:00", config=config)
    assert result.code == 1
    wait_for(lambda: busy.requests)
    assert len(busy.requests) == 1
    assert (result.stdout + result.stderr).count("not asked in this pass") == 3
    with sqlite3.connect(tmp_path / "state.db") as db:
        next_polls = [when for (when,) in db.execute("SELECT next_poll_at FROM feeds")]
    assert len(next_polls) == 4  # each waits the hour its host asked for, or longer
    assert all(datetime.fromisoformat(when) >= HOUR_LATER for when in next_polls)


def test_a_feed_is_waited_for_as_long_as_its_hosts_answers_take(
    hosts: list[FeedServer], tmp_path: Path
) -> None:
    """A feed on a host never read is waited for ``quick_timeout``; once it has timed out,
    four times longer, up to ``timeout``; once read, four times the slowest recent answer of
    its host's feeds: a new feed on a slow host is read at its first poll.
    """
    slow, quick, _ = hosts
    feeds = [
        {"name": "slow", "url": slow.serve("/slow", BODY, delay=0.8)},
        {"name": "quick", "url": quick.serve("/quick", BODY)},
    ]
    settings = {
        "state": str(tmp_path / "state.db"),
        "allow_private_networks": True,
        "fetch": {"quick_timeout": "300ms", "timeout": "3s"},
        "feeds": feeds,
    }

    def poll() -> tuple[str, dict[str, float]]:
        result = run_cli("poll", "--all", config=write_config(tmp_path, settings))
        with sqlite3.connect(tmp_path / "state.db") as db:
            rows = db.execute("SELECT name, answer_seconds FROM feeds").fetchall()
        return result.stdout + result.stderr, dict(rows)

    said, slowest = poll()
    assert "feed 'slow': no complete answer within 0.3s" in said
    assert "its next poll waits longer, up to 3s (fetch.timeout)" in said
    assert slowest["slow"] == pytest.approx(0.3)
    assert slowest["quick"] is None  # as quick as it needs to be: nothing to keep
    said, slowest = poll()  # waited 4 × 0.3 s = 1.2 s: long enough for its 0.8 s
    assert "no complete answer" not in said
    assert 0.8 <= slowest["slow"] < 1.2
    feeds.append({"name": "sibling", "url": slow.serve("/sibling", BODY, delay=2.5)})
    slow.serve("/slow", BODY, delay=2.5)  # slower still: 4 × 0.8 s, and never more than 3 s
    said, slowest = poll()
    assert "no complete answer" not in said
    assert 2.5 <= slowest["sibling"] < 3
    assert 0.8 <= slowest["slow"] < 1.2  # waited for the longest already: not written again
    assert len(slow.arrivals) == 4 and len(quick.arrivals) == 3


def test_a_server_that_became_quick_is_soon_waited_for_as_one_again() -> None:
    quick, longest = 5.0, 20.0
    slowest = slowest_answer(None, 5.0)  # never read, and it timed out at 5 s
    waits = [patience(slowest, quick, longest)]
    for _ in range(3):  # then it answers in a tenth of a second, poll after poll
        slowest = slowest_answer(slowest, 0.1)
        waits.append(patience(slowest, quick, longest))
    assert waits == [20.0, 10.0, 5.0, 5.0]
    assert patience(None, quick, longest) == 5.0
    assert patience(30.0, quick, longest) == 20.0  # never more than fetch.timeout


def test_politeness_defaults() -> None:
    assert FetchSettings().per_host == 2 and FetchSettings().host_gap == timedelta(0)
    assert FetchSettings().quick_timeout == timedelta(seconds=3)
