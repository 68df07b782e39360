"""The production deploy confirmation, driven through Textual's Pilot."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Static

from podtui.ops.deploy import DeployPlan
from podtui.tui.deploy_dialog import DeployConfirmDialog

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
