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

from dataclasses import dataclass, field

import regex

SHINGLE = 3  # words per shingle
TEXT_PREFIX = 2000  # characters of the text compared: enough for the story, not the boilerplate
MIN_CONTAINED = 20  # shingles a text needs before its containment in another counts

_WORD = regex.compile(r"\w+")


@dataclass(frozen=True)
class Candidate:
    """An article already seen that a new one may repeat. ``story`` is its story's id."""

    id: int
    story: int
    feed: str
    source: str
    norm_link: str | None
    title: str
    text: str
    shingles: frozenset[str] = field(default=frozenset(), compare=False)


@dataclass(frozen=True)
class Match:
    story: int
    source: str
    reason: str


def shingles(title: str, text: str) -> frozenset[str]:
    words = _WORD.findall(f"{title} {text[:TEXT_PREFIX]}".casefold())
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
    shared = len(a & b)
    resemblance = shared / len(a | b)
    shorter = min(len(a), len(b))
    if shorter < MIN_CONTAINED:
        return resemblance
    return max(resemblance, shared / shorter)


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


def find_story(
    feed: str,
    norm_link: str | None,
    own: frozenset[str],
    candidates: list[Candidate],
    threshold: float,
) -> Match | None:
    """The story of another feed's article that this one repeats, if any: the same link first,
    else the most similar text at or above ``threshold``.
    """
    others = [c for c in candidates if c.feed != feed]
    if norm_link:
        for candidate in others:
            if candidate.norm_link == norm_link:
                return Match(candidate.story, candidate.source, "the same link")
    best: tuple[float, Candidate] | None = None
    for candidate in others:
        score = similarity(own, candidate.shingles)
        if score >= threshold and (best is None or score > best[0]):
            best = (score, candidate)
    if best is None:
        return None
    return Match(best[1].story, best[1].source, f"{best[0]:.0%} of the same wording")
