"""The one registry of outputs: built-ins and third-party alike come from the entry-point group
``dispatch.outputs``. A plugin that fails to load is reported by name, never fatal to the rest.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import cast

from dispatch.config import Config
from dispatch.errors import OutputUnavailable
from dispatch.outputs.base import Output, OutputContext

GROUP = "dispatch.outputs"


@cache
def _load() -> tuple[dict[str, type[Output]], dict[str, str]]:
    types: dict[str, type[Output]] = {}
    broken: dict[str, str] = {}
    for entry in entry_points(group=GROUP):
        try:
            types[entry.name] = cast(type[Output], entry.load())
        except Exception as e:  # a broken plugin must not take the others down
            broken[entry.name] = f"{type(e).__name__}: {e}"
    return types, broken


def output_types() -> dict[str, type[Output]]:
    """Every output type that loaded, by its ``type`` name."""
    return _load()[0]


def broken_output_types() -> dict[str, str]:
    """Output types whose plugin failed to load, with the reason."""
    return _load()[1]


def open_outputs(config: Config) -> dict[str, Output]:
    """An instance of every configured output, by its configured name.

    Raises:
        OutputUnavailable: an output's type is not installed.
    """
    context = OutputContext(
        base_dir=config.base_dir, allow_private_networks=config.allow_private_networks
    )
    outputs: dict[str, Output] = {}
    for name, settings in config.outputs.items():
        output_type = output_types().get(settings.type)
        if output_type is None:
            raise OutputUnavailable(name, f"output type {settings.type!r} is not installed")
        outputs[name] = output_type(name, settings, context)
    return outputs
