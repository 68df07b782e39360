"""The background process that hosts the local pods.

Run as `python -m podtui.providers.local_host STATE_DIR`. For every pod in
`STATE_DIR/pods.json` it serves a real SSH server on 127.0.0.1 (exec through
`/bin/sh` in the pod's directory, SFTP confined to it, TCP forwarding to
loopback), then boots the pod the way a container boots: the pod agent starts
the service. It prints `ready` once every server listens and then detaches
from the terminal, so the pods outlive the app that started them. SIGTERM
stops the pods' services and then the servers.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncssh

log = logging.getLogger("podtui.local_host")

AGENT = Path(__file__).resolve().parent.parent / "agent.py"


class PodServer(asyncssh.SSHServer):
    """The SSH server side of one local pod: public keys only, loopback only."""

    def __init__(self, name: str) -> None:
        self.name = name

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> bool:
        return dest_host in ("127.0.0.1", "localhost", "::1")

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return False


class PodSFTPServer(asyncssh.SFTPServer):
    """SFTP confined to the pod's directory, its disk."""

    def __init__(self, chan: asyncssh.SSHServerChannel, root: Path) -> None:
        super().__init__(chan, chroot=os.fsencode(root))


async def run_exec(process: asyncssh.SSHServerProcess, root: Path, name: str) -> None:
    """Run the client's command with /bin/sh in the pod's directory.

    The streams are copied by tasks of our own rather than asyncssh's
    redirection, so that a client closing its channel early (a cancelled
    tail, a resident agent let go) ends only this command, never the pod's
    SSH connection.
    """
    command = process.command
    argv = ["/bin/sh", "-c", command] if command is not None else ["/bin/sh", "-i"]
    env = {**os.environ, "HOME": str(root), "PODTUI_POD": name, "PWD": str(root)}
    child = await asyncio.create_subprocess_exec(
        *argv,
        cwd=root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert child.stdin and child.stdout and child.stderr
    feeding = asyncio.ensure_future(_copy_input(process.stdin, child.stdin))
    output = asyncio.gather(
        _copy_output(child.stdout, process.stdout),
        _copy_output(child.stderr, process.stderr),
    )
    finished = asyncio.ensure_future(child.wait())
    closed = asyncio.ensure_future(process.wait_closed())
    await asyncio.wait({finished, closed}, return_when=asyncio.FIRST_COMPLETED)
    if not finished.done():
        # The client went away: end what it left running in this session
        # (its own process group), not the pod's app.
        _kill_group(child.pid)
        await finished
    await output
    closed.cancel()
    feeding.cancel()
    if not process.is_closing():
        process.exit(_exit_status(child.returncode))


def _exit_status(returncode: int | None) -> int:
    if returncode is None:
        return 255
    return returncode if returncode >= 0 else 128 - returncode


async def _copy_input(source: asyncssh.SSHReader, target: asyncio.StreamWriter) -> None:
    """The client's input to the command, which may stop reading early."""
    try:
        while data := await source.read(1 << 16):
            target.write(data)
            await target.drain()
    except (OSError, asyncssh.Error):
        pass
    finally:
        target.close()


async def _copy_output(
    source: asyncio.StreamReader, target: asyncssh.SSHWriter
) -> None:
    """The command's output to the client, for as long as the client listens."""
    listening = True
    while data := await source.read(1 << 16):
        if not listening:
            continue
        try:
            target.write(data)
            await target.drain()
        except (OSError, asyncssh.Error):
            listening = False


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def agent_call(root: Path, verb: str, request: dict[str, object]) -> dict[str, object]:
    """Call the pod agent in a pod's directory, as the pod itself would."""
    result = subprocess.run(
        [sys.executable, str(AGENT), verb],
        input=json.dumps({"state_dir": ".podtui", **request}).encode(),
        capture_output=True,
        cwd=root,
        env={**os.environ, "HOME": str(root)},
        check=False,
    )
    try:
        answer: dict[str, object] = json.loads(result.stdout)
    except ValueError:
        answer = {"ok": False, "error": result.stderr.decode(errors="replace")}
    return answer


async def serve_pod(
    name: str, spec: dict[str, object], state: Path
) -> asyncssh.SSHAcceptor:
    root = state / "pods" / name
    host_key = asyncssh.read_private_key(str(state / "host_keys" / name))
    client_keys = asyncssh.read_authorized_keys(str(state / "authorized_keys"))
    port = int(spec["ssh_port"])  # type: ignore[call-overload]
    return await asyncssh.create_server(
        lambda: PodServer(name),
        "127.0.0.1",
        port,
        server_host_keys=[host_key],
        authorized_client_keys=client_keys,
        process_factory=lambda process: run_exec(process, root, name),
        sftp_factory=lambda chan: PodSFTPServer(chan, root),
        encoding=None,
        allow_scp=True,
        reuse_address=True,
    )


def boot(state: Path, pods: dict[str, dict[str, object]]) -> None:
    """Start each pod's service, as a container's start command would."""
    for name, spec in pods.items():
        request = spec.get("start")
        if not isinstance(request, dict):
            continue
        answer = agent_call(state / "pods" / name, "start", request)
        if answer.get("ok"):
            log.info("%s: service started", name)
        else:
            log.warning("%s: service did not start: %s", name, answer.get("error"))


def shut_down(state: Path, pods: dict[str, dict[str, object]]) -> None:
    for name in pods:
        agent_call(state / "pods" / name, "stop", {"timeout": 10})


async def main(state: Path) -> int:
    pods = json.loads((state / "pods.json").read_text())["pods"]
    acceptors = []
    for name, spec in pods.items():
        try:
            acceptors.append(await serve_pod(name, spec, state))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            _report(f"port-in-use {name}")
            return 3
    host = {"pid": os.getpid(), "started_at": time.time(), "pods": sorted(pods)}
    record = state / "host.json"
    record.with_suffix(".tmp").write_text(json.dumps(host))
    record.with_suffix(".tmp").replace(record)
    await asyncio.to_thread(boot, state, pods)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    _report_ready()
    await stop.wait()

    log.info("stopping the local pods")
    await asyncio.to_thread(shut_down, state, pods)
    for acceptor in acceptors:
        acceptor.close()
    record.unlink(missing_ok=True)
    return 0


def _report(line: str) -> None:
    """Tell the parent how the start went, in one line."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _report_ready() -> None:
    """Tell the parent we listen, then let go of its pipe."""
    _report("ready")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    state_dir = Path(sys.argv[1])
    logging.basicConfig(
        filename=state_dir / "host.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    try:
        raise SystemExit(asyncio.run(main(state_dir)))
    except Exception:
        log.exception("the local pod host failed")
        raise
