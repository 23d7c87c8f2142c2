"""Feed HTML made safe for readers (nh3), and turned into plain text."""

from __future__ import annotations

import re
from functools import cache

import nh3
from lxml import html as lxml_html

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
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_PIXEL = re.compile(
    r"<img\b(?=[^>]*\bwidth\s*=\s*[\"']?1[\"'\s/>])(?=[^>]*\bheight\s*=\s*[\"']?1[\"'\s/>])[^>]*>",
    re.IGNORECASE,
)


def clean_html(raw: str) -> str:
    """Keep structure, links and images; drop script, style, iframes, event handlers, unsafe
    URL schemes and 1x1 tracking pixels. Links get ``rel="noopener noreferrer nofollow"``.
    """
    return nh3.clean(
        _PIXEL.sub("", raw),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def clean_text(raw: str) -> str:
    """Text from a feed field that should have no markup at all (titles, names)."""
    if "<" not in raw and "&" not in raw:
        return " ".join(raw.split())
    return " ".join(html_to_text(raw).split())


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: one paragraph a line, white space folded."""
    if not fragment.strip():
        return ""
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
