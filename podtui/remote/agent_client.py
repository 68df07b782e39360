"""Calling the pod agent (`podtui/agent.py`) on a pod.

The agent is uploaded under a name that carries its content hash, so a pod
gets a new copy exactly when the agent changes, and the common case costs a
single round trip: call it, and upload only if the pod says it has no such
file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

from podtui.errors import AgentError
from podtui.remote.connection import CommandResult, PodConnection

log = logging.getLogger(__name__)

AGENT_SOURCE = Path(__file__).resolve().parent.parent / "agent.py"
STATE_DIR = ".podtui"


@cache
def agent_bytes() -> bytes:
    return AGENT_SOURCE.read_bytes()


@cache
def agent_remote_path() -> str:
    digest = hashlib.sha256(agent_bytes()).hexdigest()[:12]
    return f"{STATE_DIR}/agent-{digest}.py"


class AgentClient:
    """The pod agent of one pod, reached through its shared connection."""

    def __init__(self, connection: PodConnection, python: str = "python3") -> None:
        self.connection = connection
        self.python = python
        self.uploads = 0
        """How many times the agent was uploaded, for tests and benchmarks."""

    @property
    def pod_name(self) -> str:
        return self.connection.pod.name

    async def call(
        self, verb: str, request: dict[str, Any] | None = None, *, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Run one agent verb and return its JSON answer (raises on ok: false)."""
        payload = json.dumps({"state_dir": STATE_DIR, **(request or {})}).encode()
        argv = [self.python, agent_remote_path(), verb]
        result = await self.connection.run(argv, input=payload, timeout=timeout)
        if _agent_missing(result):
            await self.upload()
            result = await self.connection.run(argv, input=payload, timeout=timeout)
        return self._answer(verb, result)

    async def upload(self) -> None:
        """Put this version of the agent on the pod (atomically, over exec)."""
        path = agent_remote_path()
        script = 'mkdir -p "$1" && chmod 700 "$1" && cat > "$2.tmp" && mv "$2.tmp" "$2"'
        result = await self.connection.run(
            ["sh", "-c", script, "sh", STATE_DIR, path], input=agent_bytes()
        )
        if not result.ok:
            raise AgentError(
                self.pod_name,
                f"cannot upload the pod agent: {_text(result.stderr)}",
            )
        self.uploads += 1
        log.info("%s: uploaded pod agent %s", self.pod_name, path)

    def _answer(self, verb: str, result: CommandResult) -> dict[str, Any]:
        try:
            answer = json.loads(result.stdout)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            detail = _text(result.stderr) or _text(result.stdout) or "no output"
            if result.exit_status == 127:
                detail = f"`{self.python}` was not found on the pod"
            raise AgentError(
                self.pod_name,
                f"the pod agent failed on `{verb}` (exit {result.exit_status}): "
                f"{detail}",
            )
        if not answer.get("ok"):
            raise AgentError(
                self.pod_name, f"{verb}: {answer.get('error', 'unknown error')}"
            )
        return answer

    async def read_file(self, path: str) -> bytes:
        """A file's content through the agent (for servers without SFTP)."""
        answer = await self.call("read", {"path": path})
        return base64.b64decode(answer["data"])

    async def write_file(
        self, path: str, data: bytes, *, expected_sha256: str | None = None
    ) -> str:
        """Write a file atomically through the agent; returns its sha256."""
        request: dict[str, Any] = {
            "path": path,
            "data": base64.b64encode(data).decode(),
        }
        if expected_sha256 is not None:
            request["expected_sha256"] = expected_sha256
        answer = await self.call("write", request)
        return str(answer["sha256"])


def _agent_missing(result: CommandResult) -> bool:
    return result.exit_status == 2 and b"can't open file" in result.stderr


def _text(data: bytes, limit: int = 400) -> str:
    text = data.decode(errors="replace").strip()
    return text[-limit:]
