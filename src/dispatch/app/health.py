"""The daemon's local HTTP endpoints: /healthz (scheduler alive, store reachable) and /metrics."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dispatch.errors import listen_error


class HealthServer:
    """Serves ``health()`` (a dict with ``ok``) at /healthz and ``metrics()`` at /metrics.

    Raises:
        ListenError: ``listen`` cannot be had (taken, or not allowed).
    """

    def __init__(
        self, listen: str, health: Callable[[], dict[str, Any]], metrics: Callable[[], bytes]
    ) -> None:
        host, _, port = listen.rpartition(":")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    state = health()
                    body = json.dumps(state).encode()
                    self._answer(200 if state.get("ok") else 503, "application/json", body)
                elif self.path == "/metrics":
                    self._answer(200, "text/plain; version=0.0.4; charset=utf-8", metrics())
                else:
                    self._answer(404, "text/plain", b"not found\n")

            def _answer(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        try:
            self.server = ThreadingHTTPServer((host.strip("[]"), int(port)), Handler)
        except OSError as e:
            raise listen_error(
                "health and metrics",
                listen,
                e,
                "another `dispatch run` on this host may hold it: set daemon.listen in "
                "feeds.yaml to a free port (like 127.0.0.1:9478), or to null for none",
            ) from None
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
