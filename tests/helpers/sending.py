"""A project that sends through given outputs: one feed served by the test's server, and a post
rule (or a digest) to the outputs; and the deliveries it left in the store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from helpers.project import FIXED_EVERY, State, article_items, rss, wait_for, write_config
from helpers.servers import FeedServer

if TYPE_CHECKING:
    from helpers.mastodon import MastodonStandIn

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
    b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe"
    b"\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82"
)


def setup(
    state: State,
    tmp_path: Path,
    server: FeedServer,
    outputs: dict[str, Any],
    *,
    articles: int = 1,
    digest: bool = False,
    items: list[dict[str, str]] | None = None,
) -> Path:
    url = server.serve("/feed", rss(items or article_items(articles)))
    data: dict[str, Any] = {
        "state": state.value,
        "allow_private_networks": True,
        "feeds": [{"name": "news", "url": url, "backfill": "all", "every": FIXED_EVERY}],
        "outputs": outputs,
    }
    if digest:
        data["digests"] = [
            {
                "name": "daily",
                "outputs": list(outputs),
                "title": "Tägliche Post",
                "max_items": 100,
                "locale": "en_GB",
            }
        ]
    else:
        data["posts"] = [{"name": "social", "outputs": list(outputs)}]
    return write_config(tmp_path, data)


def deliveries(state: State) -> list[tuple[Any, ...]]:
    return state.rows(
        "SELECT id, output, recipient, status, remote_id, last_error, idempotency_key,"
        " record_key, next_attempt_at FROM deliveries ORDER BY id"
    )


def noise_png(side: int) -> bytes:
    """A PNG of random pixels, which no compression makes small."""
    import io
    import random

    from PIL import Image

    rng = random.Random(7)
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def kill_sender_at_status(
    path: Path, mastodon: MastodonStandIn, number: int, now: str, env: dict[str, str]
) -> None:
    """Run `dispatch send` as a process and SIGKILL it once the instance has made its
    ``number``-th status and before it answers; the instance answers it afterwards. The
    configuration's lease is made short first, so that on PostgreSQL the killed sender's claim
    runs out within seconds.
    """
    data = yaml.safe_load(path.read_text())
    data["daemon"] = {"lease": "3s"}
    for settings in data["outputs"].values():
        settings["timeout"] = "2s"  # a lease must outlast a send
    path.write_text(yaml.safe_dump(data))
    release = threading.Event()
    mastodon.hold_status, mastodon.hold_from = release, number
    command = [sys.executable, "-m", "dispatch", "--config", str(path), "send", "--now", now]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    sender = subprocess.Popen(command, env={**environ, **env})
    try:
        wait_for(lambda: len(mastodon.statuses) == number, timeout=30)
        sender.send_signal(signal.SIGKILL)
        sender.wait(10)
    finally:
        release.set()
        mastodon.hold_status, mastodon.hold_from = None, 1
