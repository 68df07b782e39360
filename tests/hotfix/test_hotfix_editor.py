"""The hot-fix editor in the app, driven with Pilot against real local pods."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import hotfix_world
import pytest
from hotfix_world import HotfixWorld
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from podtui.ops.fleet import Fleet
from podtui.tui.app import PodtuiApp
from podtui.tui.confirm_screen import ConfirmScreen
from podtui.tui.diff_view import DiffView
from podtui.tui.drift_screen import DriftScreen
from podtui.tui.editor_screen import EditorScreen, HotfixSaved
from podtui.tui.file_picker import FilePicker
from podtui.tui.hotfix_dialogs import CopyBackDialog, PodChangedDialog
from podtui.tui.log_pane import LogPanes
from podtui.tui.pod_table import PodTable

world = hotfix_world.world
DEADLINE = 60.0


class Saves:
    """A message hook that records hot-fix saves and wakes a waiter."""

    def __init__(self) -> None:
        self.outcomes: list[object] = []
        self.event = asyncio.Event()

    def __call__(self, message: Message) -> None:
        if isinstance(message, HotfixSaved):
            self.outcomes.append(message.outcome)
            self.event.set()

    async def wait(self) -> None:
        await asyncio.wait_for(self.event.wait(), DEADLINE)


async def until(pilot: Pilot[None], condition: Callable[[], bool]) -> None:
    """Let the app run until `condition` holds, failing after the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        assert loop.time() < deadline, "the app never got there"
        await pilot.pause(0.02)


@pytest.fixture
async def fleet(world: HotfixWorld) -> AsyncIterator[Fleet]:
    fleet = Fleet(world.config, local_pods=world.pods)
    yield fleet
    await fleet.close()


async def open_editor(app: PodtuiApp, pilot: Pilot[None], pod: str, query: str) -> None:
    """Highlight `pod`, press e, filter the picker and open the best match."""
    table = app.query_one(PodTable)
    await until(pilot, lambda: f"local:{pod}" in app.pods)
    table.move_cursor(row=table.get_row_index(f"local:{pod}"))
    await pilot.press("e")
    if app.config.environment(app.pods[f"local:{pod}"].environment).protected:
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
    await until(pilot, lambda: isinstance(app.screen, FilePicker))
    await pilot.press(*query, "enter")
    await until(pilot, lambda: isinstance(app.screen, EditorScreen))


async def open_drift(app: PodtuiApp, pilot: Pilot[None], pod: str) -> DriftScreen:
    """Highlight `pod`, press c, and return the drift list once it shows."""
    table = app.query_one(PodTable)
    await until(pilot, lambda: f"local:{pod}" in app.pods)
    table.move_cursor(row=table.get_row_index(f"local:{pod}"))
    await pilot.press("c")
    await until(pilot, lambda: isinstance(app.screen, DriftScreen))
    screen = app.screen
    assert isinstance(screen, DriftScreen)
    return screen


def drift_cell(table: PodTable, pod: str) -> str:
    """The drift cell of a pod's row, or empty before the row exists."""
    try:
        return str(table.get_cell(f"local:{pod}", "drift"))
    except CellDoesNotExist:
        return ""


def make_app(world: HotfixWorld, fleet: Fleet) -> PodtuiApp:
    return PodtuiApp(world.config, fleet=fleet, start_local_pods=False)


async def test_e_opens_a_pod_file_and_ctrl_s_saves_it_to_the_pod_and_the_repo(
    world: HotfixWorld, fleet: Fleet
) -> None:
    saves = Saves()
    app = make_app(world, fleet)
    async with app.run_test(size=(140, 40), message_hook=saves) as pilot:
        await open_editor(app, pilot, "dev-1", "responder")
        editor = app.screen
        assert isinstance(editor, EditorScreen)
        assert editor.opened.relpath == "voice_pipeline/responder.py"
        assert editor.editor.language == "python"

        editor.editor.move_cursor((0, 0))
        editor.editor.insert("# hot fix from the editor\n")
        await pilot.press("ctrl+s")
        await saves.wait()

        expected = "# hot fix from the editor\n"
        relpath = "voice_pipeline/responder.py"
        assert (world.app_dir("dev-1") / relpath).read_text().startswith(expected)
        assert (world.repo / relpath).read_text().startswith(expected)
        status = str(app.screen.query_one("#editor-status").render())
        assert "copy-back ✓ replaced" in status and "health ✓ healthy" in status


async def test_ctrl_f_finds_the_next_match_and_ctrl_g_goes_to_a_line(
    world: HotfixWorld, fleet: Fleet
) -> None:
    app = make_app(world, fleet)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_editor(app, pilot, "dev-1", "responder")
        editor = app.screen
        assert isinstance(editor, EditorScreen)
        text = editor.editor.text
        first = text.index("JOKES")

        await pilot.press("ctrl+f", *"JOKES", "enter")
        found_first = editor.editor.selected_text, editor.editor.selection.start
        await pilot.press("enter")
        found_next = editor.editor.selection.start
        await pilot.press("escape", "ctrl+g", *"12", "enter")
        line = editor.editor.cursor_location

    assert found_first == ("JOKES", (text.count("\n", 0, first), 0))
    assert found_next > found_first[1]
    assert line == (11, 0)


