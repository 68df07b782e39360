"""Local pods: podtui's built-in pods, so it works with no cloud account.

Each local pod is a real SSH server on 127.0.0.1 with its own directory as its
disk (`app/src`, `workspace/`, `logs/`), running the real service on its own
port. podtui reaches them through exactly the code path it uses for any other
pod. They are served by a small background host process
(`podtui.providers.local_host`) that outlives the app, as real pods do.

Everything lives in the state directory (`$PODTUI_HOME`, else the user state
directory): podtui's own client key, each pod's pinned host key, a
known_hosts file of those keys, and the pods' directories.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podtui.config import Config, EnvironmentConfig
from podtui.errors import ProviderError
from podtui.model import Pod, PodStatus, SSHEndpoint
from podtui.ops.release import MANIFEST_FILE, RELEASE_FILE, local_release, manifest_of
from podtui.remote.service import start_request

log = logging.getLogger(__name__)

HOST_MODULE = "podtui.providers.local_host"
HOST_START_TIMEOUT = 30.0
IMAGE_FILE = ".podtui/image.json"
"""The requirements hash a local pod's "image" was built with."""


def state_dir() -> Path:
    """Where podtui keeps its own state (`$PODTUI_HOME` wins)."""
    explicit = os.environ.get("PODTUI_HOME")
    if explicit:
        return Path(explicit).expanduser().resolve()
    from platformdirs import user_state_dir

    return Path(user_state_dir("podtui"))


@dataclass(frozen=True)
class LocalPodSpec:
    """A local pod as recorded in `pods.json`."""

    name: str
    environment: str
    ssh_port: int
    http_port: int


