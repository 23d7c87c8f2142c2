"""The sandbox editors' templates run in: Jinja2's, plus limits on time and size.

Jinja2's ``SandboxedEnvironment`` already refuses unsafe attributes (``__class__``,
``__globals__`` ...) and unsafe callables. It does not stop a template that loops for ever or
builds a huge string, so this adds:

- size limits on every value an operator, a call, a filter or a ``namespace`` assignment makes,
  and on the whole output, which is streamed and counted;
- a time limit per render: a watchdog thread raises ``RenderTimeout`` in the rendering thread
  when the deadline passes, which stops even a loop that calls nothing.
"""

from __future__ import annotations

import ctypes
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import Namespace

MAX_VALUE = 1_000_000  # characters (or items) in any one value a template makes
MAX_OUTPUT = 5_000_000  # characters one template may output
MAX_SECONDS = 2.0  # for one digest or post, every template it takes included
MAX_EXPONENT = 64
_DICT_ATTRIBUTES = frozenset(dir(dict))


class RenderTimeout(Exception):
    """A render went past its deadline (raised in the rendering thread by the watchdog)."""


def _too_big(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple | dict) and len(value) > MAX_VALUE


def _refuse_big(value: Any, what: str) -> Any:
    if _too_big(value):
        raise SecurityError(
            f"{what} made a value of {len(value):,} items; the limit is {MAX_VALUE:,}"
        )
    return value


class _BoundedNamespace(Namespace):
    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, _refuse_big(value, f"setting namespace attribute {name!r}"))


class GuardedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["namespace"] = _BoundedNamespace

    def getattr(self, obj: Any, attribute: str) -> Any:
        # ``article.title`` on a context dict: Jinja tries the attribute first and takes the
        # item after an AttributeError, hundreds of times a digest. A dict has no attribute
        # but dict's own, so the item is the same answer, without raising.
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"an exponent of {right}; the limit is {MAX_EXPONENT}")
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                repeats = isinstance(sequence, str | list | tuple) and isinstance(times, int)
                if repeats and len(sequence) * times > MAX_VALUE:
                    raise SecurityError(
                        f"repeating a value {times:,} times passes the limit of {MAX_VALUE:,} items"
                    )
        return _refuse_big(super().call_binop(context, operator, left, right), f"{operator!r}")

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        return _refuse_big(
            super().call(__context, __obj, *args, **kwargs), f"calling {__obj!r:.60}"
        )

    def guard_filters(self) -> None:
        """Wrap every filter registered so far so that none returns a huge value."""
        for name, function in list(self.filters.items()):
            self.filters[name] = _bounded_filter(name, function)


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps Jinja's pass_context marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        return _refuse_big(function(*args, **kwargs), f"the filter {name!r}")

    return bounded


def bounded_output(chunks: Iterator[str]) -> str:
    """Join a template's streamed output, refusing more than ``MAX_OUTPUT`` characters."""
    parts, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise SecurityError(f"the output passed the limit of {MAX_OUTPUT:,} characters")
        parts.append(chunk)
    return "".join(parts)


class _Watchdog:
    """One thread for every render's deadline: arming and disarming cost a lock, not a thread."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._armed: dict[int, tuple[float, int]] = {}  # thread -> (expiry, token)
        self._tokens = 0
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> int:
        with self._condition:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="render-watchdog")
                self._thread.daemon = True
                self._thread.start()
            self._tokens += 1
            self._armed[threading.get_ident()] = (time.monotonic() + seconds, self._tokens)
            self._condition.notify()
            return self._tokens

    def disarm(self, token: int) -> None:
        with self._condition:
            ident = threading.get_ident()
            if self._armed.get(ident, (0.0, 0))[1] == token:
                del self._armed[ident]

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                for ident, (expiry, _) in list(self._armed.items()):
                    if expiry <= now:
                        del self._armed[ident]
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(
                            ctypes.c_ulong(ident), ctypes.py_object(RenderTimeout)
                        )
                waits = [expiry - now for expiry, _ in self._armed.values()]
                self._condition.wait(timeout=max(min(waits), 0.001) if waits else None)


_WATCHDOG = _Watchdog()


@contextmanager
def deadline(seconds: float = MAX_SECONDS) -> Iterator[None]:
    """Raise ``RenderTimeout`` in this thread if the block is still running after ``seconds``."""
    token = _WATCHDOG.arm(seconds)
    try:
        yield
    finally:
        _WATCHDOG.disarm(token)
