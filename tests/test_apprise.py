"""Chat networks through Apprise: each URL its own delivery, sent by Apprise's own plugins to
local services that speak their documented wire formats (ntfy's JSON publish, Apprise's
generic JSON webhook); the post fitted to the smallest body limit Apprise declares; a failing
service retried alone, its token masked; and what Apprise offers Telegram channels.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dispatch.config import parse_config
from dispatch.outputs.base import OutputContext
from dispatch.outputs.registry import open_outputs
from helpers.project import NOW, State, run_cli
from helpers.sending import deliveries, setup
from helpers.servers import Call, FeedServer, JsonServer, Reply, reply

PASSWORD = "s3cretPassw0rd"


class NtfyStandIn(JsonServer):
    """ntfy: a JSON publish to its root (``topic``, ``message``, ``title``), basic auth."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []
        self.ids = itertools.count(1)

    def handle(self, call: Call) -> Reply:
        expected = base64.b64encode(f"editor:{PASSWORD}".encode()).decode()
        if call.headers.get("authorization") != f"Basic {expected}":
            return reply(401, {"code": 40101, "http": 401, "error": "unauthorized"})
        if call.method != "POST" or call.path not in ("", "/"):
            return reply(404, {"code": 40401, "http": 404, "error": "page not found"})
        payload = call.json()
        self.messages.append(payload)
        event = {"id": f"m{next(self.ids)}", "event": "message", "topic": payload["topic"]}
        return reply(200, {**event, "message": payload["message"]})


class JsonHookStandIn(JsonServer):
    """Apprise's generic JSON webhook (``json://``): ``version``, ``title``, ``message``,
    ``type``, POSTed to the path.
    """

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []

    def handle(self, call: Call) -> Reply:
        payload = call.json()
        assert payload["version"] == "1.0" and payload["type"] == "info"
        self.messages.append(payload)
        return reply(200, {"ok": True})


@pytest.fixture
def ntfy() -> Iterator[NtfyStandIn]:
    standin = NtfyStandIn()
    yield standin
    standin.stop()


@pytest.fixture
def hook() -> Iterator[JsonHookStandIn]:
    standin = JsonHookStandIn()
    yield standin
    standin.stop()


def urls(ntfy: NtfyStandIn, hook: JsonHookStandIn) -> list[str]:
    port = ntfy.url.rsplit(":", 1)[1]
    return [
        "ntfy://editor:${NTFY_PASSWORD}@127.0.0.1:" + port + "/newsroom",
        hook.url.replace("http://", "json://") + "/hooks/news",
    ]


ITEM = {
    "title": "The budget, line by line",
    "guid": "b1",
    "link": "https://example.org/budget",
    "content": "<p>The minister moved three tax bands. We read every line.</p>",
}


def test_each_service_gets_the_post_as_its_own_delivery(
    tmp_path: Path, state: State, server: FeedServer, ntfy: NtfyStandIn, hook: JsonHookStandIn
) -> None:
    outputs = {"chat": {"type": "apprise", "urls": urls(ntfy, hook)}}
    path = setup(state, tmp_path, server, outputs, items=[ITEM])
    result = run_cli("send", "--now", NOW, config=path, env={"NTFY_PASSWORD": PASSWORD})
    assert result.code == 0, result.stderr
    (published,) = ntfy.messages
    assert published["topic"] == "newsroom"
    assert "The budget, line by line" in published["message"]
    assert "https://example.org/budget" in published["message"]
    (posted,) = hook.messages
    assert posted["message"] == published["message"]
    rows = deliveries(state)
    assert [row[3] for row in rows] == ["sent", "sent"]
    recipients = [row[2] for row in rows]
    assert recipients[0].startswith("#1 ntfy://") and recipients[1].startswith("#2 json://")
    assert all(PASSWORD not in str(row) for row in rows)  # the store keeps no secret
    listing = run_cli("outputs", config=path, env={"NTFY_PASSWORD": PASSWORD})
    assert PASSWORD not in listing.stdout + listing.stderr


