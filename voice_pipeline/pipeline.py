"""The audio pipeline: frames through a chain of processors, one job each.

The chain is assembled from a list of stage names (configuration), so a
deployment can drop or reorder stages without code changes:

    input -> resample -> vad -> stt -> responder -> tts -> output

Every processor takes one frame and returns the frames it passes on; frames
a stage does not handle go through unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from voice_pipeline.audio import Resampler, rms
from voice_pipeline.engines import Engines, EngineUnavailable
from voice_pipeline.frames import (
    SAMPLE_RATE,
    AudioFrame,
    ControlFrame,
    Frame,
    TextFrame,
)
from voice_pipeline.logs import quoted
from voice_pipeline.responder import Responder

log = logging.getLogger(__name__)

DEFAULT_STAGES = ("input", "resample", "vad", "stt", "responder", "tts", "output")

Sink = Callable[[Frame], Awaitable[None]]
"""Where the output stage delivers frames (the WebSocket, in the service)."""


class PipelineConfigError(ValueError):
    """The configured chain names a stage that does not exist."""


@dataclass
class Context:
    """What the processors of one session share."""

    session: str
    engines: Engines
    sink: Sink


class Processor:
    """One stage of the chain."""

    name = "processor"

    def __init__(self, context: Context) -> None:
        self.context = context

    async def process(self, frame: Frame) -> list[Frame]:
        """The frames to pass on after `frame`."""
        return [frame]


class InputStage(Processor):
    """Accepts what the client sends: its audio format and its audio."""

    name = "input"

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.sample_rate = SAMPLE_RATE
        self.channels = 1

    async def process(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, ControlFrame) and frame.kind == "start":
            self.sample_rate = int(frame.data.get("sample_rate", SAMPLE_RATE))
            self.channels = int(frame.data.get("channels", 1))
            if not (8000 <= self.sample_rate <= 192000 and 1 <= self.channels <= 8):
                raise ValueError("start: sample_rate 8000-192000, channels 1-8")
            return [frame]
        if isinstance(frame, AudioFrame) and frame.role == "input":
            if not frame.pcm:
                return []
            return [AudioFrame(frame.pcm, self.sample_rate, self.channels, "input")]
        return [frame]


class ResampleStage(Processor):
    """Brings client audio to 16 kHz mono with soxr."""

    name = "resample"

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self._resampler: Resampler | None = None

    async def process(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, ControlFrame) and frame.kind in ("start", "end"):
            tail = self._flush()
            return [*tail, frame]
        if not (isinstance(frame, AudioFrame) and frame.role == "input"):
            return [frame]
        resampler = self._resampler
        if resampler is None or (resampler.sample_rate, resampler.channels) != (
            frame.sample_rate,
            frame.channels,
        ):
            resampler = self._resampler = Resampler(frame.sample_rate, frame.channels)
        pcm = resampler.push(frame.pcm)
        return [AudioFrame(pcm, SAMPLE_RATE, 1, "input")] if pcm else []

    def _flush(self) -> list[Frame]:
        if self._resampler is None:
            return []
        pcm = self._resampler.push(b"", last=True)
        self._resampler = None
        return [AudioFrame(pcm, SAMPLE_RATE, 1, "input")] if pcm else []


class VadStage(Processor):
    """Energy-based voice activity detection with a hangover.

    Audio louder than `threshold` (RMS of 20 ms blocks) is speech; an
    utterance ends after `hangover_ms` of quiet, or on an `end` message.
    A little audio before the speech is kept so word onsets are not cut.
    """

    name = "vad"
    block_ms = 20

    def __init__(
        self,
        context: Context,
        threshold: float = 300.0,
        hangover_ms: int = 600,
        preroll_ms: int = 200,
    ) -> None:
        super().__init__(context)
        self.threshold = threshold
        self.hangover_blocks = hangover_ms // self.block_ms
        self.preroll_blocks = preroll_ms // self.block_ms
        self.block_bytes = SAMPLE_RATE * self.block_ms // 1000 * 2
        self._pending = b""
        self._preroll: list[bytes] = []
        self._speech: list[bytes] = []
        self._quiet_blocks = 0
        self._ended_since_flush = False
        """Whether silence ended an utterance since the last `end` (then an
        `end` with nothing new is not worth a no-speech notice)."""

    async def process(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, ControlFrame) and frame.kind == "end":
            if not self._speech and self._ended_since_flush:
                self._ended_since_flush = False
                return [frame]
            self._ended_since_flush = False
            return [*self._finish(reason="end"), frame]
        if not (isinstance(frame, AudioFrame) and frame.role == "input"):
            return [frame]
        if not self.context.engines.vad_enabled:
            self._speech.append(frame.pcm)
            return []
        self._pending += frame.pcm
        out: list[Frame] = []
        while len(self._pending) >= self.block_bytes:
            block = self._pending[: self.block_bytes]
            self._pending = self._pending[self.block_bytes :]
            out.extend(self._block(block))
        return out

    def _block(self, block: bytes) -> list[Frame]:
        loud = rms(block) >= self.threshold
        if not self._speech:
            if loud:
                self._speech = [*self._preroll, block]
                self._quiet_blocks = 0
                return [ControlFrame("event", {"event": "speech_started"})]
            self._preroll = [*self._preroll, block][-self.preroll_blocks :]
            return []
        self._speech.append(block)
        self._quiet_blocks = 0 if loud else self._quiet_blocks + 1
        if self._quiet_blocks >= self.hangover_blocks:
            self._ended_since_flush = True
            return self._finish(reason="silence")
        return []

    def _finish(self, reason: str) -> list[Frame]:
        if self._pending and self._speech:
            self._speech.append(self._pending)
        self._pending = b""
        self._preroll = []
        if not self._speech:
            return [ControlFrame("event", {"event": "no_speech", "reason": reason})]
        utterance = AudioFrame(b"".join(self._speech), SAMPLE_RATE, 1, "utterance")
        self._speech = []
        log.info(
            "session=%s utterance ms=%d ended_by=%s",
            self.context.session,
            utterance.duration_ms,
            reason,
        )
        event = {
            "event": "utterance",
            "ms": round(utterance.duration_ms),
            "ended_by": reason,
        }
        return [ControlFrame("event", event), utterance]


class SttStage(Processor):
    """Speech to text on each finished utterance."""

    name = "stt"

    async def process(self, frame: Frame) -> list[Frame]:
        if not (isinstance(frame, AudioFrame) and frame.role == "utterance"):
            return [frame]
        started = time.monotonic()
        try:
            text = await asyncio.to_thread(
                self.context.engines.stt.transcribe, frame.pcm
            )
        except EngineUnavailable as error:
            log.warning(
                "session=%s error stage=stt message=%s",
                self.context.session,
                quoted(str(error)),
            )
            return [ControlFrame("error", {"message": str(error), "stage": "stt"})]
        ms = (time.monotonic() - started) * 1000
        log.info(
            "session=%s transcript text=%s ms=%d",
            self.context.session,
            quoted(text),
            ms,
        )
        if not text:
            return [ControlFrame("event", {"event": "not_understood"})]
        return [TextFrame(text, "transcript")]


class ResponderStage(Processor):
    """Turns each transcript into a reply (the transcript goes on too)."""

    name = "responder"

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.responder = Responder()

    async def process(self, frame: Frame) -> list[Frame]:
        if not (isinstance(frame, TextFrame) and frame.role == "transcript"):
            return [frame]
        reply = self.responder.reply(frame.text)
        log.info("session=%s reply text=%s", self.context.session, quoted(reply))
        return [frame, TextFrame(reply, "reply")]


class TtsStage(Processor):
    """Speaks each reply (the reply text goes on first)."""

    name = "tts"

    async def process(self, frame: Frame) -> list[Frame]:
        if not (isinstance(frame, TextFrame) and frame.role == "reply"):
            return [frame]
        started = time.monotonic()
        try:
            pcm = await self.context.engines.tts.synthesize(frame.text)
        except EngineUnavailable as error:
            log.warning(
                "session=%s error stage=tts message=%s",
                self.context.session,
                quoted(str(error)),
            )
            return [
                frame,
                ControlFrame("error", {"message": str(error), "stage": "tts"}),
            ]
        ms = (time.monotonic() - started) * 1000
        log.info("session=%s tts bytes=%d ms=%d", self.context.session, len(pcm), ms)
        return [frame, AudioFrame(pcm, SAMPLE_RATE, 1, "reply")]


class OutputStage(Processor):
    """Delivers what the client should see or hear to the session's sink."""

    name = "output"

    async def process(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, ControlFrame) and frame.kind in ("start", "end"):
            return []
        if isinstance(frame, AudioFrame) and frame.role != "reply":
            return []
        await self.context.sink(frame)
        return []


STAGES: dict[str, type[Processor]] = {
    stage.name: stage
    for stage in (
        InputStage,
        ResampleStage,
        VadStage,
        SttStage,
        ResponderStage,
        TtsStage,
        OutputStage,
    )
}


def check_stages(names: Sequence[str]) -> list[str]:
    """The stage names, or PipelineConfigError naming the unknown ones."""
    unknown = [name for name in names if name not in STAGES]
    if unknown:
        raise PipelineConfigError(
            f"unknown pipeline stage {', '.join(unknown)}: "
            f"choose from {', '.join(STAGES)}"
        )
    return list(names)


class Pipeline:
    """A chain of processors built from stage names for one session."""

    def __init__(self, names: Sequence[str], context: Context) -> None:
        self.processors = [STAGES[name](context) for name in check_stages(names)]
        self._lock = asyncio.Lock()

    async def push(self, frame: Frame) -> None:
        """Run one frame through every stage, in order."""
        async with self._lock:
            frames = [frame]
            for processor in self.processors:
                passed: list[Frame] = []
                for item in frames:
                    passed.extend(await processor.process(item))
                frames = passed
                if not frames:
                    return
