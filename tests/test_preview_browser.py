"""`dispatch preview` end to end in real headless Chromium (Debian's package, driven by
Playwright): the page shows the digest and the posts, follows template and feeds.yaml saves,
shows a broken template's file, line and offending line while keeping the last good render,
and recovers. Screenshots are kept in test-artifacts/preview/.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from helpers.browser import ARTIFACTS as BROWSER_ARTIFACTS
from helpers.browser import chromium_page
from helpers.preview import running_preview
from helpers.project import ROOT
from helpers.servers import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = BROWSER_ARTIFACTS / "preview"
LIVE = 5_000  # ms to wait for a save to reach the page (it takes well under a second)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The bundled example, with a templates folder that overrides the subject line."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    config = (ROOT / "feeds.yaml").read_text(encoding="utf-8")
    (tmp_path / "feeds.yaml").write_text(config + "\ntemplates: templates\n", encoding="utf-8")
    subject = tmp_path / "templates" / "email" / "subject.txt.j2"
    subject.parent.mkdir(parents=True)
    subject.write_text("{{ digest.title }} — {{ digest.date }}\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def preview_url(project: Path) -> Iterator[str]:
    with running_preview(project / "feeds.yaml") as url:
        yield url
    assert not (project / "dispatch.db").exists(), "the preview must not write the state file"


@pytest.fixture
def page() -> Iterator[Page]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_page() as opened:
        yield opened


def _save(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_the_preview_follows_every_save(page: Page, preview_url: str, project: Path) -> None:
    page.goto(preview_url)
    subject = page.locator(".digest .subject").first
    expect(subject).to_have_text(re.compile(r"^The Think Tank Journal — \d+ \w+ 2026$"))
    # The digest as the email will look, at both widths, with its size and text twin.
    for frame in ("iframe.desktop", "iframe.phone"):
        heading = page.frame_locator(frame).first.get_by_text("The Think Tank Journal").first
        expect(heading).to_be_visible()
    assert page.locator("iframe.phone").first.get_attribute("width") == "375"
    expect(page.locator(".digest .size").first).to_contain_text("bytes of HTML")
    expect(page.locator(".text-twin").first).to_contain_text("Read more: https://")
    # Each post per network, with its count against the limit, its link and its card.
    for network, limit in (("x", 280), ("mastodon", 500), ("bluesky", 300)):
        post = page.locator(f".post.network-{network}").first
        expect(post.locator(".count")).to_have_text(re.compile(rf"^\d+ / {limit} "))
        expect(post.locator(".link a")).to_have_attribute("href", re.compile("^https://"))
        expect(post.locator(".card strong")).not_to_be_empty()
    # Why each article is in or out.
    expect(page.locator("#articles")).to_contain_text("baseline: it was in the feed")
    expect(page.locator("#articles")).to_contain_text("filtered: feed 'wire'")
    _shot(page, "1-initial")

    template = project / "templates" / "email" / "subject.txt.j2"
    started = time.monotonic()
    _save(template, "EDITED {{ digest.title }}\n")
    expect(subject).to_have_text("EDITED The Think Tank Journal", timeout=LIVE)
    print(f"a template save reached the page in {time.monotonic() - started:.2f} s")
    _shot(page, "2-edited")

    _save(template, "{% if digest.title %}\nBROKEN {{ digest.title }\n{% endif %}\n")
    error = page.locator(".digest .template-error").first
    expect(error).to_be_visible(timeout=LIVE)
    where = "Template error in templates/email/subject.txt.j2, line 2"
    expect(error.locator(".where")).to_have_text(where)
    expect(error.locator(".offending")).to_contain_text("BROKEN {{ digest.title }")
    expect(error.locator(".message")).to_contain_text("unexpected '}'")
    expect(subject).to_have_text("EDITED The Think Tank Journal")  # the last good render stays
    email = page.frame_locator("iframe.desktop").first
    expect(email.get_by_text("Read more").first).to_be_visible()
    _shot(page, "3-broken")

    _save(template, "FIXED {{ digest.title }}\n")
    expect(subject).to_have_text("FIXED The Think Tank Journal", timeout=LIVE)
    expect(page.locator(".template-error")).to_have_count(0)
    _shot(page, "4-fixed")

    config = project / "feeds.yaml"
    good = config.read_text(encoding="utf-8")
    _save(config, good.replace("max_items: 20", "max_items: 20\n    colour: red"))
    problem = page.locator("#config-error")
    expect(problem).to_contain_text("digests[0].colour (line", timeout=LIVE)
    expect(subject).to_have_text("FIXED The Think Tank Journal")
    _shot(page, "5-config-error")
    _save(config, good.replace("title: The Think Tank Journal", "title: The Weekend Journal"))
    expect(subject).to_have_text("FIXED The Weekend Journal", timeout=LIVE)
    expect(problem).to_have_count(0)
    expect(page.locator(".digest .note").first).to_contain_text(
        "Schedule 0 7 * * *, Asia/Karachi time"
    )


def test_the_page_says_when_the_preview_is_back(page: Page, project: Path) -> None:
    # The preview stops (a restart, a laptop's sleep) and comes back on the same port: the page
    # says "disconnected" while it is gone and "reconnected" once it is back, not the former.
    port = free_port()
    live = page.locator("#live")
    with running_preview(project / "feeds.yaml", port=port) as url:
        page.goto(url)
        expect(live).to_contain_text("live: follows every save", timeout=LIVE)
    expect(live).to_contain_text("disconnected", timeout=LIVE)
    with running_preview(project / "feeds.yaml", port=port):
        expect(live).to_contain_text("live: reconnected at", timeout=3 * LIVE)
