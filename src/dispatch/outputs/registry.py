"""The one registry of outputs: built-ins and third-party alike come from the entry-point group
``dispatch.outputs`` (found by ``dispatch.config.plugins``, since loading feeds.yaml needs each
type's settings model); here they become instances, by configured name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from dispatch.config import Config, plugins
from dispatch.errors import OutputUnavailable
from dispatch.outputs.base import Output, OutputContext

if TYPE_CHECKING:
    from dispatch.models import OutputState


def output_type(name: str) -> type[Output] | None:
    """The output type named ``name``, loading only its plugin; None if missing or broken."""
    found = plugins.output_type(name)
    return None if found is None else cast(type[Output], found)


def output_types() -> dict[str, type[Output]]:
    """Every output type that loads, by its ``type`` name (loads every plugin)."""
    return {name: kind for name in plugins.type_names() if (kind := output_type(name)) is not None}


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
