"""A WebSub hub as the W3C Recommendation describes it, on 127.0.0.1: subscription requests
answered 202 and verified afterwards with a challenge, content distributed signed with the
subscriber's secret, denials, and leases it grants. Written from the spec's text (sections 5
to 8), not from dispatch's code; ``flask_hub.py`` runs a hub someone else wrote.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode

from helpers.servers import Backlogged


@dataclass
class Subscriber:
    callback: str
    topic: str
    secret: str | None
    lease_seconds: int


class SpecHub:
    """``grant``: the lease it grants whatever is asked; ``deny``: topics it denies."""

    def __init__(self, grant: int = 3600) -> None:
        self.grant = grant
        self.deny: set[str] = set()
        self.subscribers: dict[tuple[str, str], Subscriber] = {}
        self.requests: list[dict[str, str]] = []  # each subscription request's form
        self.verifications: list[tuple[str, int, str]] = []  # (mode, status, answer)
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with hub.lock:
                    hub.requests.append(form)
                mode = form.get("hub.mode")
                if mode not in ("subscribe", "unsubscribe") or not form.get("hub.callback"):
                    self.send_response(400)
                    self.end_headers()
                    return
                self.send_response(202)  # 5.1: accepted, verified asynchronously
                self.send_header("Content-Length", "0")
                self.end_headers()
                threading.Thread(target=hub._verify, args=(form,), daemon=True).start()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = Backlogged(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hub"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _verify(self, form: dict[str, str]) -> None:
        """5.2 denial, or 5.3 verification of intent: GET the callback with a challenge."""
        callback, topic, mode = form["hub.callback"], form["hub.topic"], form["hub.mode"]
        joiner = "&" if "?" in callback else "?"
        if mode == "subscribe" and topic in self.deny:
            query = urlencode({"hub.mode": "denied", "hub.topic": topic, "hub.reason": "no"})
            _get(callback + joiner + query)
            return
        challenge = secrets.token_hex(8)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            params["hub.lease_seconds"] = str(self.grant)
        status, answer = _get(callback + joiner + urlencode(params))
        with self.lock:
            self.verifications.append((mode, status, answer))
            if status // 100 != 2 or answer != challenge:
                return  # not verified: nothing changes
            if mode == "subscribe":
                secret = form.get("hub.secret")
                self.subscribers[(topic, callback)] = Subscriber(
                    callback, topic, secret, self.grant
                )
            else:
                self.subscribers.pop((topic, callback), None)

    def publish(
        self,
        topic: str,
        body: bytes,
        *,
        content_type: str = "application/atom+xml",
        algorithm: str = "sha256",
        forge: bool = False,
    ) -> list[int]:
        """7: the body POSTed to each subscriber of ``topic``, signed with its secret (with
        ``forge``, with another); the status each answered.
        """
        statuses = []
        with self.lock:
            subscribers = [s for s in self.subscribers.values() if s.topic == topic]
        for subscriber in subscribers:
            headers = {
                "Content-Type": content_type,
                "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"',
            }
            secret = "not the secret" if forge else subscriber.secret
            if secret:
                digest = hmac.new(secret.encode(), body, getattr(hashlib, algorithm))
                headers["X-Hub-Signature"] = f"{algorithm}={digest.hexdigest()}"
            request = urllib.request.Request(
                subscriber.callback, data=body, headers=headers, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as e:
                e.close()
                statuses.append(e.code)
        return statuses


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        e.close()
        return e.code, ""
