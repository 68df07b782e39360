"""The test page in headless Chromium: the sample button yields a transcript."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.voice_pipeline.harness import DEADLINE, StartService, require_tool

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--remote-debugging-port=0",
)

PRESS_SAMPLE_AND_READ_TRANSCRIPT = """
new Promise((loaded) => {
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", loaded);
  } else loaded();
}).then(() => new Promise((resolve) => {
  const transcript = document.getElementById("transcript");
  const press = () => document.getElementById("send-sample").click();
  new MutationObserver(() => {
    if (transcript.textContent) resolve(transcript.textContent);
  }).observe(transcript, {childList: true, characterData: true, subtree: true});
  if (document.body.dataset.ready) press();
  else new MutationObserver((_, observer) => {
    if (document.body.dataset.ready) { observer.disconnect(); press(); }
  }).observe(document.body, {attributes: true});
}))
"""


class DevTools:
    """Just enough of the DevTools protocol to drive one page."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        await self.socket.send_json({"id": ident, "method": method, "params": params})
        while True:
            reply = json.loads((await self.socket.receive()).data)
            if reply.get("id") == ident:
                if "error" in reply:
                    raise AssertionError(reply["error"])
                return reply["result"]


async def devtools_port(stderr: asyncio.StreamReader) -> str:
    """The port Chromium announces on stderr once DevTools listens."""
    while line := await stderr.readline():
        match = re.search(rb"DevTools listening on ws://[^:]+:(\d+)/", line)
        if match:
            return match.group(1).decode()
    raise AssertionError("chromium exited without opening DevTools")


async def drain(stream: asyncio.StreamReader) -> None:
    """Keep reading Chromium's chatter so it never blocks on a full pipe."""
    while await stream.read(1 << 16):
        pass


@pytest.fixture
async def chromium(tmp_path: Path) -> AsyncIterator[DevTools]:
    """A headless Chromium and a DevTools connection to its page."""
    program = require_tool("chromium")
    profile = tmp_path / "profile"
    process = await asyncio.create_subprocess_exec(
        program,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    draining: asyncio.Task[None] | None = None
    try:
        port = await asyncio.wait_for(devtools_port(process.stderr), DEADLINE)
        draining = asyncio.create_task(drain(process.stderr))
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            page = next(t for t in targets if t["type"] == "page")
            async with http.ws_connect(
                page["webSocketDebuggerUrl"], max_msg_size=0
            ) as ws:
                yield DevTools(ws)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), DEADLINE)
        if draining is not None:
            draining.cancel()


async def test_sample_button_on_the_test_page_shows_a_transcript(
    start_service: StartService, chromium: DevTools
) -> None:
    service = await start_service()
    await chromium.call("Page.enable")
    await chromium.call("Page.navigate", url=f"{service.url}/test-page")
    result = await asyncio.wait_for(
        chromium.call(
            "Runtime.evaluate",
            expression=PRESS_SAMPLE_AND_READ_TRANSCRIPT,
            awaitPromise=True,
            returnByValue=True,
        ),
        DEADLINE,
    )
    assert "how are you" in result["result"]["value"]
