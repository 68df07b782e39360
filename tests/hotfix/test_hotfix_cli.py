"""`podtui drift` and `podtui hotfix pull` as a script would run them."""

from __future__ import annotations

import os
import subprocess
import sys

import hotfix_world
from hotfix_world import HotfixWorld, git

from tests.conftest import REPO_ROOT

world = hotfix_world.world


def podtui(world: HotfixWorld, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PODTUI_HOME": str(world.root / "home")}
    return subprocess.run(
        [sys.executable, "-m", "podtui", "--config", str(world.config_path), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
    )


def test_drift_lists_the_files_a_pod_changed_since_its_release(
    world: HotfixWorld,
) -> None:
    relpath = "voice_pipeline/responder.py"
    on_pod = world.app_dir("dev-1") / relpath
    on_pod.write_bytes(on_pod.read_bytes() + b"# fix\n")

    result = podtui(world, "drift", "dev")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("dev/dev-1: 1 file(s) differ from release")
    assert lines[1].split() == ["changed", relpath]


def test_hotfix_pull_copies_a_pod_file_back_and_commits_it(world: HotfixWorld) -> None:
    relpath = "voice_pipeline/frames.py"
    on_pod = world.app_dir("dev-1") / relpath
    on_pod.write_bytes(on_pod.read_bytes() + b"# pulled\n")

    result = podtui(world, "hotfix", "pull", "dev-1", relpath, "--commit")

    assert result.returncode == 0, result.stderr
    assert f"{relpath}: replaced" in result.stdout
    assert "+# pulled" in result.stdout
    assert (world.repo / relpath).read_bytes() == on_pod.read_bytes()
    assert git(world.repo, "log", "-1", "--format=%s") == (
        f"Hot fix from dev-1: {relpath}"
    )


def test_hotfix_pull_shows_both_diffs_and_writes_nothing_when_both_changed(
    world: HotfixWorld,
) -> None:
    relpath = "voice_pipeline/logs.py"
    on_pod = world.app_dir("dev-1") / relpath
    local = world.repo / relpath
    on_pod.write_bytes(on_pod.read_bytes() + b"# pod side\n")
    local.write_bytes(local.read_bytes() + b"# local side\n")
    before = local.read_bytes()

    result = podtui(world, "hotfix", "pull", "dev-1", relpath)

    assert result.returncode == 3
    assert "+# local side" in result.stdout and "+# pod side" in result.stdout
    assert "--merge or --keep-both" in result.stderr
    assert local.read_bytes() == before


def test_hotfix_pull_refuses_a_binary_file_with_a_message(world: HotfixWorld) -> None:
    (world.app_dir("dev-1") / "voice_pipeline/blob.bin").write_bytes(b"\x00\xff")

    result = podtui(world, "hotfix", "pull", "dev-1", "voice_pipeline/blob.bin")

    assert result.returncode == 1
    assert "binary file" in result.stderr
    assert "Traceback" not in result.stderr