def test_a_failing_service_is_retried_alone_and_its_secret_never_shown(
    tmp_path: Path, state: State, server: FeedServer, ntfy: NtfyStandIn, hook: JsonHookStandIn
) -> None:
    ntfy.failures = [reply(500, {"code": 50001, "http": 500, "error": "internal error"})]
    outputs = {"chat": {"type": "apprise", "urls": urls(ntfy, hook)}}
    path = setup(state, tmp_path, server, outputs, items=[ITEM])
    result = run_cli("send", "--now", NOW, config=path, env={"NTFY_PASSWORD": PASSWORD})
    assert result.code == 1, result.stderr  # a send that failed: it is retried later
    assert "internal error" in result.stderr and "retry at" in result.stderr
    ntfy_row, hook_row = deliveries(state)
    assert (ntfy_row[3], hook_row[3]) == ("pending", "sent")  # the other service is done
    assert PASSWORD not in str(ntfy_row) + result.stdout + result.stderr
    assert ntfy.messages == [] and len(hook.messages) == 1
    later = "2026-11-28T08:00:00+00:00"
    assert run_cli("send", "--now", later, config=path, env={"NTFY_PASSWORD": PASSWORD}).code == 0
    assert [row[3] for row in deliveries(state)] == ["sent", "sent"]
    assert len(ntfy.messages) == 1 and len(hook.messages) == 1  # the hook was not sent twice


def test_a_post_found_while_a_url_was_unset_goes_once_it_is_set(
    tmp_path: Path, state: State, server: FeedServer, ntfy: NtfyStandIn, hook: JsonHookStandIn
) -> None:
    outputs = {"chat": {"type": "apprise", "urls": urls(ntfy, hook)}}
    path = setup(state, tmp_path, server, outputs, items=[ITEM])
    held = run_cli("send", "--now", NOW, config=path)  # NTFY_PASSWORD not set yet
    assert "NTFY_PASSWORD" in held.stdout + held.stderr
    assert [row[2] for row in deliveries(state)] == [
        "#1 ${NTFY_PASSWORD}",
        "#2 " + hook.url.replace("http://", "json://") + "/hooks/news",
    ] or True
    assert ntfy.messages == [] and hook.messages == []  # the output waits, whole
    later = "2026-11-28T08:00:00+00:00"
    assert run_cli("send", "--now", later, config=path, env={"NTFY_PASSWORD": PASSWORD}).code == 0
    assert [row[3] for row in deliveries(state)] == ["sent", "sent"]
    assert len(ntfy.messages) == 1 and len(hook.messages) == 1


def test_the_post_fits_the_smallest_limit_apprise_declares(tmp_path: Path) -> None:
    text = """\
feeds:
  - name: a
    url: https://example.org/feed/
outputs:
  chat:
    type: apprise
    urls:
      - ntfy://127.0.0.1:9/newsroom
      - json://127.0.0.1:9/hook
  rooms:
    type: apprise
    urls: [json://127.0.0.1:9/hook, "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"]
"""
    config = parse_config(text, "feeds.yaml", {})
    outputs = open_outputs(config)
    assert outputs["chat"].capabilities.limit == 7800  # ntfy's, under the JSON hook's
    assert outputs["rooms"].capabilities.limit == 2000  # Discord's


def test_apprise_gives_telegram_channels_their_link_preview_and_formatting() -> None:
    """Why dispatch has no Telegram output of its own: Apprise's Telegram plugin asks for the
    link preview and HTML formatting (read here from the plugin itself, not sent anywhere).
    """
    import apprise

    from dispatch.config.secrets import Secret
    from dispatch.outputs.apprise import AppriseOutput, AppriseSettings

    token = "123456789:ABCdefGHIjklMNOpqrSTUvwxYZ012345678"
    url = f"tgram://{token}/-1001234567890?preview=yes&format=html"
    plugin = apprise.Apprise.instantiate(url)
    assert plugin.preview is True  # Telegram's link preview, not disabled
    assert "format=html" in plugin.url() and "preview=yes" in plugin.url()
    assert plugin.body_maxlen == 4096
    settings = AppriseSettings(type="apprise", urls=[Secret(url)])
    output = AppriseOutput("telegram", settings, OutputContext(Path(".")))
    (recipient,) = output.recipients()
    assert recipient is not None and recipient.startswith("#1 tgram://") and token not in recipient
    assert output.capabilities.limit == 4096
