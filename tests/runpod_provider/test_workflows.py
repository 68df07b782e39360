"""Deploy, logs and a hot fix on a RunPod pod, through exactly the code used for any pod.

The pod's public SSH port is a local pod of this module's own (deploys change
pods), listed by the fake RunPod API and reached through the real SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from podtui.config import Config, load_config
from podtui.ops.copyback import CopyBackStatus
from podtui.ops.deploy import deploy
from podtui.ops.fleet import Fleet
from podtui.ops.hotfix import open_file, save_hotfix
from podtui.ops.logs import pod_tail
from podtui.providers.local import LocalPods
from podtui.providers.runpod import RunPodProvider
from podtui.remote.logs import LogBatch
from tests.conftest import start_local_pods
from tests.deploy.conftest import DEPLOY_CONFIG, commit_file, make_repo
from tests.runpod_provider.conftest import FakeRunPod, runpod_config


@dataclass
class Backing:
    """The project repository and the local pod behind the RunPod pod."""

    repo: Path
    pods: LocalPods


@pytest.fixture(scope="module")
def backing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backing]:
    root = tmp_path_factory.mktemp("runpod-workflows")
    repo = make_repo(root)
    path = root / "hosts.toml"
    text = DEPLOY_CONFIG.format(repo=repo).split("[environments.staging]")[0]
    path.write_text(text.replace('[[environments.dev.pods]]\nname = "dev-2"\n', ""))
    pods = start_local_pods(root / "home", load_config(path))
    yield Backing(repo, pods)
    pods.down()


@pytest.fixture
async def fleet(
    fake_runpod: FakeRunPod,
    backing: Backing,
    provider: RunPodProvider,
    tmp_path: Path,
) -> AsyncIterator[Fleet]:
    config: Config = runpod_config(tmp_path, backing.pods, backing.repo, "dev-1")
    fake_runpod.add_pod("voice-1", backing.pods.specs()["dev-1"].ssh_port)
    fleet = Fleet(config, runpod=provider)
    yield fleet
    await fleet.close()


async def test_a_deploy_reaches_a_runpod_pod_and_marks_it_used(
    fleet: Fleet, backing: Backing
) -> None:
    head = commit_file(backing.repo, "voice_pipeline/marker.py", "MARK = 1\n", "Mark")

    result = await deploy(fleet, "cloud")

    (pod,) = await fleet.pods()
    report = await fleet.inspect(pod)
    app_dir = backing.pods.pod_dir("dev-1") / "app" / "src"
    assert result.ok, [outcome.error for outcome in result.outcomes]
    assert (app_dir / "voice_pipeline" / "marker.py").read_text() == "MARK = 1\n"
    assert report.healthy and report.release is not None
    assert report.release.commit == head
    assert pod.id in fleet.activity


async def test_the_log_of_a_runpod_pod_can_be_read(fleet: Fleet) -> None:
    (pod,) = await fleet.pods()
    tail = pod_tail(fleet.session(pod), lines=5, follow=False)

    lines = [
        line
        async for event in tail.events()
        if isinstance(event, LogBatch)
        for line in event.lines
    ]

    assert lines, "the service logs at least its start"
    assert all(line[:4].isdigit() for line in lines)


async def test_a_hot_fix_on_a_runpod_pod_is_saved_restarted_and_copied_back(
    fleet: Fleet, backing: Backing
) -> None:
    relpath = "voice_pipeline/responder.py"
    await deploy(fleet, "cloud")
    (pod,) = await fleet.pods()
    opened = await open_file(fleet.session(pod), relpath)
    fixed = opened.data + b"\nRUNPOD_HOT_FIX = 1\n"

    outcome = await save_hotfix(fleet, opened, fixed, confirmed=True)

    app_dir = backing.pods.pod_dir("dev-1") / "app" / "src"
    assert outcome.ok, outcome.error
    assert (app_dir / relpath).read_bytes() == fixed
    assert (backing.repo / relpath).read_bytes() == fixed
    assert outcome.copy_back is not None
    assert outcome.copy_back.status == CopyBackStatus.REPLACED
    assert outcome.restarted and outcome.healthy
