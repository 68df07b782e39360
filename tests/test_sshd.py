"""A real OpenSSH sshd as an `ssh` pod: what real pods run.

Skipped locally when sshd is missing; in CI (CI=true) a missing sshd fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podtui.config import Config, parse_config
from podtui.errors import HostKeyError
from podtui.model import Release
from podtui.ops.fleet import Fleet, PodSession, wait_healthy
from podtui.remote.files import READ_CHUNK
from tests.conftest import REPO_ROOT, SSHD, require_tool, ssh_config_text

pytestmark = pytest.mark.sshd


def sshd_config(server: SSHD, repo: Path, tmp_path: Path) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(ssh_config_text(server, repo))
    return parse_config(path.read_text(), path)


@pytest.fixture
async def fleet(sshd: SSHD, project_repo: Path, tmp_path: Path) -> AsyncIterator[Fleet]:
    fleet = Fleet(sshd_config(sshd, project_repo, tmp_path))
    yield fleet
    await fleet.close()


@pytest.fixture
async def running_pod(fleet: Fleet, sshd: SSHD) -> AsyncIterator[PodSession]:
    """The sshd pod with the service deployed in its app directory and started."""
    app_dir = sshd.root / "pod" / "app" / "src"
    shutil.copytree(
        REPO_ROOT / "voice_pipeline", app_dir / "voice_pipeline", dirs_exist_ok=True
    )
    (pod,) = await fleet.pods()
    session = fleet.session(pod)
    await session.set_release(Release(commit="c0ffee" * 6 + "abcd", dirty=True))
    await session.start_app()
    yield session
    await session.stop_app()


async def test_an_ssh_pod_reports_running_healthy_and_its_release(
    fleet: Fleet, running_pod: PodSession
) -> None:
    health = await wait_healthy(fleet, running_pod.pod, timeout=30)

    report = await fleet.inspect(running_pod.pod)

    assert health.healthy
    assert report.status.value == "running"
    assert report.healthy
    assert report.app is not None and report.app.running
    assert report.release is not None and report.release.short == "c0ffeec0*"


async def test_a_file_of_many_sftp_chunks_arrives_whole_from_openssh(
    fleet: Fleet, tmp_path: Path
) -> None:
    (pod,) = await fleet.pods()
    session = fleet.session(pod)
    data = os.urandom(5 * READ_CHUNK + 12345)
    target = str(tmp_path / "big file.bin")

    await session.files.write(target, data)

    assert await session.files.read(target) == data
    assert session.files.use_sftp


async def test_files_travel_over_exec_where_sshd_has_no_sftp(
    sshd_without_sftp: SSHD, project_repo: Path, tmp_path: Path
) -> None:
    fleet = Fleet(sshd_config(sshd_without_sftp, project_repo, tmp_path))
    (pod,) = await fleet.pods()
    session = fleet.session(pod)
    target = str(tmp_path / "name with 'quotes' and $(touch pwned).txt")

    await session.files.write(target, b"over exec\n")
    data = await session.files.read(target)
    await fleet.close()

    assert data == b"over exec\n"
    assert not session.files.use_sftp
    assert not (Path.home() / "pwned").exists()


async def test_an_unknown_host_key_is_refused_with_what_to_do(
    sshd: SSHD, project_repo: Path, tmp_path: Path
) -> None:
    config_file = tmp_path / "config.toml"
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    config_file.write_text(
        ssh_config_text(sshd, project_repo).replace(str(sshd.known_hosts), str(empty))
    )
    fleet = Fleet(parse_config(config_file.read_text(), config_file))
    (pod,) = await fleet.pods()

    with pytest.raises(HostKeyError, match="not known") as caught:
        await fleet.session(pod).connection.connection()

    assert "podtui trust lab-1" in str(caught.value)
    await fleet.close()


async def test_status_json_lists_the_ssh_pod_as_healthy(
    fleet: Fleet, running_pod: PodSession, tmp_path: Path
) -> None:
    await wait_healthy(fleet, running_pod.pod, timeout=30)

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "podtui",
            "--config",
            str(fleet.config.path),
            "status",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    assert entry["environment"] == "lab"
    assert entry["pod"] == "lab-1"
    assert entry["status"] == "running"
    assert entry["healthy"] is True
    assert entry["release"].startswith("c0ffee")


def test_trust_records_an_unknown_host_key_once_confirmed(
    sshd: SSHD, project_repo: Path, tmp_path: Path
) -> None:
    config_file = tmp_path / "config.toml"
    known_hosts = tmp_path / "known_hosts"
    config_file.write_text(
        ssh_config_text(sshd, project_repo).replace(
            str(sshd.known_hosts), str(known_hosts)
        )
    )
    command = [
        sys.executable,
        "-m",
        "podtui",
        "--config",
        str(config_file),
        "trust",
        "lab-1",
    ]

    refused = subprocess.run(
        command, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    accepted = subprocess.run([*command, "--yes"], capture_output=True, text=True)

    assert refused.returncode == 1
    assert "--yes" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
    assert (
        known_hosts.read_text().split()[1:] == sshd.known_hosts.read_text().split()[1:]
    )


def test_trust_refuses_a_changed_host_key(
    sshd: SSHD, project_repo: Path, tmp_path: Path
) -> None:
    import asyncssh

    config_file = tmp_path / "config.toml"
    known_hosts = tmp_path / "known_hosts"
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {' '.join(other.split()[:2])}\n")
    config_file.write_text(
        ssh_config_text(sshd, project_repo).replace(
            str(sshd.known_hosts), str(known_hosts)
        )
    )

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "podtui",
            "--config",
            str(config_file),
            "trust",
            "lab-1",
            "--yes",
        ],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 1
    assert "differs from the key recorded" in result.stderr
    assert "Traceback" not in result.stderr


def run_status(
    config_file: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [
            sys.executable,
            "-m",
            "podtui",
            "--config",
            str(config_file),
            "status",
            "--json",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)},
        check=False,
    )


def alias_config(sshd: SSHD, project_repo: Path, tmp_path: Path) -> Path:
    """A config whose pod is only `host = "labpod"`: the rest is ~/.ssh/config's."""
    text = ssh_config_text(sshd, project_repo)
    start = text.index("[[environments.lab.pods]]")
    text = text[:start] + '[[environments.lab.pods]]\nname = "lab-1"\nhost = "labpod"\n'
    config_file = tmp_path / "config.toml"
    config_file.write_text(text)
    return config_file


