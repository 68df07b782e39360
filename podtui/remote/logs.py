"""Following a pod's log through the pod agent's streaming `tail` verb.

A `LogTail` runs ``agent.py tail`` on one long-lived exec channel of the
pod's shared connection and turns the agent's frames into batches of lines.
It keeps a `TailCursor`: for every file it reads, the byte offset up to which
lines were handed on. When the channel or the connection drops, the tail
reconnects with backoff and sends the cursor back, so the agent resumes at
exactly those offsets: no line is lost and none is handed on twice, even if
the log was rotated meanwhile.

The agent writes a ``beat`` frame after each second of silence, so a quiet
log and a dead stream are told apart: no frame for `FRAME_TIMEOUT` seconds
means the stream is dead.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import shlex
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncssh

from podtui.errors import AgentError, PodError
from podtui.remote.agent_client import AgentClient, agent_remote_path
from podtui.remote.connection import PodConnection
from podtui.remote.tail_events import LogBatch, TailEvent, TailState, TailStatus

__all__ = ["LogBatch", "LogTail", "TailCursor", "TailEvent", "TailState", "TailStatus"]

log = logging.getLogger(__name__)

FRAME_TIMEOUT = 10.0
"""Seconds without any frame (the agent beats every second) before a stream is dead."""
SIGNATURE_BYTES = 64
"""Bytes before an offset sent back on resume, so the agent can spot a truncation."""
MAX_PARTIAL = 1024 * 1024
"""A line longer than this many bytes is handed on in pieces."""
BACKOFF_START = 0.1
BACKOFF_MAX = 5.0

FileKey = tuple[int, int]
"""A file on the pod: (device, inode)."""


class StreamDropped(Exception):
    """The tail's channel ended without the agent saying it was done."""


class FrameReader(Protocol):
    """What frames are read from: an asyncio or asyncssh stream reader."""

    async def readline(self) -> bytes: ...

    async def readexactly(self, n: int) -> bytes: ...


@dataclass
class FilePosition:
    """How far one file was handed on, and the bytes just before that point."""

    offset: int
    signature: bytes = b""
    partial: bytes = b""
    """The start of a line whose end has not arrived yet."""


@dataclass
class TailCursor:
    """The positions of a tail in every file it reads; the current log is last."""

    files: dict[FileKey, FilePosition] = field(default_factory=dict)
    duplicates: int = 0
    """Bytes the agent sent twice and that were dropped here (should stay 0)."""
    gaps: int = 0
    """Bytes skipped by the agent (a rotated file deleted before it was read)."""

    def data(self, key: FileKey, offset: int, data: bytes) -> list[str]:
        """Take `data` read at `offset` of file `key`; the complete lines in it."""
        position = self.files.setdefault(key, FilePosition(offset))
        if offset < position.offset:
            overlap = min(position.offset - offset, len(data))
            self.duplicates += overlap
            data, offset = data[overlap:], offset + overlap
        elif offset > position.offset:
            self.gaps += offset - position.offset
        position.offset = offset + len(data)
        position.signature = (position.signature + data)[-SIGNATURE_BYTES:]
        return split_lines(position, data)

    def follow(self, key: FileKey, offset: int, reason: str) -> list[str]:
        """The agent now reads file `key` from `offset` as the current log."""
        position = self.files.pop(key, None)
        flushed: list[str] = []
        if position is None or reason == "truncate" or position.offset != offset:
            flushed = flush_partial(position)
            position = FilePosition(offset)
        self.files[key] = position
        return flushed

    def retire(self, key: FileKey) -> list[str]:
        """The agent is done with file `key` (a rotated-away log)."""
        return flush_partial(self.files.pop(key, None))

    def as_request(self) -> list[dict[str, Any]]:
        """The positions as the agent's ``cursor`` field wants them."""
        return [
            {
                "dev": dev,
                "ino": ino,
                "off": position.offset,
                "sig": base64.b64encode(position.signature).decode(),
            }
            for (dev, ino), position in self.files.items()
        ]

    def forget_partials(self) -> None:
        """Drop half-received lines: resuming re-reads them from their start."""
        for position in self.files.values():
            if position.partial:
                cut = len(position.signature) - len(position.partial)
                position.signature = position.signature[:cut] if cut > 0 else b""
                position.offset -= len(position.partial)
                position.partial = b""


def split_lines(position: FilePosition, data: bytes) -> list[str]:
    """The complete lines of `partial + data`; the rest stays partial."""
    if position.partial:
        data = position.partial + data
    end = data.rfind(b"\n") + 1
    position.partial = data[end:]
    if len(position.partial) > MAX_PARTIAL:
        end, position.partial = len(data), b""
    if not end:
        return []
    text = data[:end].decode("utf-8", errors="replace")
    lines = text.split("\n")
    lines.pop()
    if "\r" in text:
        lines = [line.removesuffix("\r") for line in lines]
    return lines


def flush_partial(position: FilePosition | None) -> list[str]:
    """A last line without its newline, handed on as it is."""
    if position is None or not position.partial:
        return []
    text = position.partial.decode("utf-8", errors="replace")
    position.partial = b""
    return [text]


async def read_frame(reader: FrameReader) -> tuple[dict[str, Any], bytes]:
    """One frame: its JSON header and, for a ``data`` frame, its bytes."""
    line = await reader.readline()
    if not line:
        raise StreamDropped("the log stream closed")
    try:
        header = json.loads(line)
    except ValueError:
        raise StreamDropped(f"the pod agent sent {line[:200]!r}") from None
    data = b""
    if header.get("t") == "data":
        data = await reader.readexactly(int(header["n"]))
    return header, data