async def test_a_file_changed_on_the_pod_asks_and_overwrite_saves_anyway(
    world: HotfixWorld, fleet: Fleet
) -> None:
    saves = Saves()
    app = make_app(world, fleet)
    relpath = "voice_pipeline/frames.py"
    async with app.run_test(size=(140, 40), message_hook=saves) as pilot:
        await open_editor(app, pilot, "dev-1", "frames")
        editor = app.screen
        assert isinstance(editor, EditorScreen)
        (world.app_dir("dev-1") / relpath).write_text("# changed behind your back\n")
        editor.editor.insert("# mine\n")

        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, PodChangedDialog))
        await pilot.press("o")
        await saves.wait()

        assert (world.app_dir("dev-1") / relpath).read_text().startswith("# mine\n")


async def test_a_local_change_too_asks_and_keep_both_puts_the_pod_version_beside_it(
    world: HotfixWorld, fleet: Fleet
) -> None:
    saves = Saves()
    app = make_app(world, fleet)
    relpath = "voice_pipeline/audio.py"
    async with app.run_test(size=(140, 40), message_hook=saves) as pilot:
        await open_editor(app, pilot, "dev-1", "audio")
        editor = app.screen
        assert isinstance(editor, EditorScreen)
        (world.repo / relpath).write_text("# local work in progress\n")
        editor.editor.insert("# pod fix\n")

        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, CopyBackDialog))
        await pilot.press("k")
        await saves.wait()

        assert (world.repo / relpath).read_text() == "# local work in progress\n"
        kept = world.repo / "voice_pipeline/audio.pod-dev-1.py"
        assert kept.read_text().startswith("# pod fix\n")


async def test_a_conflict_put_off_keeps_its_edit_in_the_next_saves_merge(
    world: HotfixWorld, fleet: Fleet
) -> None:
    saves = Saves()
    app = make_app(world, fleet)
    relpath = "voice_pipeline/logs.py"
    local = world.repo / relpath
    original = local.read_text()
    async with app.run_test(size=(140, 40), message_hook=saves) as pilot:
        await open_editor(app, pilot, "dev-1", "logs.py")
        editor = app.screen
        assert isinstance(editor, EditorScreen)
        local.write_text(original + "# local work\n")
        editor.editor.move_cursor((0, 0))
        editor.editor.insert("# first pod fix\n")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, CopyBackDialog))
        await pilot.press("escape")
        await saves.wait()
        saves.event.clear()

        editor.editor.move_cursor((0, 0))
        editor.editor.insert("# second pod fix\n")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, CopyBackDialog))
        await pilot.press("m")
        await saves.wait()

    merged = local.read_text()
    local.write_text(original)
    assert merged.startswith("# second pod fix\n# first pod fix\n")
    assert merged.endswith("# local work\n")
    assert "<<<<<<<" not in merged


async def test_editing_a_protected_pod_asks_first_and_no_leaves_it_alone(
    world: HotfixWorld, fleet: Fleet
) -> None:
    app = make_app(world, fleet)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one(PodTable)
        await until(pilot, lambda: "local:prod-1" in app.pods)
        table.move_cursor(row=table.get_row_index("local:prod-1"))
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "PROTECTED" in app.screen.warning

        await pilot.press("n")
        await pilot.pause()

        assert not isinstance(app.screen, (FilePicker, EditorScreen))


async def test_the_dashboard_counts_drift_and_c_lists_the_drifted_files(
    world: HotfixWorld, fleet: Fleet
) -> None:
    relpath = "voice_pipeline/__init__.py"
    on_pod = world.app_dir("dev-1") / relpath
    on_pod.write_bytes(on_pod.read_bytes() + b"# drifted\n")
    app = make_app(world, fleet)
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.query_one(PodTable)
        await until(pilot, lambda: "file" in drift_cell(table, "dev-1"))
        await until(pilot, lambda: drift_cell(table, "prod-1") == "none")

        screen = await open_drift(app, pilot, "dev-1")
        await until(
            pilot, lambda: any(e.relpath == relpath for _, e in screen.rows.values())
        )


async def test_the_pod_keys_do_nothing_over_the_drift_list(
    world: HotfixWorld, fleet: Fleet
) -> None:
    app = make_app(world, fleet)
    async with app.run_test(size=(160, 40)) as pilot:
        drift = await open_drift(app, pilot, "dev-1")

        await pilot.press("e", "d", "l")
        await pilot.pause()

        assert app.screen is drift
        assert not app.check_action("edit", ())
        assert not app.query_one(LogPanes).panes
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is not drift)
        assert app.check_action("edit", ())


async def test_the_drift_diff_shows_the_release_against_the_pod_and_the_local_file(
    world: HotfixWorld, fleet: Fleet
) -> None:
    relpath = "voice_pipeline/__main__.py"
    on_pod = world.app_dir("dev-1") / relpath
    on_pod.write_bytes(on_pod.read_bytes() + b"# hot fixed on the pod\n")
    app = make_app(world, fleet)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_drift(app, pilot, "dev-1")
        key = f"local:dev-1\x00{relpath}"
        await until(pilot, lambda: key in screen.rows)
        drifted = screen.query_one(DataTable)
        drifted.move_cursor(row=drifted.get_row_index(key))
        view = screen.query_one(DiffView)
        await until(pilot, lambda: relpath in view.title_text)
        diff = view.diff

    on_pod.write_bytes(on_pod.read_bytes().removesuffix(b"# hot fixed on the pod\n"))
    released_part, _, local_part = diff.partition(f"--- local/{relpath}")
    assert f"--- release/{relpath}" in released_part
    assert "+# hot fixed on the pod" in released_part
    assert "+# hot fixed on the pod" in local_part
    assert "not copied back yet" in view.title_text
