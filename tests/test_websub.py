"""Push (WebSub, issue #21): subscribing through a hub that follows the W3C Recommendation,
verification of intent, signed fat and thin pings, lease renewal and expiry, unsubscribing, and
forged notifications refused; on both engines, with the callback answered by any worker.

The hub here is ``helpers.hub.SpecHub``, written from the spec; ``test_websub_interop.py``
runs flask-websub's hub, written by others.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dispatch.app.callback import CallbackServer
from dispatch.app.dispatcher import Dispatcher
from dispatch.app.websub import maintain
from dispatch.config import Config, load_config
from dispatch.config.schema import WebSubSettings
from dispatch.models import Subscription
from dispatch.plan.websub import signature_holds, token_in, wanted
from dispatch.store.core import Store
from helpers.hub import SpecHub
from helpers.project import State, wait_for, write_config
from helpers.servers import FeedServer, free_port


def atom(hub: str | None, topic: str, ids: list[int]) -> bytes:
    links = f'<link rel="self" href="{topic}"/>'
    if hub:
        links += f'<link rel="hub" href="{hub}"/>'
    entries = "".join(
        f"""<entry><title>Story {i}</title><id>urn:story:{i}</id>
        <link href="https://news.example/{i}"/><updated>2026-11-{i:02d}T08:00:00Z</updated>
        <content type="html">&lt;p&gt;The text of story {i}.&lt;/p&gt;</content></entry>"""
        for i in ids
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>News</title><id>urn:news</id>
<updated>2026-11-30T08:00:00Z</updated>{links}{entries}</feed>""".encode()


class Project:
    """A feeds.yaml with push on, its store, and the callback served by two workers: hubs are
    told the second one's address, while the first asks them.
    """

    def __init__(self, tmp_path: Path, state: State, server: FeedServer, **websub: Any) -> None:
        self.tmp_path, self.state, self.server = tmp_path, state, server
        self.asker_port, self.taker_port = free_port(), free_port()
        self.websub = {
            "listen": f"127.0.0.1:{self.asker_port}",
            # Behind a reverse proxy, the path before /websub/ is the proxy's.
            "public_url": f"http://127.0.0.1:{self.taker_port}/behind/a/proxy",
            "lease": "1h",
            **websub,
        }
        self.config = self.configure([{"name": "news", "url": server.url("/feed"), "every": "30m"}])
        self.store = Store.open(state.value if state.file is None else state.file)
        self.pushed: list[tuple[str, bool]] = []
        self.refused: list[str] = []
        self.callbacks = [self._callback(self.asker_port), self._callback(self.taker_port)]
        self.dispatcher = Dispatcher.build(self.config, self.store, {})

    def configure(self, feeds: list[dict[str, Any]]) -> Config:
        data = {
            "state": self.state.value,
            "allow_private_networks": True,
            "websub": self.websub,
            "feeds": feeds,
        }
        return load_config(write_config(self.tmp_path, data))

    def _callback(self, port: int) -> CallbackServer:
        callback = CallbackServer(
            f"127.0.0.1:{port}",
            self.state.value if self.state.file is None else self.state.file,
            lease=timedelta(hours=1),
            max_bytes=1_000_000,
            pushed=lambda feed, thin: self.pushed.append((feed, thin)),
            refused=self.refused.append,
            log=logging.getLogger("test"),
        )
        callback.start()
        return callback

    def subscription(self) -> Subscription | None:
        return self.store.subscriptions().get("news")

    def live(self) -> Subscription | None:
        sub = self.subscription()
        return sub if sub is not None and sub.state == "live" else None

    def titles(self) -> set[str]:
        return {row[0] for row in self.state.rows("SELECT title FROM articles")}

    def close(self) -> None:
        for callback in self.callbacks:
            callback.stop()
        self.store.close()


@pytest.fixture
def hub() -> Iterator[SpecHub]:
    standin = SpecHub(grant=100)
    yield standin
    standin.stop()


