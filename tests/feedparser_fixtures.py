"""feedparser's own test fixtures (about 2,270 files from its source distribution) through our
ingest: each is served by a local HTTP server, fetched by dispatch's fetcher and parsed by
dispatch's parser. Used by tests/test_corpus.py, and run on its own for the figures in
docs/reliability.md:

    .venv/bin/python tests/feedparser_fixtures.py
"""

from __future__ import annotations

import resource
import sys
import tarfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dispatch.config import FetchSettings
from dispatch.errors import FeedError
from dispatch.ingest.parse import parse_feed
from dispatch.models import Article
from dispatch.net.fetch import Fetcher, FetchRequest
from helpers.servers import FeedServer

FEEDPARSER = "6.0.14"
SDIST = Path(__file__).resolve().parent / ".cache" / f"feedparser-{FEEDPARSER}.tar.gz"


@dataclass
class Outcome:
    path: str
    status: str  # accepted, warnings, rejected, crashed
    seconds: float
    articles: tuple[Article, ...] = ()
    detail: str = ""


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def slowest(self) -> Outcome:
        return max(self.outcomes, key=lambda o: o.seconds)


def fixtures() -> dict[str, bytes]:
    """Every fixture file under the sdist's tests/ folder, by its path there."""
    if not SDIST.exists():
        raise SystemExit(f"{SDIST} is missing: run `sh tests/prepare.sh` first")
    found = {}
    with tarfile.open(SDIST) as archive:
        for member in archive.getmembers():
            parts = member.name.split("/", 2)
            if member.isfile() and len(parts) == 3 and parts[1] == "tests":
                if parts[2].endswith(".py"):
                    continue
                extracted = archive.extractfile(member)
                assert extracted is not None
                found[parts[2]] = extracted.read()
    return found


def run(files: dict[str, bytes]) -> Report:
    server = FeedServer()
    server.thread.start()
    try:
        urls = {path: server.serve("/" + path, body) for path, body in files.items()}
        fetcher = Fetcher(FetchSettings(timeout=timedelta(seconds=30), concurrency=32), Path.cwd())
        started = time.monotonic()
        requests = [FetchRequest(path, url, allow_private=True) for path, url in urls.items()]
        report = Report()
        for request, response in zip(requests, fetcher.fetch_all(requests), strict=True):
            report.outcomes.append(_ingest(request.name, response))
        report.seconds = time.monotonic() - started
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
    report.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


def _ingest(path: str, response: object) -> Outcome:
    started = time.perf_counter()
    if isinstance(response, FeedError):
        return Outcome(path, "rejected", 0.0, detail=response.describe())
    try:
        parsed = parse_feed(
            path,
            response.body,  # type: ignore[attr-defined]
            url=response.url,  # type: ignore[attr-defined]
            content_type=response.content_type,  # type: ignore[attr-defined]
        )
    except FeedError as e:
        return Outcome(path, "rejected", time.perf_counter() - started, detail=e.describe())
    except Exception as e:  # a crash: what the corpus is here to find
        return Outcome(
            path, "crashed", time.perf_counter() - started, detail=f"{type(e).__name__}: {e}"
        )
    status = "warnings" if parsed.warnings else "accepted"
    return Outcome(path, status, time.perf_counter() - started, parsed.articles)


def main() -> None:
    report = run(fixtures())
    print(f"feedparser {FEEDPARSER} fixtures: {len(report.outcomes)} files")
    for status in ("accepted", "warnings", "rejected", "crashed"):
        print(f"  {status:9} {report.count(status):5}")
    slowest = report.slowest
    print(f"  slowest   {slowest.seconds * 1000:.1f} ms ({slowest.path})")
    print(f"  total     {report.seconds:.1f} s, peak RSS {report.peak_rss_mb:.0f} MB")
    for outcome in report.outcomes:
        if outcome.status == "crashed":
            print(f"  CRASH {outcome.path}: {outcome.detail}")


if __name__ == "__main__":
    main()
