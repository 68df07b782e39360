"""Local pods are real SSH servers: exec, SFTP, forwarding and pinned host keys."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncssh
import httpx
import pytest

from podtui.config import Config
from podtui.errors import HostKeyError, UnreachableError
from podtui.model import Pod
from podtui.ops.fleet import Fleet, wait_healthy
from podtui.providers.local import LocalPods
from podtui.remote.connection import PodConnection
from podtui.remote.files import READ_CHUNK


@pytest.fixture
async def fleet(local_pods: LocalPods, local_config: Config):
    fleet = Fleet(local_config)
    yield fleet
    await fleet.close()


async def pod_named(fleet: Fleet, name: str) -> Pod:
    return next(p for p in await fleet.pods() if p.name == name)


async def test_every_configured_local_pod_is_listed_as_running(fleet: Fleet) -> None:
    pods = await fleet.pods()

    assert [(p.environment, p.name, p.status.value) for p in pods] == [
        ("dev", "dev-1", "running"),
        ("dev", "dev-2", "running"),
        ("staging", "staging-1", "running"),
        ("production", "prod-1", "running"),
    ]


async def test_exec_runs_in_the_pods_own_directory(
    fleet: Fleet, local_pods: LocalPods
) -> None:
    session = fleet.session(await pod_named(fleet, "dev-1"))

    result = await session.connection.run(["pwd"])

    assert result.ok
    assert Path(result.stdout.decode().strip()) == local_pods.pod_dir("dev-1")


async def test_arguments_reach_the_pod_quoted_and_run_nothing(fleet: Fleet) -> None:
    session = fleet.session(await pod_named(fleet, "dev-1"))
    odd = 'it\'s $(touch pwned) `touch pwned2` "q" ; rm -rf x'

    result = await session.connection.run(["printf", "%s", odd])

    assert result.stdout.decode() == odd
    check = await session.connection.run(["ls"])
    assert b"pwned" not in check.stdout


async def test_data_sent_on_stdin_arrives_intact(fleet: Fleet) -> None:
    session = fleet.session(await pod_named(fleet, "dev-2"))
    data = bytes(range(256)) * 1000

    result = await session.connection.run(["cat"], input=data)

    assert result.stdout == data


async def test_files_round_trip_over_sftp(fleet: Fleet, local_pods: LocalPods) -> None:
    session = fleet.session(await pod_named(fleet, "dev-2"))
    name = "workspace/a file with 'quotes' and $(x).bin"

    await session.files.write(name, b"\x00payload\xff")

    assert session.files.use_sftp
    assert await session.files.read(name) == b"\x00payload\xff"
    assert (local_pods.pod_dir("dev-2") / name).read_bytes() == b"\x00payload\xff"


async def test_a_file_of_many_sftp_chunks_arrives_whole(fleet: Fleet) -> None:
    session = fleet.session(await pod_named(fleet, "dev-2"))
    data = os.urandom(5 * READ_CHUNK + 12345)

    await session.files.write("workspace/big.bin", data)

    assert await session.files.read("workspace/big.bin") == data


async def test_files_round_trip_through_the_agent_without_sftp(fleet: Fleet) -> None:
    session = fleet.session(await pod_named(fleet, "dev-2"))
    session.files.use_sftp = False

    await session.files.write("workspace/over-exec.txt", b"no sftp here\n")

    assert await session.files.read("workspace/over-exec.txt") == b"no sftp here\n"


async def test_a_port_forward_reaches_the_service(fleet: Fleet) -> None:
    pod = await pod_named(fleet, "staging-1")
    await wait_healthy(fleet, pod, timeout=30)
    port = await fleet.session(pod).connection.forward(pod.http_port)

    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.get(f"http://127.0.0.1:{port}/version")

    assert response.status_code == 200


async def test_a_pod_with_another_host_key_is_refused_as_changed(
    local_pods: LocalPods, fleet: Fleet, tmp_path: Path
) -> None:
    pod = await pod_named(fleet, "dev-1")
    assert pod.ssh is not None
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    known_hosts = tmp_path / "known_hosts"
    public = impostor.export_public_key().decode().split()[:2]
    known_hosts.write_text(f"[127.0.0.1]:{pod.ssh.port} {' '.join(public)}\n")
    ssh = pod.ssh.__class__(**{**pod.ssh.__dict__, "known_hosts": str(known_hosts)})
    connection = PodConnection(Pod(**{**pod.__dict__, "ssh": ssh}))

    with pytest.raises(HostKeyError, match="CHANGED") as caught:
        await connection.connection()

    assert "ssh-keygen -R" in str(caught.value)


async def test_a_client_key_the_pod_does_not_know_is_refused(
    fleet: Fleet, tmp_path: Path
) -> None:
    pod = await pod_named(fleet, "dev-1")
    assert pod.ssh is not None
    stranger = tmp_path / "stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(stranger))
    ssh = pod.ssh.__class__(**{**pod.ssh.__dict__, "key_files": (str(stranger),)})
    connection = PodConnection(Pod(**{**pod.__dict__, "ssh": ssh}))

    with pytest.raises(UnreachableError, match="login refused"):
        await connection.connection()


async def test_the_agent_is_uploaded_once_then_reused(fleet: Fleet) -> None:
    session = fleet.session(await pod_named(fleet, "prod-1"))
    await session.connection.run(["sh", "-c", "rm -f .podtui/agent-*.py"])

    await session.agent.call("status")
    await session.agent.call("status")

    assert session.agent.uploads == 1


async def test_a_dropped_connection_is_reopened_on_next_use(fleet: Fleet) -> None:
    session = fleet.session(await pod_named(fleet, "dev-1"))
    await session.connection.run(["true"])
    connection = await session.connection.connection()

    connection.abort()
    await connection.wait_closed()
    result = await session.connection.run(["echo", "back"])

    assert result.stdout == b"back\n"
    assert session.connection.connects == 2


async def test_reports_say_healthy_with_the_release_recorded_at_creation(
    fleet: Fleet, project_repo: Path
) -> None:
    pods = await fleet.pods()
    await asyncio.gather(*(wait_healthy(fleet, p, timeout=30) for p in pods))

    reports = await asyncio.gather(*(fleet.inspect(p) for p in pods))

    head = (project_repo / ".git" / "refs" / "heads" / "main").read_text().strip()
    for report in reports:
        assert report.healthy, report
        assert report.app is not None and report.app.running
        assert report.release is not None and report.release.commit == head


async def test_local_pods_are_found_again_by_a_new_process(
    local_pods: LocalPods, config_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "podtui",
        "--config",
        str(config_path),
        "local",
        "status",
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await process.communicate()

    assert process.returncode == 0
    assert stdout.decode().count(" up ") == 4


async def test_a_stopped_service_shows_as_stopped_while_the_pod_runs(
    fleet: Fleet,
) -> None:
    pod = await pod_named(fleet, "dev-2")
    session = fleet.session(pod)

    await session.stop_app()
    stopped = await fleet.inspect(pod)
    await session.start_app()
    health = await wait_healthy(fleet, pod, timeout=30)

    assert stopped.status.value == "running"
    assert stopped.app is not None and not stopped.app.running
    assert not stopped.healthy
    assert health.healthy


async def test_local_pods_come_back_on_a_new_port_when_theirs_was_taken(
    tmp_path: Path, project_repo: Path
) -> None:
    import socket

    from podtui.config import parse_config
    from tests.conftest import LOCAL_CONFIG, start_local_pods

    text = LOCAL_CONFIG.format(repo=project_repo)
    text = text[: text.index("[[environments.dev.pods]]")] + (
        '[[environments.dev.pods]]\nname = "solo"\n'
    )
    config = parse_config(text, tmp_path / "config.toml")
    pods = start_local_pods(tmp_path / "home", config)
    pods.down()
    old_port = pods.specs()["solo"].ssh_port
    taken = socket.socket()
    taken.bind(("127.0.0.1", old_port))
    taken.listen()
    try:
        pods.up(config)
        fleet = Fleet(config, local_pods=pods)
        (pod,) = await fleet.pods()
        health = await wait_healthy(fleet, pod, timeout=30)
        await fleet.close()
    finally:
        taken.close()
        pods.down()

    assert pod.ssh is not None and pod.ssh.port != old_port
    assert health.healthy


async def test_commands_that_ignore_their_input_leave_the_connection_up(
    fleet: Fleet,
) -> None:
    session = fleet.session(await pod_named(fleet, "staging-1"))
    await session.connection.run(["true"])

    for _ in range(5):
        await session.connection.run(["true"], input=b"x" * 200_000)
    result = await session.connection.run(
        ["sh", "-c", "echo out; echo err >&2; exit 3"]
    )

    assert (result.exit_status, result.stdout, result.stderr) == (3, b"out\n", b"err\n")
    assert session.connection.connects == 1


async def test_agent_calls_share_one_resident_agent_across_restarts_of_it(
    fleet: Fleet,
) -> None:
    session = fleet.session(await pod_named(fleet, "staging-1"))

    first = await session.agent.call("version")
    session.agent._close_resident()
    second = await session.agent.call("version")
    big = bytes(range(256)) * 20_000
    await session.agent.write_file("workspace/big.bin", big)

    assert first == second
    assert await session.agent.read_file("workspace/big.bin") == big
    assert session.agent._server is not None
    assert session.connection.connects == 1
