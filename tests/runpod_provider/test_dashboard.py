"""RunPod pods in the dashboard: the idle mark on a pod's row, and an API
failure said in the app while the pods of other environments stay live."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets.data_table import CellDoesNotExist

from podtui.config import parse_config
from podtui.ops.fleet import Fleet
from podtui.providers.local import LocalPods
from podtui.providers.runpod import RunPodProvider
from podtui.tui.app import PodtuiApp
from podtui.tui.pod_table import PodTable, environment_key
from tests.runpod_provider.conftest import FakeRunPod, runpod_config_text

DEADLINE = 30.0
IDLE_AT_ONCE = "idle_minutes = 0.001\n"
"""An idle limit every pod passes at once: its release was deployed when the
test's local pods came up, moments ago (the limit itself is tested apart)."""


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


def cell(table: PodTable, row: str, column: str) -> str:
    try:
        return str(table.get_cell(row, column))
    except CellDoesNotExist:
        return ""


def make_app(
    tmp_path: Path,
    local_pods: LocalPods,
    project_repo: Path,
    provider: RunPodProvider,
    extra: str = "",
) -> PodtuiApp:
    text = runpod_config_text(local_pods, project_repo, "dev-1")
    text = text.replace("[environments.cloud]\n", "[environments.cloud]\n" + extra)
    text += '\n[environments.dev]\nprovider = "local"\n\n'
    text += '[[environments.dev.pods]]\nname = "dev-1"\n'
    path = tmp_path / "config.toml"
    path.write_text(text)
    config = parse_config(text, path)
    fleet = Fleet(config, local_pods=local_pods, runpod=provider)
    return PodtuiApp(config, fleet=fleet, start_local_pods=False)


async def test_a_runpod_pod_unused_past_its_limit_is_marked_idle_on_its_row(
    fake_runpod: FakeRunPod,
    local_pods: LocalPods,
    project_repo: Path,
    provider: RunPodProvider,
    tmp_path: Path,
) -> None:
    pod_id = fake_runpod.add_pod("voice-1", local_pods.specs()["dev-1"].ssh_port)
    app = make_app(tmp_path, local_pods, project_repo, provider, IDLE_AT_ONCE)
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(PodTable)
        await until(pilot, lambda: "idle" in cell(table, pod_id, "cost"), "idle")
        local_cost = cell(table, "local:dev-1", "cost")
        summary = str(app.query_one("#summary").render())

    assert "1 idle" in summary
    assert "idle" not in local_cost


async def test_a_refused_api_key_is_said_in_the_app_and_local_pods_stay_live(
    fake_runpod: FakeRunPod,
    local_pods: LocalPods,
    project_repo: Path,
    provider: RunPodProvider,
    tmp_path: Path,
) -> None:
    fake_runpod.add_pod("voice-1", local_pods.specs()["dev-1"].ssh_port)
    fake_runpod.fail(*["401"] * 20)
    app = make_app(tmp_path, local_pods, project_repo, provider)
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(PodTable)
        await until(pilot, lambda: "cloud" in app.provider_errors, "the error")
        await until(pilot, lambda: "✓" in cell(table, "local:dev-1", "health"), "dev-1")
        header = cell(table, environment_key("cloud"), "health")
        error = app.provider_errors["cloud"]

    assert "provider failed" in header
    assert "API key" in error
    assert fake_runpod.key not in error
