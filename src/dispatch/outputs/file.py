"""The file output: each message as JSON plus its HTML and plain text, for archives and review."""

from __future__ import annotations

import errno
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Literal

from dispatch.config import OutputSettings
from dispatch.errors import OutputError, TransientError
from dispatch.models import Kind, Message
from dispatch.outputs.base import BaseOutput, Capabilities
from dispatch.render.mail import build_email

# A full disk, a file over the size limit, a quota: room may come back.
_NO_ROOM = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


class FileSettings(OutputSettings):
    type: Literal["file"]
    path: str = "out"
    format: Literal["json", "eml"] = "json"  # eml: digests also as the email they would be
    sender: str = "dispatch <dispatch@localhost>"  # the From of .eml files


class FileOutput(BaseOutput):
    """Writes ``<stem>.json``, ``<stem>.txt``, ``<stem>.html`` for HTML messages, and with
    ``format: eml`` a digest's ``<stem>.eml``. Rewriting the same message writes the same
    files, so a retry never makes a second copy.
    """

    settings_model: ClassVar[type[OutputSettings]] = FileSettings
    kinds: ClassVar[frozenset[Kind]] = frozenset({"digest", "post"})

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(html=True, idempotent=True)

    def send(self, message: Message) -> str:
        assert isinstance(self.settings, FileSettings)
        directory = self.context.base_dir / self.settings.path
        try:
            written = write_message(message, directory)
            if self.settings.format == "eml" and message.kind == "digest":
                email = build_email(
                    message,
                    sender=self.settings.sender,
                    recipient=message.recipient or "archive@localhost",
                    date=datetime.now(UTC),
                )
                eml = directory / f"{message_stem(message)}.eml"
                eml.write_bytes(email.as_bytes())
                written.append(eml)
        except OSError as e:
            if e.errno in _NO_ROOM:  # the same file is written again once there is room
                raise TransientError(
                    self.name,
                    f"cannot write to {directory}: {e.strerror or e}",
                    hint="free space on its disk; it is tried again",
                ) from None
            raise OutputError(
                self.name,
                f"cannot write to {directory}: {e.strerror or e}",
                hint="check that the folder exists and is writable",
            ) from None
        return str(written[0])


def message_stem(message: Message) -> str:
    """A file name stem that is the same every time the same message is rendered."""
    return f"{message.kind}-{message.name}-{message.output}-{message.key[:12]}"


def write_message(message: Message, directory: Path) -> list[Path]:
    """Write a message's files into ``directory``; the JSON file comes first.

    Raises:
        OSError: the folder cannot be created or written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / message_stem(message)
    files = [stem.with_suffix(".json"), stem.with_suffix(".txt")]
    files[0].write_text(
        json.dumps(message.to_record(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    files[1].write_text(message.text, encoding="utf-8")
    if message.html is not None:
        files.append(stem.with_suffix(".html"))
        files[2].write_text(message.html, encoding="utf-8")
    return files
