"""URL normalisation for identity: tracking parameters, fragments and scheme do not make an
article new.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

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
