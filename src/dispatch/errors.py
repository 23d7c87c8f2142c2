"""The errors dispatch raises on purpose.

Each carries the facts a user needs (feed, template, output, place in the file) and a hint.
Third-party errors are wrapped at the boundary with ``raise ... from e``; real bugs propagate.

    DispatchError
    ├── ConfigError            feeds.yaml is unreadable or invalid (every problem at once)
    ├── StoreError             the state file cannot be opened or is from a newer dispatch
    ├── FeedError              one feed could not be fetched or parsed
    │   ├── FetchError         network, HTTP status, size, deadline, refused address
    │   └── ParseError         the body is not a feed
    ├── TemplateError          a template failed to load, compile or render
    ├── OperationError         an operator's command cannot be carried out as asked
    ├── ListenError            a port the daemon or the preview serves on is taken
    └── OutputError            one output could not take a message (permanent: failed)
        ├── OutputUnavailable  not ready (unset secret, missing extra); stays pending
        ├── AuthError          credentials refused; failed until the operator fixes them
        ├── Rejected           the network refused this message (duplicate, too long)
        ├── TransientError     try again later (network, 5xx); ``retry_after`` if known
        │   └── RateLimited    the network asked us to wait ``retry_after`` seconds
        └── Ambiguous          we cannot tell whether it was sent: never blindly retried
"""

from __future__ import annotations

from dataclasses import dataclass


class DispatchError(Exception):
    """Base of every error dispatch raises on purpose."""

    hint: str = ""

    def __str__(self) -> str:
        message = self.describe()
        return f"{message}\n  hint: {self.hint}" if self.hint else message

    def describe(self) -> str:
        return super().__str__()


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in the configuration, with its place (``feeds[2].every``) and line."""

    place: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        if self.place == "(file)":  # the file as a whole: its line is the place
            where = f"line {self.line}" if self.line else "the file"
        else:
            where = f"{self.place} (line {self.line})" if self.line else self.place
        return f"{where}: {self.message}"


class ConfigError(DispatchError):
    """The configuration file is unreadable or invalid; ``problems`` lists every problem."""

    hint = "fix the keys named above; the README documents every key"

    def __init__(self, path: str, problems: list[ConfigProblem], *, hint: str = "") -> None:
        super().__init__(path, problems)
        self.path = path
        self.problems = problems
        if hint:
            self.hint = hint

    def describe(self) -> str:
        lines = [f"{self.path}: {len(self.problems)} problem(s) in the configuration"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


class StoreError(DispatchError):
    """The state store cannot be used."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class FeedError(DispatchError):
    """One feed failed; ``feed`` names it, ``reason`` says why. ``retry_after`` is the
    server's ``Retry-After`` in seconds; ``gone`` is a 410: the feed will not come back.
    """

    def __init__(
        self,
        feed: str,
        reason: str,
        *,
        hint: str = "",
        retry_after: float | None = None,
        gone: bool = False,
    ) -> None:
        super().__init__(feed, reason)
        self.feed = feed
        self.reason = reason
        self.hint = hint
        self.retry_after = retry_after
        self.gone = gone

    def describe(self) -> str:
        return f"feed {self.feed!r}: {self.reason}"


class FetchError(FeedError):
    """The feed (or an article page) could not be fetched; ``status`` is the HTTP status that
    said so, when one did; ``unanswered``: the server did not answer at all (a timeout, a
    connection refused or reset); ``waited``: the seconds waited, for a timeout.
    """

    def __init__(
        self,
        feed: str,
        reason: str,
        *,
        hint: str = "",
        retry_after: float | None = None,
        gone: bool = False,
        status: int | None = None,
        unanswered: bool = False,
        waited: float | None = None,
    ) -> None:
        super().__init__(feed, reason, hint=hint, retry_after=retry_after, gone=gone)
        self.status = status
        self.unanswered = unanswered
        self.waited = waited


class ParseError(FeedError):
    """The body fetched is not a feed."""


class OperationError(DispatchError):
    """An operator's command cannot be carried out as asked."""


class ListenError(DispatchError):
    """A port dispatch would serve on (the daemon's health endpoints, the preview) cannot be
    had: another program holds it, or it is not allowed.
    """

    def __init__(self, message: str, *, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def listen_error(what: str, address: str, error: OSError, hint: str) -> ListenError:
    """A ``ListenError`` for ``what`` at ``address`` from the ``OSError`` binding raised."""
    import errno

    reason = {
        errno.EADDRINUSE: "another program is listening there",
        errno.EACCES: "this user may not listen there",
        errno.EADDRNOTAVAIL: "no interface of this machine has that address",
    }.get(error.errno or 0, error.strerror or str(error))
    return ListenError(f"cannot serve {what} on {address}: {reason}", hint=hint)


class TemplateError(DispatchError):
    """A template failed; names the file and line where known."""

    def __init__(self, template: str, reason: str, *, line: int | None = None) -> None:
        super().__init__(template, reason, line)
        self.template = template
        self.reason = reason
        self.line = line
        self.hint = "edit the template named above, then run `dispatch send --dry-run` again"

    def describe(self) -> str:
        where = f"{self.template}, line {self.line}" if self.line else self.template
        return f"template {where}: {self.reason}"


class OutputError(DispatchError):
    """An output could not take a message."""

    def __init__(self, output: str, reason: str, *, hint: str = "") -> None:
        super().__init__(output, reason)
        self.output = output
        self.reason = reason
        self.hint = hint

    def describe(self) -> str:
        return f"output {self.output!r}: {self.reason}"


class OutputUnavailable(OutputError):
    """The output cannot send now (a secret is unset, an extra is not installed); retry later."""


class AuthError(OutputError):
    """The network refused our credentials."""


class Rejected(OutputError):
    """The network refused this message for good."""


class TransientError(OutputError):
    """Worth trying again, after ``retry_after`` seconds when the network said so."""

    def __init__(
        self, output: str, reason: str, *, hint: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(output, reason, hint=hint)
        self.retry_after = retry_after


class RateLimited(TransientError):
    """The network asked us to slow down."""


class Ambiguous(OutputError):
    """The request may or may not have been taken (a timeout after sending, say)."""
