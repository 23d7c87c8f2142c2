"""Loading feeds.yaml, every problem reported at once with its place and line.

Loading goes in three steps: YAML is composed into nodes (so each value keeps its line),
``${VAR}`` references are filled from the environment, and the models validate the result.
Outputs are validated by the settings model of their ``type``, looked up among the installed
output types, so third-party outputs get the same checks as built-in ones.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from dispatch.config.plugins import output_type, type_names
from dispatch.config.schema import Config, DaemonSettings, OutputSettings
from dispatch.config.secrets import Unset, interpolate, malformed_reference
from dispatch.errors import ConfigError, ConfigProblem
from dispatch.text import did_you_mean

DEFAULT_PATH = "feeds.yaml"
Place = tuple[str | int, ...]


def config_path(explicit: str | None) -> Path:
    """``--config``, else ``$DISPATCH_CONFIG``, else ``feeds.yaml`` here."""
    return Path(explicit or os.environ.get("DISPATCH_CONFIG") or DEFAULT_PATH)


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate and validate a configuration file.

    Raises:
        ConfigError: with every problem found, each with its place and line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            os.path.abspath(path),
            [ConfigProblem("(file)", "there is no such file")],
            hint="dispatch reads --config PATH, else $DISPATCH_CONFIG, else feeds.yaml in the "
            "current folder; `dispatch init` writes a commented one to start from",
        ) from None
    except OSError as e:
        raise ConfigError(
            os.path.abspath(path), [ConfigProblem("(file)", f"cannot be read: {e.strerror or e}")]
        ) from None
    config = parse_config(text, str(path), environ)
    config._base_dir = path.resolve().parent
    return config


def parse_config(text: str, source: str, environ: Mapping[str, str] | None = None) -> Config:
    """Validate configuration text; ``source`` names it in errors.

    Raises:
        ConfigError: with every problem found.
    """
    try:
        # libyaml's composer where PyYAML has it: the same nodes and lines, far faster for a
        # file that lists thousands of feeds.
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(e, "problem", None) or str(e)
        if mark is not None:
            reason += _snippet(text, mark.line, mark.column)
        raise ConfigError(
            source,
            [ConfigProblem("(file)", f"not valid YAML: {reason}", line)],
            hint="check the indentation and quotes on that line and the one before it; a "
            "value with `: ` or ` #` in it needs quotes",
        ) from None
    if node is None:
        raise ConfigError(source, [ConfigProblem("(file)", "is empty; it needs at least `feeds:`")])
    lines: dict[Place, int] = {}
    scalars = _Scalars(environ)
    data = _to_python(node, (), lines, scalars)
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigProblem("(file)", "must be a mapping of keys", 1)])

    problems = [_problem(place, message, lines) for place, message in scalars.problems]
    outputs = data.get("outputs")
    if isinstance(outputs, dict):
        validated = _validate_outputs(outputs, lines, problems)
        problems += _cross_references(data, {**outputs, **validated}, lines)
        problems += _lease_problems(data, validated, lines)
        data["outputs"] = validated
    else:
        problems += _cross_references(data, {}, lines)
    try:
        config = Config.model_validate(data)
    except ValidationError as e:
        problems += _problems(e, (), lines, Config)
    if problems:
        raise ConfigError(source, sorted(problems, key=_problem_order))
    return config


def _snippet(text: str, line: int, column: int) -> str:
    """The line a YAML error is on, and a caret under the place."""
    lines = text.splitlines()
    if not 0 <= line < len(lines):
        return ""
    number = str(line + 1)
    gutter = " " * len(number)
    return f"\n      {number} | {lines[line]}\n      {gutter} | {' ' * column}^"


def _problem_order(problem: ConfigProblem) -> tuple[int, str]:
    return (problem.line or 0, problem.place)


def _validate_outputs(
    outputs: dict[str, Any], lines: dict[Place, int], problems: list[ConfigProblem]
) -> dict[str, Any]:
    validated: dict[str, Any] = {}
    for name, raw in outputs.items():
        place: Place = ("outputs", name)
        kind = raw.get("type") if isinstance(raw, dict) else None
        if not isinstance(kind, str):
            problems.append(_problem(place, "needs a `type`", lines))
            continue
        found = output_type(kind)
        if found is None:
            choices = ", ".join(type_names())
            problems.append(
                _problem((*place, "type"), f"unknown output type {kind!r}; known: {choices}", lines)
            )
            continue
        try:
            validated[name] = found.settings_model.model_validate(raw)
        except ValidationError as e:
            waiting = _waiting_for_environment(found.settings_model, raw, e)
            if waiting is None:
                problems += _problems(e, place, lines, found.settings_model)
            else:
                validated[name] = waiting
    return validated


def _waiting_for_environment(
    model: type[OutputSettings], raw: dict[str, Any], error: ValidationError
) -> OutputSettings | None:
    """An output whose only problems are ``${VAR}`` references not set: its settings with
    those values as written, marked not ready (a send waits until they are set; a dry run
    does without them). None when anything else is wrong too, or a written reference is not
    a valid value there (a port, a URL).
    """
    details = error.errors()
    if not all(isinstance(detail.get("input"), Unset) for detail in details):
        return None
    filled = copy.deepcopy(raw)
    unset: dict[str, str] = {}
    for detail in details:
        names: Unset = detail["input"]
        *path, last = detail["loc"]
        holder: Any = filled
        for step in path:
            holder = holder[step]
        holder[last] = ", ".join(f"${{{name}}}" for name in names.names)
        unset[format_place(tuple(detail["loc"]))] = str(names)
    try:
        settings = model.model_validate(filled)
    except ValidationError:
        return None
    settings._unset = unset
    return settings


def _names(section: Any) -> list[Any]:
    items = section if isinstance(section, list) else []
    return [item.get("name") if isinstance(item, dict) else None for item in items]


def _cross_references(
    data: dict[str, Any], outputs: dict[str, Any], lines: dict[Place, int]
) -> list[ConfigProblem]:
    """Names that must be unique and references that must resolve. Works on the raw data, so
    these problems are reported together with every other one.
    """
    problems: list[ConfigProblem] = []
    feed_names = set(_names(data.get("feeds")))
    for section in ("feeds", "digests", "posts"):
        seen: set[Any] = set()
        for index, name in enumerate(_names(data.get(section))):
            if name is not None and name in seen:
                problems.append(
                    _problem((section, index, "name"), f"{name!r} is used twice", lines)
                )
            seen.add(name)
    for section, kind in (("digests", "digest"), ("posts", "post")):
        rules = data.get(section)
        for index, rule in enumerate(rules if isinstance(rules, list) else []):
            if not isinstance(rule, dict):
                continue
            feeds = rule.get("feeds")
            for position, feed in enumerate(feeds if isinstance(feeds, list) else []):
                if feed not in feed_names:
                    place: Place = (section, index, "feeds", position)
                    message = f"no feed is named {feed!r}" + did_you_mean(feed, feed_names)
                    problems.append(_problem(place, message, lines))
            targets = rule.get("outputs")
            for position, output in enumerate(targets if isinstance(targets, list) else []):
                place = (section, index, "outputs", position)
                settings = outputs.get(output)
                if output not in outputs:
                    message = f"no output is named {output!r}" + did_you_mean(output, outputs)
                    problems.append(_problem(place, message, lines))
                elif isinstance(settings, OutputSettings) and kind not in _kinds(settings.type):
                    message = f"output {output!r} ({settings.type}) cannot send {section}"
                    problems.append(_problem(place, message, lines))
    return problems


def _lease_problems(
    data: dict[str, Any], outputs: dict[str, OutputSettings], lines: dict[Place, int]
) -> list[ConfigProblem]:
    """A lease must outlast every send, or a slow send could be taken over and sent twice."""
    daemon = data.get("daemon")
    try:
        lease = DaemonSettings.model_validate(daemon if isinstance(daemon, dict) else {}).lease
    except ValidationError:
        return []  # reported by the whole model's validation
    return [
        _problem(
            ("daemon", "lease"),
            f"{_seconds(lease)} is not longer than output {name!r}'s timeout "
            f"({_seconds(settings.timeout)}); a send could outlive its lease",
            lines,
        )
        for name, settings in outputs.items()
        if settings.timeout >= lease
    ]


def _seconds(duration: timedelta) -> str:
    return f"{duration.total_seconds():g}s"


def _kinds(type_name: str) -> frozenset[str]:
    found = output_type(type_name)
    return found.kinds if found is not None else frozenset()


_STR = "tag:yaml.org,2002:str"


class _Scalars:
    """Constructs YAML scalars the safe way and fills in ``${VAR}`` references."""

    def __init__(self, environ: Mapping[str, str] | None) -> None:
        self._loader = yaml.SafeLoader("")
        self._environ = environ
        self.problems: list[tuple[Place, str]] = []  # references that cannot be filled in

    def value(self, node: yaml.Node, place: Place = ()) -> Any:
        # A string scalar's value is its text: what the constructor would return, without its
        # bookkeeping, which took a third of loading a 10,000-feed file.
        is_text = isinstance(node, yaml.ScalarNode) and node.tag == _STR
        value = node.value if is_text else self._loader.construct_object(node)
        if isinstance(value, str) and "${" in value:
            problem = malformed_reference(value)
            if problem:
                self.problems.append((place, problem))
            return interpolate(value, self._environ)
        return value


def _to_python(node: yaml.Node, place: Place, lines: dict[Place, int], scalars: _Scalars) -> Any:
    lines[place] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = scalars.value(key_node)
            result[key] = _to_python(value_node, (*place, str(key)), lines, scalars)
            lines[(*place, str(key))] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*place, i), lines, scalars) for i, item in enumerate(node.value)]
    return scalars.value(node, place)


def _problems(
    error: ValidationError, prefix: Place, lines: dict[Place, int], model: type[BaseModel]
) -> list[ConfigProblem]:
    problems = []
    for detail in error.errors():
        place: Place = (*prefix, *detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        if isinstance(detail.get("input"), Unset):
            message = f"environment variable {detail['input']} is not set"
        elif detail["type"] in ("model_type", "dict_type"):
            message = f"should be a mapping of keys (`key: value` lines), not {_kind(detail)}"
        elif detail["type"] == "list_type":
            message = f"should be a list (`[a, b]`, or `- a` lines), not {_kind(detail)}"
        elif detail["type"] == "extra_forbidden":
            known = _keys_at(model, detail["loc"][:-1])
            guess = did_you_mean(str(detail["loc"][-1]), known)
            message = "unknown key" + (guess or " (check its spelling; the README lists every key)")
        problems.append(_problem(place, message, lines))
    return problems


def _kind(detail: Any) -> str:
    """What was given where a mapping or a list belongs, in an editor's words."""
    given = detail.get("input")
    kinds = {str: "text", list: "a list", dict: "a mapping", int: "a number", float: "a number"}
    return kinds.get(type(given), type(given).__name__)


