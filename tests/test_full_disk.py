"""A full disk under the SQLite store (issue #23, item 2). ``RLIMIT_FSIZE`` caps how large
a file dispatch may write, as a full filesystem would stop it: the write fails (EFBIG; Python
ignores SIGXFSZ), SQLite reports an I/O error, and the run must say so by name, keep the store
whole (``PRAGMA integrity_check``), never record as sent what was not, and carry on once there
is room again.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.project import article_items, rss, write_config

pytestmark = [pytest.mark.slow]

RUN_LIMITED = """
import resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.argv = ["dispatch", *sys.argv[2:]]
from dispatch.cli.main import main
sys.exit(main())
"""


def send(folder: Path, now: str, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    args = ["--config", str(folder / "feeds.yaml"), "send", "--now", now]
    command = (
        [sys.executable, "-c", RUN_LIMITED, str(limit), *args]
        if limit is not None
        else [sys.executable, "-m", "dispatch", *args]
    )
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def look(folder: Path) -> tuple[str, int, dict[str, int], int]:
    """The store's integrity check, its articles, its deliveries by status, and the files the
    file output holds.
    """
    with sqlite3.connect(folder / "state.db") as db:
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
        articles = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status"))
    out = folder / "out"
    return check, articles, statuses, len(list(out.glob("*.json"))) if out.exists() else 0


# Where the room runs out, as seen on this machine: 2 KB, in the poll's write (nothing of it is
# kept); 200 KB, after the poll, at the outbox's first claim; 330 KB, after a few posts;
# 400 KB, between the file output's write and the "sent" after it (left `sending`, settled by
# the next run); 1 MB, after more posts. The assertions hold wherever it runs out.
@pytest.mark.parametrize("room", [2_000, 200_000, 330_000, 400_000, 1_000_000])
def test_a_full_disk_fails_the_run_by_name_and_the_next_one_carries_on(
    tmp_path: Path, room: int
) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_text(rss(article_items(5)))
    write_config(
        tmp_path,
        {
            "state": "state.db",
            "feeds": [{"name": "news", "url": "feed.xml", "backfill": "all", "every": "30m"}],
            "outputs": {"files": {"type": "file", "path": "out", "max_posts_per_run": 1000}},
            "posts": [{"name": "social", "outputs": ["files"]}],
        },
    )
    first = send(tmp_path, "2026-11-27T03:00:00+00:00")
    assert first.returncode == 0, first.stderr
    assert look(tmp_path) == ("ok", 5, {"sent": 5}, 5)

    # 300 new articles, and room for only ``room`` more bytes in any one file.
    feed.write_text(rss(article_items(5) + article_items(300, prefix="b")))
    limit = (tmp_path / "state.db").stat().st_size + room
    full = send(tmp_path, "2026-11-27T04:00:00+00:00", limit)
    check, articles, statuses, files = look(tmp_path)
    assert check == "ok"
    assert "Traceback" not in full.stderr, full.stderr
    if full.returncode != 0:  # it ran out of room somewhere: said by name, with a hint
        assert full.returncode == 3, full.stdout + full.stderr
        assert "cannot write the state file" in full.stderr and "state.db" in full.stderr
        assert "free space on the disk" in full.stderr
    # Never recorded as sent what was not: each sent post has its file.
    assert files >= statuses.get("sent", 0)
    assert articles in (5, 305)  # a poll is recorded whole or not at all

    # Room again: the next run carries on, and every article goes out exactly once.
    again = send(tmp_path, "2026-11-27T05:00:00+00:00")
    assert again.returncode == 0, again.stdout + again.stderr
    assert look(tmp_path) == ("ok", 305, {"sent": 305}, 305)


def test_a_full_disk_under_a_file_output_keeps_its_posts_waiting(tmp_path: Path) -> None:
    """Writing a post's file fails with ENOSPC (the file is /dev/full): the post waits and is
    tried again, rather than failing for good; once there is room it goes, once.
    """
    (tmp_path / "feed.xml").write_text(rss(article_items(2)))
    write_config(
        tmp_path,
        {
            "state": "state.db",
            "feeds": [{"name": "news", "url": "feed.xml", "backfill": "all", "every": "30m"}],
            "outputs": {"files": {"type": "file", "path": "out"}},
            "posts": [{"name": "social", "outputs": ["files"]}],
        },
    )
    config = str(tmp_path / "feeds.yaml")
    preview = tmp_path / "preview"  # the same file names a send writes
    dry = subprocess.run(
        [sys.executable, "-m", "dispatch", "--config", config, "send", "--dry-run", "--out",
         str(preview), "--now", "2026-11-27T03:00:00+00:00"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    names = sorted(p.name for p in preview.glob("post-*.json"))
    assert len(names) == 2
    (tmp_path / "out").mkdir()
    for name in names:
        (tmp_path / "out" / name).symlink_to("/dev/full")
    full = send(tmp_path, "2026-11-27T03:00:00+00:00")
    assert full.returncode == 1, full.stdout + full.stderr
    assert "No space left on device" in full.stderr and "retry at" in full.stderr
    assert look(tmp_path)[2] == {"pending": 2}
    for name in names:
        (tmp_path / "out" / name).unlink()
    again = send(tmp_path, "2026-11-27T05:00:00+00:00")
    assert again.returncode == 0, again.stdout + again.stderr
    assert look(tmp_path) == ("ok", 2, {"sent": 2}, 2)
