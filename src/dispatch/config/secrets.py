"""Secrets pulled from the environment with ``${VAR}``, masked wherever they are printed."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Unset:
    """A configuration value that names environment variables which are not set."""

    names: tuple[str, ...]

    def __str__(self) -> str:
        return ", ".join(self.names)


def interpolate(value: str, environ: Mapping[str, str] | None = None) -> str | Unset:
    """Replace ``${VAR}`` and ``${VAR:-default}`` with values from the environment.

    Returns an ``Unset`` naming the variables that are missing and have no default.
    """
    env = os.environ if environ is None else environ
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    result = _REFERENCE.sub(substitute, value)
    return Unset(tuple(missing)) if missing else result


def malformed_reference(value: str) -> str | None:
    """Why a ``${`` in ``value`` is not a reference dispatch can fill in, or None."""
    if "${" not in _REFERENCE.sub("", value):
        return None
    return (
        "a `${` that does not make a whole reference (a `}` missing, or a name that is not "
        "letters, digits and _), so it would be taken as it is: write ${NAME}"
    )


class Secret:
    """A secret value; ``str()`` and ``repr()`` never show it.

    ``value`` is None when the environment variable it names is not set: the configuration
    still loads (a dry run needs no secrets), and the output using it reports itself not ready.
    """

    __slots__ = ("_value", "env")

    def __init__(self, value: str | None, env: tuple[str, ...] = ()) -> None:
        self._value = value
        self.env = env

    @property
    def value(self) -> str | None:
        return self._value

    def reveal(self) -> str:
        """The secret itself, for the one call that needs it.

        Raises:
            ValueError: the environment variable is not set.
        """
        if self._value is None:
            raise ValueError(f"environment variable {', '.join(self.env)} is not set")
        return self._value

    def __str__(self) -> str:
        if self._value is None:
            return f"<unset: ${{{', '.join(self.env)}}}>"
        return mask(self._value)

    __repr__ = __str__

    @classmethod
    def coerce(cls, raw: Any) -> Secret:
        if isinstance(raw, Secret):
            return raw
        if isinstance(raw, Unset):
            return cls(None, raw.names)
        if isinstance(raw, str):
            return cls(raw)
        raise ValueError("must be a string, usually a ${VARIABLE} from the environment")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.coerce, serialization=core_schema.to_string_ser_schema()
        )


def mask(value: str) -> str:
    """What is printed in place of a secret: nothing of it, not even its length."""
    return "****" if value else "(empty)"
