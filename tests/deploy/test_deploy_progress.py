"""The progress view of a deploy in the dashboard, on real local pods, and its
rows fed by step events."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Static

from podtui.ops.events import Phase, StepEvent
from podtui.ops.fleet import Fleet
from podtui.tui.app import PodtuiApp
from podtui.tui.deploy_progress import (
    DEPLOY_STEPS,
    DeployProgressScreen,
    DeployStepped,
    PodProgress,
)
from podtui.tui.pod_table import PodTable, environment_key
from tests.deploy.conftest import DeployWorld, commit_file
from tests.deploy.test_deploy_dialog import until


def screen_text(screen: DeployProgressScreen) -> str:
    return "\n".join(str(widget.render()) for widget in screen.query(Static))


async def test_d_on_dev_shows_each_pods_steps_then_the_summary(
    world: DeployWorld,
) -> None:
    commit_file(world.repo, "voice_pipeline/progress_marker.py", "P = 1\n", "Mark")
    fleet = Fleet(world.config, local_pods=world.pods)
    app = PodtuiApp(world.config, fleet=fleet, start_local_pods=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "local:dev-1" in app.pods, "the pods")
        table = app.query_one(PodTable)
        table.move_cursor(row=table.get_row_index(environment_key("dev")))
        await pilot.press("d")
        await until(
            pilot, lambda: isinstance(app.screen, DeployProgressScreen), "the view"
        )
        view = app.screen
        assert isinstance(view, DeployProgressScreen)
        await until(pilot, lambda: view.ended is not None, "the deploy's end")
        text = screen_text(view)

        await pilot.press("escape")
        await until(pilot, lambda: app.screen is not view, "the view to close")

    assert view.ended is not None and view.ended.ok, text
    assert set(view.progress) == {"dev-1", "dev-2"}
    for pod in view.progress.values():
        assert pod.steps["health"].phase == Phase.FINISHED
        assert pod.steps["sync"].detail == "1 written, 0 deleted"
    assert "✓ health" in text and "done" in text
    assert "git to dev: ok" in text


def event(step: str, phase: Phase, seconds: float | None = None) -> StepEvent:
    return StepEvent("dev-1", step, phase, "", seconds)


def test_a_pod_row_marks_finished_running_and_waiting_steps_in_words() -> None:
    progress = PodProgress.waiting("dev-1", DEPLOY_STEPS)
    progress.apply(event("connect", Phase.STARTED), now=0.0)
    progress.apply(event("connect", Phase.FINISHED, 0.25), now=0.25)
    progress.apply(event("fetch", Phase.STARTED), now=0.25)

    text = str(progress.render(now=1.75))

    assert "✓ connect 0.2s" in text or "✓ connect 0.3s" in text
    assert "▶ fetch 1.5s" in text
    assert "· health" in text
    assert "fetch…" in text and "1/6 steps" in text


def test_a_rollback_joins_the_row_and_the_pod_reads_rolled_back() -> None:
    progress = PodProgress.waiting("dev-1", DEPLOY_STEPS)
    progress.apply(event("health", Phase.FAILED, 3.0), now=3.0)
    progress.apply(event("rollback", Phase.FINISHED, 1.0), now=4.0)

    assert list(progress.steps)[-1] == "rollback"
    assert progress.verdict()[0] == "failed, rolled back"


class CountingView(DeployProgressScreen):
    """The progress view, counting the step messages it handles."""

    stepped = 0

    def on_deploy_stepped(self, message: DeployStepped) -> None:
        self.stepped += 1
        super().on_deploy_stepped(message)


class ViewApp(App[None]):
    """A bare app showing the progress view."""

    def __init__(self) -> None:
        super().__init__()
        self.view = CountingView("Deploy x to dev", ["dev-1"], DEPLOY_STEPS)

    def on_mount(self) -> None:
        self.push_screen(self.view)


async def test_a_burst_of_events_posts_one_message_and_updates_the_row() -> None:
    app = ViewApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        for step in DEPLOY_STEPS:
            app.view.sink(event(step, Phase.STARTED))
            app.view.sink(event(step, Phase.FINISHED, 0.1))
        await until(
            pilot, lambda: app.view.progress["dev-1"].done_count == 6, "the events"
        )
        text = screen_text(app.view)

    assert app.view.stepped == 1
    assert "6/6 steps" in text and "done" in text
