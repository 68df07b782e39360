"""What a log tail reports: plain data, light enough for the UI to import early."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TailState(enum.Enum):
    """What a tail is doing, as a pane shows it."""

    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    ENDED = "ended"


@dataclass(frozen=True)
class TailStatus:
    """A change of a tail's state; `attempt` counts reconnects in a row."""

    state: TailState
    attempt: int = 0
    detail: str = ""

    def describe(self) -> str:
        """`live`, `reconnecting (attempt 3)`, `ended: <why>`."""
        text = self.state.value
        if self.state is TailState.RECONNECTING:
            text += f" (attempt {self.attempt})"
        if self.detail and self.state is not TailState.LIVE:
            text += f": {self.detail}"
        return text


@dataclass(frozen=True)
class LogBatch:
    """Lines that arrived together, in file order."""

    lines: list[str]
    received: float
    """`time.time()` when the frame that carried them was read."""


TailEvent = LogBatch | TailStatus
