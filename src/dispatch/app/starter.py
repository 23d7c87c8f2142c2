"""``dispatch init``: a commented feeds.yaml to start from, the built-in templates beside it
to tune, and, until the editor names their own feed, a sample feed, so the first dry run
works at once and offline.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from dispatch.app.templates import copy_built_ins
from dispatch.config import TEMPLATES_FOLDER

SAMPLE_FEED = "sample-feed.xml"
CONFIG_FILE = "feeds.yaml"


@dataclass(frozen=True)
class Answers:
    """What the editor said, or the defaults when nobody was asked."""

    feed_url: str | None = None  # None: the sample feed
    feed_title: str = ""
    title: str = "My Newsletter"
    timezone: str = "UTC"
    email: str = "you@example.org"


@dataclass
class Started:
    written: list[str] = field(default_factory=list)
    templates: int = 0


def starter_config(answers: Answers) -> str:
    """The commented feeds.yaml, filled in from ``answers``."""
    text = files("dispatch").joinpath("data", "starter.yaml").read_text(encoding="utf-8")
    from dispatch.app.feeds import slug

    name = slug(answers.feed_title or "news", set()) if answers.feed_url else "sample"
    values = {
        "feed_name": name,
        "feed_url": answers.feed_url or f"{SAMPLE_FEED}              # a sample, to try it out",
        "title": answers.title,
        "title_yaml": json.dumps(answers.title, ensure_ascii=False),
        "timezone": answers.timezone,
        "email": answers.email,
    }
    return re.sub(r"<<(\w+)>>", lambda m: values[m.group(1)], text)


def start(folder: Path, answers: Answers, *, overwrite: bool = False) -> Started:
    """Write feeds.yaml (with the sample feed when no feed was named) and templates/ into
    ``folder``.

    Raises:
        FileExistsError: feeds.yaml is there already and ``overwrite`` is not set.
        OSError: a file cannot be written.
    """
    config = folder / CONFIG_FILE
    if config.exists() and not overwrite:
        raise FileExistsError(str(config))
    folder.mkdir(parents=True, exist_ok=True)
    started = Started()
    config.write_text(starter_config(answers), encoding="utf-8")
    started.written.append(CONFIG_FILE)
    if answers.feed_url is None:
        sample = files("dispatch").joinpath("data", SAMPLE_FEED).read_bytes()
        (folder / SAMPLE_FEED).write_bytes(sample)
        started.written.append(SAMPLE_FEED)
    copied = copy_built_ins(folder / TEMPLATES_FOLDER, overwrite=False)
    started.templates = len(copied.written) + len(copied.kept)
    return started


def local_timezone() -> str:
    """This machine's IANA time zone, or UTC when it cannot be told."""
    try:
        from tzlocal import get_localzone_name

        return get_localzone_name() or "UTC"
    except Exception:  # tzlocal raises its own errors for odd set-ups; UTC is a fine start
        return "UTC"
