"""Log panes in the dashboard: `l` opens the highlighted pod's pane, `m` merges.

The dashboard runs on this module's own local pods, with a config whose
`[ui] log_lines` is small, so that the panes' bound is seen to come from it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from podtui.config import Config, parse_config
from podtui.ops.fleet import Fleet
from podtui.providers.local import LocalPods
from podtui.remote.logs import TailState
from podtui.tui.app import PodtuiApp
from podtui.tui.log_pane import LogPanes, MergedLog
from podtui.tui.pod_table import PodTable
from tests.logs.conftest import DEADLINE, append, numbered_only

LOG_LINES = 150
"""The config's `[ui] log_lines`: fewer lines than the test writes."""


@pytest.fixture
def small_config(own_pods: tuple[Config, LocalPods], tmp_path: Path) -> Config:
    """The module's pods, with log panes that keep `LOG_LINES` lines."""
    config, _ = own_pods
    text = config.path.read_text() + f"\n[ui]\nlog_lines = {LOG_LINES}\n"
    path = tmp_path / "config.toml"
    path.write_text(text)
    return parse_config(text, path)


@pytest.fixture
async def small_fleet(
    small_config: Config, own_pods: tuple[Config, LocalPods]
) -> AsyncIterator[Fleet]:
    fleet = Fleet(small_config, local_pods=own_pods[1])
    yield fleet
    await fleet.close()


async def highlight(pilot: Pilot[None], pod_id: str) -> None:
    """Wait for the pod table to list `pod_id`, then move its cursor onto it."""
    table = pilot.app.query_one(PodTable)
    async with asyncio.timeout(DEADLINE):
        while pod_id not in pilot.app.pods:  # type: ignore[attr-defined]
            await pilot.pause()
        table.focus()
        for _ in range(table.row_count):
            if table.highlighted_key() == pod_id:
                return
            await pilot.press("down")
    raise AssertionError(f"{pod_id} could not be highlighted")


async def open_log(pilot: Pilot[None], pod_id: str) -> None:
    """Highlight `pod_id`, press `l`, and wait for its pane to go live."""
    await highlight(pilot, pod_id)
    await pilot.press("l")
    panes = pilot.app.query_one(LogPanes)
    name = pod_id.split(":", 1)[1]
    async with asyncio.timeout(DEADLINE):
        while (pane := panes.pane(name)) is None or pane.status.state is not (
            TailState.LIVE
        ):
            await pilot.pause()


def dashboard(config: Config, fleet: Fleet) -> PodtuiApp:
    return PodtuiApp(config, fleet=fleet, start_local_pods=False)


async def test_opening_a_log_pane_marks_the_pod_active(
    small_config: Config, small_fleet: Fleet
) -> None:
    app = dashboard(small_config, small_fleet)
    async with app.run_test(size=(160, 40)) as pilot:
        await open_log(pilot, "local:logs-1")

        assert "local:logs-1" in small_fleet.activity


async def test_a_pane_keeps_as_many_lines_as_the_config_says(
    small_config: Config, small_fleet: Fleet, own_pods: tuple[Config, LocalPods]
) -> None:
    app = dashboard(small_config, small_fleet)
    async with app.run_test(size=(160, 40)) as pilot:
        await open_log(pilot, "local:logs-2")
        pane = app.query_one(LogPanes).panes[0]
        append(own_pods[1].pod_dir("logs-2") / "logs" / "app.log", 0, 400)
        async with asyncio.timeout(DEADLINE):
            while "line 000399" not in pane.view.visible_lines()[-1:]:
                await pilot.pause()

        assert pane.view.visible_count == LOG_LINES
        assert numbered_only(pane.view.visible_lines())[-1] == "line 000399"


async def test_m_shows_the_open_pods_in_one_merged_view_and_back(
    small_config: Config, small_fleet: Fleet
) -> None:
    app = dashboard(small_config, small_fleet)
    async with app.run_test(size=(160, 40)) as pilot:
        await open_log(pilot, "local:logs-1")
        await open_log(pilot, "local:logs-2")
        panes = app.query_one(LogPanes)
        merged = app.query_one(MergedLog)

        await pilot.press("m")
        shown_merged = merged.display and not panes.panes[0].display
        titled = str(merged.query_one(".log-title").render())
        await pilot.press("m")

        assert shown_merged
        assert "logs-1" in titled and "logs-2" in titled
        assert panes.panes[0].display and not merged.display


async def test_l_on_one_pod_then_the_next_opens_two_panes_side_by_side(
    small_config: Config, small_fleet: Fleet
) -> None:
    app = dashboard(small_config, small_fleet)
    async with app.run_test(size=(160, 40)) as pilot:
        await open_log(pilot, "local:logs-1")
        await pilot.press("down", "l")
        panes = app.query_one(LogPanes)
        async with asyncio.timeout(DEADLINE):
            while len(panes.panes) < 2:
                await pilot.pause()

        assert [pane.pod for pane in panes.panes] == ["logs-1", "logs-2"]
        assert isinstance(app.focused, PodTable)


async def test_l_inside_a_pane_closes_that_pane_and_returns_to_the_pods(
    small_config: Config, small_fleet: Fleet
) -> None:
    app = dashboard(small_config, small_fleet)
    async with app.run_test(size=(160, 40)) as pilot:
        await open_log(pilot, "local:logs-1")
        await open_log(pilot, "local:logs-2")
        panes = app.query_one(LogPanes)
        panes.panes[0].view.focus()
        await pilot.press("l")

        assert [pane.pod for pane in panes.panes] == ["logs-2"]
        assert isinstance(app.focused, PodTable)


async def test_escape_closes_a_pane_prompt_first_then_returns_to_the_pods(
    small_config: Config, small_fleet: Fleet
) -> None:
    app = dashboard(small_config, small_fleet)
    async with app.run_test(size=(160, 40)) as pilot:
        await open_log(pilot, "local:logs-1")
        pane = app.query_one(LogPanes).panes[0]
        pane.view.focus()
        await pilot.press("slash")
        prompting = app.focused is pane.query_one(Input)
        await pilot.press("escape")
        back_in_pane = app.focused is pane.view
        await pilot.press("escape")

        assert prompting and back_in_pane
        assert isinstance(app.focused, PodTable)
