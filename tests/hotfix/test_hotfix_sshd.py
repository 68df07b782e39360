"""Hot fixes on a real OpenSSH sshd pod, as real pods run it.

Skipped locally when sshd is missing; in CI (CI=true) a missing sshd fails.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hotfix_world import make_repo

from podtui.config import parse_config
from podtui.ops.copyback import CopyBackStatus
from podtui.ops.fleet import Fleet
from podtui.ops.hotfix import new_file, open_file, pull_file, save_hotfix
from tests.conftest import SSHD, ssh_config_text

pytestmark = pytest.mark.sshd


@pytest.fixture
async def lab(sshd: SSHD, tmp_path: Path) -> AsyncIterator[tuple[Fleet, Path, Path]]:
    """The sshd pod running the service of a fresh repository."""
    repo = make_repo(tmp_path)
    pod_root = sshd.root / "pod"
    shutil.rmtree(pod_root, ignore_errors=True)
    shutil.copytree(repo / "voice_pipeline", pod_root / "app/src/voice_pipeline")
    text = ssh_config_text(sshd, repo)
    fleet = Fleet(parse_config(text, tmp_path / "config.toml"))
    (pod,) = await fleet.pods()
    await fleet.session(pod).restart_app()
    yield fleet, repo, pod_root / "app" / "src"
    await fleet.session(pod).stop_app()
    await fleet.close()


async def test_a_hot_fix_on_the_sshd_pod_restarts_it_healthy_and_lands_locally(
    lab: tuple[Fleet, Path, Path],
) -> None:
    fleet, repo, app_dir = lab
    (pod,) = await fleet.pods()
    relpath = "voice_pipeline/responder.py"
    opened = await open_file(fleet.session(pod), relpath)

    outcome = await save_hotfix(fleet, opened, opened.data + b"# sshd fix\n")

    assert outcome.ok and outcome.healthy, outcome.error
    assert (app_dir / relpath).read_bytes().endswith(b"# sshd fix\n")
    assert (repo / relpath).read_bytes().endswith(b"# sshd fix\n")


async def test_an_awkward_name_on_the_sshd_pod_is_created_then_kept_beside_a_local_copy(
    lab: tuple[Fleet, Path, Path],
) -> None:
    fleet, repo, app_dir = lab
    (pod,) = await fleet.pods()
    relpath = 'voice_pipeline/a b/it\'s "q" $(touch pwned).txt'
    await save_hotfix(fleet, new_file(pod, relpath), b"first\n")
    (app_dir / relpath).write_text("changed on the pod\n")

    copy = await pull_file(fleet, pod, relpath, choice="keep-both")

    assert copy.status == CopyBackStatus.KEPT_BOTH
    assert (repo / relpath).read_text() == "first\n"
    assert copy.kept is not None
    assert copy.kept.read_text() == "changed on the pod\n"
    assert not list(app_dir.parent.parent.rglob("pwned*"))
