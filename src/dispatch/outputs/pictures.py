"""The article's picture for a post: where it comes from, its alt text, and its bytes as a
network takes them.

- **Where from**: the feed's (the first image of the content, ``media:thumbnail``,
  ``media:content``, an image ``enclosure``, as parsing chose it), else a video's thumbnail,
  else the article page's ``og:image`` (or ``twitter:image``). Every fetch goes through the
  guarded fetcher, capped at MAX_SOURCE_IMAGE bytes.
- **Alt text**: the image's own ``alt`` (else ``title``) where the content shows it, else the
  article's title; at most MAX_ALT characters (X's limit, the shortest).
- **Bytes**: kept as they are when the type and size suit the network; else scaled down (and
  made JPEG) until they fit its byte and pixel limits.

A picture that cannot be had is a ``NoPicture`` with the reason: the post goes out as text.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin

from dispatch.config import FetchSettings
from dispatch.models import Article
from dispatch.net.fetch import Fetcher, FetchRequest, FetchResponse
from dispatch.outputs.base import BaseOutput

MAX_SOURCE_IMAGE = 10_000_000  # bytes fetched at most, for a picture or a page
MAX_ALT = 1000  # X's limit for alt text; Mastodon takes 1,500, Bluesky more
_SIDES = (4096, 2048, 1600, 1200, 800, 500)  # tried in turn until the picture fits
_KEPT_TYPES = ("JPEG", "PNG", "GIF", "WEBP")


class NoPicture(Exception):
    """The article's picture cannot be had; the reason says why."""


@dataclass(frozen=True)
class Picture:
    """An image ready to upload."""

    data: bytes
    mime: str
    alt: str
    width: int
    height: int
    url: str


def picture_source(article: Article) -> str | None:
    """The picture the feed gives: the article's lead image, else its video's thumbnail."""
    return article.image or (article.cards[0].thumbnail if article.cards else None)


def alt_text(article: Article, url: str) -> str:
    """The image's own ``alt`` or ``title`` where the article's content shows it, else the
    article's title.
    """
    finder = _Images()
    finder.feed(article.html)
    described = finder.described.get(url, "")
    text = " ".join((described or article.title).split())
    return text if len(text) <= MAX_ALT else text[: MAX_ALT - 1].rstrip() + "…"


def article_picture(
    output: BaseOutput,
    article: Article,
    *,
    max_bytes: int,
    max_pixels: int | None = None,
    source: str | None = None,
) -> Picture:
    """The article's picture (``source`` where the caller chose one), fetched and fitted to
    ``max_bytes`` (and ``max_pixels``).

    Raises:
        NoPicture: none is given, it cannot be fetched, it is no image, or it will not fit.
    """
    url = source or picture_source(article)
    if url is None and article.link:
        page = _fetch(output, article.link)
        found = _Images.og_image(page.body)
        url = urljoin(page.url, found) if found else None
    if url is None:
        raise NoPicture("the article has no picture (none in the feed, no og:image)")
    fitted = fit_picture(_fetch(output, url).body, max_bytes=max_bytes, max_pixels=max_pixels)
    if fitted is None:
        raise NoPicture(f"{url} is no image, or cannot be made small enough")
    data, mime, width, height = fitted
    return Picture(data, mime, alt_text(article, url), width, height, url)


def fit_picture(
    data: bytes, *, max_bytes: int, max_pixels: int | None = None
) -> tuple[bytes, str, int, int] | None:
    """``data`` as a network takes it: its own bytes and MIME type (read from the bytes) when
    its type is common and it is within ``max_bytes`` and ``max_pixels``; else scaled down and
    saved as JPEG until it fits. None when it is no image or will not fit.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
            small = max_pixels is None or width * height <= max_pixels
            if len(data) <= max_bytes and small and kind in _KEPT_TYPES:
                return data, Image.MIME[kind], width, height
            picture = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    for side in _SIDES:
        picture.thumbnail((side, side))
        if max_pixels is not None and picture.width * picture.height > max_pixels:
            continue
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=80, optimize=True)
        if out.tell() <= max_bytes:
            return out.getvalue(), "image/jpeg", picture.width, picture.height
    return None


def _fetch(output: BaseOutput, url: str) -> FetchResponse:
    """``url`` through the guarded fetcher, under the size cap.

    Raises:
        NoPicture: it could not be fetched.
    """
    fetcher = Fetcher(FetchSettings(max_bytes=MAX_SOURCE_IMAGE), output.context.base_dir)
    request = FetchRequest("picture", url, allow_private=output.allow_private)
    (result,) = fetcher.fetch_all([request])
    if not isinstance(result, FetchResponse) or not result.body:
        reason = getattr(result, "reason", "an empty answer")
        raise NoPicture(f"{url} could not be fetched: {reason}")
    return result


class _Images(HTMLParser):
    """Reads what a page or an article's content says of its images."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.described: dict[str, str] = {}  # src -> its alt (else title)
        self.og: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "img" and values.get("src"):
            description = values.get("alt", "").strip() or values.get("title", "").strip()
            self.described.setdefault(values["src"], description)
        elif tag == "meta" and self.og is None:
            kind = values.get("property") or values.get("name")
            if kind in ("og:image", "og:image:url", "twitter:image") and values.get("content"):
                self.og = html.unescape(values["content"]).strip()

    @classmethod
    def og_image(cls, page: bytes) -> str | None:
        finder = cls()
        finder.feed(page[:MAX_SOURCE_IMAGE].decode("utf-8", errors="replace"))
        return finder.og
