"""One SSH connection per pod, shared by everything that talks to that pod.

A `PodConnection` connects lazily, keeps the connection alive with SSH
keepalives, and reconnects after a drop. Consecutive failures back off: while
a pod is in its backoff window, callers get the last error at once instead of
each waiting for a connect timeout, so a dead pod never slows the others.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from podtui.errors import HostKeyError, PodError, UnreachableError
from podtui.model import Pod, SSHEndpoint

log = logging.getLogger(__name__)

KEEPALIVE_INTERVAL = 15.0
KEEPALIVE_COUNT_MAX = 3
BACKOFF_START = 0.5
BACKOFF_MAX = 30.0


@dataclass(frozen=True)
class CommandResult:
    """The outcome of one remote command."""

    exit_status: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class PodConnection:
    """The shared SSH connection of one pod."""

    def __init__(self, pod: Pod, *, connect_timeout: float = 10.0) -> None:
        if pod.ssh is None:
            raise UnreachableError(pod.name, "has no SSH endpoint")
        self.pod = pod
        self.endpoint: SSHEndpoint = pod.ssh
        self.connect_timeout = connect_timeout
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()
        self._failures = 0
        self._retry_at = 0.0
        self._last_error: PodError | None = None
        self._forwards: dict[int, asyncssh.SSHListener] = {}
        self._home: str | None = None
        self.connects = 0
        """How many connections were made, for tests and benchmarks."""

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def connection(self) -> asyncssh.SSHClientConnection:
        """The live connection, connecting (again) if needed."""
        if self.connected:
            assert self._conn is not None
            return self._conn
        async with self._lock:
            if self.connected:
                assert self._conn is not None
                return self._conn
            if self._last_error and time.monotonic() < self._retry_at:
                raise self._last_error
            try:
                self._conn = await self._connect()
            except PodError as error:
                self._note_failure(error)
                raise
            self._failures = 0
            self._last_error = None
            self._forwards.clear()
            self.connects += 1
            return self._conn

    def _note_failure(self, error: PodError) -> None:
        self._failures += 1
        delay = min(BACKOFF_START * 2 ** (self._failures - 1), BACKOFF_MAX)
        self._retry_at = time.monotonic() + delay
        self._last_error = error
        log.info(
            "%s: connect failed (%s); next try in %.1fs", self.pod.name, error, delay
        )

    async def _connect(self) -> asyncssh.SSHClientConnection:
        endpoint = self.endpoint
        options = _client_options(endpoint)
        try:
            return await asyncio.wait_for(
                asyncssh.connect(endpoint.host, **options),
                timeout=self.connect_timeout,
            )
        except asyncssh.HostKeyNotVerifiable as error:
            raise _host_key_error(self.pod.name, endpoint, error) from None
        except asyncssh.PermissionDenied:
            raise UnreachableError(
                self.pod.name,
                f"SSH login refused for {_describe(endpoint)}",
                hint="check the user and key in config.toml, or that your "
                "ssh-agent holds the key",
            ) from None
        except TimeoutError:
            raise UnreachableError(
                self.pod.name,
                f"no SSH answer from {_describe(endpoint)} "
                f"within {self.connect_timeout:g}s",
            ) from None
        except (OSError, asyncssh.Error) as error:
            raise UnreachableError(
                self.pod.name, f"cannot connect to {_describe(endpoint)}: {error}"
            ) from None

    async def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float | None = 30.0,
    ) -> CommandResult:
        """Run one command on the pod; every argument is quoted.

        Input is sent on stdin; a command may stop reading it early (that is
        its business, not a lost connection).
        """
        command = shlex.join(argv)
        conn = await self.connection()
        try:
            return await asyncio.wait_for(_complete(conn, command, input), timeout)
        except TimeoutError:
            raise PodError(
                self.pod.name, f"`{argv[0]}` did not finish within {timeout:g}s"
            ) from None
        except (OSError, asyncssh.Error) as error:
            if not conn.is_closed():
                raise PodError(self.pod.name, f"`{argv[0]}` failed: {error}") from None
            await self._drop()
            raise UnreachableError(
                self.pod.name, f"connection lost while running `{argv[0]}`: {error}"
            ) from None

    async def home(self) -> str:
        """The absolute path of the login directory on the pod."""
        if self._home is None:
            result = await self.run(["pwd"], timeout=None)
            self._home = result.stdout.decode().strip() or "/"
        return self._home

    async def forward(self, remote_port: int) -> int:
        """A local port that reaches `remote_port` on the pod's loopback."""
        conn = await self.connection()
        listener = self._forwards.get(remote_port)
        if listener is None:
            try:
                listener = await conn.forward_local_port(
                    "127.0.0.1", 0, "127.0.0.1", remote_port
                )
            except (OSError, asyncssh.Error) as error:
                raise PodError(
                    self.pod.name,
                    f"cannot forward port {remote_port}: {error}",
                    hint="the SSH server must allow TCP forwarding "
                    "(AllowTcpForwarding yes)",
                ) from None
            self._forwards[remote_port] = listener
        return listener.get_port()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._forwards.clear()
        if conn is not None:
            conn.close()

    async def close(self) -> None:
        """Close the connection (it reconnects on next use)."""
        await self._drop()


