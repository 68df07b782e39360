"""What happened, as messages: the app's workers post these facts.

Each message is a past-tense fact that carries its data, so a handler never
reaches back into a worker to learn what it found.
"""

from __future__ import annotations

from textual.message import Message

from podtui.model import AppState, Health, Pod, PodReport


class PodsListed(Message):
    """The providers said which pods exist (and which providers failed)."""

    def __init__(self, pods: tuple[Pod, ...], provider_errors: dict[str, str]) -> None:
        super().__init__()
        self.pods = pods
        self.provider_errors = provider_errors
        """Environment name to why its provider failed."""


class PodInspected(Message):
    """One pod was inspected; its report is ready to show."""

    def __init__(self, report: PodReport) -> None:
        super().__init__()
        self.report = report


class LocalPodsStarted(Message):
    """The local pods of the config are up (some perhaps just created)."""

    def __init__(self, created: tuple[str, ...]) -> None:
        super().__init__()
        self.created = created


class LocalPodsFailed(Message):
    """The local pods could not be started."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class ServiceRestarted(Message):
    """The service of a pod was restarted, and how its health check went."""

    def __init__(self, pod: Pod, app: AppState, health: Health) -> None:
        super().__init__()
        self.pod = pod
        self.app = app
        self.health = health


class ServiceRestartFailed(Message):
    """Restarting the service of a pod failed."""

    def __init__(self, pod: Pod, reason: str) -> None:
        super().__init__()
        self.pod = pod
        self.reason = reason
