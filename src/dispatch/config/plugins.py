"""The output types feeds.yaml may name: the entry points of the ``dispatch.outputs`` group,
built-ins and third-party alike, each loaded only when it is named. A plugin that fails to load
is reported by name, never fatal to the rest.

Loading a configuration needs only what a type declares of itself (its settings model and the
kinds of message it sends); ``dispatch.outputs.registry`` makes the instances.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import ClassVar, Protocol, cast

from dispatch.config.schema import OutputSettings

GROUP = "dispatch.outputs"


class OutputType(Protocol):
    """What an output type declares before any instance exists."""

    settings_model: ClassVar[type[OutputSettings]]
    kinds: ClassVar[frozenset[str]]


@cache
def _entries() -> dict[str, EntryPoint]:
    return {entry.name: entry for entry in entry_points(group=GROUP)}


@cache
def loaded(name: str) -> object | str | None:
    """The object an entry point names, why its plugin failed to load, or None if no such
    type is installed.
    """
    if name not in _entries():
        return None
    try:
        found: object = _entries()[name].load()
    except Exception as e:  # a broken plugin must not take the others down
        return f"{type(e).__name__}: {e}"
    return found


def type_names() -> list[str]:
    """Every output type installed, loaded or not."""
    return sorted(_entries())


def output_type(name: str) -> OutputType | None:
    """The output type named ``name``, loading only its plugin; None if missing or broken."""
    found = loaded(name)
    return None if found is None or isinstance(found, str) else cast(OutputType, found)


def broken_output_types() -> dict[str, str]:
    """Output types whose plugin failed to load, with the reason."""
    return {name: found for name in type_names() if isinstance(found := loaded(name), str)}
