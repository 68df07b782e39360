"""The speech engines, each optional: speech to text, text to speech, VAD.

Speech to text is PocketSphinx with a JSGF grammar of the responder's
phrases (its English model ships inside the wheel), falling back to its
general language model when the grammar matches nothing. Text to speech is
the `espeak-ng` program. Voice activity detection is energy based and needs
nothing. An engine that is missing or disabled is reported with the reason,
and the service runs on without it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice_pipeline.audio import fix_wav_header, read_wav, resample
from voice_pipeline.frames import SAMPLE_RATE

log = logging.getLogger(__name__)

DISABLE_ENV = "VOICE_PIPELINE_DISABLE"
ENGINE_NAMES = ("stt", "tts", "vad")
GRAMMAR = Path(__file__).with_name("phrases.gram")
DICTIONARY = Path(__file__).with_name("phrases.dict")
"""Pronunciations of the grammar's words only: loading the full dictionary
(130,000 words) took most of the engine's start-up."""
PAD_MS = 300
"""Quiet added around an utterance: PocketSphinx needs it to find the words."""


class EngineUnavailable(Exception):
    """An engine cannot do its job; the message says why."""


@dataclass
class EngineStatus:
    """What /health says about one engine."""

    available: bool
    name: str
    detail: str
    loading: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"available": self.available, "name": self.name, "detail": self.detail}


def parse_disabled(text: str | None) -> set[str]:
    """Engine names from `stt,tts`, `all` or `none` (meaning: disable all)."""
    names = {part.strip() for part in (text or "").split(",") if part.strip()}
    if names & {"all", "none"}:
        return set(ENGINE_NAMES)
    unknown = names - set(ENGINE_NAMES)
    if unknown:
        raise ValueError(
            f"unknown engine {', '.join(sorted(unknown))}: "
            f"choose from {', '.join(ENGINE_NAMES)}"
        )
    return names


class SpeechToText:
    """PocketSphinx, loaded in a background thread because it takes ~0.3 s."""

    def __init__(self, disabled: bool) -> None:
        self.status = EngineStatus(False, "pocketsphinx", "not loaded yet")
        self._decoder: Any = None
        self._general_loaded = False
        self._lock = threading.Lock()
        self._loaded = threading.Event()
        if disabled:
            self.status.detail = f"disabled by {DISABLE_ENV} or --disable"
            self._loaded.set()
        else:
            self.status.loading = True
            self.status.detail = "loading"

    def load(self) -> None:
        """Load the model and grammar; record why when that fails."""
        started = time.monotonic()
        if self._loaded.is_set():
            self._log_status(started)
            return
        try:
            from pocketsphinx import Decoder

            decoder = Decoder(
                jsgf=str(GRAMMAR),
                dict=str(DICTIONARY),
                samprate=SAMPLE_RATE,
                loglevel="FATAL",
            )
        except ImportError:
            self.status.detail = (
                "pocketsphinx is not installed (pip install pocketsphinx)"
            )
        except Exception as error:  # noqa: BLE001 - any model failure is reported
            self.status.detail = f"pocketsphinx failed to load: {error}"
        else:
            self._decoder = decoder
            self.status.available = True
            self.status.detail = f"JSGF grammar {GRAMMAR.name}, general LM fallback"
        finally:
            self.status.loading = False
            self._loaded.set()
        self._log_status(started)

    def _log_status(self, started: float) -> None:
        log.info(
            "engine stt available=%s detail=%s ms=%d",
            self.status.available,
            self.status.detail,
            (time.monotonic() - started) * 1000,
        )

    def transcribe(self, pcm: bytes) -> str:
        """The words in 16 kHz mono s16le audio ('' when none were heard)."""
        self._loaded.wait()
        if self._decoder is None:
            raise EngineUnavailable(f"speech to text unavailable: {self.status.detail}")
        audio = _quiet(PAD_MS) + pcm + _quiet(PAD_MS)
        with self._lock:
            text = self._decode(audio, "_default")
            if not text:
                text = self._decode_general(audio)
            self._decoder.activate_search("_default")
        return text

    def _decode_general(self, audio: bytes) -> str:
        """Decode with the general language model, loaded on first need
        (it takes as long to load as the rest of the engine)."""
        if not self._general_loaded:
            self._decoder.load_dict(_model_file("cmudict-en-us.dict"))
            self._decoder.add_lm_file("general", _model_file("en-us.lm.bin"))
            self._general_loaded = True
        return self._decode(audio, "general")

    def _decode(self, audio: bytes, search: str) -> str:
        self._decoder.activate_search(search)
        self._decoder.start_utt()
        self._decoder.process_raw(audio, full_utt=True)
        self._decoder.end_utt()
        hypothesis = self._decoder.hyp()
        return hypothesis.hypstr.strip() if hypothesis else ""


