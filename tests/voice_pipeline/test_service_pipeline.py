"""The pipeline's parts on their own: configuration, VAD, responder, grammar."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from voice_pipeline.engines import Engines, parse_disabled
from voice_pipeline.frames import AudioFrame, ControlFrame, Frame
from voice_pipeline.pipeline import (
    Context,
    Pipeline,
    PipelineConfigError,
    VadStage,
    check_stages,
)
from voice_pipeline.responder import Responder, grammar

LOUD_BLOCK = b"\x00\x30" * 320
QUIET_BLOCK = bytes(640)


async def no_sink(frame: Frame) -> None:
    raise AssertionError("nothing should reach the output")


def context() -> Context:
    return Context("test", Engines({"stt", "tts"}), no_sink)


def test_unknown_stage_names_the_stage_and_the_choices() -> None:
    with pytest.raises(PipelineConfigError, match="unknown pipeline stage echo"):
        check_stages(["input", "echo"])


def test_unknown_engine_to_disable_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown engine gpu"):
        parse_disabled("stt,gpu")


async def test_pipeline_is_built_in_the_configured_order() -> None:
    pipeline = Pipeline(["input", "resample", "output"], context())
    assert [p.name for p in pipeline.processors] == ["input", "resample", "output"]


async def test_vad_ends_an_utterance_after_the_hangover() -> None:
    vad = VadStage(context(), hangover_ms=100)
    out: list[Frame] = []
    for block in [LOUD_BLOCK] * 10 + [QUIET_BLOCK] * 4:
        out += await vad.process(AudioFrame(block))
    assert not any(isinstance(f, AudioFrame) for f in out)

    out += await vad.process(AudioFrame(QUIET_BLOCK))

    utterance = [f for f in out if isinstance(f, AudioFrame)]
    assert len(utterance) == 1 and utterance[0].role == "utterance"


async def test_vad_reports_no_speech_on_end_after_silence() -> None:
    vad = VadStage(context())
    await vad.process(AudioFrame(QUIET_BLOCK * 5))
    out = await vad.process(ControlFrame("end"))
    assert isinstance(out[0], ControlFrame)
    assert out[0].data["event"] == "no_speech"


def test_responder_answers_greeting_and_how_are_you() -> None:
    assert Responder().reply("hello how are you") == "Hello! I am fine, thank you."


def test_responder_tells_the_time() -> None:
    now = dt.datetime(2026, 12, 3, 18, 5)
    assert Responder().reply("what time is it", now) == "It is 18:05."


def test_responder_echoes_what_it_does_not_know() -> None:
    assert Responder().reply("open the pod bay doors") == (
        "You said: open the pod bay doors"
    )


def test_shipped_grammar_matches_the_responders_phrases() -> None:
    shipped = Path(__file__).resolve().parents[2] / "voice_pipeline" / "phrases.gram"
    assert shipped.read_text() == grammar()


def test_shipped_dictionary_has_every_grammar_word_and_no_other() -> None:
    from voice_pipeline.engines import DICTIONARY, GRAMMAR, phrase_dictionary

    assert DICTIONARY.read_text() == phrase_dictionary(GRAMMAR.read_text())
