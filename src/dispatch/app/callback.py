"""The WebSub callback `dispatch run` serves on ``websub.listen``: hubs verify subscriptions
(GET) and push notifications (POST) to ``<public_url>/websub/<token>``.

Everything a callback needs is in the store, so any worker sharing it can answer. A
verification is confirmed only for a subscription we asked for (its topic, and subscribing
while we want it or unsubscribing while we leave); anything else is 404, as WebSub says. A
notification whose ``X-Hub-Signature`` does not sign its body with the subscription's secret
is dropped and counted, and still answered 202, so a forger learns nothing. A signed body is
kept in the store before the hub is answered, then read like a poll's; an empty one (a thin
ping) makes the feed due at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from dispatch.app.listening import LocalServer, QuietHandler
from dispatch.plan.websub import intent_holds, retry_after, signature_holds, token_in
from dispatch.store.core import opened


class CallbackServer(LocalServer):
    """Serves the callback; ``pushed(feed, thin)`` is called for each signed notification
    taken (``thin``: it carried no body), ``refused(feed)`` for each one dropped.

    Raises:
        ListenError: ``listen`` cannot be had (taken, or not allowed).
    """

    def __init__(
        self,
        listen: str,
        state: Path | str,
        *,
        lease: timedelta,
        max_bytes: int,
        pushed: Callable[[str, bool], None],
        refused: Callable[[str], None],
        log: logging.Logger,
    ) -> None:
        server = self
        plain = "text/plain; charset=utf-8"

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                status, body = server.verify(self.path)
                self.answer(status, plain, body)

            def do_POST(self) -> None:
                length = self.headers.get("Content-Length")
                if length is None or not length.isdigit():
                    self.answer(411, plain, b"a notification needs a Content-Length\n")
                    return
                if int(length) > max_bytes:
                    self.answer(413, plain, b"too large\n")
                    self.close_connection = True
                    return
                body = self.rfile.read(int(length))
                status = server.notify(
                    self.path,
                    self.headers.get("X-Hub-Signature"),
                    self.headers.get("Content-Type"),
                    body,
                )
                self.answer(status, plain, b"")

        self.state = state
        self.lease = lease
        self.pushed = pushed
        self.refused = refused
        self.log = log
        super().__init__(
            listen,
            Handler,
            "the WebSub callback",
            "set websub.listen in feeds.yaml to a free host:port, the one your reverse proxy "
            "forwards websub.public_url to",
        )

    def verify(self, path: str) -> tuple[int, bytes]:
        """A hub's verification of intent (or its denial): the challenge echoed, or 404."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
        mode, topic = query.get("hub.mode", ""), query.get("hub.topic", "")
        token = token_in(urlsplit(path).path)
        now = datetime.now(UTC)
        with opened(self.state) as store:
            sub = store.subscription(token) if token else None
            if sub is not None and mode == "denied" and topic == sub.topic:
                reason = query.get("hub.reason") or "no reason given"
                error = f"the hub denied it: {reason}"
                store.fail_subscription(sub.feed, error, now, retry_after(sub.failures + 1))
                self.log.warning("feed %r: %s denied the subscription", sub.feed, sub.hub)
                return 200, b""
            challenge = query.get("hub.challenge")
            if sub is None or not challenge or not intent_holds(sub, mode, topic):
                return 404, b"no such subscription was asked for\n"
            if mode == "subscribe":
                store.verified(sub.token, self._lease(query.get("hub.lease_seconds")), now)
                self.log.info("feed %r: pushed by %s from now on", sub.feed, sub.hub)
            else:
                store.forget_subscription(sub.feed)
                self.log.info("feed %r: unsubscribed from %s", sub.feed, sub.hub)
        return 200, challenge.encode()

    def _lease(self, seconds: str | None) -> timedelta:
        """The lease the hub granted; what we asked for when it does not say."""
        if seconds and seconds.isascii() and seconds.isdigit() and int(seconds) > 0:
            return timedelta(seconds=int(seconds))
        return self.lease

    def notify(self, path: str, signature: str | None, kind: str | None, body: bytes) -> int:
        """A notification: taken when signed by its subscription's secret; 410 for a callback
        no subscription has (the hub should stop).
        """
        token = token_in(urlsplit(path).path)
        with opened(self.state) as store:
            sub = store.subscription(token) if token else None
            if sub is None:
                return 410
            if not signature_holds(signature, sub.secret, body):
                store.refuse_notification(sub.token)
                why = "no signature" if not signature else "a signature that does not match"
                self.log.warning("feed %r: dropped a notification with %s", sub.feed, why)
                self.refused(sub.feed)
                return 202
            store.take_push(sub.feed, kind, body, datetime.now(UTC))
        self.pushed(sub.feed, not body)
        return 202
