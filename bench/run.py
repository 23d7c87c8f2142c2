"""Every benchmark scenario, dispatch beside rss2email and feed2exec on the same corpus in the
same run, each as medians of several runs: wall time, CPU time (user + system) and peak memory
(the process's maximum resident set), and the ratio of each peer's wall time to dispatch's.

    .venv/bin/python bench/run.py            # the full run, as in docs/performance.md
    .venv/bin/python bench/run.py --mix classic   # the same on the benchmark's first corpus
    .venv/bin/python bench/run.py --small    # a small configuration (CI runs it)
    .venv/bin/python bench/run.py --only sending             # one scenario (repeatable)
    BENCH_CONNECTIONS=8 .venv/bin/python bench/run.py --only sending   # SMTP's connections

Needs nginx and postfix's smtp-sink (Debian's; tests/prepare.sh installs them); makes
bench/.peers (rss2email 3.14, feed2exec 0.23 from PyPI) and bench/.data (the corpus) once.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus
import peers
from dispatch.ingest import fastfeed
from servers import Nginx, SmtpSink

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / ".data"
DISPATCH = str(Path(sys.executable).parent / "dispatch")
SCENARIOS = ("startup", "polling", "many", "per-feed", "render", "sending")


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    rss_mb: float


@dataclass(frozen=True)
class Row:
    scenario: str
    tool: str
    sample: Sample
    runs: int | str  # "3 × 20": three processes of 20 runs each


def measure(argv: Sequence[str], cwd: Path) -> Sample:
    """Run a command to its end; its wall time, CPU time and peak memory (from wait4)."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv), cwd=cwd, stdout=subprocess.DEVNULL, stderr=errors, env=_environment()
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in (0, 1):  # 1: a feed failed; the rest was done
            errors.seek(0)
            raise SystemExit(f"{argv[0]} failed ({process.returncode}): {errors.read()[-2000:]!r}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def _environment() -> dict[str, str]:
    """As a user's shell would be: bytecode caches on (some sandboxes turn them off, which
    makes every start compile every module), no DISPATCH_ settings.
    """
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DISPATCH_") and k != "PYTHONDONTWRITEBYTECODE"
    }


def median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.wall for s in samples),
        statistics.median(s.cpu for s in samples),
        statistics.median(s.rss_mb for s in samples),
    )


class Tool:
    """One program under test, with its own working folder and state."""

    name = ""
    state: tuple[str, ...] = ()

    def __init__(self, work: Path) -> None:
        self.work = work
        work.mkdir(parents=True, exist_ok=True)

    def forget(self) -> None:
        for name in self.state:
            (self.work / name).unlink(missing_ok=True)

    def save(self, tag: str) -> None:
        for name in self.state:
            if (self.work / name).exists():
                shutil.copy2(self.work / name, self.work / f"{name}.{tag}")

    def restore(self, tag: str) -> None:
        self.forget()
        for name in self.state:
            if (self.work / f"{name}.{tag}").exists():
                shutil.copy2(self.work / f"{name}.{tag}", self.work / name)

    def poll(self) -> list[str]:
        raise NotImplementedError


class Dispatch(Tool):
    name = "dispatch"
    state = ("dispatch.db",)

    def configure(self, feeds: dict[str, str], backfill: int = 0, **extra: object) -> None:
        data = {
            "state": "dispatch.db",
            "allow_private_networks": True,
            # Every feed is on the one local nginx: as many at once as fetches at once, as
            # if each feed had a host of its own (fetch.per_host would otherwise be 2).
            "fetch": {"concurrency": 64, "per_host": 64, "timeout": "60s"},
            "feeds": [
                {"name": name, "url": url, **({"backfill": backfill} if backfill else {})}
                for name, url in feeds.items()
            ],
            **extra,
        }
        (self.work / "feeds.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")

    def poll(self) -> list[str]:
        return [DISPATCH, "--config", str(self.work / "feeds.yaml"), "poll", "--all"]


