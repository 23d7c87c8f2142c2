"""The daemon's local HTTP endpoints: /healthz (scheduler alive, store reachable) and /metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dispatch.app.listening import LocalServer, QuietHandler


class HealthServer(LocalServer):
    """Serves ``health()`` (a dict with ``ok``) at /healthz and ``metrics()`` at /metrics.

    Raises:
        ListenError: ``listen`` cannot be had (taken, or not allowed).
    """

    def __init__(
        self, listen: str, health: Callable[[], dict[str, Any]], metrics: Callable[[], bytes]
    ) -> None:
        class Handler(QuietHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    state = health()
                    body = json.dumps(state).encode()
                    self.answer(200 if state.get("ok") else 503, "application/json", body)
                elif self.path == "/metrics":
                    self.answer(200, "text/plain; version=0.0.4; charset=utf-8", metrics())
                else:
                    self.answer(404, "text/plain", b"not found\n")

        super().__init__(
            listen,
            Handler,
            "health and metrics",
            "another `dispatch run` on this host may hold it: set daemon.listen in "
            "feeds.yaml to a free port (like 127.0.0.1:9478), or to null for none",
        )
