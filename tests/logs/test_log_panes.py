"""Log panes in a small app: two pods side by side, search, filter, pause.

The panes follow real local pods over SSH; the snapshot uses fixed lines so
that it is the same on every run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot

from podtui.config import Config
from podtui.ops.fleet import Fleet
from podtui.ops.logs import pod_tail
from podtui.providers.local import LocalPods
from podtui.remote.logs import LogBatch, TailEvent, TailState, TailStatus
from podtui.tui.log_pane import LogPane, LogPanes, MergedLog
from tests.logs.conftest import DEADLINE, append, numbered, numbered_only, session_of


class PanesApp(App[None]):
    """Just the log panes, as the dashboard shows them under its pod table."""

    def compose(self) -> ComposeResult:
        yield LogPanes(id="logs")


async def until(pilot: Pilot[None], condition: Callable[[], bool]) -> None:
    """Let the app run until `condition` holds (lines arrive from real pods)."""
    async with asyncio.timeout(DEADLINE):
        while not condition():
            await pilot.pause()


async def open_pods(app: PanesApp, fleet: Fleet, names: list[str]) -> list[LogPane]:
    """Open a pane for each pod and focus the first, as a click on it would."""
    panes = app.query_one(LogPanes)
    opened = [
        await panes.open_pane(name, pod_tail(await session_of(fleet, name), lines=0))
        for name in names
    ]
    opened[0].view.focus()
    return opened


def shown(pane: LogPane) -> list[str]:
    return numbered_only(pane.view.visible_lines())


async def test_two_panes_follow_their_pods_side_by_side(
    fleet: Fleet, own_pods: tuple[Config, LocalPods]
) -> None:
    app = PanesApp()
    async with app.run_test(size=(160, 30)) as pilot:
        first, second = await open_pods(app, fleet, ["logs-1", "logs-2"])
        await until(
            pilot, lambda: first.status.state is second.status.state is TailState.LIVE
        )

        append(own_pods[1].pod_dir("logs-1") / "logs" / "app.log", 0, 300)
        append(own_pods[1].pod_dir("logs-2") / "logs" / "app.log", 1000, 200)
        await until(
            pilot, lambda: len(shown(first)) == 300 and len(shown(second)) == 200
        )

        assert shown(first) == numbered(0, 300)
        assert shown(second) == numbered(1000, 200)
        assert first.region.x < second.region.x and first.region.y == second.region.y
        assert "live" in str(first.query_one(".log-title").render())


async def test_searching_highlights_and_jumps_between_hits(
    fleet: Fleet, own_pods: tuple[Config, LocalPods]
) -> None:
    app = PanesApp()
    async with app.run_test(size=(120, 30)) as pilot:
        (pane,) = await open_pods(app, fleet, ["logs-1"])
        await until(pilot, lambda: pane.status.state is TailState.LIVE)
        append(own_pods[1].pod_dir("logs-1") / "logs" / "app.log", 0, 200)
        await until(pilot, lambda: len(shown(pane)) == 200)

        await pilot.press("slash", *"line 0001[05]0", "enter")
        last_hit = pane.view.buffer.text(pane.view.found or 0)
        await pilot.press("N")
        previous_hit = pane.view.buffer.text(pane.view.found or 0)

        assert last_hit == "line 000150"
        assert previous_hit == "line 000100"
        assert not pane.view.following


async def test_a_filter_shows_matching_lines_and_inverted_the_others(
    fleet: Fleet, own_pods: tuple[Config, LocalPods]
) -> None:
    app = PanesApp()
    async with app.run_test(size=(120, 30)) as pilot:
        (pane,) = await open_pods(app, fleet, ["logs-2"])
        await until(pilot, lambda: pane.status.state is TailState.LIVE)
        append(own_pods[1].pod_dir("logs-2") / "logs" / "app.log", 0, 100)
        await until(pilot, lambda: len(shown(pane)) == 100)

        await pilot.press("ampersand", *"line 00000", "enter")
        kept = pane.view.visible_lines()
        await pilot.press("exclamation_mark")
        dropped = shown(pane)

        assert kept == numbered(0, 10)
        assert dropped == numbered(10, 90)


async def test_scrolling_up_pauses_the_pane_and_a_key_resumes_it(
    fleet: Fleet, own_pods: tuple[Config, LocalPods]
) -> None:
    app = PanesApp()
    async with app.run_test(size=(120, 20)) as pilot:
        (pane,) = await open_pods(app, fleet, ["logs-1"])
        log = own_pods[1].pod_dir("logs-1") / "logs" / "app.log"
        await until(pilot, lambda: pane.status.state is TailState.LIVE)
        append(log, 0, 100)
        await until(pilot, lambda: len(shown(pane)) == 100)

        await pilot.press("pageup")
        top = pane.view.top_index()
        append(log, 100, 100)
        await until(pilot, lambda: len(shown(pane)) == 200)
        paused_top, title = pane.view.top_index(), pane.state_text()[0]
        await pilot.press("end")

        assert paused_top == top
        assert title.startswith("paused")
        assert pane.view.following
        assert pane.view.top_index() == pane.view.visible_count - pane.view.size.height


class FixedTail:
    """A live stream that has sent fixed lines, for a stable snapshot."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    async def events(self) -> AsyncIterator[TailEvent]:
        yield TailStatus(TailState.LIVE)
        yield LogBatch(self.lines, 0.0)
        await asyncio.Event().wait()


