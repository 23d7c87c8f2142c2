"""One story once: telling that a new article from one feed is a story another feed already
carried, without a model.

Two articles are the same story when their links are the same once normalised (tracking
parameters, scheme and ``www.`` aside), or when their words overlap enough: the similarity of
their word 3-shingles (title and the start of the text, case and punctuation aside;
resemblance, or containment of the shorter in the longer) reaches the configured threshold.
Syndicated copies of one wire story share most of their shingles even when an editor rewrote
the first line; two stories on the same topic share few, since shingles are runs of three
words, not words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from dispatch.models import Candidate

if TYPE_CHECKING:
    import regex

SHINGLE = 3  # words per shingle
TEXT_PREFIX = 2000  # characters of the text compared: enough for the story, not the boilerplate
MIN_CONTAINED = 20  # shingles a text needs before its containment in another counts


@cache
def _word() -> regex.Pattern[str]:
    """Words, as Unicode has them (marks included, which ``re`` leaves out). Compiled when
    first asked for: a poll in which nothing changed never imports ``regex``.
    """
    import regex

    return regex.compile(r"\w+")


@dataclass(frozen=True)
class Match:
    story: int
    source: str
    reason: str


def shingles(title: str, text: str) -> frozenset[str]:
    words = _word().findall(f"{title} {text[:TEXT_PREFIX]}".casefold())
    if len(words) < SHINGLE:
        return frozenset({" ".join(words)}) if words else frozenset()
    return frozenset(" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Broder's resemblance (Jaccard), or his containment of the shorter text in the longer
    when the shorter is long enough to be a story of its own (an abridged copy of a wire story
    is contained in it, though the two hardly resemble each other by size).
    """
    if not a or not b:
        return 0.0
    return _score(len(a & b), len(a), len(b))


def with_shingles(candidate: Candidate) -> Candidate:
    return Candidate(
        candidate.id,
        candidate.story,
        candidate.feed,
        candidate.source,
        candidate.norm_link,
        candidate.title,
        candidate.text,
        shingles(candidate.title, candidate.text),
    )


class StoryIndex:
    """Recent articles, indexed by link and by shingle, so finding a new article's story
    costs the articles it shares a shingle with, not every recent article: a poll that finds
    thousands of new articles stays linear.
    """

    def __init__(self, candidates: Iterable[Candidate] = ()) -> None:
        self._items: list[Candidate] = []
        self._links: dict[str, list[int]] = {}
        self._postings: dict[str, list[int]] = {}
        for candidate in candidates:
            self.add(candidate)

    def add(self, candidate: Candidate) -> None:
        index = len(self._items)
        self._items.append(candidate)
        if candidate.norm_link:
            self._links.setdefault(candidate.norm_link, []).append(index)
        for shingle in candidate.shingles:
            self._postings.setdefault(shingle, []).append(index)

    def find(
        self, feed: str, norm_link: str | None, own: frozenset[str], threshold: float
    ) -> Match | None:
        """The story of another feed's article that this one repeats, if any: the same link
        first, else the most similar text at or above ``threshold``.
        """
        for index in self._links.get(norm_link or "", []):
            candidate = self._items[index]
            if candidate.feed != feed:
                return Match(candidate.story, candidate.source, "the same link")
        shared: dict[int, int] = {}
        for shingle in own:
            for index in self._postings.get(shingle, ()):
                shared[index] = shared.get(index, 0) + 1
        best: tuple[float, Candidate] | None = None
        for index, count in shared.items():
            candidate = self._items[index]
            if candidate.feed == feed:
                continue
            score = _score(count, len(own), len(candidate.shingles))
            if score >= threshold and (best is None or score > best[0]):
                best = (score, candidate)
        if best is None:
            return None
        return Match(best[1].story, best[1].source, f"{best[0]:.0%} of the same wording")


def _score(shared: int, size: int, other: int) -> float:
    """``similarity`` from the count of shared shingles and the two sizes."""
    resemblance = shared / (size + other - shared)
    shorter = min(size, other)
    return resemblance if shorter < MIN_CONTAINED else max(resemblance, shared / shorter)
