"""Drift: every file of the pods that differs from their release, with diffs.

Each row is one drifted file of one pod; the diff below shows what drifted
(the released file against the pod's) and, until it is copied back, the local
file against the pod's. `b` copies it back
(asking merge or keep both when the local file changed too), `v` reverts the
pod's file to its release (asking first on protected environments), `m`
commits what was copied back from the pod, never pushing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from podtui.errors import PodtuiError
from podtui.model import Pod
from podtui.ops.copyback import (
    CopyBack,
    commit_hotfix,
    local_path,
    read_local,
    resolve_conflict,
    unified_diff,
)
from podtui.ops.drift import (
    DriftEntry,
    DriftState,
    PodDrift,
    pod_drift,
    released,
    revert_file,
)
from podtui.ops.fleet import Fleet
from podtui.ops.hotfix import open_file, pull_file
from podtui.tui.confirm_screen import ConfirmScreen
from podtui.tui.diff_view import DiffView
from podtui.tui.hotfix_dialogs import CopyBackDialog


class DriftScreen(Screen[None]):
    """The drift of some pods, with copy-back and revert per file."""

    DEFAULT_CSS = """
    #drift-title { background: $primary; padding: 0 1; }
    #drift-table { height: 40%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("b", "copy_back", "Copy back", id="drift.copy_back"),
        Binding("v", "revert", "Revert pod file", id="drift.revert"),
        Binding("m", "commit_hotfix", "Commit fix", id="drift.commit"),
        Binding("ctrl+r", "reload", "Refresh", id="drift.refresh"),
        Binding("escape", "dismiss", "Close", id="drift.close"),
    ]

    def __init__(self, fleet: Fleet, pods: list[Pod]) -> None:
        super().__init__()
        self.fleet = fleet
        self.pods = pods
        """The pods whose drift is listed."""
        self.drifts: dict[str, PodDrift] = {}
        """Pod id to its drift, as last measured."""
        self.rows: dict[str, tuple[Pod, DriftEntry]] = {}
        """Row key to the pod and drift entry it shows."""
        self.copies: dict[str, list[CopyBack]] = {}
        """Pod name to what was copied back from it here."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("drift: files that differ from the release", id="drift-title")
            yield DataTable(id="drift-table", cursor_type="row")
            yield DiffView("", "", id="drift-diff")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("pod", "state", "file")
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="drift-load", exit_on_error=False)
    async def load(self) -> None:
        drifts = await asyncio.gather(*(pod_drift(self.fleet, p) for p in self.pods))
        self.drifts = {drift.pod.id: drift for drift in drifts}
        self.show_rows()

    def show_rows(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        self.rows = {}
        for drift in self.drifts.values():
            if drift.error:
                table.add_row(drift.pod.name, "unknown", drift.error)
            for entry in drift.entries:
                key = f"{drift.pod.id}\x00{entry.relpath}"
                self.rows[key] = (drift.pod, entry)
                table.add_row(drift.pod.name, entry.state.value, entry.relpath, key=key)
        total = sum(drift.count for drift in self.drifts.values())
        drifted = sum(1 for drift in self.drifts.values() if drift.count)
        self.query_one("#drift-title", Static).update(
            f"drift: {total} file(s) differ from the release on {drifted} of "
            f"{len(self.drifts)} pod(s)"
        )
        if not self.rows:
            self.query_one(DiffView).show("no drift", "")

    def selected(self) -> tuple[Pod, DriftEntry] | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows.get(key or "")

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        chosen = self.selected()
        if chosen is not None:
            self.show_diff(*chosen)

    @work(exclusive=True, group="drift-diff", exit_on_error=False)
    async def show_diff(self, pod: Pod, entry: DriftEntry) -> None:
        """What drifted (release to pod), then what copy-back would still change."""
        view = self.query_one(DiffView)
        relpath = entry.relpath
        try:
            on_pod = None
            if entry.state != DriftState.REMOVED:
                on_pod = (await open_file(self.fleet.session(pod), relpath)).data
            local = await asyncio.to_thread(
                read_local, local_path(self.fleet.config, relpath)
            )
        except PodtuiError as error:
            view.show(f"{pod.name}: {relpath}", "")
            self.notify(str(error), severity="warning", timeout=10)
            return
        drifted = await self.release_diff(pod, entry, on_pod)
        title = f"{pod.name}: {relpath} ({entry.state.value}), release → pod"
        if local == on_pod:
            view.show(f"{title}; the local file matches the pod's", drifted)
            return
        pending = unified_diff(
            local, on_pod, f"local/{relpath}", f"{pod.name}/{relpath}"
        )
        view.show(f"{title}; then local → pod, not copied back yet", drifted + pending)

    async def release_diff(
        self, pod: Pod, entry: DriftEntry, on_pod: bytes | None
    ) -> str:
        """The released file against the pod's; a note when the release is gone."""
        base = None
        if entry.released_sha256 is not None:
            try:
                base = await released(self.fleet, pod, entry)
            except PodtuiError as error:
                return f"(the released version is not at hand: {error.message})\n"
        relpath = entry.relpath
        return unified_diff(base, on_pod, f"release/{relpath}", f"{pod.name}/{relpath}")

    def action_copy_back(self) -> None:
        chosen = self.selected()
        if chosen is not None:
            self.copy_back(*chosen)

    @work(exclusive=True, group="drift-action", exit_on_error=False)
    async def copy_back(self, pod: Pod, entry: DriftEntry) -> None:
        if entry.state == DriftState.REMOVED:
            self.notify(f"{entry.relpath} is gone from {pod.name}: nothing to copy")
            return
        try:
            copy = await pull_file(self.fleet, pod, entry.relpath)
            if copy.needs_choice:
                choice = await self.app.push_screen_wait(CopyBackDialog(copy))
                if choice is None:
                    return
                copy = await asyncio.to_thread(resolve_conflict, copy, choice)
        except PodtuiError as error:
            self.notify(str(error), title="Not copied back", severity="error")
            return
        self.copies.setdefault(pod.name, []).append(copy)
        self.notify(copy.summary(), title=f"Copied back from {pod.name}")
        self.show_diff(pod, entry)

    def action_revert(self) -> None:
        chosen = self.selected()
        if chosen is None:
            return
        pod, entry = chosen
        environment = self.fleet.config.environment(pod.environment)
        if not environment.protected:
            self.revert(pod, entry, confirmed=False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.revert(pod, entry, confirmed=True)

        self.app.push_screen(
            ConfirmScreen(
                f"Revert {entry.relpath} on {pod.name} to its release?",
                f"{environment.name} is a PROTECTED environment.",
                confirm_label="Revert",
            ),
            answered,
        )

    @work(exclusive=True, group="drift-action", exit_on_error=False)
    async def revert(self, pod: Pod, entry: DriftEntry, *, confirmed: bool) -> None:
        try:
            outcome = await revert_file(self.fleet, pod, entry, confirmed=confirmed)
        except PodtuiError as error:
            self.notify(str(error), title="Not reverted", severity="error")
            return
        if outcome.error:
            self.notify(outcome.error, title="Reverted, but", severity="error")
        else:
            self.notify(f"{entry.relpath} on {pod.name} is back to its release")
        self.load()

    def action_commit_hotfix(self) -> None:
        chosen = self.selected()
        names = [chosen[0].name] if chosen else list(self.copies)
        for name in names:
            paths = sorted(
                {p for copy in self.copies.get(name, []) for p in copy.written}
            )
            if paths:
                self.commit(name, paths)
                return
        self.notify("Nothing was copied back here, so there is nothing to commit.")

    @work(exclusive=True, group="drift-commit", exit_on_error=False)
    async def commit(self, pod: str, paths: list[Path]) -> None:
        repo = self.fleet.config.project.repo
        try:
            sha = await asyncio.to_thread(commit_hotfix, repo, pod, paths)
        except PodtuiError as error:
            self.notify(str(error), title="Not committed", severity="error")
            return
        self.copies.pop(pod, None)
        self.notify(f"Committed {sha[:12]} (not pushed)", title="Hot fix committed")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
