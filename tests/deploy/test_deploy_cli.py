"""`podtui deploy` headless: a line per step, a summary, and exit statuses."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.deploy.conftest import DeployWorld, commit_file


def podtui(world: DeployWorld, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the podtui command against the world's config and local pods."""
    env = dict(os.environ, PODTUI_HOME=str(world.pods.root.parent))
    return subprocess.run(
        [sys.executable, "-m", "podtui", "--config", str(world.config.path), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_deploy_prints_a_line_per_step_and_a_summary(world: DeployWorld) -> None:
    commit_file(world.repo, "voice_pipeline/cli_marker.py", "X = 1\n", "Marker")

    result = podtui(world, "deploy", "dev", "--pod", "dev-1")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for step in ("connect", "fetch", "dependencies", "sync", "restart", "health"):
        assert any(line.split()[:3] == ["dev-1", step, "finished"] for line in lines)
    assert "dev-1: 1 written, 0 deleted, restarted, healthy on" in result.stdout
    assert lines[-1].startswith("git to dev: ok in ")


def test_deploy_to_a_protected_environment_needs_yes(world: DeployWorld) -> None:
    result = podtui(world, "deploy", "production")

    assert result.returncode == 1
    assert "production is protected" in result.stderr
    assert "--yes" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failed_pod_makes_the_exit_status_non_zero(world: DeployWorld) -> None:
    requirements = world.repo / "voice_pipeline" / "requirements.txt"
    original = requirements.read_text()
    requirements.write_text(original + "torch==2.5.0\n")
    try:
        result = podtui(world, "deploy", "dev", "--pod", "dev-2", "--mode", "files")
    finally:
        requirements.write_text(original)

    assert result.returncode == 1
    assert "dev-2: FAILED" in result.stdout
    assert "[image rebuild needed]" in result.stdout