def service_lines(pod: str, count: int) -> list[str]:
    return [
        f"2026-01-02T03:04:{second:02d}.000Z INFO {pod} handled request {second}"
        for second in range(count)
    ]


def test_two_panes_side_by_side_snapshot(
    snap_compare: Callable[..., bool], tmp_path: Path
) -> None:
    """You should see two panes, dev-1 (cyan) and dev-2 (yellow), each live
    with 12 lines, the last lines of each log at the bottom, timestamps dim."""
    app = PanesApp()

    async def open_two(pilot: Pilot[None]) -> None:
        panes = app.query_one(LogPanes)
        first = await panes.open_pane("dev-1", FixedTail(service_lines("dev-1", 12)))
        second = await panes.open_pane("dev-2", FixedTail(service_lines("dev-2", 12)))
        second.view.focus()
        await until(
            pilot,
            lambda: first.view.visible_count == second.view.visible_count == 12,
        )
        await until(pilot, lambda: first.view.drawn and second.view.drawn)
        first.show_title()
        second.show_title()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 12), run_before=open_two)


async def test_the_merged_view_orders_the_panes_lines_by_time() -> None:
    app = PanesApp()
    first_lines = service_lines("dev-1", 6)[0::2]
    second_lines = service_lines("dev-2", 6)[1::2]
    async with app.run_test(size=(160, 30)) as pilot:
        panes = app.query_one(LogPanes)
        await panes.open_pane("dev-1", FixedTail(first_lines))
        await panes.open_pane("dev-2", FixedTail(second_lines))
        await until(pilot, lambda: all(p.view.visible_count == 3 for p in panes.panes))

        panes.toggle_merged()
        await pilot.pause()
        merged = panes.query_one(MergedLog).view
        await until(pilot, lambda: merged.visible_count == 6)

        assert merged.visible_lines() == sorted(first_lines + second_lines)
        assert [merged.buffer.tag(seq) for seq in range(6)] == [0, 1] * 3


async def test_toggling_timestamps_redraws_the_lines_already_shown() -> None:
    app = PanesApp()
    async with app.run_test(size=(120, 12)) as pilot:
        panes = app.query_one(LogPanes)
        pane = await panes.open_pane("dev-1", FixedTail(service_lines("dev-1", 3)))
        pane.view.focus()
        await until(pilot, lambda: pane.view.visible_count == 3 and pane.view.drawn)
        await pilot.pause()
        before = pane.view.render_line(0).text

        await pilot.press("t")
        after = pane.view.render_line(0).text

        assert before.startswith("2026-01-02T03:04:00.000Z INFO dev-1")
        assert after.startswith("INFO dev-1 handled request 0")


class ScriptedTail:
    """A stream that goes through the states it is given, then waits."""

    def __init__(self, statuses: list[TailStatus]) -> None:
        self.statuses = statuses

    async def events(self) -> AsyncIterator[TailEvent]:
        yield TailStatus(TailState.LIVE)
        yield LogBatch(["2026-01-02T03:04:00.000Z INFO one line"], 0.0)
        for status in self.statuses:
            yield status
        await asyncio.Event().wait()


def title_of(pane: LogPane) -> str:
    return str(pane.query_one(".log-title").render())


async def test_a_pane_says_when_its_stream_reconnects_and_when_it_ended() -> None:
    app = PanesApp()
    async with app.run_test(size=(160, 12)) as pilot:
        panes = app.query_one(LogPanes)
        retrying = await panes.open_pane(
            "dev-1", ScriptedTail([TailStatus(TailState.RECONNECTING, attempt=3)])
        )
        ended = await panes.open_pane(
            "dev-2",
            ScriptedTail([TailStatus(TailState.ENDED, detail="the pod was stopped")]),
        )
        await until(pilot, lambda: "reconnecting" in title_of(retrying))
        await until(pilot, lambda: "ended" in title_of(ended))

        assert "attempt 3" in title_of(retrying)
        assert "the pod was stopped" in title_of(ended)


async def test_four_panes_fit_side_by_side_on_160_columns() -> None:
    app = PanesApp()
    async with app.run_test(size=(160, 20)) as pilot:
        panes = app.query_one(LogPanes)
        opened = [
            await panes.open_pane(pod, FixedTail(service_lines(pod, 5)))
            for pod in ("dev-1", "dev-2", "staging-1", "prod-1")
        ]
        await until(pilot, lambda: all(p.view.visible_count == 5 for p in opened))
        await pilot.pause()

        lefts = [pane.region.x for pane in opened]
        assert lefts == sorted(set(lefts))
        assert all(pane.region.width >= 38 for pane in opened)
        assert all(pane.region.y == opened[0].region.y for pane in opened)


async def test_ctrl_s_saves_the_lines_the_pane_shows_to_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    lines = service_lines("dev-1", 4)
    said: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, Notify):
            said.append(str(message.notification.message))

    app = PanesApp()
    async with app.run_test(size=(120, 12), message_hook=hook) as pilot:
        panes = app.query_one(LogPanes)
        pane = await panes.open_pane("dev-1", FixedTail(lines))
        pane.view.focus()
        await until(pilot, lambda: pane.view.visible_count == 4)

        await pilot.press("ctrl+s")
        await until(pilot, lambda: any("saved to" in text for text in said))

    (saved,) = tmp_path.glob("dev-1-*.log")
    assert saved.read_text().splitlines() == lines
    assert any(text.startswith("4 lines saved") for text in said)
