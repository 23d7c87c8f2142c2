"""Editing feeds.yaml in place: what ``dispatch feeds add`` and ``import-opml`` write.

ruamel.yaml's round trip keeps comments, order and quoting as the editor wrote them; the
edited text is validated as a whole before it replaces the file, so a bad edit writes nothing.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from dispatch.config.load import parse_config
from dispatch.config.schema import Config


def add_feeds(path: Path, entries: list[dict[str, Any]]) -> Config:
    """Append feeds to feeds.yaml, keeping everything else as written; returns the new
    configuration.

    Raises:
        ConfigError: the result would not be a valid configuration (nothing is written).
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    text = path.read_text(encoding="utf-8")
    document = yaml.load(text)
    feeds = document.get("feeds")
    if feeds is None:
        feeds = document["feeds"] = CommentedSeq()
    for entry in entries:
        feeds.append(CommentedMap(entry))
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    config = parse_config(buffer.getvalue(), str(path))
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return config
