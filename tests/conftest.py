"""Fixtures for real parts: local pods, a project repository, a real sshd.

The session's local pods are real SSH servers running the real service. They
live in a temporary PODTUI_HOME so tests never touch the user's own pods.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from podtui.config import Config, load_config
from podtui.providers.local import LocalPods

REPO_ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

LOCAL_CONFIG = """\
[project]
name = "voice-pipeline"
repo = "{repo}"
deploy = ["voice_pipeline"]
requirements = "voice_pipeline/requirements.txt"

[ui]
refresh_interval = 1.0

[defaults]
python = "python3"
preload = ["aiohttp", "numpy", "soxr", "pocketsphinx"]

[defaults.timeouts]
connect = 5.0
command = 15.0
health = 3.0
stop = 5.0

[environments.dev]
provider = "local"
protected = false

[[environments.dev.pods]]
name = "dev-1"

[[environments.dev.pods]]
name = "dev-2"

[environments.staging]
provider = "local"
protected = true

[[environments.staging.pods]]
name = "staging-1"

[environments.production]
provider = "local"
protected = true

[[environments.production.pods]]
name = "prod-1"
"""


def require_tool(name: str) -> str:
    """The path of a tool the test needs: skip without it, but fail in CI."""
    path = shutil.which(name) or (f"/usr/sbin/{name}" if name == "sshd" else None)
    if path and os.path.exists(path):
        return path
    message = f"{name} is not installed"
    if IN_CI:
        pytest.fail(f"{message} (CI must install it: see .ci/run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def project_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real git repository holding a copy of the service, one commit deep."""
    repo = tmp_path_factory.mktemp("project")
    shutil.copytree(
        REPO_ROOT / "voice_pipeline",
        repo / "voice_pipeline",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git[:3], "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "Initial release"], check=True)
    return repo


@pytest.fixture(scope="session")
def podtui_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A PODTUI_HOME of its own for the whole test session."""
    home = tmp_path_factory.mktemp("podtui-home")
    previous = os.environ.get("PODTUI_HOME")
    os.environ["PODTUI_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("PODTUI_HOME", None)
    else:
        os.environ["PODTUI_HOME"] = previous


@pytest.fixture(scope="session")
def config_path(project_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "config.toml"
    path.write_text(LOCAL_CONFIG.format(repo=project_repo))
    return path


@pytest.fixture(scope="session")
def local_config(config_path: Path) -> Config:
    return load_config(config_path)


@pytest.fixture(scope="session")
def local_pods(podtui_home: Path, local_config: Config) -> Iterator[LocalPods]:
    """The four local pods of the test config, up for the whole session."""
    pods = LocalPods(podtui_home)
    pods.up(local_config)
    yield pods
    pods.down()


class SSHD:
    """A real OpenSSH sshd on 127.0.0.1, as a pod of the `ssh` provider."""

    def __init__(self, root: Path, *, sftp: bool) -> None:
        import asyncssh

        from podtui.providers.local import free_ports

        self.root = root
        self.port = free_ports(1)[0]
        self.client_key = root / "client_key"
        self.known_hosts = root / "known_hosts"
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        host_key.write_private_key(str(root / "host_key"))
        (root / "host_key").chmod(0o600)
        client = asyncssh.generate_private_key("ssh-ed25519")
        client.write_private_key(str(self.client_key))
        self.client_key.chmod(0o600)
        client.write_public_key(str(root / "authorized_keys"))
        public = " ".join(host_key.export_public_key().decode().split()[:2])
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {public}\n")
        lines = [
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {root / 'host_key'}",
            f"AuthorizedKeysFile {root / 'authorized_keys'}",
            f"PidFile {root / 'sshd.pid'}",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "StrictModes no",
            "UsePAM no",
            "AllowTcpForwarding yes",
            "LogLevel ERROR",
        ]
        if sftp:
            lines.append("Subsystem sftp internal-sftp")
        (root / "sshd_config").write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, sshd: str) -> None:
        Path("/run/sshd").mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            [sshd, "-D", "-e", "-f", str(self.root / "sshd_config")],
            stderr=subprocess.PIPE,
        )
        self._wait_listening()

    def _wait_listening(self) -> None:
        import socket
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                error = (
                    self.process.stderr.read().decode() if self.process.stderr else ""
                )
                raise RuntimeError(f"sshd exited: {error}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                continue
        raise RuntimeError("sshd did not start listening")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _sshd(tmp_path_factory: pytest.TempPathFactory, *, sftp: bool) -> Iterator[SSHD]:
    sshd_path = require_tool("sshd")
    server = SSHD(tmp_path_factory.mktemp("sshd"), sftp=sftp)
    server.start(sshd_path)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHD]:
    """OpenSSH with SFTP, as on a pod with a public SSH port."""
    yield from _sshd(tmp_path_factory, sftp=True)


@pytest.fixture(scope="session")
def sshd_without_sftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHD]:
    """OpenSSH with no SFTP subsystem, like RunPod's basic SSH proxy."""
    yield from _sshd(tmp_path_factory, sftp=False)


SSH_CONFIG = """\
[project]
name = "voice-pipeline"
repo = "{repo}"
deploy = ["voice_pipeline"]
requirements = "voice_pipeline/requirements.txt"

[defaults]
python = "{python}"
app_dir = "{root}/app/src"
workspace_dir = "{root}/workspace"
log_file = "{root}/logs/app.log"
port = {service_port}

[defaults.timeouts]
connect = 5.0
command = 15.0
health = 3.0
stop = 5.0

[environments.lab]
provider = "ssh"
protected = false

[[environments.lab.pods]]
name = "lab-1"
host = "127.0.0.1"
port = {port}
user = "{user}"
key = "{key}"
known_hosts = "{known_hosts}"
"""


def ssh_config_text(server: SSHD, repo: Path, port: int | None = None) -> str:
    """A config whose one `ssh` pod is the given sshd (or another port), with
    a service port of its own, free now, so no other service answers there."""
    import getpass
    import sys

    from podtui.providers.local import free_ports

    return SSH_CONFIG.format(
        repo=repo,
        python=sys.executable,
        root=server.root / "pod",
        port=port or server.port,
        service_port=free_ports(1)[0],
        user=getpass.getuser(),
        key=server.client_key,
        known_hosts=server.known_hosts,
    )


def start_local_pods(root: Path, config: Config) -> LocalPods:
    """Local pods of their own under `root`, for tests that change pods.

    Use with `Fleet(config, local_pods=...)`, and call `.down()` when done.
    """
    pods = LocalPods(root)
    pods.up(config)
    return pods
