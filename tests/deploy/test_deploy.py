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
