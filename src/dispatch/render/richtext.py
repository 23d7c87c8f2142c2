"""Bluesky's facets found the way Bluesky's own app finds them.

The reference is ``detectFacets`` in @atproto/api (``packages/api/src/rich-text``), which the
Bluesky app runs on every post it composes. Its rules, carried over:

- **mentions**: ``@`` after the start, a space or ``(``, then a handle of ASCII letters, digits,
  dots and hyphens that ends on a word boundary and whose last label is a top-level domain (or
  ``.test``). The handle still has to be resolved to a DID; one that does not resolve stays text.
- **links**: after the start, a space or ``(``: ``http(s)://`` and everything up to the next
  space, or a bare domain (a letter, then labels, the last one a top-level domain) and what
  follows it, linked as ``https://``. One trailing ``.,;:!?`` is left out, and then a trailing
  ``)`` when the link holds no ``(`` (so a Wikipedia link keeps its parenthesis).
- **hashtags**: ``#`` or ``＃`` after the start or a space, then anything but spaces and
  zero-width characters, holding at least one character that is no digit or punctuation;
  trailing punctuation is left out; at most 64 graphemes.
- **cashtags**: ``$`` and a letter with up to four letters or digits, before a space, the end
  or punctuation; the tag is ``$`` and the ticker in capitals.

Offsets are UTF-8 byte offsets into the text, as the ``app.bsky.richtext.facet`` lexicon wants.
Facets come sorted by where they start.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.resources import files
from typing import Literal

import regex

FacetKind = Literal["mention", "link", "tag"]

# JavaScript's \s, which the reference's patterns use (Python's differs in a few code points).
_SPACE = r"\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_ZERO_WIDTH = r"\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
# JavaScript's \b without the u flag: between an ASCII word character and anything else.
_ASCII_BOUNDARY = r"(?:(?<=[A-Za-z0-9_])(?![A-Za-z0-9_])|(?<![A-Za-z0-9_])(?=[A-Za-z0-9_]))"

_MENTION = regex.compile(rf"(?:\A|[{_SPACE}(])@([a-zA-Z0-9.-]+){_ASCII_BOUNDARY}")
# The reference matches case-insensitively in ASCII only, as JavaScript does without u.
_LINK = regex.compile(
    rf"(?:^|[{_SPACE}(])([hH][tT][tT][pP][sS]?://[^{_SPACE}]+"
    rf"|(?P<domain>[a-zA-Z][a-zA-Z0-9]*(?:\.[a-zA-Z0-9]+)+)[^{_SPACE}]*)",
    regex.MULTILINE,
)
_TAG = regex.compile(
    rf"(?:\A|(?<=[{_SPACE}]))[#＃]((?!\ufe0f)[^{_SPACE}{_ZERO_WIDTH}]*"
    rf"[^0-9{_SPACE}\p{{P}}{_ZERO_WIDTH}]+[^{_SPACE}{_ZERO_WIDTH}]*)?"
)
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+\Z")
_CASHTAG = regex.compile(
    rf"(?:\A|(?<=[{_SPACE}(]))\$([A-Za-z][A-Za-z0-9]{{0,4}})(?=[{_SPACE}]|\Z|[.,;:!?)\"'\u2019])"
)
_GRAPHEME = regex.compile(r"\X")
MAX_TAG_GRAPHEMES = 64


@dataclass(frozen=True)
class Facet:
    """One facet: its byte range in the UTF-8 text, its kind, and what it points at (the handle
    of a mention until it is resolved, a link's URI, a tag without its ``#``).
    """

    start: int
    end: int
    kind: FacetKind
    value: str

    def record(self, did: str | None = None) -> dict[str, object]:
        """The facet as the ``app.bsky.richtext.facet`` record wants it (a mention with
        ``did``, the DID its handle resolved to).
        """
        if self.kind == "mention":
            feature: dict[str, str] = {"$type": "app.bsky.richtext.facet#mention", "did": did or ""}
        elif self.kind == "link":
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": self.value}
        else:
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": self.value}
        return {"index": {"byteStart": self.start, "byteEnd": self.end}, "features": [feature]}


@functools.cache
def top_level_domains() -> frozenset[str]:
    lines = files("dispatch").joinpath("data/tlds.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def is_domain(name: str) -> bool:
    """Whether ``name``'s last label is a top-level domain (case as written, as the reference)."""
    _, dot, last = name.rpartition(".")
    return bool(dot) and last in top_level_domains()


def detect_facets(text: str) -> list[Facet]:
    """Every mention, link, hashtag and cashtag in ``text``, as Bluesky's app detects them."""
    found: list[Facet] = []

    def add(start: int, end: int, kind: FacetKind, value: str) -> None:
        byte_start = len(text[:start].encode("utf-8"))
        byte_end = byte_start + len(text[start:end].encode("utf-8"))
        found.append(Facet(byte_start, byte_end, kind, value))

    for match in _MENTION.finditer(text):
        handle = match.group(1)
        if is_domain(handle) or handle.endswith(".test"):
            add(match.start(1) - 1, match.end(1), "mention", handle)
    for match in _LINK.finditer(text):
        uri = match.group(1)
        if not uri.startswith("http"):
            domain = match.group("domain")
            if not domain or not is_domain(domain):
                continue
            uri = f"https://{uri}"
        start, end = match.start(1), match.end(1)
        if uri[-1] in ".,;:!?":
            uri, end = uri[:-1], end - 1
        if uri.endswith(")") and "(" not in uri:
            uri, end = uri[:-1], end - 1
        add(start, end, "link", uri)
    for match in _TAG.finditer(text):
        tag = match.group(1)
        if not tag:
            continue
        # The reference trims white space first; the pattern already took none in.
        tag = _TRAILING_PUNCTUATION.sub("", tag)
        # The reference measures in UTF-16 first and graphemes only past 64.
        if not tag or (_utf16(tag) > MAX_TAG_GRAPHEMES and _graphemes(tag) > MAX_TAG_GRAPHEMES):
            continue
        start = match.start()
        add(start, start + 1 + len(tag), "tag", tag)
    for match in _CASHTAG.finditer(text):
        ticker = match.group(1)
        add(match.start(), match.end(), "tag", f"${ticker.upper()}")
    found.sort(key=lambda facet: facet.start)
    return found


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _graphemes(text: str) -> int:
    return len(_GRAPHEME.findall(text))
