"""Saving a hot fix on real local pods: write, verify, copy back, restart."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator

import hotfix_world
import pytest
from hotfix_world import HotfixWorld, git, pod_named

from podtui.ops.copyback import BinaryFileError, CopyBackStatus, commit_hotfix
from podtui.ops.deploy import ConfirmationRequired
from podtui.ops.events import Phase, StepEvent
from podtui.ops.fleet import Fleet
from podtui.ops.hotfix import (
    PodFileChanged,
    new_file,
    open_file,
    save_hotfix,
)

RESPONDER = "voice_pipeline/responder.py"
world = hotfix_world.world


@pytest.fixture
async def fleet(world: HotfixWorld) -> AsyncIterator[Fleet]:
    fleet = Fleet(world.config, local_pods=world.pods)
    yield fleet
    await fleet.close()


async def test_a_saved_code_fix_reaches_the_pod_the_local_tree_and_a_restarted_service(
    world: HotfixWorld, fleet: Fleet
) -> None:
    pod = await pod_named(fleet, "dev-1")
    opened = await open_file(fleet.session(pod), RESPONDER)
    events: list[StepEvent] = []

    fixed = opened.data + b"\nHOT_FIX = 1\n"
    outcome = await save_hotfix(fleet, opened, fixed, on_event=events.append)

    assert outcome.ok, outcome.error
    assert (world.app_dir("dev-1") / RESPONDER).read_bytes() == fixed
    assert (world.repo / RESPONDER).read_bytes() == fixed
    assert outcome.copy_back is not None
    assert outcome.copy_back.status == CopyBackStatus.REPLACED
    assert "+HOT_FIX = 1" in outcome.copy_back.diff
    assert outcome.restarted and outcome.healthy
    finished = [e.step for e in events if e.phase == Phase.FINISHED]
    assert finished == ["save", "copy-back", "restart", "health"]
    assert fleet.activity.get(pod.id) is not None


async def test_a_file_changed_on_the_pod_since_it_was_opened_is_not_overwritten(
    world: HotfixWorld, fleet: Fleet
) -> None:
    pod = await pod_named(fleet, "dev-1")
    relpath = "voice_pipeline/frames.py"
    opened = await open_file(fleet.session(pod), relpath)
    on_pod = world.app_dir("dev-1") / relpath
    on_pod.write_bytes(opened.data + b"# someone else\n")

    with pytest.raises(PodFileChanged):
        await save_hotfix(fleet, opened, b"mine\n", restart=False)

    assert on_pod.read_bytes().endswith(b"# someone else\n")
    assert (world.repo / relpath).read_bytes() == opened.data


async def test_overwrite_replaces_a_file_that_changed_on_the_pod(
    world: HotfixWorld, fleet: Fleet
) -> None:
    pod = await pod_named(fleet, "dev-1")
    relpath = "voice_pipeline/audio.py"
    opened = await open_file(fleet.session(pod), relpath)
    (world.app_dir("dev-1") / relpath).write_bytes(b"# someone else\n")

    outcome = await save_hotfix(
        fleet, opened, opened.data + b"# mine\n", restart=False, overwrite=True
    )

    assert (world.app_dir("dev-1") / relpath).read_bytes().endswith(b"# mine\n")
    assert outcome.copy_back is not None
    assert outcome.copy_back.status == CopyBackStatus.REPLACED


async def test_changes_on_both_sides_are_never_overwritten_and_merge_keeps_both(
    world: HotfixWorld, fleet: Fleet
) -> None:
    from podtui.ops.copyback import resolve_conflict

    pod = await pod_named(fleet, "dev-1")
    relpath = "voice_pipeline/logs.py"
    opened = await open_file(fleet.session(pod), relpath)
    lines = opened.text.splitlines(keepends=True)
    local_text = "".join(["# local edit\n", *lines])
    (world.repo / relpath).write_text(local_text)
    pod_text = "".join([*lines, "# pod edit\n"])

    outcome = await save_hotfix(fleet, opened, pod_text.encode(), restart=False)

    copy = outcome.copy_back
    assert copy is not None and copy.needs_choice
    assert (world.repo / relpath).read_text() == local_text
    assert "+# local edit" in copy.local_diff and "+# pod edit" in copy.pod_diff
    merged = resolve_conflict(copy, "merge")
    assert merged.status == CopyBackStatus.MERGED
    text = (world.repo / relpath).read_text()
    assert text.startswith("# local edit\n") and text.endswith("# pod edit\n")


async def test_clashing_edits_merge_with_conflict_markers_holding_both_versions(
    world: HotfixWorld, fleet: Fleet
) -> None:
    from podtui.ops.copyback import resolve_conflict

    pod = await pod_named(fleet, "dev-1")
    relpath = "voice_pipeline/release.py"
    opened = await open_file(fleet.session(pod), relpath)
    first, rest = opened.text.split("\n", 1)
    (world.repo / relpath).write_text(f"# local line\n{rest}")

    outcome = await save_hotfix(
        fleet, opened, f"# pod line\n{rest}".encode(), restart=False
    )
    assert outcome.copy_back is not None
    merged = resolve_conflict(outcome.copy_back, "merge")

    text = (world.repo / relpath).read_text()
    assert merged.status == CopyBackStatus.MERGED_WITH_CONFLICTS
    assert merged.conflicts == 1
    assert "<<<<<<< local\n# local line\n" in text
    assert "=======\n# pod line\n>>>>>>> dev-1\n" in text


async def test_keep_both_puts_the_pods_version_beside_the_local_file(
    world: HotfixWorld, fleet: Fleet
) -> None:
    from podtui.ops.copyback import resolve_conflict

    pod = await pod_named(fleet, "dev-1")
    relpath = "voice_pipeline/engines.py"
    opened = await open_file(fleet.session(pod), relpath)
    (world.repo / relpath).write_text("local version\n")

    outcome = await save_hotfix(fleet, opened, b"pod version\n", restart=False)
    assert outcome.copy_back is not None
    kept = resolve_conflict(outcome.copy_back, "keep-both")

    assert (world.repo / relpath).read_text() == "local version\n"
    assert kept.kept == world.repo / "voice_pipeline/engines.pod-dev-1.py"
    assert kept.kept.read_text() == "pod version\n"


async def test_a_new_file_with_an_awkward_name_is_created_on_the_pod_and_locally(
    world: HotfixWorld, fleet: Fleet
) -> None:
    pod = await pod_named(fleet, "dev-1")
    relpath = 'voice_pipeline/odd dir/it\'s "quoted" $(touch pwned).txt'

    outcome = await save_hotfix(fleet, new_file(pod, relpath), b"intact\n")

    assert (world.app_dir("dev-1") / relpath).read_text() == "intact\n"
    assert (world.repo / relpath).read_text() == "intact\n"
    assert outcome.copy_back is not None
    assert outcome.copy_back.status == CopyBackStatus.CREATED
    assert not outcome.restarted
    assert not list(world.root.rglob("pwned*"))


async def test_a_binary_file_is_refused_with_a_message(
    world: HotfixWorld, fleet: Fleet
) -> None:
    pod = await pod_named(fleet, "dev-1")
    relpath = "voice_pipeline/model.bin"
    (world.app_dir("dev-1") / relpath).write_bytes(b"\x00\x01\x02binary")

    with pytest.raises(BinaryFileError, match="binary file"):
        await open_file(fleet.session(pod), relpath)


async def test_a_five_megabyte_file_is_saved_and_copied_back_intact(
    world: HotfixWorld, fleet: Fleet
) -> None:
    pod = await pod_named(fleet, "dev-1")
    relpath = "voice_pipeline/big.txt"
    big = b"".join(b"line %07d of a large text file\n" % i for i in range(160_000))
    assert len(big) > 5_000_000

    outcome = await save_hotfix(fleet, new_file(pod, relpath), big)

    assert (world.app_dir("dev-1") / relpath).read_bytes() == big
    assert (world.repo / relpath).read_bytes() == big
    assert outcome.file.sha256 is not None


async def test_committing_the_hot_fix_names_the_pod_and_files_and_commits_only_them(
    world: HotfixWorld, fleet: Fleet
) -> None:
    pod = await pod_named(fleet, "dev-1")
    relpath = "voice_pipeline/__main__.py"
    opened = await open_file(fleet.session(pod), relpath)
    (world.repo / "unrelated.txt").write_text("not part of the fix\n")
    outcome = await save_hotfix(fleet, opened, opened.data + b"# fix\n", restart=False)
    assert outcome.copy_back is not None

    commit_hotfix(world.repo, "dev-1", list(outcome.copy_back.written))

    subject = git(world.repo, "log", "-1", "--format=%s")
    assert subject == f"Hot fix from dev-1: {relpath}"
    assert git(world.repo, "show", "--name-only", "--format=", "HEAD") == relpath
    assert "?? unrelated.txt" in git(world.repo, "status", "--porcelain")
    remotes = subprocess.run(
        ["git", "-C", str(world.repo), "remote"], capture_output=True, text=True
    )
    assert remotes.stdout == ""


async def test_saving_on_a_protected_environment_needs_confirmation(
    world: HotfixWorld, fleet: Fleet
) -> None:
    pod = await pod_named(fleet, "prod-1")
    opened = await open_file(fleet.session(pod), RESPONDER)

    with pytest.raises(ConfirmationRequired):
        await save_hotfix(fleet, opened, b"# nope\n")

    assert (world.app_dir("prod-1") / RESPONDER).read_bytes() == opened.data
