"""Push (WebSub) subscriptions: hubs asked to subscribe, renew and unsubscribe, as
``dispatch.plan.websub`` decides. The daemon calls ``maintain`` every minute; the hubs'
callbacks are ``dispatch.app.callback``.

Each request to a hub goes through the guarded client, like any fetch. A hub's row in the store
is written before the hub is asked, since a hub may verify before it answers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from dispatch.config import Config
from dispatch.net.guard import BlockedAddress
from dispatch.net.http import HttpFailure, http_request
from dispatch.plan.websub import Step, callback_url, retry_after, steps, wanted
from dispatch.store.core import Store


def maintain(config: Config, store: Store, now: datetime) -> list[str]:
    """Ask hubs what needs asking now; one line for each thing done, for the log."""
    settings = config.websub
    if settings.public_url is None:
        return []
    wants = wanted(config.feeds, store.push_links(), settings)
    notes = []
    for step in steps(wants, store.subscriptions(), now):
        if step.action == "forget":
            store.forget_subscription(step.feed)
        elif step.action == "expire":
            store.fail_subscription(step.feed, step.why, now, timedelta(0))
            notes.append(f"feed {step.feed!r}: {step.why} at {step.hub}; polled as usual")
        else:
            note = _ask(config, store, step, now)
            if note:
                notes.append(note)
    return notes


def _ask(config: Config, store: Store, step: Step, now: datetime) -> str | None:
    """Ask ``step.hub`` to subscribe or unsubscribe ``step.feed``; None when another worker
    is asking.
    """
    leave = step.action == "unsubscribe"
    sub = store.ask_subscription(step.feed, step.hub, step.topic, now, step.seen, leave=leave)
    if sub is None:
        return None
    settings = config.websub
    assert settings.public_url is not None
    form = {
        "hub.mode": step.action,
        "hub.topic": step.topic,
        "hub.callback": callback_url(settings.public_url, sub.token),
    }
    if not leave:
        form["hub.lease_seconds"] = str(int(settings.lease.total_seconds()))
        form["hub.secret"] = sub.secret
    feed = next((f for f in config.feeds if f.name == step.feed), None)
    error = _post(
        step.hub,
        form,
        allow_private=config.private_allowed(feed.allow_private_networks if feed else None),
        timeout=config.fetch.timeout.total_seconds(),
        user_agent=config.fetch.user_agent,
    )
    if error is None:
        return f"feed {step.feed!r}: asked {step.hub} to {step.action} ({step.why})"
    if leave:  # the hub's lease runs out by itself; its pushes meet an unknown callback
        store.forget_subscription(step.feed)
    else:
        store.fail_subscription(step.feed, error, now, retry_after(sub.failures + 1))
    return f"feed {step.feed!r}: {step.hub} did not take the {step.action}: {error}"


def _post(
    hub: str, form: dict[str, str], *, allow_private: bool, timeout: float, user_agent: str
) -> str | None:
    """POST ``form`` to ``hub``; None when it accepted (any 2xx), else why not."""
    try:
        response = http_request(
            "POST",
            hub,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": user_agent,
            },
            body=urlencode(form).encode(),
            allow_private=allow_private,
            timeout=timeout,
            max_bytes=100_000,
        )
    except (BlockedAddress, HttpFailure) as e:
        return str(e)
    if 200 <= response.status < 300:
        return None
    said = response.body.decode("utf-8", "replace").strip().splitlines()
    return f"it answered {response.status}" + (f": {said[0][:200]}" if said else "")
