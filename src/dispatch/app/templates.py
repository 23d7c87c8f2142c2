"""The built-in templates copied out into a folder (``dispatch templates init``), for editors of
an installed dispatch to change. A file already there is kept unless asked to overwrite it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path


@dataclass
class Copied:
    """What a copy did: the files written, and those kept because they were there already."""

    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def built_in_templates() -> dict[str, bytes]:
    """Every built-in template, by its name (``email/digest.mjml.j2``)."""
    found: dict[str, bytes] = {}

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in folder.iterdir():
            name = f"{prefix}{entry.name}"
            if entry.is_dir():
                walk(entry, f"{name}/")
            elif entry.name.endswith(".j2"):
                found[name] = entry.read_bytes()

    walk(files("dispatch").joinpath("templates"), "")
    return dict(sorted(found.items()))


def copy_built_ins(folder: Path, *, overwrite: bool = False) -> Copied:
    """Write every built-in template under ``folder``.

    Raises:
        OSError: the folder or a file cannot be written.
    """
    copied = Copied()
    for name, data in built_in_templates().items():
        target = folder / name
        if target.exists() and not overwrite:
            copied.kept.append(name)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        copied.written.append(name)
    return copied
