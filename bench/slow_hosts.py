"""Polling many feeds over a network like the internet's: one server process plays many hosts
(distinct addresses in 127.0.0.0/8), each answer delayed by a latency drawn from 50 to 500 ms,
some hosts stalling (answering after 30 s) and some resetting every connection. It times one
pass of `dispatch poll --all` after a first, unmeasured one, with a tenth of the feeds changed
in between: wall time, CPU, peak memory, the most connections any host saw at once, and when
the last feed of a responsive host was answered.

    .venv/bin/python bench/slow_hosts.py                           # 10,000 feeds, 500 hosts
    .venv/bin/python bench/slow_hosts.py --feeds 1000 --hosts 50 --stalling 1 --resetting 0 \\
        --stall 10                                                  # one host taking 10 s
    .venv/bin/python bench/slow_hosts.py --peers 500   # and rss2email, feed2exec on 500 feeds

With ``--peers N``, dispatch, rss2email and feed2exec each poll the first N feeds (one per host
while N is at most the hosts), every feed new to each, and their passes are compared.

dispatch runs with `fetch.concurrency` as given (default: its own default, 64) and the default
`fetch.per_host` (2); the feeds are small (two items each), so the network, not parsing, is what
is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers
from run import DISPATCH, Feed2exec, Rss2email, Sample, Tool, measure

HERE = Path(__file__).resolve()


def address(host: int) -> str:
    return f"127.1.{host // 250}.{host % 250 + 1}"


class Dispatch(Tool):
    """dispatch with its defaults, as a user on the internet would run it."""

    name = "dispatch"
    state = ("dispatch.db",)

    def configure(self, feeds: dict[str, str], concurrency: int | None = None) -> None:
        fetch = {"concurrency": concurrency} if concurrency else {}
        data = {
            "state": "dispatch.db",
            "allow_private_networks": True,
            "fetch": fetch,
            "feeds": [{"name": name, "url": url, "every": "1h"} for name, url in feeds.items()],
        }
        (self.work / "feeds.yaml").write_text(yaml.safe_dump(data))

    def poll(self) -> list[str]:
        return [DISPATCH, "--config", str(self.work / "feeds.yaml"), "poll", "--all"]


def body(feed: str, generation: int) -> bytes:
    items = "".join(
        f"<item><title>Story {feed} {generation}.{n}</title>"
        f"<link>https://news.example/{feed}/{generation}/{n}</link>"
        f"<guid>https://news.example/{feed}/{generation}/{n}</guid>"
        f"<description>Story {n} of generation {generation}.</description></item>"
        for n in range(2)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{feed}</title>{items}</channel></rss>"
    ).encode()


class Hosts:
    """The server side: every host's behaviour, connections and last answer."""

    def __init__(self, hosts: int, stalling: int, resetting: int, stall: float) -> None:
        rng = random.Random(20)
        kinds = ["stall"] * stalling + ["reset"] * resetting
        kinds += ["ok"] * (hosts - len(kinds))
        rng.shuffle(kinds)
        self.kind = {address(n): kind for n, kind in enumerate(kinds)}
        self.stall = stall
        self.rng = rng
        self.generation: dict[str, int] = {}  # feed path -> generation
        self.open: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.last_answer: dict[str, float] = {}

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host = writer.get_extra_info("sockname")[0]
        self.open[host] = self.open.get(host, 0) + 1
        self.most[host] = max(self.most.get(host, 0), self.open[host])
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                headers = {}
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                path = line.split()[1].decode()
                if path.startswith("/control/"):
                    await self.control(path, writer)
                    continue
                kind = self.kind.get(host, "ok")
                if kind == "reset":
                    writer.transport.abort()  # unread data: the kernel sends a reset
                    return
                if kind == "stall":
                    if await self.stalled(reader):
                        return  # the client gave up and closed: no longer a connection
                else:
                    await asyncio.sleep(self.rng.uniform(0.05, 0.5))
                generation = self.generation.get(path, 0)
                etag = f'"{generation}"'
                if headers.get("if-none-match") == etag:
                    writer.write(
                        b"HTTP/1.1 304 Not Modified\r\nETag: " + etag.encode() + b"\r\n\r\n"
                    )
                else:
                    data = body(path, generation)
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                        + f"ETag: {etag}\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                        + data
                    )
                await writer.drain()
                if kind == "ok":
                    self.last_answer[host] = time.monotonic()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self.open[host] -= 1
            writer.close()

    async def stalled(self, reader: asyncio.StreamReader) -> bool:
        """Stall; True if the client closed the connection meanwhile. A real server's kernel
        sees the client's FIN at once, so a connection the client gave up on is not counted
        as one it holds, however long this host would have slept.
        """
        try:
            return await asyncio.wait_for(reader.read(1), self.stall) == b""
        except TimeoutError:
            return False

    async def control(self, path: str, writer: asyncio.StreamWriter) -> None:
        if path.startswith("/control/change/"):  # a new generation of every n-th feed
            every = int(path.rsplit("/", 1)[1])
            for feed in sorted(self.generation)[::every]:
                self.generation[feed] += 1
            answer = b"{}"
        elif path == "/control/stats":
            answer = json.dumps(
                {"most": self.most, "last_answer": self.last_answer, "kind": self.kind}
            ).encode()
            self.most, self.last_answer = dict(self.open), {}
        else:
            answer = b"{}"
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(answer)}\r\n\r\n".encode()
            + answer
        )
        await writer.drain()


