"""URL normalisation for identity: tracking parameters, fragments and scheme do not make an
article new.
"""

from __future__ import annotations

from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit

TRACKING_PARAMETERS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "_hsenc",
        "_hsmi",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "wt_mc",
        "__twitter_impression",
    }
)


def is_tracking(parameter: str) -> bool:
    name = parameter.lower()
    return name.startswith("utm_") or name in TRACKING_PARAMETERS


def split_url(url: str) -> SplitResult:
    """``url`` taken apart, its port read as well: ``urlsplit`` takes ``http://a.example:99999/``
    apart and raises only when the port is read.

    Raises:
        ValueError: a host or port that cannot be read (``http://[x``, a port past 65535).
    """
    parts = urlsplit(url)
    parts.port  # noqa: B018 (reading the port is the check)
    return parts


def normalise_url(url: str) -> str:
    """A form of ``url`` for comparing articles: no scheme, lower-case host, no default port,
    no fragment, no tracking parameters. Not meant to be fetched.
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port if parts.port not in (None, 80, 443) else None
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking(k)]
    )
    netloc = f"{host}:{port}" if port else host
    path = parts.path or "/"
    return f"//{netloc}{path}" + (f"?{query}" if query else "")


def tag_url(url: str, tags: dict[str, str]) -> str:
    """``url`` with the UTM ``tags`` added: parameters the URL already has are left alone (so
    tagging twice changes nothing), and the scheme, host, path and fragment stay as they were.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not tags:
        return url
    existing = parse_qsl(parts.query, keep_blank_values=True)
    present = {name for name, _ in existing}
    added = [(name, value) for name, value in tags.items() if name not in present and value]
    if not added:
        return url
    query = parts.query + ("&" if parts.query else "") + urlencode(added)
    return parts._replace(query=query).geturl()


def same_site(url: str, hosts: set[str]) -> bool:
    """Whether ``url`` is on one of ``hosts`` (``www.`` ignored)."""
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    return host in hosts


# What a URI may hold as it is (RFC 3986's reserved and unreserved characters, and ``%`` so an
# escape already made stays as it is); everything else is percent-encoded as UTF-8.
_URI_SAFE = "!#$&'()*+,/:;=?@[]-._~%"


def ascii_url(url: str) -> str:
    """``url`` as a URI: a non-ASCII host in its IDNA (punycode) form, and non-ASCII or unsafe
    characters in the rest percent-encoded as UTF-8. Networks then all see one link, and
    count it as one (twitter-text ends a URL at the first Arabic or Japanese letter of a path).
    A URL that is ASCII already, or whose host cannot be encoded, is returned as it is.
    """
    if url.isascii() and " " not in url:
        return url
    try:
        parts = split_url(url)
        host = parts.hostname or ""
        ascii_host = host if host.isascii() else host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return url
    netloc = parts.netloc
    if ascii_host != host:
        userinfo = netloc.rpartition("@")[0]
        port = f":{parts.port}" if parts.port is not None else ""
        netloc = (f"{userinfo}@" if userinfo else "") + ascii_host + port
    return parts._replace(
        netloc=quote(netloc, safe=_URI_SAFE),
        path=quote(parts.path, safe=_URI_SAFE),
        query=quote(parts.query, safe=_URI_SAFE),
        fragment=quote(parts.fragment, safe=_URI_SAFE),
    ).geturl()
