"""A small WebSocket client of the service, for the tests and the benchmark."""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp


@dataclass
class Exchange:
    """What the service sent back for one utterance."""

    events: list[dict[str, Any]] = field(default_factory=list)
    audio: bytes = b""

    def texts(self, kind: str) -> list[str]:
        return [e.get("text", "") for e in self.events if e["type"] == kind]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]


async def open_session(
    http: aiohttp.ClientSession, base_url: str
) -> aiohttp.ClientWebSocketResponse:
    """Ask /connect for a session and open its WebSocket."""
    async with http.get(f"{base_url}/connect") as response:
        offer = await response.json()
    return await http.ws_connect(offer["websocket"])


def wav_pcm(path: Path) -> tuple[bytes, int]:
    """The PCM samples and sample rate of a mono 16-bit WAV."""
    with wave.open(str(path)) as reader:
        return reader.readframes(reader.getnframes()), reader.getframerate()


async def send_speech(
    socket: aiohttp.ClientWebSocketResponse, pcm: bytes, sample_rate: int
) -> None:
    """Announce the format, send audio in 100 ms chunks, then flush."""
    await socket.send_json({"type": "start", "sample_rate": sample_rate, "channels": 1})
    chunk = sample_rate // 10 * 2
    for start in range(0, len(pcm), chunk):
        await socket.send_bytes(pcm[start : start + chunk])
    await socket.send_json({"type": "end"})


async def receive_until(socket: aiohttp.ClientWebSocketResponse, last: str) -> Exchange:
    """Collect events and audio until an event of type `last` (or audio)."""
    exchange = Exchange()
    while True:
        message = await socket.receive()
        if message.type == aiohttp.WSMsgType.BINARY:
            exchange.audio += message.data
            if last == "audio":
                return exchange
            continue
        if message.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"session ended early: {message.type} {exchange}")
        event = json.loads(message.data)
        exchange.events.append(event)
        if event["type"] == last and last != "audio":
            return exchange
