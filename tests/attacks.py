"""XML attacks on the parser, as feeds: used by tests/test_hostile.py, and run on its own for
the figures in docs/reliability.md:

    .venv/bin/python tests/attacks.py
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dispatch.errors import ParseError
from dispatch.ingest.parse import ParsedFeed, parse_feed

ITEM = "<item><title>{title}</title><link>https://example.org/{n}</link><guid>g{n}</guid></item>"


def _rss(doctype: str, title: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n{doctype}\n<rss version="2.0"><channel><title>t</title>'
        + ITEM.format(title=title, n=1)
        + "</channel></rss>"
    ).encode()


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    return _rss(f"<!DOCTYPE rss [{''.join(entities)}]>", "&lol9;")


def xxe(path: Path) -> bytes:
    return _rss(f'<!DOCTYPE rss [<!ENTITY secret SYSTEM "file://{path}">]>', "x &secret; y")


def external_dtd(url: str) -> bytes:
    return _rss(f'<!DOCTYPE rss SYSTEM "{url}/evil.dtd">', "plain title").replace(
        b"<rss", b"<!-- external DTD above -->\n<rss", 1
    )


def parameter_entity(url: str) -> bytes:
    return _rss(f'<!DOCTYPE rss [<!ENTITY % remote SYSTEM "{url}/pe.dtd"> %remote;]>', "t")


def quadratic_blowup(size: int = 200_000) -> bytes:
    """One entity of ~50 KB, referenced ~3,000 times: ~150 MB if expanded."""
    value = "A" * 50_000
    references = "&a;" * ((size - len(value)) // 3)
    return _rss(f'<!DOCTYPE rss [<!ENTITY a "{value}">]>', references)


def measure(body: bytes) -> tuple[ParsedFeed | ParseError, float, int]:
    """The parse's result, its seconds, and the peak of memory it allocates in bytes (from a
    second run under tracemalloc, which slows it).
    """

    def parse() -> ParsedFeed | ParseError:
        try:
            return parse_feed("attack", body, url="https://example.org/")
        except ParseError as e:
            return e

    started = time.perf_counter()
    result = parse()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    parse()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak


def main() -> None:
    canary = Path("/tmp/dispatch-canary.txt")
    canary.write_text("CANARY-7f3a", encoding="utf-8")
    attacks = {
        "billion laughs": billion_laughs(),
        "XXE (local file)": xxe(canary),
        "external DTD": external_dtd("http://127.0.0.1:9"),
        "parameter entity": parameter_entity("http://127.0.0.1:9"),
        "quadratic blow-up": quadratic_blowup(),
    }
    measure(external_dtd("http://127.0.0.1:9"))  # imports and caches warm up
    print("| attack | feed size | outcome | time | peak memory |")
    print("| --- | ---: | --- | ---: | ---: |")
    for name, body in attacks.items():
        result, seconds, peak = measure(body)
        if isinstance(result, ParseError):
            outcome = "rejected"
        else:
            titles = [a.title[:20] for a in result.articles]
            outcome = f"read, title {titles[0]!r}" if titles else "read, no articles"
        print(
            f"| {name} | {len(body):,} B | {outcome} | {seconds * 1000:.1f} ms "
            f"| {peak / 1_048_576:.1f} MB |"
        )


if __name__ == "__main__":
    main()
