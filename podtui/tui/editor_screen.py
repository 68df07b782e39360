"""The hot-fix editor: a file of a pod, edited in the terminal.

Save (ctrl+s) writes the file to the pod, copies it back into the working
tree and, for code files, restarts the service and waits for its health,
showing each step on the status line. If the pod's copy changed since it was
opened, nothing is saved and the user picks reload, overwrite or diff; if
the local file changed too, copy-back asks merge or keep both. f4 shows what
the last copy-back did; f9 commits the copied-back files (never pushes).
"""

from __future__ import annotations

import asyncio
from pathlib import Path, PurePosixPath
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TextArea
from textual.widgets.text_area import Selection

from podtui.errors import PodtuiError
from podtui.ops.copyback import (
    CopyBack,
    CopyBackStatus,
    commit_hotfix,
    resolve_conflict,
    unified_diff,
)
from podtui.ops.events import Phase, StepEvent
from podtui.ops.fleet import Fleet
from podtui.ops.hotfix import (
    PodFile,
    PodFileChanged,
    SaveOutcome,
    open_file,
    save_hotfix,
)
from podtui.tui.confirm_screen import ConfirmScreen
from podtui.tui.diff_view import DiffScreen
from podtui.tui.hotfix_dialogs import CopyBackDialog, PodChangedDialog

LANGUAGES = {
    ".py": "python",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".sh": "bash",
    ".bash": "bash",
}
"""Syntax highlighting by file suffix; other files are plain text."""


AGREED = frozenset(
    {
        CopyBackStatus.CREATED,
        CopyBackStatus.REPLACED,
        CopyBackStatus.UNCHANGED,
        CopyBackStatus.MERGED,
        CopyBackStatus.MERGED_WITH_CONFLICTS,
    }
)
"""Copy-backs after which the local file holds the pod's edits."""


def language_of(relpath: str) -> str | None:
    return LANGUAGES.get(PurePosixPath(relpath).suffix)


def location_of(text: str, index: int) -> tuple[int, int]:
    """The (row, column) of a character index in `text`."""
    row = text.count("\n", 0, index)
    return row, index - (text.rfind("\n", 0, index) + 1)


class HotfixSaved(Message):
    """A hot fix was saved to its pod (and copied back, and perhaps restarted)."""

    def __init__(self, outcome: SaveOutcome) -> None:
        super().__init__()
        self.outcome = outcome


class CopyBackSettled(Message):
    """A copy-back conflict was settled by merge or keep-both (or left)."""

    def __init__(self, copy: CopyBack) -> None:
        super().__init__()
        self.copy = copy


