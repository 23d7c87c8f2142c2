"""Counting text the way each network counts it, and fitting posts to the limit.

- X: weighted characters after NFC; most Latin, Greek, Cyrillic, Hebrew and Arabic code points
  weigh 1, others (CJK, most symbols) 2, an emoji sequence 2, every URL 23.
- Mastodon: grapheme clusters, every URL 23 (``characters_reserved_per_url``).
- Bluesky: grapheme clusters of the text as written (links are facets on that text).

Where we cannot know how the network will count (a bare domain on X may or may not be
linked), we count the larger of the two, so a post we call fitting always fits.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import regex

from dispatch.outputs.base import Capabilities

_URL = regex.compile(r"""https?://[^\s<>"]*[^\s<>".,;:!?)\]}'’”]""", regex.IGNORECASE)
_BARE_DOMAIN = regex.compile(
    r"(?<![\w@./-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}(?:/[^\s<>\"]*)?",
    regex.IGNORECASE,
)
_URL_OR_DOMAIN = regex.compile(f"{_URL.pattern}|{_BARE_DOMAIN.pattern}", regex.IGNORECASE)
_GRAPHEME = regex.compile(r"\X")
_PICTOGRAPHIC = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}")
_X_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
ELLIPSIS = "…"


def graphemes(text: str) -> int:
    return len(_GRAPHEME.findall(text))


def _x_weight(segment: str) -> int:
    total = 0
    for cluster in _GRAPHEME.findall(segment):
        if _PICTOGRAPHIC.search(cluster):
            total += 2
            continue
        for char in cluster:
            point = ord(char)
            total += 1 if any(low <= point <= high for low, high in _X_LIGHT) else 2
    return total


def _with_urls(text: str, url_length: int, weigh: Callable[[str], int], bare: bool) -> int:
    pattern = _URL_OR_DOMAIN if bare else _URL
    total = position = 0
    for match in pattern.finditer(text):
        total += weigh(text[position : match.start()])
        linked = match.group().lower().startswith(("http://", "https://"))
        total += url_length if linked else max(url_length, weigh(match.group()))
        position = match.end()
    return total + weigh(text[position:])


def link_spans(text: str) -> list[tuple[int, int, str]]:
    """Every http(s) URL in ``text`` as (start, end, url), in UTF-8 byte offsets, the way
    Bluesky's facets index text.
    """
    spans = []
    for match in _URL.finditer(text):
        start = len(text[: match.start()].encode("utf-8"))
        spans.append((start, start + len(match.group().encode("utf-8")), match.group()))
    return spans


def count(text: str, capabilities: Capabilities) -> int:
    """The length of ``text`` as the output counts it."""
    how = capabilities.counting
    if how == "bytes":
        return len(text.encode("utf-8"))
    if how == "weighted":
        return _with_urls(
            unicodedata.normalize("NFC", text), capabilities.url_length or 23, _x_weight, bare=True
        )
    weigh: Callable[[str], int] = graphemes if how == "graphemes" else len
    if capabilities.url_length is None:
        return weigh(text)
    return _with_urls(text, capabilities.url_length, weigh, bare=False)


def unit(capabilities: Capabilities) -> str:
    """How a length is counted, in words, for reports."""
    name = {
        "bytes": "bytes of HTML (Gmail clips past 102 KB)",
        "weighted": "weighted characters",
        "graphemes": "graphemes",
        "characters": "characters",
    }[capabilities.counting]
    if capabilities.url_length is not None:
        name += f" (a URL counts {capabilities.url_length})"
    return name


def truncate_words(text: str, limit: int, measure: Callable[[str], int] = len) -> str:
    """The longest start of ``text`` that ends at a word boundary and, with an ellipsis,
    measures at most ``limit``. ``text`` itself when it fits already.
    """
    if measure(text) <= limit:
        return text
    words = text.split()
    low, high = 0, len(words)
    while low < high:  # the most words that fit
        middle = (low + high + 1) // 2
        if measure(_ellipsised(words[:middle])) <= limit:
            low = middle
        else:
            high = middle - 1
    return _ellipsised(words[:low]) if low else ""


def _ellipsised(words: list[str]) -> str:
    return " ".join(words).rstrip(" ,;:—–-") + ELLIPSIS


class PostTooLong(ValueError):
    """Even the link alone does not fit the limit."""


def fit_post(
    render: Callable[[str, str], str],
    *,
    title: str,
    summary: str,
    url: str | None,
    capabilities: Capabilities,
) -> str:
    """Render a post and shorten it until it fits: first the summary, then the title, each cut at
    a word boundary. The article link is never cut, and is added if the template left it out.

    Raises:
        PostTooLong: the link alone is over the limit.
    """
    limit = capabilities.limit

    def attempt(t: str, s: str) -> str:
        text = render(t, s).strip()
        if url and url not in text:
            text = f"{text}\n\n{url}".strip()
        return text

    def fits(text: str) -> bool:
        return limit is None or count(text, capabilities) <= limit

    text = attempt(title, summary)
    if fits(text):
        return text
    words = summary.split()
    low, high = 0, len(words)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(attempt(title, _ellipsised(words[:middle]))):
            low = middle
        else:
            high = middle - 1
    if low:
        return attempt(title, _ellipsised(words[:low]))
    assert limit is not None
    short_title = truncate_words(title, limit, lambda t: count(attempt(t, ""), capabilities))
    if short_title and fits(attempt(short_title, "")):
        return attempt(short_title, "")
    if url and fits(url):
        return url
    raise PostTooLong(f"the link alone is {count(url or '', capabilities)} long, over {limit}")
