"""What every output is: a settings model, declared capabilities, and one ``send`` method."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, Protocol

from dispatch.config import OutputSettings
from dispatch.models import Kind, Message
from dispatch.secrets import Secret

Counting = Literal["characters", "graphemes", "weighted", "bytes"]


@dataclass(frozen=True)
class Capabilities:
    """What an output accepts; rendering fits every message to these, outputs never truncate.

    ``limit`` is counted the ``counting`` way: characters (code points), graphemes,
    X's weighted characters, or the bytes of an email's HTML (Gmail clips past ~102 KB).
    ``url_length``: every URL counts as this many, whatever its length (None: as written).
    ``template``: which post template renders for it (``social/<template>.txt.j2``).
    """

    limit: int | None = None
    counting: Counting = "characters"
    url_length: int | None = None
    html: bool = False
    media: bool = False
    idempotent: bool = False
    rate_per_minute: float | None = None
    template: str = "default"


@dataclass(frozen=True)
class OutputContext:
    """What an output may need from its surroundings."""

    base_dir: Path


class Output(Protocol):
    """One configured output. Implementations are registered in the ``dispatch.outputs``
    entry-point group; the entry point names the class.
    """

    settings_model: ClassVar[type[OutputSettings]]
    kinds: ClassVar[frozenset[Kind]]

    name: str
    settings: OutputSettings

    def __init__(self, name: str, settings: OutputSettings, context: OutputContext) -> None: ...

    @property
    def capabilities(self) -> Capabilities:
        """The limits rendering must respect for this output."""
        ...

    def ready(self) -> str | None:
        """None when the output can send now, else why not (an unset secret, a missing extra)."""
        ...

    def send(self, message: Message) -> str:
        """Send one rendered message and return the remote id.

        Raises:
            OutputUnavailable: the output cannot send now; the message stays pending.
            OutputError: the message was not taken.
        """
        ...


class BaseOutput:
    """Shared plumbing for outputs: keeps name, settings and context, and reports unset secrets."""

    def __init__(self, name: str, settings: OutputSettings, context: OutputContext) -> None:
        self.name = name
        self.settings = settings
        self.context = context

    def ready(self) -> str | None:
        unset = [
            f"{field} (${{{', '.join(value.env)}}})"
            for field, value in self.settings
            if isinstance(value, Secret) and value.value is None
        ]
        return f"secret not set: {', '.join(unset)}" if unset else None