class EditorScreen(Screen[None]):
    """Edit one file of a pod; saving is a hot fix."""

    DEFAULT_CSS = """
    #editor-title { background: $primary; color: $text; padding: 0 1; }
    #editor-status { height: auto; max-height: 4; padding: 0 1; }
    #editor-prompt { display: none; }
    #editor-prompt.-visible { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="editor.save"),
        Binding("ctrl+f", "prompt('find')", "Find", id="editor.find"),
        Binding("ctrl+g", "prompt('line')", "Go to line", id="editor.goto"),
        Binding("f4", "show_copy_back", "Copy-back diff", id="editor.diff"),
        Binding("f9", "commit_hotfix", "Commit fix", id="editor.commit"),
        # Priority: the text area would otherwise take escape for itself.
        Binding("escape", "close", "Close", id="editor.close", priority=True),
    ]

    def __init__(self, fleet: Fleet, opened: PodFile, *, confirmed: bool) -> None:
        super().__init__()
        self.fleet = fleet
        self.opened = opened
        """The file as last read from or written to the pod."""
        self.agreed = opened
        """The pod's file as the local file last agreed with it: copy-back's
        base. It moves on only when a copy-back settles, so an edit left on
        the pod (a conflict put off, both versions kept) is never dropped
        from a later three-way merge."""
        self.confirmed = confirmed
        """The user confirmed editing a protected environment."""
        self.copies: list[CopyBack] = []
        """Every copy-back of this editing session, oldest first."""
        self.steps: dict[str, str] = {}
        """The last save's steps, for the status line."""
        self.prompt_kind = "find"
        self.saving = False

    def compose(self) -> ComposeResult:
        pod = self.opened.pod
        new = " (new file)" if self.opened.sha256 is None else ""
        with Vertical():
            yield Static(
                f"{pod.name} ({pod.environment}) · {self.opened.relpath}{new}",
                id="editor-title",
            )
            yield TextArea.code_editor(
                self.opened.text,
                language=language_of(self.opened.relpath),
                id="editor-text",
            )
            yield Input(id="editor-prompt")
            yield Static("", id="editor-status")
        yield Footer()

    def on_mount(self) -> None:
        self.editor.focus()

    @property
    def editor(self) -> TextArea:
        return self.query_one("#editor-text", TextArea)

    @property
    def modified(self) -> bool:
        return self.editor.text != self.opened.text

    # -- save --------------------------------------------------------------------

    def action_save(self) -> None:
        if not self.saving:
            self.save()

    @work(exclusive=True, group="hotfix-save", exit_on_error=False)
    async def save(self, overwrite: bool = False) -> None:
        """Save, copy back, restart: each step on the status line."""
        self.saving = True
        self.steps = {}
        try:
            await self._save(overwrite)
        finally:
            self.saving = False

    async def _save(self, overwrite: bool) -> None:
        data = self.editor.text.encode("utf-8")
        try:
            outcome = await save_hotfix(
                self.fleet,
                self.opened,
                data,
                overwrite=overwrite,
                confirmed=self.confirmed,
                copy_back_base=self.agreed,
                on_event=self.show_step,
            )
        except PodFileChanged:
            await self.pod_changed()
            return
        except PodtuiError as error:
            self.notify(str(error), title="Not saved", severity="error", timeout=15)
            return
        self.opened = outcome.file
        await self.settle(outcome)
        self.post_message(HotfixSaved(outcome))

    async def settle(self, outcome: SaveOutcome) -> None:
        """Tell how the save went; ask about a copy-back conflict."""
        copy = outcome.copy_back
        if outcome.copy_back_error:
            self.notify(
                outcome.copy_back_error,
                title="Saved to the pod, but not copied back",
                severity="warning",
                timeout=15,
            )
        if copy is not None and copy.needs_choice:
            copy = await self.ask_copy_back(copy)
        if copy is not None:
            self.copies.append(copy)
            if copy.status in AGREED:
                self.agreed = outcome.file
        if outcome.error:
            tail = "\n".join(outcome.log_tail[-8:])
            self.notify(
                f"{outcome.error}\n{tail}".strip(),
                title="Saved, but the service is not healthy",
                severity="error",
                timeout=20,
            )
        elif copy is not None:
            self.notify(copy.summary(), title=f"Saved to {self.opened.pod.name}")

    async def ask_copy_back(self, copy: CopyBack) -> CopyBack:
        choice = await self.app.push_screen_wait(CopyBackDialog(copy))
        if choice is None:
            self.notify(
                f"{copy.relpath} left as it is locally: the pod's version is only on "
                "the pod (see drift, c, to copy it back later)",
                severity="warning",
                timeout=10,
            )
            return copy
        try:
            settled = await asyncio.to_thread(resolve_conflict, copy, choice)
        except PodtuiError as error:
            self.notify(str(error), title="Copy-back", severity="error", timeout=15)
            return copy
        self.post_message(CopyBackSettled(settled))
        return settled

    async def pod_changed(self) -> None:
        """The pod's file changed: reload, overwrite, or look at the diff first."""
        pod, relpath = self.opened.pod, self.opened.relpath
        while True:
            choice = await self.app.push_screen_wait(
                PodChangedDialog(pod.name, relpath)
            )
            if choice == "diff":
                current = await open_file(self.fleet.session(pod), relpath)
                diff = unified_diff(
                    current.data,
                    self.editor.text.encode(),
                    f"{pod.name}/{relpath}",
                    f"editor/{relpath}",
                )
                await self.app.push_screen_wait(
                    DiffScreen(f"{pod.name}'s file now → your edits", diff)
                )
                continue
            break
        if choice == "reload":
            self.opened = await open_file(self.fleet.session(pod), relpath)
            self.editor.load_text(self.opened.text)
            self.notify(f"Reloaded {relpath} from {pod.name}")
        elif choice == "overwrite":
            await self._save(overwrite=True)

    def show_step(self, event: StepEvent) -> None:
        """One step of the save on the status line: `save ✓ · copy-back …`."""
        marks = {
            Phase.STARTED: "…",
            Phase.FINISHED: "✓",
            Phase.FAILED: "✗",
            Phase.SKIPPED: "-",
        }
        detail = f" {event.detail}" if event.detail else ""
        self.steps[event.step] = f"{event.step} {marks[event.phase]}{detail}"
        self.query_one("#editor-status", Static).update(" · ".join(self.steps.values()))

    # -- find, go to line ----------------------------------------------------------

    def action_prompt(self, kind: str) -> None:
        self.prompt_kind = kind
        prompt = self.query_one("#editor-prompt", Input)
        prompt.placeholder = "find (enter: next)" if kind == "find" else "line number"
        prompt.add_class("-visible")
        prompt.focus()

    @on(Input.Submitted, "#editor-prompt")
    def _prompted(self, event: Input.Submitted) -> None:
        if self.prompt_kind == "find":
            self.find(event.value)
            return
        event.input.remove_class("-visible")
        self.go_to_line(event.value)

    def find(self, needle: str) -> None:
        """Select the next occurrence after the cursor, wrapping around."""
        if not needle:
            return
        text = self.editor.text
        row, column = self.editor.selection.end
        start = len("".join(text.splitlines(keepends=True)[:row])) + column
        index = text.find(needle, start)
        if index < 0:
            index = text.find(needle)
        if index < 0:
            self.notify(f"{needle!r} not found", severity="warning")
            return
        self.editor.selection = Selection(
            location_of(text, index), location_of(text, index + len(needle))
        )
        self.editor.scroll_cursor_visible()

    def go_to_line(self, value: str) -> None:
        try:
            line = int(value)
        except ValueError:
            self.notify(f"{value!r} is not a line number", severity="warning")
            return
        last = self.editor.document.line_count
        self.editor.move_cursor((min(max(line, 1), last) - 1, 0))
        self.editor.focus()

    # -- copy-back diff, commit, close ------------------------------------------

    def action_show_copy_back(self) -> None:
        if not self.copies:
            self.notify("Nothing was copied back yet: save first.")
            return
        copy = self.copies[-1]
        self.app.push_screen(
            DiffScreen(f"copy-back of {copy.relpath}: {copy.status.value}", copy.diff)
        )

    def action_commit_hotfix(self) -> None:
        paths = sorted({path for copy in self.copies for path in copy.written})
        if not paths:
            self.notify("Nothing was copied back, so there is nothing to commit.")
            return
        self.commit(paths)

    @work(exclusive=True, group="hotfix-commit", exit_on_error=False)
    async def commit(self, paths: list[Path]) -> None:
        pod = self.opened.pod.name
        try:
            sha = await asyncio.to_thread(
                commit_hotfix, self.fleet.config.project.repo, pod, paths
            )
        except PodtuiError as error:
            self.notify(str(error), title="Not committed", severity="error")
            return
        self.notify(f"Committed {sha[:12]} (not pushed)", title="Hot fix committed")

    def action_close(self) -> None:
        prompt = self.query_one("#editor-prompt", Input)
        if prompt.has_class("-visible"):
            prompt.remove_class("-visible")
            self.editor.focus()
            return
        if not self.modified:
            self.dismiss(None)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(None)

        self.app.push_screen(
            ConfirmScreen(
                f"Close {self.opened.relpath} without saving?",
                "Your unsaved edits will be lost.",
                confirm_label="Discard edits",
            ),
            answered,
        )