class LocalPods:
    """The local pods of one state directory and their host process."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or state_dir()) / "local"

    # -- reading state -------------------------------------------------------

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def client_key(self) -> Path:
        return self.root / "client_key"

    def pod_dir(self, name: str) -> Path:
        return self.root / "pods" / name

    def specs(self) -> dict[str, LocalPodSpec]:
        data = self._read_pods()
        return {
            name: LocalPodSpec(
                name,
                str(spec["environment"]),
                int(spec["ssh_port"]),
                int(spec["http_port"]),
            )
            for name, spec in data.items()
        }

    def host_pid(self) -> int | None:
        """The pid of the running host process, or None."""
        try:
            host = json.loads((self.root / "host.json").read_text())
        except (OSError, ValueError):
            return None
        pid = int(host.get("pid", 0))
        if pid <= 0 or not _is_host_process(pid):
            return None
        return pid

    def hosted_pods(self) -> set[str]:
        try:
            host = json.loads((self.root / "host.json").read_text())
        except (OSError, ValueError):
            return set()
        return set(host.get("pods", []))

    def pods(self, environment: EnvironmentConfig) -> list[Pod]:
        """The pods of one environment as the rest of podtui sees them."""
        specs = self.specs()
        running = self.host_pid() is not None
        hosted = self.hosted_pods() if running else set()
        pods = []
        for pod_config in environment.pods:
            spec = specs.get(pod_config.name)
            up = spec is not None and pod_config.name in hosted
            pods.append(
                Pod(
                    id=f"local:{pod_config.name}",
                    name=pod_config.name,
                    environment=environment.name,
                    provider="local",
                    status=PodStatus.RUNNING if up else PodStatus.STOPPED,
                    ssh=self.endpoint(spec) if spec else None,
                    http_port=spec.http_port if spec else environment.port,
                    reason=None if up else "local pods are down: run `podtui local up`",
                    python=sys.executable,
                )
            )
        return pods

    def endpoint(self, spec: LocalPodSpec) -> SSHEndpoint:
        return SSHEndpoint(
            host="127.0.0.1",
            port=spec.ssh_port,
            user=getpass.getuser(),
            key_files=(str(self.client_key),),
            known_hosts=str(self.known_hosts),
            use_ssh_config=False,
        )

    # -- changing state ------------------------------------------------------

    def up(self, config: Config) -> list[str]:
        """Create missing local pods and make sure the host serves them all.

        Returns the names of pods created by this call. Blocking: call it in
        a thread from async code.
        """
        environments = [e for e in config.environments if e.provider == "local"]
        with self._locked():
            self._ensure_client_key()
            data = self._read_pods()
            created = []
            for environment in environments:
                for pod_config in environment.pods:
                    if pod_config.name not in data:
                        data[pod_config.name] = self._create(
                            pod_config.name, environment, config
                        )
                        created.append(pod_config.name)
                    spec = data[pod_config.name]
                    spec["environment"] = environment.name
                    spec["start"] = start_request(
                        environment,
                        home=str(self.pod_dir(pod_config.name)),
                        port=int(spec["http_port"]),
                        python=sys.executable,
                    )
            wanted = {p.name for e in environments for p in e.pods}
            up = self.host_pid() is not None and wanted <= self.hosted_pods()
            if up and not created and data == self._read_pods():
                return []  # the common case: nothing to write, nothing to start
            self._write_pods(data)
            self._write_known_hosts(data)
            if not up or created:
                self._restart_host(data)
        return created

    def down(self) -> bool:
        """Stop the host and the pods' services. False if it was not running."""
        with self._locked():
            pid = self.host_pid()
            if pid is None:
                return False
            _terminate(pid, timeout=30.0)
            return True

    def _create(
        self, name: str, environment: EnvironmentConfig, config: Config
    ) -> dict[str, Any]:
        log.info("creating local pod %s", name)
        root = self.pod_dir(name)
        for sub in ("app/src", "workspace", "logs", ".podtui"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self._ensure_host_key(name)
        seed_pod(root, environment, config)
        ssh_port, http_port = free_ports(2)
        return {
            "environment": environment.name,
            "ssh_port": ssh_port,
            "http_port": http_port,
        }

    def _restart_host(self, pods: dict[str, dict[str, Any]]) -> None:
        pid = self.host_pid()
        if pid is not None:
            _terminate(pid, timeout=30.0)
        answer = self._spawn_host()
        if answer.startswith("port-in-use"):
            # Another program took an SSH port since the pods were made:
            # give every pod a new one (and pin its key there) and try again.
            log.info("local pod SSH port taken (%s); choosing new ports", answer)
            for spec, port in zip(pods.values(), free_ports(len(pods)), strict=True):
                spec["ssh_port"] = port
            self._write_pods(pods)
            self._write_known_hosts(pods)
            answer = self._spawn_host()
        if answer != "ready":
            log_file = self.root / "host.log"
            raise ProviderError(
                "the local pods did not start",
                hint=f"see {log_file}: {_last_lines(log_file)}",
            )

    def _spawn_host(self) -> str:
        """Start the host process; its first line: `ready`, or why not."""
        with open(self.root / "host.log", "ab") as stderr:
            host = subprocess.Popen(
                [sys.executable, "-m", HOST_MODULE, str(self.root)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
                env={**os.environ, "PYTHONPATH": _package_parent()},
            )
        assert host.stdout is not None
        line = host.stdout.readline().decode(errors="replace").strip()
        host.stdout.close()
        if line != "ready":
            host.wait(timeout=HOST_START_TIMEOUT)
        return line

    # -- files ---------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.root / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _read_pods(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads((self.root / "pods.json").read_text())
        except FileNotFoundError:
            return {}
        except ValueError as error:
            raise ProviderError(
                f"{self.root / 'pods.json'} is damaged: {error}",
                hint="run `podtui local down` and delete that file to recreate the pods",
            ) from None
        pods: dict[str, dict[str, Any]] = data.get("pods", {})
        return pods

    def _write_pods(self, pods: dict[str, dict[str, Any]]) -> None:
        _write_atomic(self.root / "pods.json", json.dumps({"pods": pods}, indent=2))

    def _ensure_client_key(self) -> None:
        if self.client_key.exists():
            return
        import asyncssh

        key = asyncssh.generate_private_key("ssh-ed25519", comment="podtui local pods")
        key.write_private_key(str(self.client_key))
        self.client_key.chmod(0o600)
        key.write_public_key(str(self.root / "authorized_keys"))

    def _ensure_host_key(self, name: str) -> None:
        path = self.root / "host_keys" / name
        if path.exists():
            return
        import asyncssh

        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = asyncssh.generate_private_key("ssh-ed25519", comment=f"local pod {name}")
        key.write_private_key(str(path))
        path.chmod(0o600)

    def _write_known_hosts(self, pods: dict[str, dict[str, Any]]) -> None:
        """Pin each pod's own host key: nothing else is accepted for it."""
        import asyncssh

        lines = []
        for name, spec in sorted(pods.items()):
            key = asyncssh.read_private_key(str(self.root / "host_keys" / name))
            public = key.export_public_key().decode().split()[:2]
            lines.append(f"[127.0.0.1]:{spec['ssh_port']} {' '.join(public)}\n")
        _write_atomic(self.known_hosts, "".join(lines))


def seed_pod(root: Path, environment: EnvironmentConfig, config: Config) -> None:
    """Give a new pod the project's deployed paths and a release record."""
    app_dir = root / environment.app_dir
    repo = config.project.repo
    for relative in config.project.deploy:
        source = repo / relative
        target = app_dir / relative
        if source.is_dir():
            shutil.copytree(
                source,
                target,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    release = local_release(config)
    _write_atomic(root / RELEASE_FILE, json.dumps(release.to_dict()))
    _write_atomic(root / MANIFEST_FILE, json.dumps(manifest_of(app_dir)))
    # The pod's "image" was built with today's requirements, as a real pod's
    # image records the requirements it was built from.
    image = {"requirements_hash": release.requirements_hash}
    _write_atomic(root / IMAGE_FILE, json.dumps(image))
    clone_checkout(repo, root / environment.workspace_dir / config.project.name)


def clone_checkout(repo: Path, target: Path) -> None:
    """Give the pod a git checkout of the project, its origin the local repo.

    As on a real pod, `git pull` in the workspace checkout then fetches what
    was committed locally. A project that is not a git repository gets none.
    """
    if target.exists() or not (repo / ".git").exists():
        return
    result = subprocess.run(
        ["git", "clone", "-q", "--", str(repo), str(target)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        log.warning("cannot clone %s for a local pod: %s", repo, result.stderr.strip())


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now (held open together, so distinct)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _is_host_process(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return HOST_MODULE.encode() in cmdline


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM the host and wait for it to finish stopping the pods."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _is_host_process(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _is_host_process(pid):
        os.kill(pid, signal.SIGKILL)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _package_parent() -> str:
    """Let the host import podtui even when it is not installed."""
    parent = str(Path(__file__).resolve().parent.parent.parent)
    existing = os.environ.get("PYTHONPATH")
    return parent if not existing else f"{parent}{os.pathsep}{existing}"


def _last_lines(path: Path, count: int = 5) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(lines[-count:])


async def ensure_local_pods(config: Config) -> list[str]:
    """Bring up the config's local pods if it has any; the names created."""
    if not any(e.provider == "local" for e in config.environments):
        return []
    import asyncio

    return await asyncio.to_thread(LocalPods().up, config)
