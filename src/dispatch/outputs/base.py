"""What every output is: a settings model, declared capabilities, and one ``send`` method.

``Capabilities`` lives with the other shared values in ``dispatch.models``, so that rendering
and the outbox's rules need not import outputs; it is named here too, where plugins look.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Protocol

from dispatch.config import USER_AGENT, OutputSettings
from dispatch.config.secrets import Secret
from dispatch.models import Capabilities, Counting, Kind, Message

__all__ = ["BaseOutput", "Capabilities", "Counting", "Output", "OutputContext"]


@dataclass(frozen=True)
class OutputContext:
    """What an output may need from its surroundings; ``user_agent`` is the fetcher's, so a
    network sees the same client whether we read a feed or post.
    """

    base_dir: Path
    allow_private_networks: bool = False
    user_agent: str = USER_AGENT


class Output(Protocol):
    """One configured output. Implementations are registered in the ``dispatch.outputs``
    entry-point group; the entry point names the class.
    """

    settings_model: ClassVar[type[OutputSettings]]
    kinds: ClassVar[frozenset[Kind]]
    can_lookup: ClassVar[bool]

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

    def recipients(self) -> Sequence[str | None]:
        """Who a digest or post goes to, one delivery each (an SMTP list's addresses, an
        Apprise output's URLs); ``[None]`` for outputs without recipients.
        """
        ...

    def prepare(self) -> None:
        """Before a real run sends: learn what the network says of itself (limits).

        Raises:
            OutputError: the network cannot be reached or refuses us.
        """
        ...

    def learned(self) -> Mapping[str, int]:
        """What ``prepare`` read of the network (its limits) since this was last asked, for
        the store to keep; empty when it read nothing new.
        """
        ...

    def recall(self, limits: Mapping[str, int], read_at: datetime | None) -> None:
        """Take limits kept from an earlier ``prepare`` (read at ``read_at``), so that a dry
        run, which asks no network, counts as the real send will.
        """
        ...

    def send(self, message: Message) -> str:
        """Send one rendered message and return the remote id.

        Raises:
            OutputUnavailable: the output cannot send now; the message stays pending.
            TransientError: try again later (``retry_after`` when the network said).
            Ambiguous: the message may or may not have been taken.
            OutputError: the message was refused for good (AuthError, Rejected).
        """
        ...

    def lookup(self, message: Message) -> str | None:
        """Find a message that may have been sent (``can_lookup``): its remote id, or None.

        Raises:
            OutputError: the lookup itself failed.
        """
        ...

    def close(self) -> None:
        """Release connections kept across sends."""
        ...


class BaseOutput:
    """Shared plumbing for outputs: keeps name, settings and context, reports unset secrets,
    and gives the defaults of the optional methods.
    """

    can_lookup: ClassVar[bool] = False

    def __init__(self, name: str, settings: OutputSettings, context: OutputContext) -> None:
        self.name = name
        self.settings = settings
        self.context = context
        self._notes: list[str] = []

    def note(self, text: str) -> None:
        """Something the run's report should say of a send that went out all the same (a
        picture that could not be had, say).
        """
        self._notes.append(f"{self.name}: {text}")

    def take_notes(self) -> list[str]:
        """The notes since last asked; an output without this method has none."""
        notes, self._notes = self._notes, []
        return notes

    @property
    def allow_private(self) -> bool:
        override = self.settings.allow_private_networks
        return self.context.allow_private_networks if override is None else override

    def recipients(self) -> Sequence[str | None]:
        return [None]

    def prepare(self) -> None:
        return None

    def learned(self) -> Mapping[str, int]:
        return {}

    def recall(self, limits: Mapping[str, int], read_at: datetime | None) -> None:
        return None

    def lookup(self, message: Message) -> str | None:
        raise NotImplementedError(f"{type(self).__name__} cannot look messages up")

    def close(self) -> None:
        return None

    def ready(self) -> str | None:
        unset = [
            f"{field} (${{{', '.join(value.env)}}})"
            for field, value in self.settings
            if isinstance(value, Secret) and value.value is None
        ]
        waiting = [
            f"{place} (${{{names}}})" for place, names in self.settings.unset_environment.items()
        ]
        reasons = []
        if unset:
            reasons.append(f"secret not set: {', '.join(unset)}")
        if waiting:
            reasons.append(f"environment variable not set: {', '.join(waiting)}")
        return "; ".join(reasons) or None