def _model_file(name: str) -> str:
    from pocketsphinx import get_model_path

    return os.path.join(get_model_path(), "en-us", name)


def phrase_dictionary(grammar_text: str) -> str:
    """The lines of the full dictionary for the words of a JSGF grammar."""
    rules = grammar_text.split("public", 1)[1]
    words = set(re.findall(r"[a-z']+", rules))
    with open(_model_file("cmudict-en-us.dict"), encoding="utf-8") as full:
        return "".join(
            line for line in full if line.split(" ", 1)[0].split("(")[0] in words
        )


def _quiet(ms: int) -> bytes:
    """Near-silence with a trace of noise: pure zeros upset feature extraction."""
    import numpy as np

    count = SAMPLE_RATE * ms // 1000
    noise = np.random.default_rng(7).normal(0.0, 16.0, count)
    return noise.astype(np.int16).tobytes()


class TextToSpeech:
    """The `espeak-ng` program, its WAV output resampled to 16 kHz mono."""

    def __init__(self, disabled: bool) -> None:
        self.program = shutil.which("espeak-ng")
        if disabled:
            self.status = EngineStatus(
                False, "espeak-ng", f"disabled by {DISABLE_ENV} or --disable"
            )
        elif self.program is None:
            self.status = EngineStatus(
                False,
                "espeak-ng",
                "espeak-ng is not installed (apt-get install espeak-ng)",
            )
        else:
            self.status = EngineStatus(True, "espeak-ng", self.program)

    async def synthesize(self, text: str) -> bytes:
        """Speak `text`; 16 kHz mono s16le PCM."""
        if not self.status.available or self.program is None:
            raise EngineUnavailable(f"text to speech unavailable: {self.status.detail}")
        process = await asyncio.create_subprocess_exec(
            self.program,
            "-v",
            "en-us",
            "--stdout",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        wav, errors = await process.communicate(text.encode("utf-8"))
        if process.returncode != 0 or not wav:
            message = errors.decode(errors="replace").strip()
            raise EngineUnavailable(f"espeak-ng failed: {message}")
        pcm, rate, channels = read_wav(fix_wav_header(wav))
        return await asyncio.to_thread(resample, pcm, rate, channels)


class Engines:
    """All engines of one service, and whether they are still loading."""

    def __init__(self, disabled: set[str]) -> None:
        self.stt = SpeechToText("stt" in disabled)
        self.tts = TextToSpeech("tts" in disabled)
        self.vad_enabled = "vad" not in disabled
        detail = (
            "energy threshold with hangover"
            if self.vad_enabled
            else (f"disabled by {DISABLE_ENV} or --disable")
        )
        self.vad = EngineStatus(self.vad_enabled, "energy", detail)

    def start_loading(self) -> None:
        """Load the slow engines in a background thread."""
        threading.Thread(target=self.stt.load, name="stt-load", daemon=True).start()

    @property
    def loading(self) -> bool:
        """True while an engine is still being loaded."""
        return self.stt.status.loading

    def report(self) -> dict[str, dict[str, Any]]:
        """The engines part of /health."""
        return {
            "stt": self.stt.status.to_dict(),
            "tts": self.tts.status.to_dict(),
            "vad": self.vad.to_dict(),
        }
