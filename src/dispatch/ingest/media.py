"""Video discovery: every form of YouTube URL in article HTML, and YouTube channel feed fields.

Runs on the feed's raw HTML, before sanitising, because the sanitiser removes the iframes
that carry embeds.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dispatch.models import VideoCard

_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
# From the "//" on: the scheme does not change the video, and a pattern that starts with a
# literal is searched for as one; an optional scheme first made it 50 times slower.
_YOUTUBE_URL = re.compile(
    r"//(?:[a-z0-9-]+\.)*(?:youtube(?:-nocookie)?\.com|youtu\.be)/[^\s\"'<>\]\[)]*",
    re.IGNORECASE,
)
_IFRAME = re.compile(r"<iframe\b[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_WATCH_HOSTS = {"youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com"}
_PATH_FORMS = {"embed", "shorts", "live", "v", "e"}


def youtube_id(url: str) -> str | None:
    """The video id in any YouTube URL form, or None when the URL is not a video."""
    text = html.unescape(url).strip()
    if text.startswith("//"):
        text = "https:" + text
    try:
        parts = urlsplit(text)
    except ValueError:  # a host that cannot be taken apart, like "//[x": not a video
        return None
    host = (parts.hostname or "").lower().removeprefix("www.")
    segments = [segment for segment in parts.path.split("/") if segment]
    candidate: str | None = None
    if host == "youtu.be" and segments:
        candidate = segments[0]
    elif host in _WATCH_HOSTS:
        if segments[:1] == ["watch"]:
            candidate = next(iter(parse_qs(parts.query).get("v", [])), None)
        elif len(segments) >= 2 and segments[0] in _PATH_FORMS:
            candidate = segments[1]
    if candidate and _VIDEO_ID.fullmatch(candidate):
        return candidate
    return None


def card_for(video_id: str, title: str, thumbnail: str | None = None) -> VideoCard:
    """A card with the canonical watch URL and, when none is given, YouTube's HQ thumbnail."""
    return VideoCard(
        video_id=video_id,
        url=f"https://www.youtube.com/watch?v={video_id}",
        thumbnail=thumbnail or f"https://i.ytimg.com/vi/{video_id}/hqdefault.jpg",
        title=title,
    )


def cards_in_html(raw_html: str, fallback_title: str) -> list[VideoCard]:
    """Cards for every YouTube video in the HTML: iframes, links and bare URLs, once each."""
    if "youtu" not in raw_html.lower():
        return []  # most articles carry no video: one quick look instead of two scans
    titles: dict[str, str] = {}
    for tag in _IFRAME.findall(raw_html):
        attributes = {m[0].lower(): m[1] or m[2] or m[3] for m in _ATTRIBUTE.findall(tag)}
        for source in ("src", "data-src", "data-lazy-src"):
            video = youtube_id(attributes.get(source, ""))
            if video and attributes.get("title"):
                titles.setdefault(video, html.unescape(attributes["title"]).strip())
    found = (youtube_id(match) for match in _YOUTUBE_URL.findall(raw_html))
    return [card_for(video, titles.get(video) or fallback_title) for video in _unique(found)]


def cards_in_entry(entry: Any, raw_html: str, title: str) -> list[VideoCard]:
    """Cards for a feedparser entry: YouTube channel fields first, then the content's videos."""
    cards: list[VideoCard] = []
    video = entry.get("yt_videoid")
    if isinstance(video, str) and _VIDEO_ID.fullmatch(video):
        thumbnails = entry.get("media_thumbnail") or []
        thumbnail = thumbnails[0].get("url") if thumbnails else None
        cards.append(card_for(video, title, thumbnail))
    for link in entry.get("links") or []:
        href = link.get("href") or ""
        linked = youtube_id(href) if "youtu" in href.lower() else None  # most links: no video
        if linked:
            cards.append(card_for(linked, title))
    cards += cards_in_html(raw_html, title)
    seen: set[str] = set()
    unique = []
    for card in cards:
        if card.video_id not in seen:
            seen.add(card.video_id)
            unique.append(card)
    return unique


def _unique(ids: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(video for video in ids if video))
