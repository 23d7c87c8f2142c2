"""What tests/prepare.sh installs (Debian's PostgreSQL, Chromium, nginx and smtp-sink, the
networks' code from npm, feedparser's source). A test that needs one
that is missing is skipped with the hint to run it; under CI (``$CI`` set), where the script
has run, a missing one fails the test instead of hiding it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

HINT = "run `sh tests/prepare.sh` (it installs what the tests need beyond pip)"


def needs(what: str, present: bool) -> None:
    """Skip the test, or fail it under CI, unless ``what`` is ``present``."""
    if present:
        return
    message = f"{what} is not installed: {HINT}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def have_command(name: str) -> bool:
    """On the PATH, or in /usr/sbin, where Debian puts servers (off a non-root user's PATH)."""
    return shutil.which(name) is not None or Path("/usr/sbin", name).exists()
