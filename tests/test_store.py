"""The store's contract, on both engines it runs on: a real SQLite file and a real PostgreSQL
database. What workers sharing a PostgreSQL store rely on (claims, leases, the digest lock) is
tested with real concurrent connections.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatch.errors import StoreError
from dispatch.models import Article, FeedUpdate, Route, VideoCard
from dispatch.store.core import Store
from dispatch.store.schema import MIGRATIONS
from helpers.project import State

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def until() -> datetime:
    """Leases run on the real clock, whatever ``now`` a run is told."""
    return datetime.now(UTC) + LEASE


def location(state: State, tmp_path: Path) -> Path | str:
    return state.file if state.file is not None else state.value


def article(number: int, feed: str = "news") -> Article:
    return Article(
        feed=feed,
        key=f"guid:{number}",
        title=f"Story {number} — ünïcode",
        link=f"https://example.org/{number}",
        source="News",
        guid=str(number),
        author="Ann",
        published=NOW - timedelta(hours=number),
        categories=("city", "bridges"),
        html=f"<p>Story {number}</p>",
        text=f"Story {number}",
        image="https://example.org/i.jpg",
        cards=(
            VideoCard("abcdefghijk", "https://youtu.be/abcdefghijk", "https://i/t.jpg", "Clip"),
        ),
        content_hash=f"hash{number}",
    )


def poll(store: Store, articles: list[Article], *, posts: bool = True) -> list[int]:
    update = FeedUpdate(
        feed="news",
        url="https://example.org/feed",
        etag='"e1"',
        last_modified=None,
        body_hash="b1",
        new=articles,
        routes=[
            Route(("daily",), (("social", "archive", None),) if posts else ()) for _ in articles
        ],
    )
    return store.record_poll(update, NOW, NOW + timedelta(minutes=10))


def test_articles_and_feed_state_round_trip(state: State, tmp_path: Path) -> None:
    store = Store.open(location(state, tmp_path))
    ids = poll(store, [article(1), article(2)])
    loaded = store.articles(list(reversed(ids)))
    assert [a.title for a in loaded] == ["Story 2 — ünïcode", "Story 1 — ünïcode"]
    assert loaded[1].cards == article(1).cards
    assert loaded[1].published == article(1).published
    assert loaded[1].categories == ("city", "bridges")
    feed = store.feed_states()["news"]
    assert (feed.etag, feed.body_hash, feed.error_count) == ('"e1"', "b1", 0)
    assert store.article_counts() == {"news": 2}
    known = store.known("news", ["guid:1", "guid:9"])
    assert set(known.keys) == {"guid:1"} and not known.first_poll
    assert store.queued("daily") == sorted(ids)
    assert [d.status for d in store.deliveries()] == ["pending", "pending"]
    store.close()


def test_migrations_run_once_and_a_newer_store_is_refused(state: State, tmp_path: Path) -> None:
    where = location(state, tmp_path)
    Store.open(where).close()
    Store.open(where).close()  # opening again changes nothing
    assert state.rows("SELECT COUNT(*) FROM deliveries") == [(0,)]
    if state.file is not None:
        state.rows(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    else:
        state.rows(f"UPDATE dispatch_schema SET version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer dispatch"):
        Store.open(where)


def test_a_digest_moves_its_articles_out_of_the_queue(state: State, tmp_path: Path) -> None:
    store = Store.open(location(state, tmp_path))
    ids = poll(store, [article(1), article(2), article(3)], posts=False)
    digest = store.create_digest("daily", NOW, ids[:2], [("mail", "a@x"), ("mail", "b@x")], NOW)
    assert store.queued("daily") == [ids[2]]
    assert [a.id for a in store.digest_articles(digest)] == ids[:2]
    assert store.last_digest_period("daily") == NOW
    trails = store.trails(ids)
    assert trails[ids[0]].digests == (("daily", NOW, frozenset({"pending"})),)
    assert trails[ids[2]].queued == frozenset({"daily"})
    store.close()


def test_deliveries_are_claimed_once_and_sent_by_their_holder_only(
    state: State, tmp_path: Path
) -> None:
    where = location(state, tmp_path)
    first = Store.open(where, worker="w1")
    poll(first, [article(n) for n in range(1, 6)])
    claimed = first.claim_deliveries(NOW, until(), limit=3)
    assert len(claimed) == 3
    second = Store.open(where, worker="w2")
    if state.kind == "postgresql":  # the other worker finds only what is left
        rest = second.claim_deliveries(NOW, until(), limit=10)
        assert {d.id for d in rest}.isdisjoint(d.id for d in claimed) and len(rest) == 2
        assert not second.start_sending(claimed[0].id, NOW)  # not its lease
    assert first.start_sending(claimed[0].id, NOW)
    assert not first.start_sending(claimed[0].id, NOW)  # already sending
    first.mark(claimed[0].id, "sent", NOW, remote_id="r1")
    first.release()
    sent = first.delivery(claimed[0].id)
    assert sent is not None and (sent.status, sent.attempts, sent.remote_id) == ("sent", 1, "r1")
    first.close()
    second.close()


def test_a_dead_workers_lease_runs_out_and_its_rows_are_taken_over(
    state: State, tmp_path: Path
) -> None:
    where = location(state, tmp_path)
    dead = Store.open(where, worker="dead")
    poll(dead, [article(1), article(2)])
    sending, waiting = dead.claim_deliveries(NOW, datetime.now(UTC) + timedelta(seconds=1))
    assert dead.start_sending(sending.id, NOW)
    dead.close()  # killed: nothing released
    alive = Store.open(where, worker="alive")
    if state.kind == "postgresql":  # leases still run: nothing to take over yet
        assert alive.claim_interrupted(until()) == []
        assert alive.claim_deliveries(NOW, until()) == []
        threading.Event().wait(1.2)
    # On SQLite the store's lock already proves the old sender dead.
    assert [d.id for d in alive.claim_interrupted(until())] == [sending.id]
    assert [d.id for d in alive.claim_deliveries(NOW, until())] == [waiting.id]
    alive.close()


def test_a_renewed_lease_is_not_taken_over(state: State, tmp_path: Path) -> None:
    where = location(state, tmp_path)
    slow = Store.open(where, worker="slow")
    poll(slow, [article(1)])
    (delivery,) = slow.claim_deliveries(NOW, datetime.now(UTC) + timedelta(seconds=1))
    assert slow.start_sending(delivery.id, NOW)
    other = Store.open(where, worker="other")
    for _ in range(3):  # the send outlives its first lease; the heartbeat renews it
        threading.Event().wait(0.5)
        slow.renew_leases(datetime.now(UTC) + timedelta(seconds=1))
        if state.kind == "postgresql":
            assert other.claim_interrupted(until()) == []
    slow.close()
    other.close()


@pytest.mark.parametrize(
    "state", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_concurrent_workers_never_claim_the_same_delivery(state: State, tmp_path: Path) -> None:
    where = location(state, tmp_path)
    setup = Store.open(where)
    poll(setup, [article(n) for n in range(1, 301)])
    setup.close()
    taken: dict[str, list[int]] = {}
    start = threading.Barrier(6)

    def work(name: str) -> None:
        store = Store.open(where, worker=name)
        start.wait()
        mine = taken.setdefault(name, [])
        while batch := store.claim_deliveries(NOW, until(), limit=7):
            for delivery in batch:
                if store.start_sending(delivery.id, NOW):
                    mine.append(delivery.id)
                    store.mark(delivery.id, "sent", NOW)
        store.close()

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for ids in taken.values() for i in ids]
    assert len(every) == len(set(every)) == 300
    assert sum(1 for ids in taken.values() if ids) >= 2  # the work was shared
    assert state.rows("SELECT status, COUNT(*) FROM deliveries GROUP BY status") == [("sent", 300)]


@pytest.mark.parametrize(
    "state", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_one_worker_at_a_time_creates_digests(state: State, tmp_path: Path) -> None:
    where = location(state, tmp_path)
    setup = Store.open(where)
    ids = poll(setup, [article(1), article(2)], posts=False)
    setup.close()
    made: list[int] = []
    start = threading.Barrier(4)

    def plan(name: str) -> None:
        store = Store.open(where, worker=name)
        start.wait()
        with store.batch():
            store.hold_digests()
            if store.last_digest_period("daily") is None:
                made.append(store.create_digest("daily", NOW, ids, [("mail", None)], NOW))
        store.close()

    threads = [threading.Thread(target=plan, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1
    assert state.rows("SELECT COUNT(*) FROM digests") == [(1,)]


def test_feeds_are_leased_to_one_poller(state: State, tmp_path: Path) -> None:
    where = location(state, tmp_path)
    first = Store.open(where, worker="w1")
    feeds = [("a", "https://example.org/a"), ("b", "https://example.org/b")]
    assert first.claim_feeds(feeds, datetime.now(UTC) + LEASE) == {"a", "b"}
    second = Store.open(where, worker="w2")
    if state.kind == "postgresql":
        assert second.claim_feeds(feeds, datetime.now(UTC) + LEASE) == set()
    first.release()
    assert second.claim_feeds(feeds, datetime.now(UTC) + LEASE) == {"a", "b"}
    first.close()
    second.close()


def test_a_snapshot_keeps_nothing(state: State, tmp_path: Path) -> None:
    where = location(state, tmp_path)
    Store.open(where).close()
    snapshot = Store.snapshot(where)
    poll(snapshot, [article(1)])
    assert snapshot.article_counts() == {"news": 1}
    snapshot.close()
    assert state.rows("SELECT COUNT(*) FROM articles") == [(0,)]


@pytest.mark.parametrize(
    "state", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_password_in_the_url_is_never_shown(state: State) -> None:
    wrong = state.value.replace("dispatch@", "dispatch:hunter2-canary@")
    with pytest.raises(StoreError) as raised:
        Store.open(wrong.replace("/t_", "/missing_"))
    assert "hunter2-canary" not in str(raised.value)
    assert "missing_" in str(raised.value) and "PGPASSWORD" in str(raised.value)  # the hint


def test_sqlite_is_in_wal_mode_while_open_and_a_plain_file_once_everyone_left(
    tmp_path: Path,
) -> None:
    """WAL while dispatch runs (one fsync a commit); back to the rollback journal when the last
    user closes, so a reader who may not write the folder (no -shm there) can open it.
    """
    import sqlite3

    def mode() -> str:
        reader = sqlite3.connect(f"{(tmp_path / 'state.db').as_uri()}?mode=ro", uri=True)
        try:
            return str(reader.execute("PRAGMA journal_mode").fetchone()[0])
        finally:
            reader.close()

    first = Store.open(tmp_path / "state.db")
    second = Store.open(tmp_path / "state.db")  # a `dispatch status` beside the service, say
    assert mode() == "wal"
    second.close()  # the service still has it: it stays WAL, and closing does not wait
    assert mode() == "wal"
    first.close()
    assert mode() == "delete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db"]
