"""listmonk's API on 127.0.0.1: lists, campaigns, transactional mail."""

from __future__ import annotations

import base64
from typing import Any

from helpers.servers import Call, JsonServer, Reply, reply


class ListmonkStandIn(JsonServer):
    """listmonk's HTTP API as documented (listmonk.app/docs/apis): BasicAuth with an API user,
    campaigns (create, filter by tag, change status) and transactional messages. Bodies are
    checked as listmonk compiles them, as Go templates: an action it does not know is refused.
    Starting a campaign "mails" each subscriber of its lists, with their unsubscribe link.
    """

    ACTIONS = ("{{ UnsubscribeURL }}", '{{ "{{" }}')

    def __init__(self, user: str = "dispatch-api", token: str = "lm-token") -> None:
        super().__init__()
        self.user, self.token = user, token
        self.lists = {3: ["ann@example.org", "bo@example.org", "cy@example.org"]}
        self.tx_templates = {7}
        self.campaigns: list[dict[str, Any]] = []
        self.mailed: list[tuple[int, str, str]] = []  # (campaign, subscriber, body as sent)
        self.tx: list[dict[str, Any]] = []
        self.start_failures: list[Reply] = []  # answered, in turn, to requests to start

    def output(self, **settings: Any) -> dict[str, Any]:
        return {
            "type": "listmonk",
            "url": self.url,
            "username": self.user,
            "token": self.token,
            "lists": [3],
            "template_id": 5,
            **settings,
        }

    def handle(self, call: Call) -> Reply:
        expected = base64.b64encode(f"{self.user}:{self.token}".encode()).decode()
        if call.headers.get("authorization") != f"Basic {expected}":
            return reply(403, {"message": "invalid API credentials"})
        if call.method == "GET" and call.path == "/api/campaigns":
            tags = call.query.get("tags", [])
            found = [c for c in self.campaigns if all(t in c["tags"] for t in tags)]
            return reply(200, {"data": {"results": found, "total": len(found), "page": 1}})
        if call.method == "POST" and call.path == "/api/campaigns":
            return self._create(call.json())
        if call.method == "PUT" and call.path.endswith("/status"):
            return self._status(int(call.path.split("/")[3]), call.json()["status"])
        if call.method == "POST" and call.path == "/api/tx":
            return self._transactional(call.json())
        return reply(404, {"message": "not found"})

    def _compiles(self, body: str) -> bool:
        for action in self.ACTIONS:
            body = body.replace(action, "")
        return "{{" not in body

    def _create(self, payload: dict[str, Any]) -> Reply:
        missing = [
            k
            for k in ("name", "subject", "lists", "type", "content_type", "body")
            if not payload.get(k)
        ]
        if missing:
            return reply(400, {"message": f"missing: {', '.join(missing)}"})
        if any(list_id not in self.lists for list_id in payload["lists"]):
            return reply(400, {"message": "invalid list"})
        if not self._compiles(payload["body"]) or not self._compiles(payload.get("altbody") or ""):
            return reply(400, {"message": "Error compiling template: unexpected action"})
        campaign = {
            **payload,
            "id": len(self.campaigns) + 1,
            "status": "draft",
            "tags": payload.get("tags") or [],
        }
        self.campaigns.append(campaign)
        return reply(200, {"data": campaign})

    def _status(self, campaign_id: int, status: str) -> Reply:
        campaign = self.campaigns[campaign_id - 1]
        if self.start_failures:
            return self.start_failures.pop(0)
        if status != "running" or campaign["status"] not in ("draft", "paused"):
            return reply(400, {"message": f"cannot change status to {status}"})
        campaign["status"] = "running"
        for list_id in campaign["lists"]:
            for subscriber in self.lists[list_id]:
                body = (
                    campaign["body"]
                    .replace('{{ "{{" }}', "{{")
                    .replace("{{ UnsubscribeURL }}", f"{self.url}/subscription/{subscriber}")
                )
                self.mailed.append((campaign_id, subscriber, body))
        return reply(200, {"data": campaign})

    def _transactional(self, payload: dict[str, Any]) -> Reply:
        subscribers = {s for emails in self.lists.values() for s in emails}
        if payload.get("subscriber_email") not in subscribers:
            return reply(400, {"message": "subscriber not found"})
        if payload.get("template_id") not in self.tx_templates:
            return reply(400, {"message": "template not found"})
        self.tx.append(payload)
        return reply(200, {"data": True})
