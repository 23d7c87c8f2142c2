"""Plain-text rules every stage shares: which characters no stored text, XML or post may carry,
cutting text at a word boundary, guessing what a misspelt word meant, and hashtags.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def printable(text: str) -> str:
    """Text without the characters that XML (and so MJML) refuses: NUL and the other C0
    controls but tab, line feed and carriage return, and lone surrogates, which JSON can carry
    ("\\ud800") and UTF-8 cannot. PostgreSQL refuses NUL, and no database takes a surrogate.
    """
    return _CONTROLS.sub("", text)


# What no post should carry: C0 and C1 controls but tab and line breaks, and the byte-order
# mark. Networks disagree on which of them are white space (JavaScript's \s takes U+FEFF,
# Python's takes U+001C to U+001F and U+0085), so the same post would count differently.
_UNPOSTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\ud800-\udfff]")


def postable(text: str) -> str:
    """``text`` as a post carries it: no control characters but tab and line breaks, no
    byte-order mark, no lone surrogates.
    """
    return _UNPOSTABLE.sub("", text)


ELLIPSIS = "…"


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
        if measure(ellipsised(words[:middle])) <= limit:
            low = middle
        else:
            high = middle - 1
    return ellipsised(words[:low]) if low else ""


def ellipsised(words: list[str]) -> str:
    return " ".join(words).rstrip(" ,;:—–-") + ELLIPSIS


def did_you_mean(word: str, choices: Iterable[object]) -> str:
    """``; did you mean 'x'?`` for the choice closest to a misspelt ``word``, or nothing."""
    close = difflib.get_close_matches(word, [c for c in choices if isinstance(c, str)], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


_APOSTROPHES = re.compile(r"['’‘`]")
MAX_HASHTAG = 64  # Bluesky's limit, in graphemes; the shortest of the three networks'


def hashtag(text: str) -> str | None:
    """``text`` as a hashtag, without its ``#``, in CamelCase: each word's first letter
    capitalised, the rest kept ("Pakistan economy" → PakistanEconomy, "covid-19" → Covid19,
    "iPhone tips" → IPhoneTips). None when nothing would be a tag on every network: no letter
    at all ("2026"), or longer than ``MAX_HASHTAG``.
    """
    words = _tag_word().findall(_APOSTROPHES.sub("", text.lstrip("#＃")))
    tag = "".join(word[:1].upper() + word[1:] for word in words)
    return tag if is_hashtag(tag) else None


def is_hashtag(tag: str) -> bool:
    """Whether ``tag`` (without its ``#``) is a hashtag on X, Mastodon and Bluesky alike."""
    return (
        bool(_tag_word().fullmatch(tag))
        and any(c.isalpha() for c in tag)
        and len(tag) <= MAX_HASHTAG
    )


@functools.cache
def _tag_word() -> Any:
    """Characters a hashtag may hold on X, Mastodon and Bluesky alike: letters and marks of any
    script, digits and the underscore; anything else splits words. ``regex`` knows Unicode's
    categories, and is imported when a tag is made, not by every poll.
    """
    import regex

    return regex.compile(r"[\p{L}\p{M}\p{N}_]+")
