"""Golden files: the bundled example's dry run, every message file, exactly.

Regenerate with ``pytest tests/test_golden.py --update-golden`` and review the diff.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers.project import NOW, ROOT, run_cli

GOLDEN = Path(__file__).resolve().parent / "golden" / "example"


def test_bundled_example_matches_the_golden_files(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    out = tmp_path / "out"
    result = run_cli(
        "send", "--dry-run", "--json", "--now", NOW, "--out", str(out), config=ROOT / "feeds.yaml"
    )
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    produced = sorted(p.name for p in out.iterdir())
    if request.config.getoption("--update-golden"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        shutil.copytree(out, GOLDEN)
    expected = sorted(p.name for p in GOLDEN.iterdir())
    assert produced == expected
    for name in expected:
        assert (out / name).read_text(encoding="utf-8") == (GOLDEN / name).read_text(
            encoding="utf-8"
        ), f"{name} differs from its golden file; rerun with --update-golden and review the diff"
    kinds = [m["kind"] for m in result.messages()]
    assert kinds.count("digest") == 2 and kinds.count("post") == 12
    assert not (ROOT / "dispatch.db").exists()


def test_golden_digest_carries_every_video_card() -> None:
    html = next(GOLDEN.glob("digest-daily-newsletter-*.html")).read_text(encoding="utf-8")
    for video in ("jNQXAC9IVRw", "aqz-KE-bpKQ", "M7lc1UVf-VE", "dQw4w9WgXcQ"):
        assert f"https://www.youtube.com/watch?v={video}" in html
        assert f"/vi/{video}/hqdefault.jpg" in html
    assert "Play video: The budget in four minutes" in html and "Unsubscribe" in html
    assert "stats.example.net" not in html  # the tracking pixel was dropped
