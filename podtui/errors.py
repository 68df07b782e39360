"""The exception tree of podtui.

Every expected failure is a `PodtuiError` whose message a user can act on.
The front ends show `str(error)` (and `error.hint` when set) and never a
traceback.
"""

from __future__ import annotations


class PodtuiError(Exception):
    """Base of every error podtui expects and explains."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        """What went wrong, in one sentence."""
        self.hint = hint
        """What the user can do about it, if there is something."""

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class ConfigError(PodtuiError):
    """The configuration file is missing, unreadable or invalid."""


class PodError(PodtuiError):
    """Something went wrong on or with one pod."""

    def __init__(self, pod: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{pod}: {message}", hint=hint)
        self.pod = pod


class UnreachableError(PodError):
    """The pod cannot be reached over SSH."""


class HostKeyError(PodError):
    """The pod's host key is unknown or has changed."""


class AgentError(PodError):
    """The pod agent failed or answered something unexpected."""

    def __init__(
        self,
        pod: str,
        message: str,
        *,
        hint: str | None = None,
        answer: dict[str, object] | None = None,
    ) -> None:
        super().__init__(pod, message, hint=hint)
        self.answer = answer or {}
        """The agent's whole answer, with fields such as `conflict`."""


class ProviderError(PodtuiError):
    """A provider (local host, RunPod API, ...) failed."""
