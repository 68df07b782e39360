"""A WebSocket session fed real speech comes back with words and audio."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from tests.voice_pipeline.client import (
    open_session,
    receive_until,
    send_speech,
    wav_pcm,
)
from tests.voice_pipeline.harness import DEADLINE, StartService, speak


async def test_spoken_question_gets_transcript_reply_and_reply_audio(
    start_service: StartService, tmp_path: Path
) -> None:
    pcm, rate = wav_pcm(speak("how are you", tmp_path / "question.wav", 22050))
    service = await start_service()
    async with aiohttp.ClientSession() as http:
        socket = await open_session(http, service.url)
        await send_speech(socket, pcm, rate)
        exchange = await asyncio.wait_for(receive_until(socket, "audio"), DEADLINE)
        await socket.close()
    assert "how are you" in exchange.texts("transcript")[0]
    assert "fine" in exchange.texts("reply")[0]
    header = exchange.of_type("audio")[0]
    assert header["sample_rate"] == 16000
    assert header["bytes"] == len(exchange.audio) > 16000


async def test_utterance_ends_by_itself_after_silence(
    start_service: StartService, tmp_path: Path
) -> None:
    pcm, rate = wav_pcm(speak("tell me a joke", tmp_path / "joke.wav", 16000))
    silence = bytes(rate * 2)
    service = await start_service()
    async with aiohttp.ClientSession() as http:
        socket = await open_session(http, service.url)
        await socket.send_json({"type": "start", "sample_rate": rate})
        await socket.send_bytes(pcm + silence)
        exchange = await asyncio.wait_for(receive_until(socket, "reply"), DEADLINE)
        await socket.close()
    utterance = next(e for e in exchange.events if e.get("event") == "utterance")
    assert utterance["ended_by"] == "silence"
    assert exchange.texts("transcript") == ["tell me a joke"]


async def test_session_events_are_logged_one_line_each(
    start_service: StartService, tmp_path: Path
) -> None:
    service = await start_service("--disable", "tts")
    async with aiohttp.ClientSession() as http:
        socket = await open_session(http, service.url)
        await socket.send_json({"type": "text", "text": "hello"})
        await asyncio.wait_for(receive_until(socket, "reply"), DEADLINE)
        await socket.close()
    await service.wait_for_line(r"session=\w+ closed")
    log = service.log_file.read_text()
    assert 'reply text="Hello!"' in log
    assert " opened" in log