class LogTail:
    """Follows one log file on one pod, across drops and rotations."""

    def __init__(
        self,
        connection: PodConnection,
        agent: AgentClient,
        path: str,
        *,
        lines: int = 100,
        follow: bool = True,
        max_attempts: int | None = None,
        frame_timeout: float = FRAME_TIMEOUT,
    ) -> None:
        self.connection = connection
        self.agent = agent
        self.path = path
        """The log file on the pod; relative paths start at the pod's home."""
        self.lines = lines
        """How many existing lines to show first."""
        self.follow = follow
        """Whether to keep following; otherwise end after what is there."""
        self.max_attempts = max_attempts
        """Reconnects in a row before giving up; None retries for ever."""
        self.frame_timeout = frame_timeout
        self.cursor = TailCursor()
        self.agent_pid: int | None = None
        """The pid of the agent process streaming now, for tests."""
        self.connects = 0
        """How many streams were opened, for tests and benchmarks."""
        self._agent_ready = False

    @property
    def pod_name(self) -> str:
        return self.connection.pod.name

    async def events(self) -> AsyncGenerator[TailEvent, None]:
        """Batches of lines and state changes, until ended or closed.

        Use it with `contextlib.aclosing` so that leaving early closes the
        channel (and so ends the agent on the pod).
        """
        attempt = 0
        yield TailStatus(TailState.CONNECTING)
        while True:
            try:
                async for event in self._stream():
                    if isinstance(event, TailStatus):
                        attempt = 0
                    yield event
                yield TailStatus(TailState.ENDED)
                return
            except AgentError as error:
                yield TailStatus(TailState.ENDED, detail=error.message)
                return
            except (PodError, StreamDropped, OSError, asyncssh.Error) as error:
                attempt += 1
                detail = getattr(error, "message", None) or str(error) or "dropped"
                log.info("%s: log tail dropped (%s)", self.pod_name, detail)
                self.cursor.forget_partials()
                if self.max_attempts is not None and attempt > self.max_attempts:
                    yield TailStatus(TailState.ENDED, detail=detail)
                    return
                yield TailStatus(TailState.RECONNECTING, attempt, detail)
                await asyncio.sleep(backoff(attempt))

    async def _stream(self) -> AsyncIterator[TailEvent]:
        """One agent process: its frames as events, until it ends or drops."""
        process = await self._open()
        try:
            async for event in self._frames(process):
                yield event
        finally:
            process.close()

    async def _open(self) -> asyncssh.SSHClientProcess[bytes]:
        if not self._agent_ready:
            await self.agent.call("version")
            self._agent_ready = True
        conn = await self.connection.connection()
        command = shlex.join([self.agent.python, agent_remote_path(), "tail"])
        try:
            process = await asyncio.wait_for(
                conn.create_process(command, encoding=None), self.frame_timeout
            )
        except TimeoutError:
            await self.connection.close()
            raise StreamDropped("no channel opened in time") from None
        process.stdin.write(json.dumps(self._request()).encode() + b"\n")
        self.connects += 1
        return process

    def _request(self) -> dict[str, Any]:
        request: dict[str, Any] = {"path": self.path, "follow": self.follow}
        if self.cursor.files:
            request["cursor"] = self.cursor.as_request()
        else:
            request["lines"] = self.lines
        return request

    async def _frames(
        self, process: asyncssh.SSHClientProcess[bytes]
    ) -> AsyncIterator[TailEvent]:
        greeted = False
        while True:
            try:
                async with asyncio.timeout(self.frame_timeout):
                    header, data = await read_frame(process.stdout)
            except TimeoutError:
                await self.connection.close()
                raise StreamDropped(
                    f"no word from the pod for {self.frame_timeout:g}s"
                ) from None
            except asyncio.IncompleteReadError:
                raise StreamDropped("the log stream broke off") from None
            except StreamDropped:
                if not greeted:
                    await self._explain_exit(process)
                raise
            kind = header.get("t")
            if kind == "end":
                return
            greeted = greeted or kind == "hello"
            event = self._event(header, data)
            if event is not None:
                yield event

    def _event(self, header: dict[str, Any], data: bytes) -> TailEvent | None:
        """What one frame means to the reader of the tail, if anything."""
        kind = header.get("t")
        received = time.time()
        if kind == "data":
            lines = self.cursor.data(file_key(header), int(header["off"]), data)
            return LogBatch(lines, received) if lines else None
        if kind == "file":
            key, offset = file_key(header), int(header["off"])
            lines = self.cursor.follow(key, offset, str(header.get("reason")))
            return LogBatch(lines, received) if lines else None
        if kind == "retire":
            lines = self.cursor.retire(file_key(header))
            return LogBatch(lines, received) if lines else None
        if kind == "hello":
            self.agent_pid = header.get("pid")
            return TailStatus(TailState.LIVE)
        if kind == "lost":
            log.warning(
                "%s: a rotated log was deleted before it was read", self.pod_name
            )
        if kind == "error":
            raise AgentError(self.pod_name, f"tail: {header.get('error')}")
        return None

    async def _explain_exit(self, process: asyncssh.SSHClientProcess[bytes]) -> None:
        """Turn an agent that could not run at all into an AgentError."""
        try:
            stderr = await asyncio.wait_for(process.stderr.read(), 5)
        except (TimeoutError, OSError, asyncssh.Error):
            return
        text = stderr.decode(errors="replace").strip()
        if "can't open file" in text:
            self._agent_ready = False
            return
        if text:
            raise AgentError(self.pod_name, f"tail failed: {text[-400:]}")


def file_key(header: dict[str, Any]) -> FileKey:
    return (int(header["dev"]), int(header["ino"]))


def backoff(attempt: int) -> float:
    """Seconds before reconnect `attempt`: quick at first, then slower."""
    return min(BACKOFF_START * 2 ** (attempt - 1), BACKOFF_MAX)