async def _complete(
    conn: asyncssh.SSHClientConnection, command: str, input: bytes | None
) -> CommandResult:
    process = await conn.create_process(command, encoding=None)

    async def feed() -> None:
        try:
            if input:
                process.stdin.write(input)
                await process.stdin.drain()
            process.stdin.write_eof()
        except (OSError, asyncssh.Error):
            pass  # the command exited without reading all of it

    feeding = asyncio.ensure_future(feed())
    # Both streams at once, so a command that fills one cannot stall the other.
    out = asyncio.ensure_future(process.stdout.read())
    err = asyncio.ensure_future(process.stderr.read())
    try:
        await asyncio.wait({out, err})
        stdout, stderr = out.result(), err.result()
        await process.wait_closed()
    finally:
        for task in (feeding, out, err):
            task.cancel()
        process.close()
    exit_status = process.exit_status
    return CommandResult(255 if exit_status is None else exit_status, stdout, stderr)


def _client_options(endpoint: SSHEndpoint) -> dict[str, object]:
    options: dict[str, object] = {
        "keepalive_interval": KEEPALIVE_INTERVAL,
        "keepalive_count_max": KEEPALIVE_COUNT_MAX,
    }
    if endpoint.port is not None:
        options["port"] = endpoint.port
    if endpoint.user is not None:
        options["username"] = endpoint.user
    if endpoint.key_files:
        options["client_keys"] = [str(Path(k).expanduser()) for k in endpoint.key_files]
    if endpoint.known_hosts is not None:
        options["known_hosts"] = str(Path(endpoint.known_hosts).expanduser())
    if not endpoint.use_ssh_config:
        # Local pods: only podtui's own key and pinned host keys count.
        options["config"] = None
        options["agent_path"] = None
    return options


def _describe(endpoint: SSHEndpoint) -> str:
    where = (
        endpoint.host if endpoint.port is None else f"{endpoint.host}:{endpoint.port}"
    )
    return f"{endpoint.user}@{where}" if endpoint.user else where


def _host_key_error(
    pod: str, endpoint: SSHEndpoint, error: asyncssh.HostKeyNotVerifiable
) -> HostKeyError:
    """Tell an unknown host key from a changed one: the second is an alarm."""
    known_hosts = Path(endpoint.known_hosts or "~/.ssh/known_hosts").expanduser()
    port = endpoint.port or 22
    name = endpoint.host if port == 22 else f"[{endpoint.host}]:{port}"
    if _has_entry(known_hosts, endpoint.host, port):
        return HostKeyError(
            pod,
            f"the host key of {name} has CHANGED since it was recorded in "
            f"{known_hosts}; someone may be intercepting the connection",
            hint=f"if the pod was rebuilt, remove the old key with "
            f"`ssh-keygen -R '{name}' -f {known_hosts}` and verify the new one",
        )
    return HostKeyError(
        pod,
        f"the host key of {name} is not known ({error.reason})",
        hint=f"verify and record it once with `ssh -p {port} {endpoint.host} true` "
        f"(or `podtui trust {pod}`)",
    )


def _has_entry(known_hosts: Path, host: str, port: int) -> bool:
    try:
        entries = asyncssh.read_known_hosts(str(known_hosts))
    except (OSError, ValueError):
        return False
    trusted, *_ = entries.match(host, "", port)
    return bool(trusted)
