"""What the dashboard compares pods with: the image's requirements hash, read
once per pod session, and the local repository's HEAD."""

from __future__ import annotations

import json

from textual.widgets import Static

from podtui.model import LocalHead, Pod, PodReport, PodStatus, Release
from podtui.ops.deploy import local_requirements_hash
from podtui.ops.fleet import Fleet
from podtui.tui.app import PodtuiApp
from podtui.tui.pod_table import PodTable
from tests.deploy.conftest import DeployWorld, pod_named
from tests.deploy.test_deploy_dialog import until


def write_image_record(world: DeployWorld, pod: str, digest: str) -> None:
    record = world.pods.pod_dir(pod) / ".podtui" / "image.json"
    record.write_text(json.dumps({"requirements_hash": digest}))


async def test_a_fresh_pod_reports_the_image_built_with_the_local_requirements(
    world: DeployWorld, fleet: Fleet
) -> None:
    pod = await pod_named(fleet, "dev-1")

    image = await fleet.image_requirements_hash(pod)

    assert image == local_requirements_hash(world.config)


async def test_reports_carry_the_image_hash_once_it_was_read(
    world: DeployWorld, fleet: Fleet
) -> None:
    write_image_record(world, "dev-2", "0ld" * 10)
    pod = await pod_named(fleet, "dev-2")

    await fleet.image_requirements_hash(pod)
    report = await fleet.inspect(pod)

    assert report.image_requirements_hash == "0ld" * 10


async def test_the_image_hash_is_read_once_per_session(
    world: DeployWorld, fleet: Fleet
) -> None:
    pod = await pod_named(fleet, "staging-1")
    first = await fleet.image_requirements_hash(pod)
    write_image_record(world, "staging-1", "rebuilt")

    again = await fleet.image_requirements_hash(pod)

    assert again == first != "rebuilt"


def report_with(commit: str | None, image: str | None = None) -> PodReport:
    pod = Pod("local:x", "x", "dev", "local", PodStatus.RUNNING, None, 8000)
    return PodReport(
        pod, PodStatus.RUNNING, release=Release(commit), image_requirements_hash=image
    )


def test_a_pod_on_the_local_head_commit_is_at_head() -> None:
    local = LocalHead("abc", behind=frozenset({"old"}))

    assert local.relation(report_with("abc").release) == "head"


def test_a_pod_on_an_ancestor_of_head_is_behind() -> None:
    local = LocalHead("abc", behind=frozenset({"old"}))

    assert local.relation(report_with("old").release) == "behind"
    assert local.relation(report_with("elsewhere").release) == "other"


def test_an_image_with_other_requirements_needs_a_rebuild() -> None:
    local = LocalHead("abc", requirements_hash="new")

    assert local.needs_image(report_with("abc", image="old"))
    assert not local.needs_image(report_with("abc", image="new"))
    assert not local.needs_image(report_with("abc", image=None))


async def test_the_dashboard_marks_pods_at_head_and_those_needing_a_rebuild(
    world: DeployWorld,
) -> None:
    write_image_record(world, "dev-2", "0ld" * 10)
    fleet = Fleet(world.config, local_pods=world.pods)
    app = PodtuiApp(world.config, fleet=fleet, start_local_pods=False)
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: "local:dev-2" in app.pods, "the pods")
        await fleet.image_requirements_hash(app.pods["local:dev-2"])
        await pilot.press("f5")
        table = app.query_one(PodTable)

        def release(pod: str) -> str:
            return str(table.get_cell(f"local:{pod}", "release"))

        await until(pilot, lambda: "rebuild" in release("dev-2"), "the mark")
        await until(pilot, lambda: "=HEAD" in release("dev-1"), "the HEAD mark")
        table.move_cursor(row=table.get_row_index("local:dev-2"))
        await pilot.pause()
        detail = str(app.query_one("#detail", Static).render())

    assert "rebuild" not in release("dev-1")
    assert "runs local HEAD" in detail
    assert "IMAGE REBUILD NEEDED" in detail and "0ld0ld0ld0l" in detail