def _keys_at(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The keys a mapping at ``loc`` (a path of keys and list indexes from ``model``) may have."""
    kind: Any = model
    for step in loc:
        if get_origin(kind) is dict:
            kind = get_args(kind)[1]  # ``step`` is a key of the user's: the value's type
            continue
        if isinstance(step, int):
            continue  # an index into a list: its items' type is unwrapped below
        found = _model_in(kind)
        if found is None or str(step) not in found.model_fields:
            return []
        kind = found.model_fields[str(step)].annotation
    found = _model_in(kind)
    if found is None:
        return []
    return [field.alias or name for name, field in found.model_fields.items()]


def _model_in(kind: Any) -> type[BaseModel] | None:
    """The model ``kind`` is, or holds (``list[X]``, ``X | None``)."""
    while not (isinstance(kind, type) and issubclass(kind, BaseModel)):
        args = [a for a in get_args(kind) if a is not type(None)]
        if not args or get_origin(kind) is dict:
            return None
        kind = args[0]
    return kind


def _problem(place: Place, message: str, lines: dict[Place, int]) -> ConfigProblem:
    line = None
    for end in range(len(place), -1, -1):
        line = lines.get(place[:end])
        if line is not None:
            break
    return ConfigProblem(format_place(place), message, line)


def format_place(place: Place) -> str:
    """``("feeds", 2, "every")`` -> ``feeds[2].every``."""
    text = ""
    for part in place:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(file)"