class Rss2email(Tool):
    name = "rss2email"
    state = ("data.json", "config")

    def configure(self, feeds: dict[str, str], smtp_port: int) -> None:
        peers.rss2email_config(self.work / "config", feeds, smtp_port)
        self.save("config")

    def forget(self) -> None:
        (self.work / "data.json").unlink(missing_ok=True)
        shutil.copy2(self.work / "config.config", self.work / "config")

    def command(self, *args: str) -> list[str]:
        return [
            str(peers.PEERS / "bin" / "r2e"),
            "-c",
            str(self.work / "config"),
            "-d",
            str(self.work / "data.json"),
            *args,
        ]

    def poll(self) -> list[str]:
        return self.command("run", "--no-send")


class Feed2exec(Tool):
    name = "feed2exec"
    state = ("feed2exec.db",)

    def configure(self, feeds: dict[str, str]) -> None:
        peers.feed2exec_config(self.work / "feed2exec.ini", feeds)

    def poll(self) -> list[str]:
        return [
            str(peers.PEERS / "bin" / "feed2exec"),
            "--config",
            str(self.work / "feed2exec.ini"),
            "--database",
            str(self.work / "feed2exec.db"),
            "fetch",
        ]


def runs_of(tool: Tool, runs: int, before: Callable[[], None]) -> Sample:
    samples = []
    for _ in range(runs):
        before()
        samples.append(measure(tool.poll(), tool.work))
    return median(samples)


def configured(work: Path, feeds: dict[str, str], sink: SmtpSink) -> list[Tool]:
    """dispatch, rss2email and feed2exec, each with its own folder, set up for ``feeds``."""
    dispatch, r2e, f2e = (
        Dispatch(work / "dispatch"),
        Rss2email(work / "r2e"),
        Feed2exec(work / "f2e"),
    )
    dispatch.configure(feeds)
    r2e.configure(feeds, sink.port)
    f2e.configure(feeds)
    return [dispatch, r2e, f2e]


def polling(rows: list[Row], nginx: Nginx, sink: SmtpSink, count: int, runs: int, mix: str) -> str:
    """First poll (all new), steady state (all 304), and 10 % changed, for every tool; returns
    the share of the corpus that took the fast parsing path, in words.
    """
    folder = DATA / f"corpus-{mix}-{count}"
    every = corpus.write(folder, count, mix=mix)  # generation 0, fresh modification times
    feeds = {feed.name: nginx.url(f"{folder.name}/{feed.path}") for feed in every}
    work = DATA / "work" / f"poll-{mix}-{count}"
    tools = configured(work, feeds, sink)
    # dispatch reads the newest 3 of each feed fully (text, summary, videos, stories), the
    # peers every item: rss2email and feed2exec have no backfill.
    tools[0].configure(feeds, backfill=3)
    name = f"first poll of {count} feeds (all new)"
    for tool in tools:
        rows.append(Row(name, tool.name, runs_of(tool, runs, tool.forget), runs))
        tool.save("base")
    name = f"steady state, {count} feeds (all 304)"
    for tool in tools:
        rows.append(
            Row(name, tool.name, runs_of(tool, runs, lambda t=tool: t.restore("base")), runs)
        )
    changed = {feed.name for feed in every[::10]}
    corpus.write(folder, count, generation=1, only=changed, mix=mix)
    name = f"{count} feeds, 10 % changed"
    for tool in tools:
        rows.append(
            Row(name, tool.name, runs_of(tool, runs, lambda t=tool: t.restore("base")), runs)
        )
    return fast_share(folder, every, mix)


def fast_share(folder: Path, every: list[corpus.Feed], mix: str) -> str:
    """How many of the corpus's feeds the fast parsing path takes, by kind."""
    taken: dict[str, list[bool]] = {}
    for feed in every:
        body = (folder / feed.path).read_bytes()
        read = fastfeed.read(body, "application/rss+xml; charset=UTF-8") is not None
        taken.setdefault(feed.kind, []).append(read)
    fast = sum(sum(kind) for kind in taken.values())
    kinds = ", ".join(f"{kind} {sum(v)}/{len(v)}" for kind, v in taken.items())
    return (
        f"fast parsing path: {fast} of {len(every)} feeds of the {mix} corpus "
        f"({fast / len(every):.0%}; {kinds})"
    )


