"""RunPod pods end to end: the real SDK lists them from the fake API, and
podtui reaches each one over SSH at its public port 22, which is a real local
pod's SSH server. Status, health, stop, resume and terminate, in the library
and from the command line."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podtui.cli import main
from podtui.errors import PodtuiError
from podtui.model import Pod, PodStatus
from podtui.ops.fleet import Fleet, wait_healthy
from podtui.ops.power import resume_pod, stop_pod, terminate_pod
from podtui.providers.local import LocalPods
from podtui.providers.runpod import RunPodProvider
from tests.runpod_provider.conftest import FakeRunPod, runpod_config, runpod_config_text


def ssh_port(local_pods: LocalPods, name: str = "dev-1") -> int:
    return local_pods.specs()[name].ssh_port


@pytest.fixture
async def fleet(
    fake_runpod: FakeRunPod,
    local_pods: LocalPods,
    project_repo: Path,
    tmp_path: Path,
    provider: RunPodProvider,
) -> AsyncIterator[Fleet]:
    config = runpod_config(tmp_path, local_pods, project_repo, "dev-1")
    fleet = Fleet(config, runpod=provider)
    yield fleet
    await fleet.close()


async def pod_named(fleet: Fleet, name: str) -> Pod:
    pods = {pod.name: pod for pod in await fleet.pods()}
    return pods[name]


async def poll_until(fleet: Fleet, name: str, status: PodStatus) -> Pod:
    """Refresh until the pod has `status`; each refresh is one API poll."""
    for _ in range(10):
        pod = await pod_named(fleet, name)
        if pod.status == status:
            return pod
    raise AssertionError(f"{name} never became {status}: {pod.status}")


async def test_a_created_pod_shows_starting_until_its_container_is_up(
    fake_runpod: FakeRunPod, local_pods: LocalPods, fleet: Fleet
) -> None:
    fake_runpod.add_pod("voice-1", ssh_port(local_pods), polls=3)

    first = await fleet.inspect(await pod_named(fleet, "voice-1"))
    running = await poll_until(fleet, "voice-1", PodStatus.RUNNING)

    assert first.status == PodStatus.STARTING
    assert "container is not up yet" in str(first.error)
    assert running.ssh is not None and running.ssh.port == ssh_port(local_pods)


async def test_a_running_pod_is_healthy_and_reports_its_app_over_ssh(
    fake_runpod: FakeRunPod, local_pods: LocalPods, fleet: Fleet
) -> None:
    fake_runpod.add_pod("voice-1", ssh_port(local_pods))
    pod = await pod_named(fleet, "voice-1")
    await wait_healthy(fleet, pod, timeout=30)

    report = await fleet.inspect(pod)

    assert report.status == PodStatus.RUNNING
    assert report.healthy, report.health
    assert report.app is not None and report.app.running
    assert report.release is not None and report.release.commit


async def test_stopping_a_pod_shows_it_stopped_and_closes_its_connection(
    fake_runpod: FakeRunPod, local_pods: LocalPods, fleet: Fleet
) -> None:
    fake_runpod.add_pod("voice-1", ssh_port(local_pods))
    pod = await pod_named(fleet, "voice-1")
    connection = fleet.session(pod).connection
    await connection.connection()

    stopped = await stop_pod(fleet, pod)
    report = await fleet.inspect(await pod_named(fleet, "voice-1"))

    assert stopped.status == PodStatus.STOPPED
    assert report.status == PodStatus.STOPPED
    assert "its volume is kept" in str(report.error)
    assert not connection.connected
    assert fake_runpod.count("stop") == 1


async def test_a_resumed_pod_starts_then_runs_with_the_gpus_it_had(
    fake_runpod: FakeRunPod, local_pods: LocalPods, fleet: Fleet
) -> None:
    pod_id = fake_runpod.add_pod("voice-1", ssh_port(local_pods), gpu_count=2)
    fake_runpod.pods[pod_id].desired = "EXITED"
    stopped = await pod_named(fleet, "voice-1")

    resumed = await resume_pod(fleet, stopped)
    running = await poll_until(fleet, "voice-1", PodStatus.RUNNING)
    report = await fleet.inspect(running)

    assert resumed.pod.status == PodStatus.STARTING
    assert resumed.message.startswith("voice-1 resumed with 2x NVIDIA RTX A5000")
    (mutation,) = [query for query in fake_runpod.queries if "podResume" in query]
    assert "gpuCount: 2" in mutation
    assert report.status == PodStatus.RUNNING


async def test_a_pod_resumed_without_a_gpu_says_so(
    fake_runpod: FakeRunPod, local_pods: LocalPods, fleet: Fleet
) -> None:
    pod_id = fake_runpod.add_pod("voice-1", ssh_port(local_pods))
    fake_runpod.pods[pod_id].desired = "EXITED"
    fake_runpod.resume_gpus = 0

    resumed = await resume_pod(fleet, await pod_named(fleet, "voice-1"))

    assert resumed.without_gpu
    assert "resumed WITHOUT a GPU" in resumed.message


async def test_terminating_needs_the_pods_name_typed_exactly(
    fake_runpod: FakeRunPod, local_pods: LocalPods, fleet: Fleet
) -> None:
    fake_runpod.add_pod("voice-1", ssh_port(local_pods))
    pod = await pod_named(fleet, "voice-1")

    with pytest.raises(PodtuiError, match="not terminating voice-1"):
        await terminate_pod(fleet, pod, "voice-")
    await terminate_pod(fleet, pod, "voice-1")

    assert fake_runpod.count("terminate") == 1
    assert await fleet.pods() == []


async def test_local_pods_cannot_be_stopped(
    local_config: object, local_pods: LocalPods
) -> None:
    fleet = Fleet(local_config, local_pods=local_pods)  # type: ignore[arg-type]
    pod = (await fleet.pods())[0]

    with pytest.raises(PodtuiError, match="cannot stop or start its machine"):
        await stop_pod(fleet, pod)


# --- the command line ---------------------------------------------------------


@pytest.fixture
def config_file(
    fake_runpod: FakeRunPod, local_pods: LocalPods, project_repo: Path, tmp_path: Path
) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(runpod_config_text(local_pods, project_repo, "dev-1"))
    return path


def test_status_json_lists_the_runpod_pods(
    fake_runpod: FakeRunPod,
    local_pods: LocalPods,
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pod_id = fake_runpod.add_pod("voice-1", ssh_port(local_pods), cost=0.44)
    fake_runpod.add_pod("voice-2", None)

    code = main(["--config", str(config_file), "status", "--json"])

    pods = {pod["pod"]: pod for pod in json.loads(capsys.readouterr().out)}
    assert code == 0
    assert pods["voice-1"]["id"] == pod_id
    assert pods["voice-1"]["provider"] == "runpod"
    assert pods["voice-1"]["cost_per_hour"] == 0.44
    assert pods["voice-1"]["status"] == "running"
    assert "basic SSH proxy" in pods["voice-2"]["error"]


def test_stop_and_resume_commands_change_the_pod(
    fake_runpod: FakeRunPod,
    local_pods: LocalPods,
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pod_id = fake_runpod.add_pod("voice-1", ssh_port(local_pods))
    config = ["--config", str(config_file)]

    stopped = main([*config, "stop", "voice-1", "--yes"])
    state_after_stop = fake_runpod.pods[pod_id].desired
    resumed = main([*config, "resume", "voice-1", "--yes"])

    out = capsys.readouterr()
    assert (stopped, resumed) == (0, 0)
    assert state_after_stop == "EXITED"
    assert fake_runpod.pods[pod_id].desired == "RUNNING"
    assert "voice-1: stopped" in out.out
    assert "voice-1 resumed with NVIDIA RTX A5000" in out.out
    assert "volume" in out.err


def test_a_command_on_an_api_failure_prints_a_message_without_the_key(
    fake_runpod: FakeRunPod, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_runpod.fail("echo")

    code = main(["--config", str(config_file), "stop", "voice-1", "--yes"])

    err = capsys.readouterr().err
    assert code == 1
    assert "no pod named 'voice-1'" in err
    assert "[api key] may not read pods" in err
    assert fake_runpod.key not in err
