"""PCM helpers: WAV parsing, channel mixing and resampling with soxr.

numpy and soxr are imported on first use so that the service starts fast.
"""

from __future__ import annotations

import io
import wave
from typing import Any

from voice_pipeline.frames import SAMPLE_RATE


def read_wav(data: bytes) -> tuple[bytes, int, int]:
    """The PCM s16le samples, sample rate and channel count of a WAV file."""
    with wave.open(io.BytesIO(data)) as reader:
        if reader.getsampwidth() != 2:
            raise ValueError("only 16-bit WAV audio is supported")
        frames = reader.readframes(reader.getnframes())
        return frames, reader.getframerate(), reader.getnchannels()


def fix_wav_header(data: bytes) -> bytes:
    """Patch the sizes of a WAV streamed to a pipe (written as unknown)."""
    if data[:4] != b"RIFF" or data[36:40] != b"data":
        return data
    size = len(data) - 44
    return (
        data[:4]
        + (size + 36).to_bytes(4, "little")
        + data[8:40]
        + size.to_bytes(4, "little")
        + data[44:]
    )


class Resampler:
    """Turns a stream of s16le audio at any rate and channel count into
    16 kHz mono, keeping filter state between chunks (no clicks at the
    chunk borders)."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self._stream: Any = None
        if sample_rate != SAMPLE_RATE:
            import soxr

            self._stream = soxr.ResampleStream(
                sample_rate, SAMPLE_RATE, 1, dtype="int16", quality="HQ"
            )

    def push(self, pcm: bytes, last: bool = False) -> bytes:
        """Resample one chunk; `last` flushes what the filter still holds."""
        import numpy as np

        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16)
        if self.channels > 1:
            usable = len(samples) - len(samples) % self.channels
            frames = samples[:usable].reshape(-1, self.channels)
            samples = frames.mean(axis=1).astype(np.int16)
        if self._stream is None:
            return samples.tobytes()
        return self._stream.resample_chunk(samples, last=last).tobytes()


def resample(pcm: bytes, sample_rate: int, channels: int = 1) -> bytes:
    """A whole clip as 16 kHz mono s16le."""
    return Resampler(sample_rate, channels).push(pcm, last=True)


def rms(pcm: bytes) -> float:
    """The root mean square level of s16le audio, 0 for silence."""
    import numpy as np

    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16)
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