def many_unchanged(
    rows: list[Row], nginx: Nginx, sink: SmtpSink, count: int, runs: int, peer_runs: int
) -> None:
    """Thousands of feeds, all answering 304 (small feeds: only the round trips matter)."""
    folder = DATA / f"many-{count}"
    every = corpus.write(folder, count, items=2)
    feeds = {feed.name: nginx.url(f"many-{count}/{feed.path}") for feed in every}
    work = DATA / "work" / f"many-{count}"
    tools = configured(work, feeds, sink)
    name = f"{count:,} feeds, all 304"
    for tool in tools:
        if peer_runs == 0 and tool.name != "dispatch":
            continue
        tool.forget()
        measure(tool.poll(), tool.work)  # the first poll records every ETag
        tool.save("base")
        times = runs if tool.name == "dispatch" else peer_runs
        rows.append(
            Row(name, tool.name, runs_of(tool, times, lambda t=tool: t.restore("base")), times)
        )


def sending(rows: list[Row], nginx: Nginx, sink: SmtpSink, emails: int, runs: int) -> None:
    """``emails`` messages to the SMTP sink: dispatch's one-article digest to that many
    recipients, and rss2email's one message per item of a feed with that many items.
    """
    folder = DATA / f"mail-{emails}"
    (feed,) = corpus.write(folder, 1, items=emails)[:1]
    url = nginx.url(f"mail-{emails}/{feed.path}")
    work = DATA / "work" / f"mail-{emails}"
    dispatch = Dispatch(work / "dispatch")
    recipients = [f"reader{n}@example.org" for n in range(emails)]
    dispatch.configure(
        {"one": url},
        outputs={
            "mail": {
                "type": "smtp",
                "host": "127.0.0.1",
                "port": sink.port,
                "starttls": False,
                "from": "bench@example.org",
                "to": recipients,
                "connections": int(os.environ.get("BENCH_CONNECTIONS", "4")),
            }
        },
        # One article a message, like rss2email's one item an email: the same bytes to send.
        digests=[{"name": "daily", "outputs": ["mail"], "schedule": "* * * * *", "max_items": 1}],
    )
    (dispatch.work / "feeds.yaml").write_text(
        (dispatch.work / "feeds.yaml")
        .read_text()
        .replace("name: one", "name: one\n  backfill: 20"),
        encoding="utf-8",
    )
    r2e = Rss2email(work / "r2e")
    r2e.configure({"one": url}, sink.port)
    whole, spans = f"sending {emails:,} emails to the sink", "the same, first to last email taken"
    for tool, command in (
        (dispatch, [DISPATCH, "--config", str(dispatch.work / "feeds.yaml"), "send"]),
        (r2e, r2e.command("run")),
    ):
        samples, taken = [], []
        for _ in range(runs):
            tool.forget()
            sink.stamps.clear()
            samples.append(measure(command, tool.work))
            assert len(sink.stamps) == emails, (len(sink.stamps), emails)
            # The sending itself, without start-up and polling: its ratio is the ratio of
            # messages per second.
            taken.append(Sample(sink.stamps[-1] - sink.stamps[0], samples[-1].cpu, 0.0))
        rows.append(Row(whole, tool.name, median(samples), runs))
        rows.append(Row(spans, tool.name, median(taken), runs))


def startup(rows: list[Row], runs: int) -> None:
    commands = {
        "dispatch": [DISPATCH, "--help"],
        "rss2email": [str(peers.PEERS / "bin" / "r2e"), "--help"],
        "feed2exec": [str(peers.PEERS / "bin" / "feed2exec"), "--help"],
    }
    for tool, argv in commands.items():
        samples = [measure(argv, ROOT) for _ in range(runs)]
        rows.append(Row("`--help` start-up", tool, median(samples), runs))


