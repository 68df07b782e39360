"""The real voice_pipeline service as a subprocess, and tools the tests need.

The service runs from a plain copy of the package in a temp app directory,
as on a pod, on a free port chosen by the service itself (`--port 0`); the
fixture learns the port from the "listening" log line.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 20.0
"""Seconds any wait in these tests may take before it fails."""


def require_tool(name: str) -> str:
    """The path of program `name`; skip without it, but fail in CI."""
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required in CI (apt-get install {name})")
    pytest.skip(f"{name} is not installed")


def speak(text: str, path: Path, sample_rate: int = 22050) -> Path:
    """Write `text` spoken by espeak-ng as a mono WAV at `sample_rate`."""
    espeak = require_tool("espeak-ng")
    sox = require_tool("sox")
    raw = path.with_suffix(".espeak.wav")
    subprocess.run([espeak, "-v", "en-us", "-w", str(raw), text], check=True)
    subprocess.run([sox, str(raw), "-r", str(sample_rate), str(path)], check=True)
    return path


@dataclass
class RunningService:
    """A service process and what it printed so far."""

    process: asyncio.subprocess.Process
    app_dir: Path
    log_file: Path
    url: str = ""
    lines: list[str] = field(default_factory=list)
    _seen: asyncio.Condition = field(default_factory=asyncio.Condition)
    _reader: asyncio.Task[None] | None = None

    @property
    def ws_base(self) -> str:
        return self.url.replace("http://", "ws://")

    async def read_output(self) -> None:
        """Collect stdout lines (keeps the pipe from filling up)."""
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            async with self._seen:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._seen.notify_all()
        async with self._seen:
            self._seen.notify_all()

    async def wait_for_line(self, pattern: str) -> re.Match[str]:
        """The first printed line matching `pattern`, waiting for it."""
        regex = re.compile(pattern)

        def found() -> re.Match[str] | None:
            for line in self.lines:
                if match := regex.search(line):
                    return match
            if self.process.stdout is None or self.process.stdout.at_eof():
                raise AssertionError(
                    f"service exited without {pattern!r}:\n" + "\n".join(self.lines)
                )
            return None

        async with self._seen:
            return await asyncio.wait_for(self._seen.wait_for(found), DEADLINE)

    async def wait_exit(self) -> int:
        """The exit code, waiting for the process to end."""
        return await asyncio.wait_for(self.process.wait(), DEADLINE)


StartService = Callable[..., Awaitable[RunningService]]


@pytest.fixture
async def start_service(tmp_path: Path) -> AsyncIterator[StartService]:
    """Start services; each is stopped (SIGKILL if need be) after the test."""
    started: list[RunningService] = []

    async def start(
        *args: str, env: dict[str, str] | None = None, wait_ready: bool = True
    ) -> RunningService:
        app_dir = tmp_path / f"app{len(started)}"
        shutil.copytree(
            REPO / "voice_pipeline",
            app_dir / "voice_pipeline",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        log_file = app_dir / "logs" / "app.log"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "voice_pipeline",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--log-file",
            str(log_file),
            *args,
            cwd=app_dir,
            env={**_clean_env(), **(env or {})},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        service = RunningService(process, app_dir, log_file)
        started.append(service)
        service._reader = asyncio.create_task(service.read_output())
        match = await service.wait_for_line(r"listening url=(\S+)")
        service.url = match.group(1)
        if wait_ready:
            await service.wait_for_line(r"engine stt ")
        return service

    yield start

    for service in started:
        if service.process.returncode is None:
            service.process.kill()
            await service.process.wait()
        if service._reader is not None:
            await service._reader


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICE_PIPELINE")}
    env.pop("PODTUI_RELEASE_FILE", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env
