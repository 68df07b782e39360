"""Deploys to a real OpenSSH sshd pod, as real pods run it.

Skipped locally when sshd is missing; in CI (CI=true) a missing sshd fails.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podtui.config import Config, parse_config
from podtui.model import Release
from podtui.ops.deploy import DeployOptions, deploy
from podtui.ops.fleet import Fleet, wait_healthy
from tests.conftest import SSHD, ssh_config_text
from tests.deploy.conftest import commit_file, make_repo, tree_hashes, version_of

pytestmark = pytest.mark.sshd


def lab_config(server: SSHD, repo: Path, tmp_path: Path) -> Config:
    """The sshd pod's config, written to a file as the CLI reads it."""
    text = ssh_config_text(server, repo)
    path = tmp_path / "config.toml"
    path.write_text(text)
    return parse_config(text, path)


@pytest.fixture
async def lab(sshd: SSHD, tmp_path: Path) -> AsyncIterator[tuple[Fleet, Path, Path]]:
    """The sshd pod running the service of a fresh repository, and a checkout."""
    repo = make_repo(tmp_path)
    pod_root = sshd.root / "pod"
    shutil.rmtree(pod_root, ignore_errors=True)
    shutil.copytree(repo / "voice_pipeline", pod_root / "app/src/voice_pipeline")
    checkout = pod_root / "workspace" / "voice-pipeline"
    subprocess.run(["git", "clone", "-q", str(repo), str(checkout)], check=True)
    fleet = Fleet(lab_config(sshd, repo, tmp_path))
    (pod,) = await fleet.pods()
    session = fleet.session(pod)
    await session.set_release(Release(commit="0" * 40))
    await session.restart_app()
    health = await wait_healthy(fleet, pod, timeout=60)
    assert health.healthy, health.detail
    yield fleet, repo, pod_root / "app" / "src"
    await session.stop_app()
    await fleet.close()


async def test_a_one_file_change_reaches_the_sshd_pod_with_git(
    lab: tuple[Fleet, Path, Path],
) -> None:
    fleet, repo, app_dir = lab
    head = commit_file(repo, "voice_pipeline/marker.py", "M = 1\n", "Marker")

    result = await deploy(fleet, "lab")

    assert result.ok, result.outcomes[0].error
    assert result.outcomes[0].written == ("voice_pipeline/marker.py",)
    assert (await version_of(fleet, "lab-1"))["commit"] == head
    assert (app_dir / "voice_pipeline/marker.py").read_text() == "M = 1\n"


async def test_an_unpushed_commit_and_awkward_names_reach_the_sshd_pod_with_push(
    lab: tuple[Fleet, Path, Path],
) -> None:
    fleet, repo, app_dir = lab
    name = 'voice_pipeline/a b/it\'s "q" $(touch pwned).txt'
    head = commit_file(repo, name, "intact\n", "Awkward name")

    result = await deploy(fleet, "lab", options=DeployOptions(mode="push"))

    assert result.ok, result.outcomes[0].error
    assert (app_dir / name).read_text() == "intact\n"
    assert (await version_of(fleet, "lab-1"))["commit"] == head
    assert not list(app_dir.parent.parent.rglob("pwned*"))


async def test_a_no_op_deploy_to_the_sshd_pod_writes_nothing_and_keeps_the_app(
    lab: tuple[Fleet, Path, Path],
) -> None:
    fleet, _repo, app_dir = lab
    await deploy(fleet, "lab")
    before = tree_hashes(app_dir)
    running = await version_of(fleet, "lab-1")

    result = await deploy(fleet, "lab")

    (outcome,) = result.outcomes
    assert outcome.ok and not outcome.changed and not outcome.restarted
    assert tree_hashes(app_dir) == before
    assert (await version_of(fleet, "lab-1"))["started_at"] == running["started_at"]


async def test_a_failing_release_on_the_sshd_pod_is_rolled_back(
    lab: tuple[Fleet, Path, Path],
) -> None:
    fleet, repo, app_dir = lab
    await deploy(fleet, "lab")
    before = tree_hashes(app_dir)
    old = await version_of(fleet, "lab-1")
    broken = "import sys\nprint('broken release', flush=True)\nsys.exit(3)\n"
    commit_file(repo, "voice_pipeline/__main__.py", broken, "Break the service")

    result = await deploy(fleet, "lab", options=DeployOptions(mode="push"))

    (outcome,) = result.outcomes
    assert not outcome.ok and outcome.rolled_back, outcome.error
    assert any("broken release" in line for line in outcome.log_tail)
    assert tree_hashes(app_dir) == before
    now = await version_of(fleet, "lab-1")
    assert now["commit"] == old["commit"] and now["started_at"] != old["started_at"]
