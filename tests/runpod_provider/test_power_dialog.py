"""The stop/resume and terminate dialogs, driven by keys as a person would."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Button

from podtui.model import Pod, PodStatus
from podtui.tui.power_dialog import PowerDialog, TerminateDialog


def pod(status: PodStatus = PodStatus.RUNNING) -> Pod:
    return Pod(
        id="abc123",
        name="voice-1",
        environment="cloud",
        provider="runpod",
        status=status,
        ssh=None,
        http_port=8000,
        gpu="NVIDIA RTX A5000",
        cost_per_hour=0.26,
    )


class DialogApp(App[None]):
    """Shows one power dialog and keeps its answer."""

    def __init__(self, pod: Pod) -> None:
        super().__init__()
        self.pod = pod
        self.answers: list[str | None] = []

    def on_mount(self) -> None:
        self.push_screen(PowerDialog(self.pod), self.answers.append)


def screen_text(app: App[None]) -> str:
    return " ".join(str(w.render()) for w in app.screen.query("Static"))


async def test_stopping_says_the_volume_is_kept_and_the_container_disk_lost() -> None:
    app = DialogApp(pod())
    async with app.run_test() as pilot:
        text = screen_text(app)
        await pilot.click("#power-confirm")

    assert "Stop voice-1 (NVIDIA RTX A5000, $0.26/hr)?" in text
    assert "keeps the pod's volume" in text and "loses its container disk" in text
    assert app.answers == ["stop"]


async def test_a_stopped_pod_is_offered_a_resume_that_warns_about_the_gpu() -> None:
    app = DialogApp(pod(PodStatus.STOPPED))
    async with app.run_test() as pilot:
        text = screen_text(app)
        await pilot.click("#power-confirm")

    assert "Resume voice-1" in text
    assert "no GPU" in text
    assert app.answers == ["resume"]


async def test_escape_cancels_the_dialog() -> None:
    app = DialogApp(pod())
    async with app.run_test() as pilot:
        await pilot.press("escape")

    assert app.answers == [None]


async def test_terminate_stays_disabled_until_the_name_is_typed_exactly() -> None:
    app = DialogApp(pod())
    async with app.run_test() as pilot:
        await pilot.click("#power-terminate")
        assert isinstance(app.screen, TerminateDialog)
        await pilot.press(*"voice-")
        await pilot.press("enter")
        half_typed = app.screen.query_one("#terminate-confirm", Button).disabled
        await pilot.press("1")
        typed = app.screen.query_one("#terminate-confirm", Button).disabled
        await pilot.press("enter")

    assert (half_typed, typed) == (True, False)
    assert app.answers == ["terminate"]


async def test_cancelling_terminate_leaves_the_stop_question_open() -> None:
    app = DialogApp(pod())
    async with app.run_test() as pilot:
        await pilot.click("#power-terminate")
        await pilot.press("escape")
        back = isinstance(app.screen, PowerDialog)
        await pilot.press("escape")

    assert back
    assert app.answers == [None]
