"""Files on a pod: SFTP where the server offers it, the pod agent otherwise.

RunPod's basic SSH proxy has no SFTP, so every transfer also works over a
plain exec channel (the agent's `read` and `write` verbs, base64 in JSON).
Writes are atomic either way: a temporary file beside the target, then a
rename, so a reader never sees half a file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import posixpath
import uuid

import asyncssh

from podtui.errors import PodError
from podtui.remote.agent_client import AgentClient
from podtui.remote.connection import PodConnection

log = logging.getLogger(__name__)

READ_CHUNK = 1 << 18
"""Bytes per SFTP read request; a file's chunks are requested all at once."""


class PodFiles:
    """Read and write files on one pod."""

    def __init__(
        self, connection: PodConnection, agent: AgentClient, *, use_sftp: bool = True
    ) -> None:
        self.connection = connection
        self.agent = agent
        self.use_sftp = use_sftp
        """False once the server turned SFTP down (or when told not to try)."""

    async def _sftp(self) -> asyncssh.SFTPClient | None:
        if not self.use_sftp:
            return None
        conn = await self.connection.connection()
        try:
            sftp: asyncssh.SFTPClient = await conn.start_sftp_client()
        except (asyncssh.Error, OSError) as error:
            log.info("%s: no SFTP (%s); using exec", self.connection.pod.name, error)
            self.use_sftp = False
            return None
        return sftp

    async def read(self, path: str) -> bytes:
        """The content of a file on the pod."""
        sftp = await self._sftp()
        if sftp is None:
            return await self.agent.read_file(path)
        try:
            async with sftp:
                data = await _read_sftp(sftp, path)
        except asyncssh.SFTPError as error:
            raise PodError(
                self.connection.pod.name, f"cannot read {path}: {error.reason}"
            ) from None
        return data

    async def write(self, path: str, data: bytes) -> str:
        """Write a file atomically and verify it; returns its sha256."""
        digest = hashlib.sha256(data).hexdigest()
        sftp = await self._sftp()
        if sftp is None:
            written = await self.agent.write_file(path, data)
        else:
            async with sftp:
                written = await self._write_sftp(sftp, path, data)
        if written != digest:
            raise PodError(
                self.connection.pod.name,
                f"{path} did not arrive intact (hash {written[:12]}, sent {digest[:12]})",
            )
        return digest

    async def _write_sftp(
        self, sftp: asyncssh.SFTPClient, path: str, data: bytes
    ) -> str:
        directory = posixpath.dirname(path) or "."
        temporary = posixpath.join(
            directory, f".{posixpath.basename(path)}.{uuid.uuid4().hex[:8]}.tmp"
        )
        try:
            await sftp.makedirs(directory, exist_ok=True)
            async with sftp.open(temporary, "wb") as remote:
                await remote.write(data)
            await sftp.posix_rename(temporary, path)
            async with sftp.open(path, "rb") as remote:
                written: bytes = await remote.read()
                return hashlib.sha256(written).hexdigest()
        except asyncssh.SFTPError as error:
            try:
                await sftp.remove(temporary)
            except asyncssh.SFTPError:
                pass
            raise PodError(
                self.connection.pod.name, f"cannot write {path}: {error.reason}"
            ) from None


async def _read_sftp(sftp: asyncssh.SFTPClient, path: str) -> bytes:
    """A whole file, its chunks read in parallel by tasks of our own.

    asyncssh's own parallel read leaves its requests running when the read
    is cancelled (a refresh cut short, the app quitting); a task group
    cancels and awaits them, so none fails later with nobody to hear it.
    """
    # block_size 0: each read() below is one request, not a parallel read.
    async with sftp.open(path, "rb", block_size=0) as remote:
        size = (await remote.stat()).size or 0

        async def chunk(start: int) -> bytes:
            parts, offset, end = [], start, min(start + READ_CHUNK, size)
            while offset < end:
                data: bytes = await remote.read(end - offset, offset)
                if not data:
                    break
                parts.append(data)
                offset += len(data)
            return b"".join(parts)

        async with asyncio.TaskGroup() as group:
            chunks = [group.create_task(chunk(o)) for o in range(0, size, READ_CHUNK)]
        data = b"".join(task.result() for task in chunks)
        # A file that grew since it was looked at: the rest, in order.
        while True:
            more: bytes = await remote.read(READ_CHUNK, len(data))
            if not more:
                break
            data += more
    return data