async def serve(arguments: argparse.Namespace) -> None:
    hosts = Hosts(arguments.hosts, arguments.stalling, arguments.resetting, arguments.stall)
    for feed in range(arguments.feeds):
        hosts.generation[f"/h{feed % arguments.hosts}/f{feed}.xml"] = 0
    first = await asyncio.start_server(hosts.serve, address(0), 0, backlog=1024)
    port = first.sockets[0].getsockname()[1]
    for host in range(1, arguments.hosts):
        await asyncio.start_server(hosts.serve, address(host), port, backlog=1024)
    print(port, flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--stalling", type=int, help="hosts that stall (default: 1 %%)")
    parser.add_argument("--resetting", type=int, help="hosts that reset (default: 1 %%)")
    parser.add_argument("--stall", type=float, default=30.0, help="seconds a stalling host takes")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--peers", type=int, default=0, help="feeds for the peers' comparison")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.stalling is None:
        arguments.stalling = max(1, arguments.hosts // 100)
    if arguments.resetting is None:
        arguments.resetting = max(1, arguments.hosts // 100)
    if arguments.serve:
        asyncio.run(serve(arguments))
        return
    if arguments.peers:
        peers.ensure()
    server = subprocess.Popen(
        [sys.executable, str(HERE), "--serve", *sys.argv[1:]], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        control = f"http://{address(0)}:{port}/control"
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            feeds = {
                f"f{feed}": f"http://{address(feed % arguments.hosts)}:{port}"
                f"/h{feed % arguments.hosts}/f{feed}.xml"
                for feed in range(arguments.feeds)
            }
            dispatch = Dispatch(work / "all")
            dispatch.configure(feeds, arguments.concurrency)
            subset = dict(list(feeds.items())[: arguments.peers])
            tools: list[Tool] = []
            if subset:
                tools = [Dispatch(work / "d"), Rss2email(work / "r2e"), Feed2exec(work / "f2e")]
                for tool in tools:
                    tool.configure(subset, *((0,) if isinstance(tool, Rss2email) else ()))
            compared: dict[str, Sample] = {}
            for tool in tools:  # each one's first pass of the subset: every feed new
                compared[tool.name] = measure(tool.poll(), tool.work)
            first = measure(dispatch.poll(), dispatch.work)
            json.load(urlopen(f"{control}/stats"))  # counted from here on
            urlopen(f"{control}/change/10").read()
            began = time.monotonic()
            sample = measure(dispatch.poll(), dispatch.work)
            stats = json.load(urlopen(f"{control}/stats"))
    finally:
        server.terminate()
        server.wait()
    responsive = [t for host, t in stats["last_answer"].items() if stats["kind"][host] == "ok"]
    print(
        f"{arguments.feeds:,} feeds on {arguments.hosts} hosts ({arguments.stalling} stalling "
        f"{arguments.stall:g} s, {arguments.resetting} resetting), a tenth changed, "
        f"fetch.concurrency {arguments.concurrency}"
    )
    print(f"first pass (all new, not the measure): {first.wall:.2f} s")
    print(f"the pass: {sample.wall:.2f} s wall, {sample.cpu:.2f} s CPU, {sample.rss_mb:.0f} MB")
    print(f"responsive hosts' last answer: {max(responsive) - began:.2f} s after the pass began")
    print(f"most connections to one host at once: {max(stats['most'].values())}")
    if compared:
        ours = compared["dispatch"].wall
        print(f"the first {arguments.peers} feeds, each tool's first pass (every feed new):")
        for name, measured in compared.items():
            ratio = "" if name == "dispatch" else f", {measured.wall / ours:.1f}× dispatch's"
            print(f"  {name}: {measured.wall:.2f} s wall, {measured.cpu:.2f} s CPU{ratio}")


if __name__ == "__main__":
    main()
