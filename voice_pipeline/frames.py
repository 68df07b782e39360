"""The frames that flow through the pipeline, one dataclass per kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SAMPLE_RATE = 16000
"""The rate every stage after resampling works at (and replies are sent at)."""


@dataclass(frozen=True)
class AudioFrame:
    """A piece of PCM s16le audio.

    `role` says what the audio is: `input` (as the client sent it),
    `utterance` (one finished stretch of speech) or `reply` (synthesized).
    """

    pcm: bytes
    sample_rate: int = SAMPLE_RATE
    channels: int = 1
    role: str = "input"

    @property
    def duration_ms(self) -> float:
        """How long the audio plays, in milliseconds."""
        samples = len(self.pcm) // (2 * self.channels)
        return 1000.0 * samples / self.sample_rate


@dataclass(frozen=True)
class TextFrame:
    """Text the pipeline heard or says: `role` is `transcript` or `reply`."""

    text: str
    role: str = "transcript"


@dataclass(frozen=True)
class ControlFrame:
    """A control message or a notice.

    `kind` is `start` (client audio format), `end` (flush the utterance),
    `event` (something a client may show) or `error` (something failed).
    """

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


Frame = AudioFrame | TextFrame | ControlFrame
