"""A digest's web archive, pure: where each issue's page lives, the index pages (one per
month, and one of the months), and an Atom feed of the issues. Writing them is the outbox's.

The layout, under the archive's folder and its ``base_url`` alike::

    index.html                         the months, newest first
    feed.xml                           Atom: the newest issues
    2026/12/index.html                 that month's issues
    2026/12/daily-2026-12-03-0700.html an issue, as the email shows it (without unsubscribe)
    2026/12/daily-2026-12-03-0700.txt  its plain-text twin
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

FEED_ISSUES = 50  # issues in the Atom feed, newest first


@dataclass(frozen=True)
class Issue:
    """One archived issue: the digest's name and title, its subject, the period it is for
    (in the digest's time zone), its page's path under the archive, its preheader.
    """

    name: str
    title: str
    subject: str
    period: datetime
    path: str
    preheader: str = ""

    def record(self) -> dict[str, str]:
        return {
            "name": self.name,
            "title": self.title,
            "subject": self.subject,
            "period": self.period.isoformat(),
            "path": self.path,
            "preheader": self.preheader,
        }

    @classmethod
    def from_record(cls, record: dict[str, str]) -> Issue:
        return cls(
            record["name"],
            record["title"],
            record["subject"],
            datetime.fromisoformat(record["period"]),
            record["path"],
            record.get("preheader", ""),
        )


def issue_path(name: str, period: datetime) -> str:
    """An issue's page, by the digest's name and its period in the digest's time zone."""
    return f"{period:%Y/%m}/{name}-{period:%Y-%m-%d-%H%M}.html"


def pages(issues: Sequence[Issue], base_url: str, title: str) -> dict[str, str]:
    """Every index page and the feed, by path: what changes when an issue is added."""
    newest = sorted(issues, key=lambda issue: issue.period, reverse=True)
    months: dict[str, list[Issue]] = {}
    for issue in newest:
        months.setdefault(f"{issue.period:%Y/%m}", []).append(issue)
    made = {"index.html": _months_page(months, title), "feed.xml": atom(newest, base_url, title)}
    for month, listed in months.items():
        made[f"{month}/index.html"] = _month_page(month, listed, title)
    return made


def atom(issues: Sequence[Issue], base_url: str, title: str) -> str:
    """An Atom feed (RFC 4287) of the newest issues, each linking to its page."""
    newest = sorted(issues, key=lambda issue: issue.period, reverse=True)[:FEED_ISSUES]
    updated = _stamp(newest[0].period) if newest else "1970-01-01T00:00:00Z"
    entries = "".join(
        "<entry>"
        f"<title>{escape(issue.subject)}</title>"
        f'<link rel="alternate" type="text/html" href="{escape(base_url + issue.path)}"/>'
        f"<id>{escape(base_url + issue.path)}</id>"
        f"<updated>{_stamp(issue.period)}</updated>"
        f"<summary>{escape(issue.preheader)}</summary>"
        "</entry>"
        for issue in newest
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title>"
        f'<link rel="self" type="application/atom+xml" href="{escape(base_url)}feed.xml"/>'
        f'<link rel="alternate" type="text/html" href="{escape(base_url)}"/>'
        f"<id>{escape(base_url)}feed.xml</id>"
        f"<updated>{updated}</updated>"
        f"<author><name>{escape(title)}</name></author>"
        f"{entries}</feed>\n"
    )


def _months_page(months: dict[str, list[Issue]], title: str) -> str:
    items = "".join(
        f'<li><a href="{month}/index.html">{month.replace("/", "-")}</a>'
        f" ({len(listed)} {'issue' if len(listed) == 1 else 'issues'})</li>"
        for month, listed in months.items()
    )
    body = f"<ul>{items}</ul>" if items else "<p>No issues yet.</p>"
    return _page(title, f'{body}<p><a href="feed.xml">Atom feed</a></p>')


def _month_page(month: str, issues: Sequence[Issue], title: str) -> str:
    items = "".join(
        f'<li><a href="{html.escape(issue.path.rsplit("/", 1)[1])}">'
        f"{html.escape(issue.subject)}</a> <small>{issue.period:%Y-%m-%d %H:%M}</small></li>"
        for issue in issues
    )
    back = '<p><a href="../../index.html">All months</a></p>'
    return _page(f"{title}: {month.replace('/', '-')}", f"<ul>{items}</ul>{back}")


def _page(title: str, body: str) -> str:
    name = html.escape(title)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{name}</title>"
        "<style>body{font-family:Georgia,serif;max-width:40em;margin:2em auto;padding:0 1em}"
        "</style></head>"
        f"<body><h1>{name}</h1>{body}</body></html>\n"
    )


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
