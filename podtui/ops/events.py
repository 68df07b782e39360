"""Progress events of an operation on pods, for the front ends to show.

An operation never prints: it calls a sink with one `StepEvent` each time a
step on a pod starts, finishes, fails or is skipped. The CLI turns events
into lines, the dashboard into progress rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum

log = logging.getLogger(__name__)


class Phase(StrEnum):
    """Where a step is."""

    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class StepEvent:
    """One step of one pod changed phase."""

    pod: str
    step: str
    """connect, fetch, dependencies, sync, restart, health or rollback."""
    phase: Phase
    detail: str = ""
    """What the step did or why it failed, in a few words."""
    seconds: float | None = None
    """How long the step took, once it finished or failed."""


EventSink = Callable[[StepEvent], None]
"""Receives events; must not block (the TUI posts a message, the CLI prints)."""


def ignore_events(event: StepEvent) -> None:
    """A sink for callers that want no progress."""


@dataclass
class StepTimer:
    """Emits the events of one pod's steps and keeps their timings."""

    pod: str
    sink: EventSink
    timings: dict[str, float] = field(default_factory=dict)
    """Step name to seconds, for the summary and the benchmark."""
    detail: str = ""
    """What the step in progress did, set by the step to report it."""

    @asynccontextmanager
    async def step(self, name: str, detail: str = "") -> AsyncIterator[StepTimer]:
        """Time a step: started, then finished, or failed with the error."""
        self.detail = ""
        self.emit(name, Phase.STARTED, detail)
        started = time.perf_counter()
        try:
            yield self
        except BaseException as error:
            seconds = time.perf_counter() - started
            self.timings[name] = seconds
            self.emit(name, Phase.FAILED, self.reason(error), seconds)
            raise
        seconds = time.perf_counter() - started
        self.timings[name] = seconds
        self.emit(name, Phase.FINISHED, self.detail, seconds)

    def reason(self, error: BaseException) -> str:
        """An error's message without the pod name the row already shows."""
        message = getattr(error, "message", None) or str(error)
        return message.removeprefix(f"{self.pod}: ") or type(error).__name__

    def skip(self, name: str, detail: str) -> None:
        self.emit(name, Phase.SKIPPED, detail)

    def emit(
        self, name: str, phase: Phase, detail: str = "", seconds: float | None = None
    ) -> None:
        event = StepEvent(self.pod, name, phase, detail, seconds)
        log.debug("%s %s %s %s", self.pod, name, phase, detail)
        try:
            self.sink(event)
        except Exception:  # a broken front end must not break a deploy
            log.exception("the event sink failed on %s", event)


def event_line(event: StepEvent) -> str:
    """One event as a line of text: `dev-1  sync      finished  0.12s  2 written`."""
    seconds = f"{event.seconds:.2f}s" if event.seconds is not None else ""
    parts = [event.pod.ljust(12), event.step.ljust(12), event.phase.value.ljust(8)]
    parts += [seconds.rjust(7), event.detail]
    return "  ".join(parts).rstrip()
