"""rss2email 3.14 and feed2exec 0.23, from PyPI, in their own virtual environment
(bench/.peers), with their configurations for a list of feed URLs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PEERS = Path(__file__).resolve().parent / ".peers"
PACKAGES = ["rss2email==3.14", "feed2exec==0.23.0"]


def ensure() -> Path:
    """The peers' virtual environment's bin folder, made once."""
    bin_dir = PEERS / "bin"
    if not (bin_dir / "r2e").exists() or not (bin_dir / "feed2exec").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
        subprocess.run(
            [str(bin_dir / "pip"), "install", "-q", "--disable-pip-version-check", *PACKAGES],
            check=True,
        )
    return bin_dir


def rss2email_config(path: Path, feeds: dict[str, str], smtp_port: int) -> None:
    """rss2email's configuration: every feed, mail by SMTP to the sink."""
    lines = [
        "[DEFAULT]",
        "to = reader@example.org",
        "from = bench@example.org",
        "email-protocol = smtp",
        f"smtp-server = 127.0.0.1:{smtp_port}",
        "smtp-auth = False",
        "smtp-ssl = False",
        "html-mail = True",
        "",
    ]
    for name, url in feeds.items():
        lines += [f"[feed.{name}]", f"url = {url}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def feed2exec_config(path: Path, feeds: dict[str, str]) -> None:
    """feed2exec's configuration: every feed to its null output."""
    lines = []
    for name, url in feeds.items():
        lines += [f"[{name}]", f"url = {url}", "output = feed2exec.plugins.null", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