@pytest.fixture
def project(tmp_path: Path, state: State, server: FeedServer, hub: SpecHub) -> Iterator[Project]:
    made = Project(tmp_path, state, server)
    server.serve(
        "/feed", atom(hub.url, server.url("/feed"), [1, 2]), content_type="application/atom+xml"
    )
    yield made
    made.close()


def subscribed(project: Project, hub: SpecHub, now: datetime) -> Subscription:
    """The first poll finds the hub; the hub is asked, and verifies."""
    (result,) = project.dispatcher.poll(now)
    assert result.status == "ok"
    assert project.store.push_links()["news"] == (hub.url, project.server.url("/feed"))
    notes = maintain(project.config, project.store, now)
    assert notes == [f"feed 'news': asked {hub.url} to subscribe (not subscribed yet)"]
    live = wait_for(project.live)
    assert isinstance(live, Subscription)
    # The hub records it once our answer to its challenge is back with it.
    wait_for(lambda: any(s.topic == live.topic for s in hub.subscribers.values()))
    return live


def test_subscribe_verify_and_a_signed_fat_ping_read_like_a_poll(
    project: Project, hub: SpecHub, server: FeedServer
) -> None:
    now = datetime.now(UTC)
    sub = subscribed(project, hub, now)
    (asked,) = hub.requests
    assert asked["hub.mode"] == "subscribe" and asked["hub.topic"] == server.url("/feed")
    assert asked["hub.callback"] == (
        f"http://127.0.0.1:{project.taker_port}/behind/a/proxy/websub/{sub.token}"
    )
    assert asked["hub.lease_seconds"] == "3600"  # what we asked; the hub grants 100
    assert asked["hub.secret"] == sub.secret and len(sub.secret.encode()) < 200
    assert hub.verifications == [("subscribe", 200, hub.verifications[0][2])]
    assert sub.lease_until is not None and sub.verified_at is not None
    assert sub.lease_until - sub.verified_at == timedelta(seconds=100)  # what was granted
    assert project.titles() == {"Story 1", "Story 2"}  # the baseline

    # A fat ping: the hub pushes the feed with a new entry, signed.
    assert hub.publish(server.url("/feed"), atom(hub.url, server.url("/feed"), [3, 2])) == [202]
    assert project.pushed == [("news", False)]
    polls = len(server.hits("/feed"))
    (result,) = project.dispatcher.take_pushes(now)
    assert (result.status, result.new) == ("ok", 1)
    assert "Story 3" in project.titles()
    assert len(server.hits("/feed")) == polls  # read from the push, not fetched
    assert project.state.rows("SELECT COUNT(*) FROM pushes") == [(0,)]
    # The same push again (a hub's retry) is nothing new; each algorithm WebSub allows works.
    for algorithm in ("sha1", "sha384", "sha512"):
        body = atom(hub.url, server.url("/feed"), [3, 2])
        assert hub.publish(server.url("/feed"), body, algorithm=algorithm) == [202]
    assert [r.new for r in project.dispatcher.take_pushes(now)] == [0, 0, 0]
    kept = project.subscription()
    assert kept is not None and (kept.pushes, kept.refused) == (4, 0)


def test_forged_and_unsigned_notifications_are_dropped_and_counted(
    project: Project, hub: SpecHub, server: FeedServer
) -> None:
    now = datetime.now(UTC)
    sub = subscribed(project, hub, now)
    forged = atom(hub.url, server.url("/feed"), [66, 1])
    assert hub.publish(server.url("/feed"), forged, forge=True) == [202]  # no hint to forgers
    callback = f"http://127.0.0.1:{project.taker_port}/websub/{sub.token}"
    unsigned = urllib.request.Request(callback, data=forged, method="POST")
    with urllib.request.urlopen(unsigned, timeout=5) as response:
        assert response.status == 202
    assert project.refused == ["news", "news"] and project.pushed == []
    assert project.dispatcher.take_pushes(now) == []
    assert "Story 66" not in project.titles()
    kept = project.subscription()
    assert kept is not None and (kept.pushes, kept.refused) == (0, 2)
    # A callback no subscription has: 410 Gone, so a hub stops.
    stray = urllib.request.Request(callback + "x", data=forged, method="POST")
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(stray, timeout=5)
    assert gone.value.code == 410
    gone.value.close()


