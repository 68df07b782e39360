"""The production deploy confirmation, driven through Textual's Pilot:
on its own, and from the dashboard's `d` key on real local pods."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static

from podtui.ops.deploy import DeployPlan
from podtui.ops.fleet import Fleet
from podtui.tui.app import PodtuiApp
from podtui.tui.confirm_screen import ConfirmScreen
from podtui.tui.deploy_dialog import DeployConfirmDialog
from podtui.tui.deploy_progress import DeployProgressScreen
from podtui.tui.pod_table import PodTable
from tests.deploy.conftest import (
    DeployWorld,
    commit_file,
    git,
    tree_hashes,
    version_of,
)

PLAN = DeployPlan("production", True, ("prod-1", "prod-2"), "push", "1a2b3c4d")


class DialogApp(App[None]):
    """A bare app that opens the dialog and keeps its answer."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[bool | None] = []

    def on_mount(self) -> None:
        self.push_screen(DeployConfirmDialog(PLAN), self.answers.append)


async def test_the_dialog_names_the_environment_pods_and_commit() -> None:
    app = DialogApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        text = " ".join(str(widget.render()) for widget in app.screen.query(Static))

    assert "PRODUCTION" in text
    assert "prod-1, prod-2" in text
    assert "1a2b3c4d" in text


async def test_enter_on_the_focused_cancel_does_not_deploy() -> None:
    app = DialogApp()
    async with app.run_test() as pilot:
        await pilot.press("enter")

    assert app.answers == [False]


async def test_y_confirms_the_deploy() -> None:
    app = DialogApp()
    async with app.run_test() as pilot:
        await pilot.press("y")

    assert app.answers == [True]


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until `condition` holds, or fail after a deadline."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause()


async def test_d_on_production_asks_naming_its_pods_and_no_deploys_nothing(
    world: DeployWorld,
) -> None:
    before = tree_hashes(world.app_dir("prod-1"))
    fleet = Fleet(world.config, local_pods=world.pods)
    app = PodtuiApp(world.config, fleet=fleet, start_local_pods=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: "local:prod-1" in app.pods, "the pods")
        table = app.query_one(PodTable)
        table.move_cursor(row=table.get_row_index("local:prod-1"))
        await pilot.press("d")
        await until(
            pilot, lambda: isinstance(app.screen, DeployConfirmDialog), "the dialog"
        )
        text = " ".join(str(w.render()) for w in app.screen.query(Static))

        await pilot.press("n")
        await app.workers.wait_for_complete()

    assert "PRODUCTION" in text and "prod-1" in text
    assert git(world.repo, "rev-parse", "HEAD")[:8] in text
    assert tree_hashes(world.app_dir("prod-1")) == before


async def test_a_deploy_stopped_for_an_image_rebuild_can_go_ahead_when_asked(
    world: DeployWorld,
) -> None:
    requirements = "voice_pipeline/requirements.txt"
    text = (world.repo / requirements).read_text()
    head = commit_file(world.repo, requirements, text + "torch==2.5.0\n", "Torch")
    fleet = Fleet(world.config, local_pods=world.pods)
    app = PodtuiApp(world.config, fleet=fleet, start_local_pods=False)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, lambda: "local:dev-2" in app.pods, "the pods")
            table = app.query_one(PodTable)
            table.move_cursor(row=table.get_row_index("local:dev-2"))
            await pilot.press("d")
            await until(
                pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question"
            )
            question = app.screen
            assert isinstance(question, ConfirmScreen)
            stopped_on = (await version_of(fleet, "dev-2"))["commit"]

            await pilot.press("y")
            await until(
                pilot,
                lambda: (
                    isinstance(app.screen, DeployProgressScreen)
                    and app.screen.ended is not None
                ),
                "the second deploy's end",
            )
            progress = app.screen
            assert isinstance(progress, DeployProgressScreen)
            await app.workers.wait_for_complete()
    finally:
        commit_file(world.repo, requirements, text, "No torch")

    assert "anyway" in question.question and "image" in question.warning
    assert stopped_on != head
    assert progress.ended is not None and progress.ended.ok
    assert (await version_of(fleet, "dev-2"))["commit"] == head
    await fleet.close()
