"""Counting text the way each network counts it, and fitting posts to the limit.

- X: twitter-text's own rules, through its Python port (``twitter-text-parser``): weighted
  characters after NFC (most Latin, Greek, Cyrillic, Hebrew and Arabic code points 1, CJK and
  most symbols 2, an emoji sequence 2), and every URL twitter-text finds (with or without a
  scheme) 23. A URL ends where twitter-text ends it: at the first letter its grammar does not
  take in a path (an Arabic or Japanese slug), so links go out in their ASCII form.
- Mastodon: grapheme clusters, every URL with a scheme (found by the same grammar, as
  Mastodon's validator does) ``characters_reserved_per_url``.
- Bluesky: grapheme clusters of the text as written (links are facets on that text).
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Callable, Sequence
from importlib.resources import files
from typing import Any

import regex

from dispatch.config.schema import MAX_THREAD
from dispatch.models import Capabilities
from dispatch.render.richtext import is_domain
from dispatch.text import ellipsised, truncate_words

_GRAPHEME = regex.compile(r"\X")
# An ASCII domain as twitter-text takes one without a scheme: not glued to a letter, digit or
# mark of its own alphabet before it, nor to a dot or hyphen after.
_BARE_DOMAIN = regex.compile(
    r"(?<![A-Za-z0-9@＠$#＃_./-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
    r"(?![A-Za-z0-9.-]*[A-Za-z0-9])"
)


def graphemes(text: str) -> int:
    return len(_GRAPHEME.findall(text))


@functools.cache
def twitter_text() -> Any:
    """twitter-text's Python port, imported on first use.

    It reads its emoji list with ``pkg_resources.resource_string``, and that one call is all it
    wants of ``pkg_resources``, which setuptools 81 removed and whose import alone takes
    300 ms. Unless the real one is loaded already, a module with just that function stands in
    while twitter-text imports, and is gone again afterwards.
    """
    stand_in = types.ModuleType("pkg_resources")
    stand_in.resource_string = _resource_string  # type: ignore[attr-defined]
    borrowed = "pkg_resources" not in sys.modules
    if borrowed:
        sys.modules["pkg_resources"] = stand_in
    try:
        import twitter_text
        import twitter_text.config
    finally:
        if borrowed:
            del sys.modules["pkg_resources"]
    return twitter_text


def _resource_string(module: str, name: str) -> bytes:
    """``pkg_resources.resource_string``: a file beside the module ``module``."""
    return files(module.rpartition(".")[0]).joinpath(name).read_bytes()


@functools.lru_cache(maxsize=4096)
def x_length(text: str, url_length: int = 23) -> int:
    """The weighted length of ``text`` as X counts it (twitter-text's ``parseTweet``), or more
    where twitter-text's ports disagree.

    The Python port takes no bare domain right after an Arabic-script letter
    ("بجٹexample.com") where twitter-text's JavaScript links it: a bare domain the port left
    as text is counted as the URL it may be, when that is longer. A post called fitting then
    fits either way.
    """
    rules = twitter_text()
    options = {**rules.config.config["defaults"], "transformed_url_length": url_length}
    length = int(rules.parse_tweet(text, options).weightedLength)
    domains = [m for m in _BARE_DOMAIN.finditer(text) if is_domain(m.group())]
    if not domains:  # the usual post: no need to find its URLs a second time
        return length
    linked = [found["indices"] for found in rules.extract_urls_with_indices(text)]
    for match in domains:
        start, end = match.span()
        if not any(a < end and start < b for a, b in linked):
            length += max(0, url_length - len(match.group()))
    return length


def _with_urls(text: str, url_length: int, weigh: Callable[[str], int]) -> int:
    """``text`` weighed with every URL that has a scheme counted as ``url_length``."""
    total = position = 0
    for found in twitter_text().extract_urls_with_indices(text, False):
        start, end = found["indices"]
        total += weigh(text[position:start]) + url_length
        position = end
    return total + weigh(text[position:])


def count(text: str, capabilities: Capabilities) -> int:
    """The length of ``text`` as the output counts it."""
    how = capabilities.counting
    if how == "bytes":
        return len(text.encode("utf-8"))
    if how == "weighted":
        return x_length(text, capabilities.url_length or 23)
    weigh: Callable[[str], int] = graphemes if how == "graphemes" else len
    if capabilities.url_length is None:
        return weigh(text)
    return _with_urls(text, capabilities.url_length, weigh)


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


class PostTooLong(ValueError):
    """Even the link alone does not fit the limit."""


def fit_post(
    render: Callable[[str, str, Sequence[str]], str],
    *,
    title: str,
    summary: str,
    url: str | None,
    capabilities: Capabilities,
    tags: Sequence[str] = (),
) -> str:
    """Render a post and shorten it until it fits: first the summary, cut at a word boundary;
    then the hashtags, the last first, where even the title does not fit with them; then the
    title. The article link is never cut, and is added if the template left it out.

    Raises:
        PostTooLong: the link alone is over the limit.
    """
    limit = capabilities.limit

    def attempt(t: str, s: str, kept: int = len(tags)) -> str:
        return _with_link(render(t, s, tags[:kept]), url)

    def fits(text: str) -> bool:
        return limit is None or count(text, capabilities) <= limit

    text = attempt(title, summary)
    if fits(text):
        return text
    words = summary.split()
    for kept in range(len(tags), -1, -1):
        if not fits(attempt(title, "", kept)):
            continue

        def opening_fits(chunk: list[str], kept: int = kept) -> bool:
            return fits(attempt(title, ellipsised(chunk), kept))

        low = _most_words(words, opening_fits)
        return attempt(title, ellipsised(words[:low]) if low else "", kept)
    assert limit is not None
    short_title = truncate_words(title, limit, lambda t: count(attempt(t, "", 0), capabilities))
    if short_title and fits(attempt(short_title, "", 0)):
        return attempt(short_title, "", 0)
    if url and fits(url):
        return url
    raise PostTooLong(f"the link alone is {count(url or '', capabilities)} long, over {limit}")


def thread_parts(
    render: Callable[[str, str, Sequence[str]], str],
    *,
    title: str,
    summary: str,
    url: str | None,
    capabilities: Capabilities,
    tags: Sequence[str] = (),
    most: int,
) -> list[str]:
    """A post whose summary does not fit, as a thread of up to ``most`` parts: the first is
    the post (title, the summary's opening, hashtags, link) ending ``(1/N)``; each next part
    carries on the summary, ``(k/N)``; the last is cut with ``…`` when even ``most`` parts
    cannot hold it all. One part when it fits, or ``most`` is 1.

    Raises:
        PostTooLong: the link alone is over the limit.
    """
    whole = fit_post(
        render, title=title, summary=summary, url=url, capabilities=capabilities, tags=tags
    )
    limit = capabilities.limit
    words = summary.split()
    if most <= 1 or limit is None or " ".join(words) in whole or not words:
        return [whole]

    def fits(text: str) -> bool:
        return count(text, capabilities) <= limit

    def first(chunk: list[str], total: int = MAX_THREAD) -> str:
        opening = f"{ellipsised(chunk)} (1/{total})" if chunk else f"(1/{total})"
        return _with_link(render(title, opening, tags), url)

    taken = _most_words(words, lambda w: fits(first(w)))
    if taken == 0:
        return [whole]
    chunks = [words[:taken]]
    while sum(map(len, chunks)) < len(words) and len(chunks) < most:
        rest = words[sum(map(len, chunks)) :]
        number = len(chunks) + 1

        def later_fits(chunk: list[str], number: int = number) -> bool:
            # As long as a part can be: with ``…`` and the widest numbering.
            return fits(_part(chunk, number, MAX_THREAD, cut=True))

        size = _most_words(rest, later_fits)
        if size == 0:
            break
        chunks.append(rest[:size])
    total = len(chunks)
    done = sum(map(len, chunks)) == len(words)
    parts = [first(chunks[0], total)]
    for number, chunk in enumerate(chunks[1:], start=2):
        parts.append(_part(chunk, number, total, cut=number == total and not done))
    return parts


def _most_words(words: list[str], fits: Callable[[list[str]], bool]) -> int:
    """The most of ``words``, from the first, that ``fits`` takes (0 when not even one);
    ``fits`` must take every shorter run where it takes a longer one.
    """
    low, high = 0, len(words)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(words[:middle]):
            low = middle
        else:
            high = middle - 1
    return low


def _with_link(text: str, url: str | None) -> str:
    """A rendered post, stripped, with the article link added at the end if the template
    left it out.
    """
    text = text.strip()
    return f"{text}\n\n{url}".strip() if url and url not in text else text


def _part(words: list[str], number: int, total: int, *, cut: bool) -> str:
    """A later part of a thread: its words (``…`` where the summary goes on past the thread,
    and where the next part takes over), then ``(k/N)``.
    """
    text = " ".join(words)
    if number < total or cut:
        text = ellipsised(words)
    return f"{text} ({number}/{total})"
