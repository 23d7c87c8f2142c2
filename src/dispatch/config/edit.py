"""Editing feeds.yaml in place: what ``dispatch feeds add`` and ``import-opml`` write.

New feeds are inserted as text after the last feed, indented as the feeds already are, so
every other byte of the file (comments, blank lines, quoting, the indentation of each list)
stays as the editor wrote it. Only a file without a block list of feeds to follow (none yet,
or a flow list ``[...]``) goes through ruamel.yaml's round trip. Either way the edited text is
validated as a whole before it replaces the file, so a bad edit writes nothing.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml

from dispatch.config.load import parse_config
from dispatch.config.schema import Config


def add_feeds(path: Path, entries: list[dict[str, Any]]) -> Config:
    """Append feeds to feeds.yaml, keeping everything else as written; returns the new
    configuration.

    Raises:
        ConfigError: the result would not be a valid configuration (nothing is written).
    """
    text = path.read_text(encoding="utf-8")
    edited = _inserted(text, entries)
    if edited is None:
        edited = _round_trip(text, entries)
    config = parse_config(edited, str(path))
    path.write_text(edited, encoding="utf-8")
    return config


def _inserted(text: str, entries: list[dict[str, Any]]) -> str | None:
    """``text`` with ``entries`` written after its last feed, or None when it has no block
    list of feeds to follow.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None  # parse_config reports it, with its line
    if not isinstance(root, yaml.MappingNode):
        return None
    feeds = next((v for k, v in root.value if getattr(k, "value", None) == "feeds"), None)
    if not isinstance(feeds, yaml.SequenceNode) or feeds.flow_style or not feeds.value:
        return None
    lines = text.splitlines(keepends=True)
    first = feeds.value[0].start_mark
    dash = lines[first.line].rfind("-", 0, first.column)
    if dash < 0:
        return None
    end = _last_line(feeds.value[-1])
    while end > first.line and not lines[end].strip():
        end -= 1  # blank lines a block scalar ends with belong to what follows
    gap = first.column - dash  # "- name" or "-   name": as the first feed is written
    block = "".join(_item(entry, dash, gap) for entry in entries)
    if not lines[end].endswith("\n"):
        lines[end] += "\n"
    lines.insert(end + 1, block)
    return "".join(lines)


def _last_line(node: yaml.Node) -> int:
    """The line on which ``node``'s text ends: its last scalar's line, not where the next
    token begins (which may be past blank lines and comments that belong to what follows).
    """
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    mark = node.end_mark
    # A block scalar (| or >) ends at the start of the line after its text.
    return mark.line - 1 if mark.column == 0 and mark.line > 0 else mark.line


def _item(entry: dict[str, Any], dash: int, gap: int) -> str:
    """One feed as a block list item: its dash at column ``dash``, its keys ``gap`` after."""
    body = yaml.safe_dump(
        entry, sort_keys=False, default_flow_style=False, allow_unicode=True, width=4096
    )
    first, *rest = body.splitlines(keepends=True)
    lines = [" " * dash + "-" + " " * (gap - 1) + first]
    lines += [" " * (dash + gap) + line for line in rest]
    return "".join(lines)


def _round_trip(text: str, entries: list[dict[str, Any]]) -> str:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    round_trip = YAML()
    round_trip.preserve_quotes = True
    round_trip.width = 4096
    document = round_trip.load(text)
    feeds = document.get("feeds")
    if feeds is None:
        feeds = document["feeds"] = CommentedSeq()
    for entry in entries:
        feeds.append(CommentedMap(entry))
    buffer = io.StringIO()
    round_trip.dump(document, buffer)
    return buffer.getvalue()
