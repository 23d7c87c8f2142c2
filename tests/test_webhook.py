"""The webhook output against a Standard Webhooks receiver that verifies every request with
the reference library: signatures, ids kept across retries, private addresses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.project import (
    LOCAL,
    NOW,
    State,
    run_cli,
)
from helpers.sending import deliveries, setup
from helpers.servers import FeedServer
from helpers.webhooks import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    standin = WebhookReceiver("whsec_" + "c2VjcmV0LWtleS1mb3ItdGVzdHM=")
    yield standin
    standin.stop()


def test_webhook_is_signed_and_keeps_its_id_across_retries(
    tmp_path: Path, state: State, server: FeedServer, receiver: WebhookReceiver
) -> None:
    output = {"type": "webhook", "url": receiver.url + "/hook", "secret": "${WEBHOOK_SECRET}"}
    path = setup(state, tmp_path, server, {"hook": output})
    env = {"WEBHOOK_SECRET": receiver.secret}
    receiver.failures.append((500, {}, b"oops"))
    first = run_cli("send", "--now", NOW, config=path, env=env)
    assert first.code == 1 and "HTTP 500" in first.stderr
    later = run_cli("send", "--now", "2026-11-27T05:00:00+00:00", config=path, env=env)
    assert later.code == 0, later.stderr
    ids = [c.headers["webhook-id"] for c in receiver.calls]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert all(c.headers["user-agent"].startswith("dispatch/") for c in receiver.calls)
    ((webhook_id, payload),) = receiver.received
    assert receiver.rejected == 0
    assert payload["type"] == "dispatch.post" and payload["data"]["articles"][0]["title"]
    assert webhook_id == f"msg_{deliveries(state)[0][6]}"


def test_webhook_with_a_wrong_secret_is_refused(
    tmp_path: Path, server: FeedServer, receiver: WebhookReceiver
) -> None:
    output = {"type": "webhook", "url": receiver.url, "secret": "whsec_" + "d3Jvbmc="}
    path = setup(LOCAL, tmp_path, server, {"hook": output})
    result = run_cli("send", "--now", NOW, config=path)
    assert result.code == 1 and receiver.rejected == 1 and "HTTP 401" in result.stderr


def test_webhook_to_a_private_address_needs_permission(
    tmp_path: Path, server: FeedServer, receiver: WebhookReceiver
) -> None:
    output = {"type": "webhook", "url": receiver.url, "allow_private_networks": False}
    path = setup(LOCAL, tmp_path, server, {"hook": output})
    result = run_cli("send", "--now", NOW, config=path)
    assert result.code == 1 and "private address" in result.stderr
    assert receiver.calls == []
