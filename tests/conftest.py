"""Shared fixtures: a real HTTP server on 127.0.0.1, a real SMTP server, one PostgreSQL server
for the session, and the state store on both engines. What they are built from, and what the
tests share besides, is in tests/helpers/. Nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from helpers.prepared import needs
from helpers.project import State
from helpers.servers import FeedServer

if TYPE_CHECKING:
    from helpers.bluesky import AtprotoStandIn
    from helpers.mastodon import MastodonStandIn
    from helpers.postgres import PostgresServer
    from helpers.smtp import SmtpStandIn
    from helpers.x import XStandIn


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the golden files from the current output",
    )


@pytest.fixture
def server() -> Iterator[FeedServer]:
    feed_server = FeedServer()
    feed_server.thread.start()
    yield feed_server
    feed_server.httpd.shutdown()
    feed_server.httpd.server_close()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpStandIn]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 with STARTTLS and a login."""
    from helpers.smtp import SmtpStandIn

    (tmp_path / "tls").mkdir()
    standin = SmtpStandIn(tmp_path / "tls")
    yield standin
    standin.stop()


@pytest.fixture
def mastodon() -> Iterator[MastodonStandIn]:
    """A Mastodon instance's API on 127.0.0.1 (a module may ask for other limits)."""
    from helpers.mastodon import MastodonStandIn

    standin = MastodonStandIn()
    yield standin
    standin.stop()


@pytest.fixture
def pds() -> Iterator[AtprotoStandIn]:
    """A Bluesky PDS on 127.0.0.1, checking records with atproto's models."""
    from helpers.bluesky import AtprotoStandIn

    standin = AtprotoStandIn()
    yield standin
    standin.stop()


@pytest.fixture
def x() -> Iterator[XStandIn]:
    """X's API v2 on 127.0.0.1, judging posts with twitter-text."""
    from helpers.x import XStandIn

    standin = XStandIn()
    yield standin
    standin.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One private PostgreSQL server for the session; its password is in PGPASSWORD, where
    dispatch (through libpq) finds it.
    """
    from helpers.postgres import PostgresServer, installed

    needs("PostgreSQL", installed())
    server = PostgresServer()
    server.start()
    previous = os.environ.get("PGPASSWORD")
    os.environ["PGPASSWORD"] = server.password
    yield server
    if previous is None:
        os.environ.pop("PGPASSWORD", None)
    else:
        os.environ["PGPASSWORD"] = previous
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> State:
    """The same test on both engines the store runs on."""
    if request.param == "sqlite":
        return State("sqlite", "state.db", tmp_path / "state.db")
    server: PostgresServer = request.getfixturevalue("postgres")
    return State("postgresql", server.database())
