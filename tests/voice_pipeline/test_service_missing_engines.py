"""With engines disabled the service still runs and says what is missing."""

from __future__ import annotations

import asyncio

import aiohttp
import httpx

from tests.voice_pipeline.client import open_session, receive_until, send_speech
from tests.voice_pipeline.harness import DEADLINE, StartService

LOUD = (b"\x00\x30" * 800) * 10
"""Half a second of a loud square-ish signal: speech to the energy VAD."""


async def test_health_names_disabled_engines_and_why(
    start_service: StartService,
) -> None:
    service = await start_service("--disable", "stt,tts")
    async with httpx.AsyncClient(base_url=service.url) as client:
        body = (await client.get("/health")).json()
    assert body["status"] == "ok"
    assert body["engines"]["stt"]["available"] is False
    assert "disabled" in body["engines"]["stt"]["detail"]
    assert body["engines"]["tts"]["available"] is False
    assert body["engines"]["vad"]["available"] is True


async def test_env_var_disables_engines_too(start_service: StartService) -> None:
    service = await start_service(env={"VOICE_PIPELINE_DISABLE": "all"})
    async with httpx.AsyncClient(base_url=service.url) as client:
        engines = (await client.get("/health")).json()["engines"]
    assert not any(engine["available"] for engine in engines.values())


async def test_speech_without_stt_gets_an_error_message(
    start_service: StartService,
) -> None:
    service = await start_service("--disable", "stt")
    async with aiohttp.ClientSession() as http:
        socket = await open_session(http, service.url)
        await send_speech(socket, LOUD, 16000)
        exchange = await asyncio.wait_for(receive_until(socket, "error"), DEADLINE)
        await socket.close()
    notice = next(e for e in exchange.events if e.get("event") == "engine_unavailable")
    assert notice["engine"] == "stt"
    assert "speech to text unavailable" in exchange.of_type("error")[0]["message"]


async def test_reply_without_tts_comes_as_text_with_an_error(
    start_service: StartService,
) -> None:
    service = await start_service("--disable", "tts")
    async with aiohttp.ClientSession() as http:
        socket = await open_session(http, service.url)
        await socket.send_json({"type": "text", "text": "what time is it"})
        exchange = await asyncio.wait_for(receive_until(socket, "error"), DEADLINE)
        await socket.close()
    assert exchange.texts("reply")[0].startswith("It is ")
    assert "text to speech unavailable" in exchange.of_type("error")[0]["message"]
    assert exchange.audio == b""