def in_process(rows: list[Row], script: str, scenario: str, runs: int, *options: str) -> None:
    """A measurement a script makes inside its own process (it prints the median seconds):
    rendering a digest, the CPU for one changed feed. No peer does these. The script runs
    ``runs`` times, one after another, and the row is the median of their medians: a slow
    spell of the machine then takes one process's figure, not the row's.
    """
    medians = []
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, str(ROOT / "bench" / script), "--runs", "20", *options],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        medians.append(float(output.split()[0]))
    seconds = statistics.median(medians)
    rows.append(Row(scenario, "dispatch", Sample(seconds, seconds, 0.0), f"{runs} × 20"))


def table(rows: list[Row]) -> str:
    lines = [
        "| scenario | tool | wall | CPU | peak RSS | peer ÷ dispatch (wall) | runs |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    ours = {row.scenario: row.sample for row in rows if row.tool == "dispatch"}
    for row in rows:
        base = ours.get(row.scenario)
        ratio = (
            "" if row.tool == "dispatch" or base is None else f"{row.sample.wall / base.wall:.1f}×"
        )
        wall = (
            f"{row.sample.wall * 1000:.2f} ms"
            if row.sample.wall < 0.1
            else f"{row.sample.wall:.2f} s"
        )
        rss = f"{row.sample.rss_mb:.0f} MB" if row.sample.rss_mb else "–"
        lines.append(
            f"| {row.scenario} | {row.tool} | {wall} | {row.sample.cpu:.2f} s | {rss} | {ratio} | "
            f"{row.runs} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--small",
        action="store_true",
        help="20 feeds, 300 for the many-feeds case, 50 emails, 1 run",
    )
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--many", type=int, default=10_000)
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--peer-runs-many", type=int, default=1, help="peers' runs of the many-feeds case (0: skip)"
    )
    parser.add_argument(
        "--mix",
        choices=sorted(corpus.MIXES),
        default="web",
        help="the corpus: web (as the common generators write feeds) or classic (the first one)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SCENARIOS,
        help="run only this scenario (may be repeated); all of them by default",
    )
    arguments = parser.parse_args()
    if arguments.small:
        arguments.feeds, arguments.many, arguments.emails, arguments.runs = 20, 300, 50, 1
    peers.ensure()
    DATA.mkdir(exist_ok=True)
    nginx, sink = Nginx(DATA), SmtpSink()
    rows: list[Row] = []
    notes: list[str] = [f"corpus: {arguments.mix}"]
    chosen = set(arguments.only or SCENARIOS)
    try:
        if "startup" in chosen:
            startup(rows, arguments.runs)
        if "polling" in chosen:
            notes.append(polling(rows, nginx, sink, arguments.feeds, arguments.runs, arguments.mix))
        if "many" in chosen:
            many_unchanged(
                rows, nginx, sink, arguments.many, arguments.runs, arguments.peer_runs_many
            )
        if "per-feed" in chosen:
            in_process(
                rows,
                "per_feed.py",
                "CPU for one changed 100 KB WordPress feed, 20 articles new (parse to stored)",
                arguments.runs,
                "--mix",
                arguments.mix,
            )
            in_process(
                rows,
                "per_feed.py",
                "the same feed, changed by 1 new article (20 stored, unchanged)",
                arguments.runs,
                "--one-new",
                "--mix",
                arguments.mix,
            )
        if "render" in chosen:
            in_process(
                rows,
                "render_digest.py",
                "rendering a 20-article digest (MJML included)",
                arguments.runs,
            )
        if "sending" in chosen:
            sending(rows, nginx, sink, arguments.emails, arguments.runs)
    finally:
        nginx.stop()
        sink.stop()
    print(table(rows))
    print("\n".join(notes))


if __name__ == "__main__":
    main()
