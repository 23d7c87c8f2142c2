"""The file output: each message written as .eml, .json, .html and .txt."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

from helpers.project import (
    LOCAL,
    NOW,
    run_cli,
)
from helpers.sending import setup
from helpers.servers import FeedServer


def test_file_output_writes_eml_json_html_and_text(tmp_path: Path, server: FeedServer) -> None:
    output = {
        "type": "file",
        "path": "archive",
        "format": "eml",
        "sender": "Archive <archive@journal.example>",
    }
    path = setup(LOCAL, tmp_path, server, {"archive": output}, digest=True)
    assert run_cli("send", "--now", NOW, config=path).code == 0
    suffixes = sorted(p.suffix for p in (tmp_path / "archive").iterdir())
    assert suffixes == [".eml", ".html", ".json", ".txt"]
    eml = next((tmp_path / "archive").glob("*.eml")).read_bytes()
    message = email.message_from_bytes(eml, policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert str(message["Subject"]).startswith("Tägliche Post")
