"""The one registry of outputs: built-ins and third-party alike come from the entry-point group
``dispatch.outputs``. A plugin that fails to load is reported by name, never fatal to the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, cast

from dispatch.config import Config
from dispatch.errors import OutputUnavailable
from dispatch.outputs.base import Output, OutputContext

if TYPE_CHECKING:
    from dispatch.models import OutputState

GROUP = "dispatch.outputs"


@cache
def _entries() -> dict[str, EntryPoint]:
    return {entry.name: entry for entry in entry_points(group=GROUP)}


@cache
def _load_one(name: str) -> type[Output] | str:
    """The output type, or why its plugin failed to load."""
    try:
        return cast(type[Output], _entries()[name].load())
    except Exception as e:  # a broken plugin must not take the others down
        return f"{type(e).__name__}: {e}"


def type_names() -> list[str]:
    """Every output type installed, loaded or not."""
    return sorted(_entries())


def output_type(name: str) -> type[Output] | None:
    """The output type named ``name``, loading only its plugin; None if missing or broken."""
    if name not in _entries():
        return None
    loaded = _load_one(name)
    return None if isinstance(loaded, str) else loaded


def output_types() -> dict[str, type[Output]]:
    """Every output type that loads, by its ``type`` name (loads every plugin)."""
    return {name: kind for name in type_names() if (kind := output_type(name)) is not None}


def broken_output_types() -> dict[str, str]:
    """Output types whose plugin failed to load, with the reason."""
    return {name: loaded for name in type_names() if isinstance(loaded := _load_one(name), str)}


def open_outputs(config: Config) -> dict[str, Output]:
    """An instance of every configured output, by its configured name.

    Raises:
        OutputUnavailable: an output's type is not installed.
    """
    context = OutputContext(
        base_dir=config.base_dir,
        allow_private_networks=config.allow_private_networks,
        user_agent=config.fetch.user_agent,
    )
    outputs: dict[str, Output] = {}
    for name, settings in config.outputs.items():
        kind = output_type(settings.type)
        if kind is None:
            raise OutputUnavailable(name, f"output type {settings.type!r} is not installed")
        outputs[name] = kind(name, settings, context)
    return outputs


def recall_limits(outputs: Mapping[str, Output], states: Mapping[str, OutputState]) -> None:
    """Give each output the limits its network told an earlier run (kept in the store), so
    what asks no network (a dry run, the preview, ``dispatch outputs``) counts as a send will.
    """
    for name, state in states.items():
        if name in outputs and state.limits:
            outputs[name].recall(state.limits, state.limits_read_at)
