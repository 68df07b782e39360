"""Helpers for the log tail tests: numbered lines and a tail read to a count.

Every test writes numbered lines (``line 000042``) and checks that each one
arrived exactly once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from podtui import agent as agent_module
from podtui.config import Config, parse_config
from podtui.ops.fleet import Fleet, PodSession
from podtui.providers.local import LocalPods
from podtui.remote.logs import LogBatch, LogTail, TailCursor, TailState, read_frame
from tests.conftest import start_local_pods

AGENT = Path(agent_module.__file__)
DEADLINE = 20.0
"""Seconds a test waits for lines that should arrive, before it fails."""


def numbered(start: int, count: int) -> list[str]:
    """Lines ``line 000000``, ``line 000001``, ... from `start`."""
    return [f"line {number:06d}" for number in range(start, start + count)]


def append(path: Path, start: int, count: int) -> None:
    """Append numbered lines to a log file, as a writer in append mode does."""
    with path.open("a") as stream:
        stream.write("".join(line + "\n" for line in numbered(start, count)))


class AgentTail:
    """The agent's `tail` verb as a subprocess, decoded as the client does."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.cursor = TailCursor()
        self.lines: list[str] = []
        self.frames: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, **request: Any) -> AgentTail:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(AGENT),
            "tail",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(request).encode() + b"\n")
        return cls(process)

    async def read(self) -> dict[str, Any]:
        """Read one frame and take its lines; return its header."""
        assert self.process.stdout is not None
        header, data = await read_frame(self.process.stdout)
        self.frames.append(header)
        key = (header.get("dev"), header.get("ino"))
        if header["t"] == "data":
            self.lines += self.cursor.data(key, header["off"], data)  # type: ignore[arg-type]
        elif header["t"] == "file":
            self.lines += self.cursor.follow(key, header["off"], header["reason"])  # type: ignore[arg-type]
        elif header["t"] == "retire":
            self.lines += self.cursor.retire(key)  # type: ignore[arg-type]
        return header

    async def read_lines(self, count: int) -> list[str]:
        """Read frames until `count` lines have arrived in all."""
        async with asyncio.timeout(DEADLINE):
            while len(self.lines) < count:
                await self.read()
        return self.lines

    async def read_until(self, kind: str) -> dict[str, Any]:
        """Read frames until one of type `kind` arrives."""
        async with asyncio.timeout(DEADLINE):
            while True:
                header = await self.read()
                if header["t"] == kind:
                    return header

    async def close(self) -> int:
        """Close stdin, as a client leaving does, and wait for the exit code."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        async with asyncio.timeout(DEADLINE):
            return await self.process.wait()


@contextlib.asynccontextmanager
async def agent_tail(**request: Any) -> AsyncIterator[AgentTail]:
    tail = await AgentTail.start(**request)
    try:
        yield tail
    finally:
        if tail.process.returncode is None:
            tail.process.kill()
            await tail.process.wait()


class TailReader:
    """A pod's `LogTail` read step by step: lines and states so far."""

    def __init__(self, tail: LogTail) -> None:
        self.tail = tail
        self.events = tail.events()
        self.lines: list[str] = []
        self.states: list[TailState] = []

    async def read_lines(self, count: int, *, numbered: bool = False) -> list[str]:
        """Read events until `count` lines (or numbered lines) have arrived."""

        def arrived() -> int:
            return len(numbered_only(self.lines) if numbered else self.lines)

        async with asyncio.timeout(DEADLINE):
            while arrived() < count:
                event = await anext(self.events)
                if isinstance(event, LogBatch):
                    self.lines += event.lines
                else:
                    self.states.append(event.state)
        return self.lines

    async def read_state(self, state: TailState) -> None:
        """Read events until the tail reaches `state`."""
        async with asyncio.timeout(DEADLINE):
            while not self.states or self.states[-1] is not state:
                event = await anext(self.events)
                if isinstance(event, LogBatch):
                    self.lines += event.lines
                else:
                    self.states.append(event.state)

    async def aclose(self) -> None:
        await self.events.aclose()


ONE_POD_CONFIG = """\
[project]
name = "voice-pipeline"
repo = "{repo}"
deploy = ["voice_pipeline"]
requirements = "voice_pipeline/requirements.txt"

[defaults]
python = "python3"

[defaults.timeouts]
connect = 5.0
command = 15.0
health = 3.0
stop = 5.0

[environments.dev]
provider = "local"
protected = false
{pods}
"""


def local_config(tmp_path: Path, repo: Path, names: list[str]) -> Config:
    """A config with local pods `names`, written under `tmp_path`."""
    pods = "".join(f'\n[[environments.dev.pods]]\nname = "{n}"\n' for n in names)
    path = tmp_path / "config.toml"
    path.write_text(ONE_POD_CONFIG.format(repo=repo, pods=pods))
    return parse_config(path.read_text(), path)


@pytest.fixture(scope="module")
def own_pods(
    tmp_path_factory: pytest.TempPathFactory, project_repo: Path, podtui_home: Path
) -> Iterator[tuple[Config, LocalPods]]:
    """Two local pods of this module's own, which its tests may change."""
    root = tmp_path_factory.mktemp("log-pods")
    config = local_config(root, project_repo, ["logs-1", "logs-2"])
    pods = start_local_pods(root / "pods", config)
    yield config, pods
    pods.down()


@pytest.fixture
async def fleet(own_pods: tuple[Config, LocalPods]) -> AsyncIterator[Fleet]:
    config, pods = own_pods
    fleet = Fleet(config, local_pods=pods)
    yield fleet
    await fleet.close()


async def session_of(fleet: Fleet, name: str) -> PodSession:
    pods = {pod.name: pod for pod in await fleet.pods()}
    return fleet.session(pods[name])


def numbered_only(lines: list[str]) -> list[str]:
    """The test's numbered lines among the service's own."""
    return [line for line in lines if line.startswith("line ")]
