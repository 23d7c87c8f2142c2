"""A day of running, in an hour (issue #23, item 6): `dispatch run` with 1,000 feeds polled
every 10 s, a tenth of them given a new article before each pass, every new article posted to
a webhook. Each minute it samples the daemon's resident memory, open descriptors and threads,
and how far the posts lag; at the end it stops the daemon and checks, at the receiver and in
the store, that every article published was posted once and only once.

    .venv/bin/python bench/soak.py                        # 1,000 feeds, an hour
    .venv/bin/python bench/soak.py --feeds 200 --minutes 3

nginx (Debian's) serves the feeds, so that the server is never what is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import yaml

from overload import healthz, proc
from servers import Nginx, WebhookSink, free_port

ITEMS = 10  # articles a feed carries, newest first
LINK = re.compile(r"https://s(\d+)\.example/(\d+)")


class Receiver:
    """A webhook endpoint that answers at once and notes the article links each post names."""

    def __init__(self) -> None:
        self.links: Counter[str] = Counter()
        self.first: dict[str, float] = {}  # when each link was first posted
        self.ids: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.sink = WebhookSink(self.take)
        self.url = self.sink.url

    def take(self, headers: dict[str, str], body: bytes) -> None:
        data = json.loads(body)["data"]
        links = {m.group(0) for m in LINK.finditer(json.dumps(data))}
        with self.lock:
            self.ids[headers.get("webhook-id", "")] += 1
            self.links.update(links)
            for link in links:
                self.first.setdefault(link, time.monotonic())


class Publisher:
    """Writes the feeds: before each pass, a tenth of them gain an article."""

    def __init__(self, root: Path, feeds: int, seed: int = 23) -> None:
        self.root = root
        self.newest = [ITEMS - 1] * feeds  # the newest article's number, per feed
        self.published: dict[str, float] = {}  # links of articles added since, and when
        self.rng = random.Random(seed)
        for n in range(feeds):
            self._write(n)

    def _write(self, n: int) -> None:
        top = self.newest[n]
        items = "".join(
            f"<item><title>{_words(n, i, 6)}</title><link>https://s{n}.example/{i}</link>"
            f"<guid>s{n}-{i}</guid><description>{_words(n, i, 30)}.</description>"
            # The whole article, as WordPress gives it: no page to fetch.
            f"<content:encoded><![CDATA[<p>{_words(n, i, 60)}.</p><p>{_words(n, i, 50)}.</p>"
            f"]]></content:encoded></item>"
            for i in range(top, max(top - ITEMS, -1), -1)
        )
        head = (
            '<?xml version="1.0"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/">'
            f"<channel><title>Site {n}</title>"
        )
        path = self.root / f"s{n}.xml"
        path.with_suffix(".tmp").write_text(f"{head}{items}</channel></rss>")
        path.with_suffix(".tmp").replace(path)  # nginx never serves half a file

    def publish(self, share: float) -> int:
        changed = self.rng.sample(range(len(self.newest)), round(len(self.newest) * share))
        for n in changed:
            self.newest[n] += 1
            self._write(n)
            self.published[f"https://s{n}.example/{self.newest[n]}"] = time.monotonic()
        return len(changed)


def _words(site: int, story: int, count: int) -> str:
    """Words of their own for each story, so that none reads as another's retelling (which
    dispatch would rightly post once).
    """
    rng = random.Random(site * 1_000_003 + story * 7 + count)
    return " ".join(rng.choice(VOCABULARY) for _ in range(count)).capitalize()


VOCABULARY = [
    a + b
    for a in ("ba", "ko", "mi", "te", "ru", "sa", "lo", "ne", "pi", "du")
    for b in ("rn", "lk", "vo", "sta", "mpe", "gri", "nda", "fel", "xo", "th")
    for _ in range(1)
] + [f"{w}s" for w in ("harbour", "council", "market", "river", "school", "bridge")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--every", type=int, default=10, help="seconds between polls")
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--share", type=float, default=0.1, help="feeds changed per pass")
    parser.add_argument("--keep", type=Path, help="work in this folder, and keep it")
    arguments = parser.parse_args()
    receiver = Receiver()
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        root = arguments.keep or Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        (root / "feeds").mkdir(exist_ok=True)
        publisher = Publisher(root / "feeds", arguments.feeds)
        nginx = Nginx(root / "feeds", cache_files=False)  # they change
        every = f"{arguments.every}s"
        config = {
            "state": str(root / "state.db"),
            "allow_private_networks": True,
            # Many sites in the field, one nginx here: as many connections as eight hosts.
            "fetch": {"per_host": 8},
            "daemon": {"listen": f"127.0.0.1:{port}", "retry_every": "5s"},
            "feeds": [
                {"name": f"s{n}", "url": nginx.url(f"s{n}.xml"), "every": every}
                for n in range(arguments.feeds)
            ],
            # A webhook takes what comes: no cap made for social networks' sake.
            "outputs": {
                "hook": {"type": "webhook", "url": receiver.url, "max_posts_per_run": 1000}
            },
            "posts": [{"name": "social", "outputs": ["hook"]}],
        }
        (root / "feeds.yaml").write_text(yaml.safe_dump(config))
        command = [sys.executable, "-m", "dispatch", "--config", str(root / "feeds.yaml"), "run"]
        log = (root / "daemon.log").open("wb")
        daemon = subprocess.Popen(command, stdout=log, stderr=log)
        while healthz(port) == float("inf"):
            if daemon.poll() is not None:
                raise SystemExit((root / "daemon.log").read_text())
            time.sleep(0.1)
        time.sleep(arguments.every * 2)  # the first poll: the articles there are the baseline

        start = time.monotonic()
        end = start + arguments.minutes * 60
        samples: list[tuple[float, float, int, int, int, int]] = []
        next_sample = start
        cpu_start = _cpu(daemon.pid)
        print("minute  RSS MB  fds  threads  published  posted  behind")
        while time.monotonic() < end:
            publisher.publish(arguments.share)
            if time.monotonic() >= next_sample:
                rss, threads, fds = proc(daemon.pid)
                posted = len(receiver.links.keys() & publisher.published.keys())
                minute = (time.monotonic() - start) / 60
                samples.append((minute, rss, fds, threads, len(publisher.published), posted))
                print(
                    f"{minute:6.1f}  {rss:6.1f}  {fds:3d}  {threads:7d}  "
                    f"{len(publisher.published):9d}  {posted:6d}  "
                    f"{len(publisher.published) - posted:6d}",
                    flush=True,
                )
                next_sample += 60
            time.sleep(arguments.every)
        # No more articles: give the daemon two passes and its retries to post the last ones.
        settle = time.monotonic() + arguments.every * 3 + 30
        while time.monotonic() < settle and not publisher.published.keys() <= receiver.links.keys():
            time.sleep(1)
        cpu = _cpu(daemon.pid) - cpu_start
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(120)
        log.close()
        nginx.stop()
        text = (root / "daemon.log").read_text()
        with sqlite3.connect(root / "state.db") as db:
            states = dict(db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status"))
            polls = db.execute("SELECT COUNT(*) FROM feeds WHERE last_polled_at IS NULL").fetchone()
    _report(arguments, samples, publisher, receiver, states, cpu, code, text, polls[0])


def _cpu(pid: int) -> float:
    """The process's user and system CPU seconds so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _report(
    arguments: argparse.Namespace,
    samples: list[tuple[float, float, int, int, int, int]],
    publisher: Publisher,
    receiver: Receiver,
    states: dict[str, int],
    cpu: float,
    code: int,
    log: str,
    never_polled: int,
) -> None:
    after_ten = [s for s in samples if s[0] >= 10] or samples
    base, last = after_ten[0][1], samples[-1][1]
    missing = publisher.published.keys() - receiver.links.keys()
    twice = [link for link, n in receiver.links.items() if n > 1]
    waits = sorted(
        receiver.first[link] - at
        for link, at in publisher.published.items()
        if link in receiver.first
    )
    repeated_ids = sum(n - 1 for n in receiver.ids.values())
    seconds = samples[-1][0] * 60 if samples else 0
    print()
    print(f"{arguments.feeds} feeds every {arguments.every} s for {arguments.minutes:g} minutes")
    print(
        f"resident memory: {samples[0][1]:.1f} MB at the first sample, {base:.1f} MB at "
        f"minute {after_ten[0][0]:.0f}, {last:.1f} MB at the end "
        f"({(last - base) / base * 100:+.1f} % since), {max(s[1] for s in samples):.1f} MB at most"
    )
    print(
        f"descriptors: {min(s[2] for s in samples)} to {max(s[2] for s in samples)}; "
        f"threads: {min(s[3] for s in samples)} to {max(s[3] for s in samples)}"
    )
    print(f"CPU: {cpu:.0f} s in {seconds:.0f} s ({cpu / max(seconds, 1) * 100:.0f} % of a core)")
    print(
        f"articles: {len(publisher.published):,} published, "
        f"{len(publisher.published) - len(missing):,} posted, {len(missing)} missing, "
        f"{len(twice)} posted twice, {repeated_ids} webhook-ids repeated"
    )
    if waits:
        print(
            f"publish to post: p50 {waits[len(waits) // 2]:.1f} s, "
            f"p95 {waits[int(len(waits) * 0.95)]:.1f} s, max {waits[-1]:.1f} s"
        )
    print(f"deliveries in the store: {states}; feeds never polled: {never_polled}")
    print(f"exit code {code}; tracebacks in the log: {log.count('Traceback')}")
    if missing:
        print("missing, for instance:", sorted(missing)[:5])
        print("the log's end:", log[-3000:])
    if "Traceback" in log:
        print("the first traceback:", log[log.index("Traceback") - 200 :][:3000])


if __name__ == "__main__":
    main()
