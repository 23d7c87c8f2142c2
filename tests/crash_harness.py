"""The crash test: deliveries to every output type while the sender is killed with SIGKILL at
random moments and restarted until it finishes, then a count of what each network received.

    python tests/crash_harness.py --articles 1000 --recipients 1000 --policy flag

Stand-ins for the networks run in this process, so they outlive every kill of the sender (a
real `dispatch send` subprocess). Prints one Markdown row per output type: deliveries, kills,
lost (neither received nor flagged), duplicates, ambiguous (flagged for the operator).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers.bluesky import AtprotoStandIn
from helpers.mastodon import MastodonStandIn
from helpers.project import State, article_items, rss, write_config
from helpers.servers import FeedServer
from helpers.smtp import SmtpStandIn
from helpers.webhooks import WebhookReceiver
from helpers.x import XStandIn

SECRET = "whsec_" + "Y3Jhc2gtdGVzdC1zZWNyZXQ="


@dataclass
class Row:
    output: str
    deliveries: int
    kills: int
    lost: int
    duplicates: int
    ambiguous: int
    note: str = ""


def run(
    workdir: Path,
    *,
    articles: int,
    recipients: int,
    policy: str,
    seed: int,
    kill_after: tuple[float, float] = (1.0, 5.0),
    max_runs: int = 2000,
    state: State | None = None,
) -> list[Row]:
    """``state``: where the store lives (default: a SQLite file in ``workdir``). On PostgreSQL
    a killed sender's claims hold until its lease runs out, so the lease is short here.
    """
    state = state or State("sqlite", "state.db", workdir / "state.db")
    rng = random.Random(seed)
    server = FeedServer()
    server.thread.start()
    mastodon, x_api, pds = MastodonStandIn(), XStandIn(reject_duplicates=False), AtprotoStandIn()
    hook = WebhookReceiver(SECRET)
    (workdir / "tls").mkdir(parents=True, exist_ok=True)
    smtp = SmtpStandIn(workdir / "tls")
    try:
        url = server.serve("/feed", rss(article_items(articles, prefix="c")))
        letter = server.serve("/letter", rss(article_items(5, prefix="d")))
        to = [f"reader{n}@example.org" for n in range(recipients)]
        config = write_config(
            workdir,
            {
                "state": state.value,
                "allow_private_networks": True,
                "daemon": {"lease": "3s"},
                "feeds": [
                    {"name": "news", "url": url, "backfill": "all", "every": "1d"},
                    {"name": "letter", "url": letter, "backfill": "all", "every": "1d"},
                ],
                "outputs": {
                    "toots": mastodon.output(max_characters=500, timeout="2s"),
                    "x": x_api.output(daily_limit=None, on_ambiguous=policy, timeout="2s"),
                    "sky": pds.output(timeout="2s"),
                    "hook": {"type": "webhook", "url": hook.url, "secret": SECRET, "timeout": "2s"},
                    "archive": {"type": "file", "path": "archive", "timeout": "2s"},
                    "mail": smtp.output(
                        **{
                            "from": "Journal <d@journal.example>",
                            "to": to,
                            "on_ambiguous": policy,
                            "timeout": "2s",
                        }
                    ),
                },
                "posts": [
                    {
                        "name": "social",
                        "feeds": ["news"],
                        "outputs": ["toots", "x", "sky", "hook", "archive"],
                    }
                ],
                # One digest of five articles to every recipient: a real digest's size.
                "digests": [
                    {
                        "name": "daily",
                        "feeds": ["letter"],
                        "outputs": ["mail"],
                        "schedule": "0 0 1 1 *",
                    }
                ],
            },
        )
        kills = _run_until_done(config, workdir, state, rng, kill_after, max_runs)
        return _count(workdir, state, kills, articles, recipients, mastodon, x_api, pds, hook, smtp)
    finally:
        for standin in (mastodon, x_api, pds, hook):
            standin.stop()
        smtp.stop()
        server.httpd.shutdown()
        server.httpd.server_close()


def _run_until_done(
    config: Path,
    workdir: Path,
    state: State,
    rng: random.Random,
    kill_after: tuple[float, float],
    max_runs: int,
) -> int:
    kills = 0
    for _ in range(max_runs):
        with (workdir / "sender.log").open("ab") as log:
            sender = subprocess.Popen(
                [sys.executable, "-m", "dispatch", "--config", str(config), "send"],
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
        try:
            sender.wait(timeout=rng.uniform(*kill_after))
        except subprocess.TimeoutExpired:
            os.kill(sender.pid, signal.SIGKILL)
            sender.wait()
            kills += 1
            continue
        if _open_rows(state) == 0:
            return kills
        time.sleep(0.05)
    raise RuntimeError(f"not done after {max_runs} runs; see {workdir / 'sender.log'}")


def _open_rows(state: State) -> int:
    if state.file is not None and not state.file.exists():
        return 1
    try:
        ((count,),) = state.rows(
            "SELECT COUNT(*) FROM deliveries WHERE status IN ('pending', 'sending')"
        )
        ((queued,),) = state.rows("SELECT COUNT(*) FROM digest_queue")
        ((articles,),) = state.rows("SELECT COUNT(*) FROM articles")
    except Exception:  # no schema yet: the first sender was killed before making it
        return 1
    return int(count) + int(queued) + (0 if articles else 1)


def _rows(state: State) -> dict[str, list[tuple[Any, ...]]]:
    found: dict[str, list[tuple[Any, ...]]] = {}
    for row in state.rows(
        "SELECT d.output, d.status, d.recipient, a.link, d.idempotency_key FROM deliveries d"
        " LEFT JOIN articles a ON a.id = d.article_id"
    ):
        found.setdefault(row[0], []).append(row)
    return found


def _count(
    workdir: Path,
    state: State,
    kills: int,
    articles: int,
    recipients: int,
    mastodon: MastodonStandIn,
    x_api: XStandIn,
    pds: AtprotoStandIn,
    hook: WebhookReceiver,
    smtp: SmtpStandIn,
) -> list[Row]:
    rows = _rows(state)
    received: dict[str, Counter[str]] = {
        "toots": Counter(_link(s["text"]) for s in mastodon.statuses),
        "x": Counter(_link(t["text"]) for t in x_api.tweets),
        "sky": Counter(r["embed"]["external"]["uri"] for r in pds.records.values()),
        "hook": Counter(),
        "archive": Counter(),
        "mail": Counter(rcpt for _, tos, _ in smtp.recorder.messages for rcpt in tos),
    }
    hook_ids: dict[str, set[str]] = {}
    for webhook_id, payload in hook.received:
        hook_ids.setdefault(payload["data"]["articles"][0]["url"], set()).add(webhook_id)
    received["hook"] = Counter({link: len(ids) for link, ids in hook_ids.items()})
    for path in (workdir / "archive").glob("*.json"):
        received["archive"][path.stem] += 1
    names = {
        "toots": "Mastodon",
        "x": "X",
        "sky": "Bluesky",
        "hook": "webhook",
        "archive": "file",
        "mail": "SMTP",
    }
    result = []
    for output, name in names.items():
        deliveries = rows.get(output, [])
        lost = duplicates = ambiguous = 0
        for _, status, recipient, link, key in deliveries:
            target = recipient if output == "mail" else link
            if output == "archive":
                target = next((stem for stem in received["archive"] if key[:12] in stem), "")
            got = received[output].get(target, 0)
            if status == "ambiguous":
                ambiguous += 1
            elif got == 0:
                lost += 1
            duplicates += max(got - 1, 0)
        expected = recipients if output == "mail" else articles
        note = "" if len(deliveries) == expected else f"{len(deliveries)} rows of {expected}"
        if output == "hook":
            note = f"{len(hook.received)} receipts of {len(hook_ids)} webhook-ids"
        result.append(Row(name, len(deliveries), kills, lost, duplicates, ambiguous, note))
    return result


def _link(text: str) -> str:
    return next((word for word in text.split() if word.startswith("https://example.org/")), "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--policy", choices=("flag", "resend"), default="flag")
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir:
        rows = run(
            Path(workdir),
            articles=arguments.articles,
            recipients=arguments.recipients,
            policy=arguments.policy,
            seed=arguments.seed,
        )
    print(
        f"policy for SMTP and X: {arguments.policy}; seed {arguments.seed}; "
        f"{time.monotonic() - started:.0f} s"
    )
    print("| output | deliveries | kills | lost | duplicates | ambiguous | note |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        print(
            f"| {row.output} | {row.deliveries} | {row.kills} | {row.lost} | "
            f"{row.duplicates} | {row.ambiguous} | {row.note} |"
        )


if __name__ == "__main__":
    main()
