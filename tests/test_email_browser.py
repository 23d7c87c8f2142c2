"""The bundled example's digest as readers see it, in headless Chromium: at 375 px (a phone)
and 700 px, light and dark. The video box keeps 16:9 at both widths, dark mode darkens the
page and the cards, and a video that is the article itself gets no second "Read more" link.
Screenshots are kept in test-artifacts/email/ (not committed). Remote images are refused in
the browser: nothing is fetched beyond this machine.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from helpers.browser import ARTIFACTS, chromium_page
from helpers.project import NOW, ROOT, run_cli

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = ARTIFACTS / "email"
LIGHT_CARD, DARK_CARD = "rgb(255, 255, 255)", "rgb(22, 27, 34)"


@pytest.fixture(scope="module")
def digest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's newsletter digest, from a dry run."""
    folder = tmp_path_factory.mktemp("example")
    shutil.copytree(ROOT / "examples", folder / "examples")
    shutil.copy(ROOT / "feeds.yaml", folder / "feeds.yaml")
    out = folder / "out"
    result = run_cli(
        "send", "--dry-run", "--now", NOW, "--out", str(out), config=folder / "feeds.yaml"
    )
    assert result.code == 0, result.stderr
    (page,) = out.glob("digest-daily-newsletter-*.html")
    return page


@pytest.mark.parametrize("width", [375, 700])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_digest_at_phone_and_desktop_widths_in_light_and_dark(
    digest: Path, width: int, scheme: str
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(width, 900, scheme, local_only=True) as page:  # type: ignore[arg-type]
        page.goto(digest.as_uri())
        page.screenshot(path=str(SHOTS / f"digest-{width}-{scheme}.png"), full_page=True)
        boxes = page.eval_on_selector_all(
            ".video > table > tbody > tr > td",
            "cells => cells.map(c => c.getBoundingClientRect()).map(r => [r.width, r.height])",
        )
        assert boxes, "the example's digest carries a video"
        for box_width, box_height in boxes:
            assert box_width == pytest.approx(min(width, 600), abs=1)
            assert box_width / box_height == pytest.approx(16 / 9, rel=0.03), (
                box_width,
                box_height,
            )
        card = page.eval_on_selector(".card", "e => getComputedStyle(e).backgroundColor")
        text = page.eval_on_selector(".card .headline a", "e => getComputedStyle(e).color")
        assert card == (DARK_CARD if scheme == "dark" else LIGHT_CARD)
        assert text != card


def test_a_video_that_is_the_article_has_no_second_link(digest: Path) -> None:
    page = digest.read_text(encoding="utf-8")
    plays = set(re.findall(r'href="([^"]+)"[^>]*>&#9654; Play video', page))
    more = set(re.findall(r'href="([^"]+)"[^>]*>Read more<', page))
    assert plays and more  # the example has both: articles with a video, and a channel's video
    assert plays.isdisjoint(more)
