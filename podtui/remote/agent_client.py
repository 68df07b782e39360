"""Calling the pod agent (`podtui/agent.py`) on a pod.

The agent is uploaded under a name that carries its content hash, so a pod
gets a new copy exactly when the agent changes, and the common case costs a
single round trip: call it, and upload only if the pod says it has no such
file.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import asyncssh

from podtui.errors import AgentError
from podtui.remote.connection import CommandResult, PodConnection

log = logging.getLogger(__name__)

AGENT_SOURCE = Path(__file__).resolve().parent.parent / "agent.py"
STATE_DIR = ".podtui"
SERVE_VERB = "serve"


@cache
def agent_bytes() -> bytes:
    return AGENT_SOURCE.read_bytes()


@cache
def agent_remote_path() -> str:
    digest = hashlib.sha256(agent_bytes()).hexdigest()[:12]
    return f"{STATE_DIR}/agent-{digest}.py"


class AgentClient:
    """The pod agent of one pod, reached through its shared connection.

    Calls go to a resident agent (`agent.py serve`, one per connection) that
    answers one JSON line per request, so a call costs a round trip rather
    than a Python start-up on the pod. When the resident agent is busy with
    another call, or cannot be started, a call runs its own agent process.
    """

    def __init__(self, connection: PodConnection, python: str = "python3") -> None:
        self.connection = connection
        self.python = python
        self.uploads = 0
        """How many times the agent was uploaded, for tests and benchmarks."""
        self.resident = True
        """Whether to use a resident agent at all."""
        self._server: asyncssh.SSHClientProcess[bytes] | None = None
        self._server_connection: asyncssh.SSHClientConnection | None = None
        self._server_lock = asyncio.Lock()

    @property
    def pod_name(self) -> str:
        return self.connection.pod.name

    async def call(
        self, verb: str, request: dict[str, Any] | None = None, *, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Run one agent verb and return its JSON answer (raises on ok: false)."""
        full_request = {"state_dir": STATE_DIR, **(request or {})}
        if self.resident and not self._server_lock.locked():
            async with self._server_lock:
                answer = await self._call_resident(verb, full_request, timeout)
            if answer is not None:
                return self._checked(verb, answer)
        return await self._call_once(verb, full_request, timeout)

    async def _call_once(
        self, verb: str, request: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        payload = json.dumps(request).encode()
        argv = [self.python, agent_remote_path(), verb]
        result = await self.connection.run(argv, input=payload, timeout=timeout)
        if _agent_missing(result):
            await self.upload()
            result = await self.connection.run(argv, input=payload, timeout=timeout)
        return self._answer(verb, result)

    async def _call_resident(
        self, verb: str, request: dict[str, Any], timeout: float
    ) -> dict[str, Any] | None:
        """The resident agent's answer, or None to make the call on its own."""
        server = await self._resident()
        if server is None:
            return None
        line = json.dumps({"verb": verb, "request": request}).encode() + b"\n"
        try:
            server.stdin.write(line)
            reply = await asyncio.wait_for(_read_line(server), timeout)
        except TimeoutError:
            # The answer would arrive late and out of turn: start afresh.
            self._close_resident()
            raise AgentError(
                self.pod_name, f"`{verb}` did not finish within {timeout:g}s"
            ) from None
        except (OSError, EOFError, asyncssh.Error):
            self._close_resident()
            return None
        try:
            answer = json.loads(reply)
        except ValueError:
            self._close_resident()
            return None
        return answer if isinstance(answer, dict) else None

    async def _resident(self) -> asyncssh.SSHClientProcess[bytes] | None:
        conn = await self.connection.connection()
        server = self._server
        if server is not None and self._server_connection is conn:
            if server.exit_status is None and not server.stdout.at_eof():
                return server
        self._close_resident()
        command = shlex.join([self.python, agent_remote_path(), SERVE_VERB])
        for attempt in range(2):
            try:
                server = await conn.create_process(command, encoding=None)
            except (OSError, asyncssh.Error) as error:
                log.info("%s: no resident agent: %s", self.pod_name, error)
                return None
            first = await self._greeting(server)
            if first:
                self._server, self._server_connection = server, conn
                return server
            server.close()
            if attempt == 0:
                await self.upload()
        return None

    async def _greeting(self, server: asyncssh.SSHClientProcess[bytes]) -> bool:
        """Whether the resident agent answers `version` (False: not uploaded)."""
        server.stdin.write(b'{"verb": "version"}\n')
        try:
            reply = await asyncio.wait_for(_read_line(server), 30)
        except (TimeoutError, OSError, EOFError, asyncssh.Error):
            return False
        return reply.startswith(b'{"ok": true')

    def _close_resident(self) -> None:
        if self._server is not None:
            self._server.close()
        self._server = None
        self._server_connection = None

    async def upload(self) -> None:
        """Put this version of the agent on the pod (atomically, over exec)."""
        path = agent_remote_path()
        script = 'mkdir -p "$1" && chmod 700 "$1" && cat > "$2.$$.tmp" && mv "$2.$$.tmp" "$2"'
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

    def _checked(self, verb: str, answer: dict[str, Any]) -> dict[str, Any]:
        if not answer.get("ok"):
            raise AgentError(
                self.pod_name,
                f"{verb}: {answer.get('error', 'unknown error')}",
                answer=answer,
            )
        return answer

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
        return self._checked(verb, answer)

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


async def _read_line(server: asyncssh.SSHClientProcess[bytes]) -> bytes:
    """One answer line of any size (asyncssh's readline stops at its window)."""
    parts = []
    while True:
        chunk = await server.stdout.read(1 << 16)
        if not chunk:
            raise EOFError("the resident agent ended")
        parts.append(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(parts)


def _agent_missing(result: CommandResult) -> bool:
    return result.exit_status == 2 and b"can't open file" in result.stderr


def _text(data: bytes, limit: int = 400) -> str:
    text = data.decode(errors="replace").strip()
    return text[-limit:]