def test_an_alias_from_the_users_ssh_config_reaches_the_pod(
    sshd: SSHD, project_repo: Path, tmp_path: Path
) -> None:
    import getpass

    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        f"Host labpod\n  HostName 127.0.0.1\n  Port {sshd.port}\n"
        f"  User {getpass.getuser()}\n  IdentityFile {sshd.client_key}\n"
        f"  UserKnownHostsFile {sshd.known_hosts}\n"
    )

    result = run_status(alias_config(sshd, project_repo, tmp_path), {"HOME": str(home)})

    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    assert entry["status"] == "running", entry["error"]


def test_a_key_held_by_ssh_agent_is_used(
    sshd: SSHD, project_repo: Path, tmp_path: Path
) -> None:
    import getpass

    agent_bin = require_tool("ssh-agent")
    socket_path = tmp_path / "agent.sock"
    agent = subprocess.Popen(
        [agent_bin, "-D", "-a", str(socket_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert agent.stdout is not None
        agent.stdout.readline()  # printed once the agent listens
        added = subprocess.run(
            ["ssh-add", str(sshd.client_key)],
            env={"SSH_AUTH_SOCK": str(socket_path), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            check=False,
        )
        assert added.returncode == 0, added.stderr
        home = tmp_path / "home"
        (home / ".ssh").mkdir(parents=True)
        (home / ".ssh" / "config").write_text(
            f"Host labpod\n  HostName 127.0.0.1\n  Port {sshd.port}\n"
            f"  User {getpass.getuser()}\n  UserKnownHostsFile {sshd.known_hosts}\n"
        )

        result = run_status(
            alias_config(sshd, project_repo, tmp_path),
            {"HOME": str(home), "SSH_AUTH_SOCK": str(socket_path)},
        )
    finally:
        agent.terminate()
        agent.wait()

    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    assert entry["status"] == "running", entry["error"]
