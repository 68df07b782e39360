"""Deploys to local pods: sync, no-op, health gate and rollback, requirements,
push of unpushed commits, awkward file names, protection and promotion."""

from __future__ import annotations

from pathlib import Path

import pytest

from podtui.ops.deploy import (
    ConfirmationRequired,
    DeployOptions,
    deploy,
    promote,
)
from podtui.ops.events import Phase, StepEvent
from podtui.ops.fleet import Fleet
from tests.deploy.conftest import (
    DeployWorld,
    commit_file,
    git,
    tree_hashes,
    version_of,
)

MARKER = "voice_pipeline/deployed_marker.py"


async def test_a_one_file_change_reaches_every_pod_and_version_shows_it(
    world: DeployWorld, fleet: Fleet
) -> None:
    head = commit_file(world.repo, MARKER, "MARK = 1\n", "Add a marker")
    events: list[StepEvent] = []

    result = await deploy(fleet, "dev", on_event=events.append)

    assert result.ok, [o.error for o in result.outcomes]
    for name in ("dev-1", "dev-2"):
        assert (world.app_dir(name) / MARKER).read_text() == "MARK = 1\n"
        assert (await version_of(fleet, name))["commit"] == head
    assert {o.written for o in result.outcomes} == {(MARKER,)}
    finished = {(e.pod, e.step) for e in events if e.phase == Phase.FINISHED}
    assert ("dev-1", "health") in finished and ("dev-2", "sync") in finished


async def test_a_deploy_that_changes_nothing_writes_nothing_and_keeps_the_app(
    world: DeployWorld, fleet: Fleet
) -> None:
    await deploy(fleet, "dev", pod="dev-1")
    before = (world.pods.pod_dir("dev-1") / ".podtui" / "app.json").read_text()

    result = await deploy(fleet, "dev", pod="dev-1")

    (outcome,) = result.outcomes
    assert outcome.ok and not outcome.changed
    assert (world.pods.pod_dir("dev-1") / ".podtui" / "app.json").read_text() == before


async def test_a_deploy_that_changes_nothing_closes_every_step_of_its_pods(
    world: DeployWorld, fleet: Fleet
) -> None:
    await deploy(fleet, "dev", pod="dev-1")
    events: list[StepEvent] = []

    await deploy(fleet, "dev", pod="dev-1", on_event=events.append)

    last = {e.step: e.phase for e in events}
    assert set(last) == {
        "connect",
        "fetch",
        "dependencies",
        "sync",
        "restart",
        "health",
    }
    assert Phase.STARTED not in last.values()
    assert last["restart"] == last["health"] == Phase.SKIPPED


def restore_working_tree(world: DeployWorld) -> None:
    """Undo uncommitted changes and remove untracked files in the repository."""
    git(world.repo, "checkout", "--", ".")
    git(world.repo, "clean", "-qfd")


async def test_a_release_that_fails_its_health_check_is_rolled_back(
    world: DeployWorld, fleet: Fleet
) -> None:
    await deploy(fleet, "dev", pod="dev-2")
    before = tree_hashes(world.app_dir("dev-2"))
    old = await version_of(fleet, "dev-2")
    main = world.repo / "voice_pipeline" / "__main__.py"
    main.write_text("import sys\nprint('broken release', flush=True)\nsys.exit(3)\n")

    try:
        result = await deploy(fleet, "dev", pod="dev-2", options=files_mode())
    finally:
        restore_working_tree(world)

    (outcome,) = result.outcomes
    assert not outcome.ok and outcome.rolled_back
    assert outcome.exit_code == 3
    assert any("broken release" in line for line in outcome.log_tail)
    assert "rolled back" in str(outcome.error)
    assert tree_hashes(world.app_dir("dev-2")) == before
    now = await version_of(fleet, "dev-2")
    assert now["commit"] == old["commit"] and now["started_at"] != old["started_at"]


def files_mode(**options: object) -> DeployOptions:
    return DeployOptions(mode="files", **options)  # type: ignore[arg-type]


async def test_changed_requirements_stop_the_deploy_with_an_image_rebuild_warning(
    world: DeployWorld, fleet: Fleet
) -> None:
    before = tree_hashes(world.app_dir("dev-2"))
    requirements = world.repo / "voice_pipeline" / "requirements.txt"
    requirements.write_text(requirements.read_text() + "torch==2.5.0\n")

    try:
        result = await deploy(fleet, "dev", pod="dev-2", options=files_mode())
    finally:
        restore_working_tree(world)

    (outcome,) = result.outcomes
    assert not outcome.ok and outcome.needs_image
    assert "image rebuild is needed" in str(outcome.error)
    assert tree_hashes(world.app_dir("dev-2")) == before


async def test_an_unpushed_commit_deploys_with_push(
    world: DeployWorld, fleet: Fleet
) -> None:
    checkout = world.checkout("dev-1")
    git(checkout, "remote", "set-url", "origin", "/nonexistent/upstream")
    head = commit_file(world.repo, MARKER, "MARK = 'pushed'\n", "Unpushed change")

    try:
        result = await deploy(
            fleet, "dev", pod="dev-1", options=DeployOptions(mode="push")
        )
    finally:
        git(checkout, "remote", "set-url", "origin", str(world.repo))

    assert result.ok, result.outcomes[0].error
    assert git(checkout, "rev-parse", "HEAD") == head
    assert (await version_of(fleet, "dev-1"))["commit"] == head
    assert (world.app_dir("dev-1") / MARKER).read_text() == "MARK = 'pushed'\n"


async def test_file_names_with_spaces_quotes_and_commands_arrive_intact(
    world: DeployWorld, fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    name = 'voice_pipeline/data dir/it\'s a "file" $(touch pwned) `touch pwned2`.txt'
    (world.repo / name).parent.mkdir(parents=True)
    (world.repo / name).write_text("intact\n")

    try:
        result = await deploy(fleet, "dev", pod="dev-1", options=files_mode())
    finally:
        restore_working_tree(world)

    assert result.ok, result.outcomes[0].error
    assert (world.app_dir("dev-1") / name).read_text() == "intact\n"
    places = [tmp_path, world.repo, world.pods.pod_dir("dev-1"), world.app_dir("dev-1")]
    assert not [p for place in places for p in place.rglob("pwned*")]


async def test_a_protected_environment_is_not_deployed_without_confirmation(
    world: DeployWorld, fleet: Fleet
) -> None:
    before = tree_hashes(world.app_dir("prod-1"))

    with pytest.raises(ConfirmationRequired, match="production is protected"):
        await deploy(fleet, "production")

    assert tree_hashes(world.app_dir("prod-1")) == before


async def test_promote_deploys_the_release_healthy_on_dev_to_staging(
    world: DeployWorld, fleet: Fleet
) -> None:
    head = commit_file(world.repo, MARKER, "MARK = 'promoted'\n", "To promote")
    assert (await deploy(fleet, "dev")).ok
    commit_file(world.repo, MARKER, "MARK = 'not yet'\n", "Newer, not on dev")

    result = await promote(fleet, "dev", options=DeployOptions(confirmed=True))

    assert result.ok, result.outcomes[0].error
    assert result.environment == "staging"
    assert (await version_of(fleet, "staging-1"))["commit"] == head
    assert (world.app_dir("staging-1") / MARKER).read_text() == "MARK = 'promoted'\n"
