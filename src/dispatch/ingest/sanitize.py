"""Feed HTML made safe for readers (nh3), and turned into plain text."""

from __future__ import annotations

import re
from functools import cache, lru_cache
from html import unescape
from urllib.parse import urljoin

import nh3
from lxml import html as lxml_html

from dispatch.text import printable

_TAGS = frozenset(
    """
    a abbr b blockquote br caption cite code dd del dl dt em figcaption figure h1 h2 h3 h4 h5 h6
    hr i img ins kbd li mark ol p pre q s small span strong sub sup table tbody td tfoot th
    thead time tr u ul
    """.split()
)
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
}
_BLOCKS = frozenset(
    """
    p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote figure figcaption pre tr table hr section
    article dd dt
    """.split()
)
# nh3 writes tag names in lower case.
_BLOCK_TAG = re.compile(r"</?(?:" + "|".join(sorted(_BLOCKS)) + r")\b[^>]*>")
_ANY_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_ABSOLUTE = ("http://", "https://", "mailto:")
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
# A tracking pixel: an image 0 or 1 pixel wide or high, by attribute or by style, or hidden.
_PIXEL_SIGNS = (
    re.compile(r"""\b(?:width|height)\s*=\s*["']?\s*[01](?:px)?\s*["'\s/>]""", re.IGNORECASE),
    re.compile(r"(?:^|[;\s\"'])(?:width|height)\s*:\s*[01](?:px)?\s*(?:[;\"'!]|$)", re.IGNORECASE),
    re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE),
)


def _drop_pixels(raw: str) -> str:
    if "<img" not in raw and "<IMG" not in raw:
        return raw
    return _IMG.sub(
        lambda m: "" if any(p.search(m.group(0)) for p in _PIXEL_SIGNS) else m.group(0), raw
    )


def clean_html(raw: str, base: str | None = None) -> str:
    """Keep structure, links and images; drop script, style, iframes, event handlers, unsafe
    URL schemes and 1x1 tracking pixels. Links get ``rel="noopener noreferrer nofollow"``.
    Relative links and images are made absolute against ``base`` (the feed's URL), as a
    reader of an email cannot follow them otherwise; without a base they are dropped.
    """
    return _cleaner(base).clean(_drop_pixels(raw))


@lru_cache(maxsize=256)
def _cleaner(base: str | None) -> nh3.Cleaner:
    """The sanitiser for one base URL, made once: a feed's articles share it, and building
    it for each article took a third of the cleaning.
    """

    def absolute(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in ("href", "src"):
            return value
        if base is not None and not value.lower().startswith(_ABSOLUTE):
            try:
                value = urljoin(base, value.strip())
            except ValueError:  # //[broken: dropped here, not reported by nh3 on stderr
                return None
        return value if value.lower().startswith(_ABSOLUTE) else None

    return nh3.Cleaner(
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        attribute_filter=absolute,
    )


def clean_text(raw: str) -> str:
    """Text from a feed field that should have no markup at all (titles, names)."""
    if "<" not in raw and "&" not in raw:
        return " ".join(printable(raw).split())
    return " ".join(html_to_text(raw).split())


def text_of_clean(cleaned: str) -> str:
    """Plain text of HTML that ``clean_html`` made (well-formed, no script or style): one
    paragraph a line, white space folded. A few regular expressions, not a parser.
    """
    text = unescape(_ANY_TAG.sub("", _BLOCK_TAG.sub("\n", cleaned)))
    return "\n".join(filter(None, map(_folded, text.split("\n"))))


def _folded(line: str) -> str:
    """The line with its white space folded: runs of it made one space, none at the ends.

    Most lines are folded already, and splitting one into words to join them again costs
    far more than seeing that. Every white space character but the space is unprintable.
    """
    if line.isprintable() and "  " not in line and line[:1] != " " and line[-1:] != " ":
        return line
    # str.split beats any regular expression for folding white space here.
    return " ".join(line.split())


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: one paragraph a line, white space folded."""
    if not fragment.strip():
        return ""
    fragment = printable(fragment)
    try:
        root = lxml_html.fragment_fromstring(_allowed_only(fragment), create_parent="div")
    except Exception:  # lxml rejects some broken input outright; fall back to the tags stripped
        return " ".join(re.sub(r"<[^>]*>", " ", fragment).split())
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.lower() in _BLOCKS:
            element.tail = "\n" + (element.tail or "")
    lines = (_SPACES.sub(" ", line).strip() for line in root.text_content().split("\n"))
    return "\n".join(line for line in lines if line)


@cache
def _text_tags() -> frozenset[str]:
    return _TAGS | {"div", "section", "article"}


def _allowed_only(fragment: str) -> str:
    # Script and style text must never become article text.
    return nh3.clean(fragment, tags=_text_tags(), attributes={}, strip_comments=True)
