"""How fast the voice_pipeline service starts and answers speech.

Measures, on this machine:
- process start to the first `/health` 200 (speech engines loaded), and
  the same with speech to text disabled (what loading PocketSphinx costs),
- end of speech (the client's `end` message) to the first byte of reply
  audio, on the sample utterance shipped with the test page.

Each figure is the median of several runs. Run: `python benchmarks/service.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "voice_pipeline" / "static" / "sample.wav"


async def start_service(
    app_dir: Path, *args: str
) -> tuple[asyncio.subprocess.Process, str]:
    """Start the service from a copy of the package; its process and URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voice_pipeline",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--log-file",
        str(app_dir / "logs" / "app.log"),
        *args,
        cwd=app_dir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    async for line in process.stdout:
        if match := re.search(rb"listening url=(\S+)", line):
            asyncio.create_task(_drain(process.stdout))
            return process, match.group(1).decode()
    raise RuntimeError("the service exited before listening")


async def _drain(stream: asyncio.StreamReader) -> None:
    async for _ in stream:
        pass


async def time_to_healthy(
    http: aiohttp.ClientSession, app_dir: Path, *args: str
) -> float:
    """Seconds from process start to the first /health 200."""
    started = time.perf_counter()
    process, url = await start_service(app_dir, *args)
    try:
        while True:
            async with http.get(f"{url}/health") as response:
                if response.status == 200:
                    return time.perf_counter() - started
            await asyncio.sleep(0.01)
    finally:
        process.terminate()
        await process.wait()


async def reply_latency(http: aiohttp.ClientSession, url: str, pcm: bytes) -> float:
    """Seconds from the end of the sample speech to the first reply audio."""
    async with http.get(f"{url}/connect") as response:
        offer = await response.json()
    async with http.ws_connect(offer["websocket"]) as socket:
        await socket.send_json({"type": "start", "sample_rate": 16000})
        for start in range(0, len(pcm), 3200):
            await socket.send_bytes(pcm[start : start + 3200])
        ended = time.perf_counter()
        await socket.send_json({"type": "end"})
        async for message in socket:
            if message.type == aiohttp.WSMsgType.BINARY:
                return time.perf_counter() - ended
            event = json.loads(message.data)
            if event["type"] == "error":
                raise RuntimeError(event["message"])
    raise RuntimeError("the session closed without reply audio")


async def main(runs: int) -> None:
    with wave.open(str(SAMPLE)) as reader:
        pcm = reader.readframes(reader.getnframes())
    with tempfile.TemporaryDirectory() as scratch:
        app_dir = Path(scratch)
        shutil.copytree(REPO / "voice_pipeline", app_dir / "voice_pipeline")
        async with aiohttp.ClientSession() as http:
            starts = [await time_to_healthy(http, app_dir) for _ in range(runs)]
            bare = [
                await time_to_healthy(http, app_dir, "--disable", "stt")
                for _ in range(runs)
            ]
            process, url = await start_service(app_dir)
            try:
                while (await http.get(f"{url}/health")).status != 200:
                    await asyncio.sleep(0.01)
                latencies = [await reply_latency(http, url, pcm) for _ in range(runs)]
            finally:
                process.terminate()
                await process.wait()
    report("start to /health 200", starts)
    report("start to /health 200, stt disabled", bare)
    report("end of speech to first reply audio", latencies)


def report(name: str, seconds: list[float]) -> None:
    """One line: median, min and max in milliseconds."""
    ms = [s * 1000 for s in seconds]
    print(
        f"{name:<38} median {statistics.median(ms):7.1f} ms"
        f"  (min {min(ms):.1f}, max {max(ms):.1f}, runs {len(ms)})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
