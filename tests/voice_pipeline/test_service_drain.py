"""SIGTERM drains: new sessions are refused, active ones finish, exit 0."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import httpx

from tests.voice_pipeline.client import open_session, receive_until
from tests.voice_pipeline.harness import DEADLINE, StartService


async def test_sigterm_with_an_active_session_drains_then_exits_zero(
    start_service: StartService, tmp_path: Path
) -> None:
    service = await start_service("--disable", "tts")
    async with aiohttp.ClientSession() as http:
        socket = await open_session(http, service.url)
        await receive_until(socket, "event")
        service.process.send_signal(signal.SIGTERM)
        await service.wait_for_line(r"draining sessions=1")
        async with httpx.AsyncClient(base_url=service.url) as client:
            health = await client.get("/health")
            refused = await client.get("/connect")
        await socket.send_json({"type": "text", "text": "goodbye"})
        exchange = await asyncio.wait_for(receive_until(socket, "reply"), DEADLINE)
        await socket.close()
    assert (health.status_code, health.json()["status"]) == (503, "draining")
    assert refused.status_code == 503
    assert exchange.texts("reply") == ["Goodbye!"]
    assert await service.wait_exit() == 0


async def test_sessions_still_open_at_the_drain_timeout_are_closed(
    start_service: StartService,
) -> None:
    service = await start_service("--drain-timeout", "0.2")
    async with aiohttp.ClientSession() as http:
        socket = await open_session(http, service.url)
        await receive_until(socket, "event")
        service.process.send_signal(signal.SIGTERM)
        closing = await asyncio.wait_for(socket.receive(), DEADLINE)
    assert closing.type == aiohttp.WSMsgType.CLOSE
    assert await service.wait_exit() == 0
