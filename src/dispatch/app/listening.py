"""What the daemon's small HTTP servers share (health and metrics, the WebSub callback): bound
with one clear error when the address cannot be had, one thread per request, no access log.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dispatch.errors import listen_error


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that answers in one call and logs nothing of its own."""

    def answer(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LocalServer:
    """``handler`` served on ``listen`` (host:port) from ``start`` to ``stop``.

    Raises:
        ListenError: ``listen`` cannot be had (taken, or not allowed); ``hint`` says what to do.
    """

    def __init__(self, listen: str, handler: type[QuietHandler], what: str, hint: str) -> None:
        host, _, port = listen.rpartition(":")
        try:
            self.server = ThreadingHTTPServer((host.strip("[]"), int(port)), handler)
        except OSError as e:
            raise listen_error(what, listen, e, hint) from None
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
