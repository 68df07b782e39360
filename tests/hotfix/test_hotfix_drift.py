"""Drift on real local pods: after a hot fix, after a deploy, after a revert."""

from __future__ import annotations

from collections.abc import AsyncIterator

import hotfix_world
import pytest
from hotfix_world import HotfixWorld, pod_named

from podtui.ops.copyback import CopyBackStatus
from podtui.ops.deploy import DeployOptions, deploy
from podtui.ops.drift import DriftState, pod_drift, revert_file
from podtui.ops.fleet import Fleet
from podtui.ops.hotfix import new_file, open_file, pull_file, save_hotfix

world = hotfix_world.world


@pytest.fixture
async def fleet(world: HotfixWorld) -> AsyncIterator[Fleet]:
    fleet = Fleet(world.config, local_pods=world.pods)
    yield fleet
    await fleet.close()


async def test_a_fresh_pod_has_no_drift(world: HotfixWorld, fleet: Fleet) -> None:
    drift = await pod_drift(fleet, await pod_named(fleet, "prod-1"))

    assert drift.error is None
    assert drift.count == 0


async def test_a_hot_fix_and_a_new_file_show_as_drift_until_a_deploy(
    world: HotfixWorld, fleet: Fleet
) -> None:
    pod = await pod_named(fleet, "dev-1")
    opened = await open_file(fleet.session(pod), "voice_pipeline/frames.py")
    await save_hotfix(fleet, opened, opened.data + b"# fix\n", restart=False)
    await save_hotfix(fleet, new_file(pod, "voice_pipeline/extra.txt"), b"new\n")

    drift = await pod_drift(fleet, pod)

    assert {(e.relpath, e.state) for e in drift.entries} == {
        ("voice_pipeline/frames.py", DriftState.CHANGED),
        ("voice_pipeline/extra.txt", DriftState.ADDED),
    }
    result = await deploy(fleet, "dev", options=DeployOptions(mode="files"))
    assert result.ok, result.outcomes[0].error
    assert (await pod_drift(fleet, pod)).count == 0


async def test_reverting_puts_the_released_content_back_on_the_pod(
    world: HotfixWorld, fleet: Fleet
) -> None:
    pod = await pod_named(fleet, "dev-1")
    relpath = "voice_pipeline/logs.py"
    released = (world.app_dir("dev-1") / relpath).read_bytes()
    (world.app_dir("dev-1") / relpath).write_bytes(released + b"# stray\n")
    (entry,) = [
        e for e in (await pod_drift(fleet, pod)).entries if e.relpath == relpath
    ]

    outcome = await revert_file(fleet, pod, entry)

    assert outcome.ok, outcome.error
    assert (world.app_dir("dev-1") / relpath).read_bytes() == released
    assert outcome.healthy
    assert relpath not in {e.relpath for e in (await pod_drift(fleet, pod)).entries}


async def test_reverting_a_file_the_release_lacks_removes_it_from_the_pod(
    world: HotfixWorld, fleet: Fleet
) -> None:
    pod = await pod_named(fleet, "dev-1")
    relpath = "voice_pipeline/stray $(x).txt"
    (world.app_dir("dev-1") / relpath).write_text("stray\n")
    (entry,) = [
        e for e in (await pod_drift(fleet, pod)).entries if e.relpath == relpath
    ]

    await revert_file(fleet, pod, entry)

    assert not (world.app_dir("dev-1") / relpath).exists()


async def test_pull_replaces_a_local_file_unchanged_since_the_release(
    world: HotfixWorld, fleet: Fleet
) -> None:
    pod = await pod_named(fleet, "dev-1")
    relpath = "voice_pipeline/audio.py"
    on_pod = world.app_dir("dev-1") / relpath
    on_pod.write_bytes(on_pod.read_bytes() + b"# pod fix\n")

    copy = await pull_file(fleet, pod, relpath)

    assert copy.status == CopyBackStatus.REPLACED
    assert (world.repo / relpath).read_bytes() == on_pod.read_bytes()


async def test_pull_with_both_sides_changed_writes_nothing_until_told_to_merge(
    world: HotfixWorld, fleet: Fleet
) -> None:
    pod = await pod_named(fleet, "dev-1")
    relpath = "voice_pipeline/release.py"
    on_pod = world.app_dir("dev-1") / relpath
    local = world.repo / relpath
    on_pod.write_bytes(on_pod.read_bytes() + b"# pod fix\n")
    local.write_bytes(b"# local fix\n" + local.read_bytes())
    before = local.read_bytes()

    copy = await pull_file(fleet, pod, relpath)
    assert copy.needs_choice and local.read_bytes() == before

    merged = await pull_file(fleet, pod, relpath, choice="merge")
    assert merged.status == CopyBackStatus.MERGED
    text = local.read_text()
    assert text.startswith("# local fix\n") and text.endswith("# pod fix\n")
