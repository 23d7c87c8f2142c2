"""Writing a digest's web archive: the issue's page and its text twin, the list of issues
(``issues.json``), and the index pages and Atom feed made again from that list. Each file is
written whole (a temporary file, then renamed), so a static server never serves half a page,
and an issue already there is left as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

from dispatch.render.archive import Issue, pages

MANIFEST = "issues.json"


def publish(folder: Path, base_url: str, title: str, issue: Issue, html: str, text: str) -> bool:
    """Add ``issue`` to the archive in ``folder``; False when its page was there already.

    Raises:
        OSError: the folder cannot be written (permissions, a full disk).
    """
    page = folder / issue.path
    if page.exists():
        return False
    _write(page.with_suffix(".txt"), text)
    _write(page, html)
    manifest = folder / MANIFEST
    issues = []
    if manifest.exists():
        issues = [Issue.from_record(record) for record in json.loads(manifest.read_text())]
    issues = [known for known in issues if known.path != issue.path] + [issue]
    _write(manifest, json.dumps([known.record() for known in issues], ensure_ascii=False, indent=1))
    for path, content in pages(issues, base_url, title).items():
        _write(folder / path, content)
    return True


def _write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(content, encoding="utf-8")
    temporary.replace(path)