def test_a_thin_ping_polls_the_feed_now_and_a_pushed_feed_is_polled_rarely(
    project: Project, hub: SpecHub, server: FeedServer
) -> None:
    now = datetime.now(UTC)
    subscribed(project, hub, now)
    later = now + timedelta(minutes=1)
    # Polled while pushed: next in websub.poll_every (6h), not every 30m.
    server.serve("/feed", atom(hub.url, server.url("/feed"), [1, 2, 4]))
    (result,) = project.dispatcher.poll(later, force=True)
    assert result.new == 1
    states = project.store.feed_states()
    assert states["news"].next_poll_at == later + timedelta(hours=6)
    # A thin ping (no body) makes it due now.
    assert hub.publish(server.url("/feed"), b"") == [202]
    assert project.pushed == [("news", True)]
    due = project.store.feed_states()["news"].next_poll_at
    assert due is not None and due <= datetime.now(UTC)


def test_leases_are_renewed_and_one_run_out_returns_the_feed_to_its_interval(
    project: Project, hub: SpecHub
) -> None:
    now = datetime.now(UTC)
    first = subscribed(project, hub, now)
    assert first.lease_until is not None
    assert maintain(project.config, project.store, now + timedelta(seconds=30)) == []
    renew_at = first.lease_until - timedelta(seconds=15)  # a fifth of the lease left
    notes = maintain(project.config, project.store, renew_at)
    assert notes == [
        f"feed 'news': asked {hub.url} to subscribe (renewing before its lease runs out)"
    ]
    assert [r["hub.mode"] for r in hub.requests] == ["subscribe", "subscribe"]
    renewed = wait_for(
        lambda: (s := project.subscription()) and s.verified_at != first.verified_at and s
    )
    assert renewed.state == "live" and renewed.token == first.token
    assert renewed.secret == first.secret
    assert maintain(project.config, project.store, renew_at) == []  # asked once
    # A lease that runs out (the hub never verified the renewal): polled as usual at once,
    # and the hub asked again.
    hub.grant = 100
    hub.deny.add(project.server.url("/feed"))
    run_out = renewed.lease_until + timedelta(seconds=1)
    project.store.verified(renewed.token, timedelta(seconds=100), renewed.verified_at)
    notes = maintain(project.config, project.store, run_out)
    assert notes[0] == f"feed 'news': its lease ran out at {hub.url}; polled as usual"
    state = project.store.feed_states()["news"]
    assert state.next_poll_at is not None and state.next_poll_at <= run_out


def test_a_denied_or_unreachable_hub_fails_the_subscription_and_it_is_asked_again_later(
    project: Project, hub: SpecHub, server: FeedServer
) -> None:
    now = datetime.now(UTC)
    hub.deny.add(server.url("/feed"))
    project.dispatcher.poll(now)
    maintain(project.config, project.store, now)
    failed = wait_for(lambda: (s := project.subscription()) and s.state == "failed" and s)
    assert failed.last_error == "the hub denied it: no"
    assert maintain(project.config, project.store, now + timedelta(minutes=1)) == []
    # Five minutes on it is asked again; this time the hub is gone.
    hub.stop()
    notes = maintain(project.config, project.store, now + timedelta(minutes=6))
    assert len(notes) == 1 and "did not take the subscribe: cannot connect to 127.0.0.1" in notes[0]
    again = project.subscription()
    assert again is not None and again.state == "failed" and again.failures == 2
    assert again.retry_at == now + timedelta(minutes=6) + timedelta(minutes=10)  # doubled


