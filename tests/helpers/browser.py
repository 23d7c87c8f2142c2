"""Debian's headless Chromium, driven by Playwright, that reaches nothing beyond 127.0.0.1."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from playwright.sync_api import Page, Route, sync_playwright

from helpers.prepared import needs
from helpers.project import ROOT

ARTIFACTS = ROOT / "test-artifacts"  # screenshots, kept for a person to look at; not committed
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps knocking on a closed network.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium_page(
    width: int = 1400,
    height: int = 1000,
    color_scheme: Literal["light", "dark"] = "light",
    *,
    local_only: bool = False,
) -> Iterator[Page]:
    """A page in a fresh profile; with ``local_only``, any request that is not to a file or
    127.0.0.1 (an email's remote images) is refused in the browser.
    """
    needs("Chromium", Path(CHROMIUM).exists())
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": width, "height": height},
            color_scheme=color_scheme,
        )
        page = context.new_page()
        if local_only:

            def guard(route: Route) -> None:
                url = route.request.url
                if url.startswith(("file:", "http://127.0.0.1", "data:")):
                    route.continue_()
                else:
                    route.abort()

            page.route("**/*", guard)
        try:
            yield page
        finally:
            context.close()