def test_a_feed_that_leaves_feeds_yaml_is_unsubscribed(
    project: Project, hub: SpecHub, server: FeedServer
) -> None:
    now = datetime.now(UTC)
    subscribed(project, hub, now)
    assert len(hub.subscribers) == 1
    other = project.configure([{"name": "other", "url": server.url("/other"), "every": "30m"}])
    notes = maintain(other, project.store, now)
    assert notes == [
        f"feed 'news': asked {hub.url} to unsubscribe "
        "(the feed left feeds.yaml or names no hub now)"
    ]
    wait_for(lambda: project.subscription() is None)
    wait_for(lambda: hub.subscribers == {})
    assert [v[0] for v in hub.verifications] == ["subscribe", "unsubscribe"]


def test_verifications_not_asked_for_are_refused(
    project: Project, hub: SpecHub, server: FeedServer
) -> None:
    now = datetime.now(UTC)
    sub = subscribed(project, hub, now)
    callback = f"http://127.0.0.1:{project.asker_port}/websub/{sub.token}"

    def status(token_path: str, **params: str) -> int:
        query = "&".join(f"hub.{k}={v}" for k, v in params.items())
        try:
            with urllib.request.urlopen(f"{token_path}?{query}", timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as e:
            e.close()
            return e.code

    topic = server.url("/feed")
    assert status(callback, mode="subscribe", topic=topic, challenge="c", lease_seconds="9") == 200
    assert status(callback, mode="subscribe", topic=topic + "x", challenge="c") == 404
    assert status(callback, mode="unsubscribe", topic=topic, challenge="c") == 404  # still wanted
    assert status(callback + "x", mode="subscribe", topic=topic, challenge="c") == 404
    assert status(callback, mode="subscribe", topic=topic) == 404  # no challenge
    assert len(project.store.subscriptions()) == 1


def test_links_are_found_in_the_header_and_in_rss_and_known_hubs_stand_in() -> None:
    settings = WebSubSettings(public_url="https://news.example/dispatch")
    from dispatch.config import FeedConfig

    feeds = [
        FeedConfig(name="yt", url="https://www.youtube.com/feeds/videos.xml?channel_id=UC1"),
        FeedConfig(name="site", url="https://site.example/feed/"),
        FeedConfig(name="plain", url="https://plain.example/feed/"),
    ]
    links = {"site": ("https://hub.example/", "https://site.example/feed")}
    wants = wanted(feeds, links, settings)
    assert wants["yt"].hub == "https://pubsubhubbub.appspot.com/"
    assert wants["yt"].topic == feeds[0].url
    assert (wants["site"].hub, wants["site"].topic) == links["site"]
    assert "plain" not in wants
    assert wanted(feeds, links, WebSubSettings()) == {}  # no public URL: nothing subscribed
    assert "yt" not in wanted(
        feeds, {}, WebSubSettings(public_url="https://n.example", hubs={"www.youtube.com": None})
    )


def test_signatures_and_tokens() -> None:
    import hashlib
    import hmac

    body = b"<feed/>"
    for name in ("sha1", "sha256", "sha384", "sha512"):
        digest = hmac.new(b"s3cret", body, getattr(hashlib, name)).hexdigest()
        assert signature_holds(f"{name}={digest}", "s3cret", body)
        assert signature_holds(f"{name.upper()}={digest.upper()}", "s3cret", body)
        assert not signature_holds(f"{name}={digest}", "other", body)
        assert not signature_holds(f"{name}={digest}", "s3cret", body + b" ")
    assert not signature_holds(None, "s3cret", body)
    assert not signature_holds("md5=" + hashlib.md5(body).hexdigest(), "s3cret", body)
    assert token_in("/websub/abc") == "abc"
    assert token_in("/proxy/websub/abc?x=1") == "abc"
    assert token_in("/websub/") is None and token_in("/websub/a/b") is None
    assert token_in("/elsewhere") is None


def test_links_from_the_link_header_and_a_wordpress_feed_are_kept(
    tmp_path: Path, server: FeedServer
) -> None:
    """The Link header first, as WebSub says; else the feed's atom:link elements."""
    hub_header = '<https://hub.example/h>; rel="hub", <https://site.example/canonical>; rel="self"'
    server.serve(
        "/header", atom(None, "https://site.example/in-body", [1]), headers={"Link": hub_header}
    )
    wordpress = f"""<?xml version="1.0"?>
    <rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>WP</title>
    <atom:link href="{server.url("/wp")}" rel="self" type="application/rss+xml"/>
    <atom:link rel="hub" href="https://pubsubhubbub.appspot.com"/>
    <item><title>A</title><link>https://wp.example/a</link><guid isPermaLink="false">https://wp.example/?p=1</guid></item>
    </channel></rss>"""
    server.serve("/wp", wordpress)
    data = {
        "state": "state.db",
        "allow_private_networks": True,
        "feeds": [
            {"name": "header", "url": server.url("/header")},
            {"name": "wp", "url": server.url("/wp")},
        ],
    }
    config = load_config(write_config(tmp_path, data))
    store = Store.open(tmp_path / "state.db")
    try:
        Dispatcher.build(config, store, {}).poll(datetime.now(UTC))
        links = store.push_links()
    finally:
        store.close()
    assert links["header"] == ("https://hub.example/h", "https://site.example/canonical")
    assert links["wp"] == ("https://pubsubhubbub.appspot.com", server.url("/wp"))


def test_pushes_wait_in_the_store_until_read(
    project: Project, hub: SpecHub, server: FeedServer
) -> None:
    """A push taken but not read yet (the worker died) is read by the next one."""
    now = datetime.now(UTC)
    subscribed(project, hub, now)
    assert hub.publish(server.url("/feed"), atom(hub.url, server.url("/feed"), [5])) == [202]
    assert hub.publish(server.url("/feed"), atom(hub.url, server.url("/feed"), [6, 5])) == [202]
    assert project.state.rows("SELECT COUNT(*) FROM pushes") == [(2,)]
    project.store.close()
    project.store = Store.open(
        project.state.value if project.state.file is None else project.state.file
    )
    later = Dispatcher.build(project.config, project.store, {})
    results = later.take_pushes(now)
    assert [r.new for r in results] == [1, 1]  # one push at a time, oldest first
    assert {"Story 5", "Story 6"} <= project.titles()


def test_dispatch_send_reads_what_was_pushed_while_no_daemon_read_it(
    project: Project, hub: SpecHub, server: FeedServer
) -> None:
    from dispatch.app.dispatcher import send

    now = datetime.now(UTC)
    subscribed(project, hub, now)
    assert hub.publish(server.url("/feed"), atom(hub.url, server.url("/feed"), [7, 1])) == [202]
    report = send(project.dispatcher, now, dry_run=False, out_dir=None)
    assert [(f.feed, f.status, f.new) for f in report.feeds if f.new] == [("news", "ok", 1)]
    assert "Story 7" in project.titles()
    assert project.state.rows("SELECT COUNT(*) FROM pushes") == [(0,)]


def test_with_push_turned_off_a_feed_is_polled_as_usual_at_once(
    project: Project, hub: SpecHub, server: FeedServer, tmp_path: Path
) -> None:
    """A live subscription's lease may have days left; without websub.public_url no callback
    answers, so the feed is polled on its own interval, not every websub.poll_every.
    """
    now = datetime.now(UTC)
    subscribed(project, hub, now)
    project.websub = {}
    off = project.configure([{"name": "news", "url": server.url("/feed"), "every": "30m"}])
    (result,) = Dispatcher.build(off, project.store, {}).poll(now, force=True)
    assert result.status in ("ok", "not-modified")
    assert project.store.feed_states()["news"].next_poll_at == now + timedelta(minutes=30)
