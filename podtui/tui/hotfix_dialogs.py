"""The questions a hot fix can raise, as dialogs.

- the pod's file changed since it was opened: reload, overwrite or diff;
- copy-back found the local file changed too: merge three-way or keep both,
  with both diffs on screen so the choice is an informed one.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from podtui.ops.copyback import CopyBack
from podtui.tui.diff_view import DiffView


class ChoiceDialog(ModalScreen[str | None]):
    """A dialog whose buttons' ids are the answers; escape answers None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "choose(None)", "Cancel", id="choice.cancel"),
    ]

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.name)

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)


class PodChangedDialog(ChoiceDialog):
    """The pod's copy changed since it was opened: what now?"""

    DEFAULT_CSS = """
    PodChangedDialog { align: center middle; }
    #pod-changed { width: 72; height: auto; border: thick $warning; padding: 1 2;
                   background: $surface; }
    #pod-changed-buttons { height: auto; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "choose('reload')", "Reload", id="pod_changed.reload"),
        Binding("o", "choose('overwrite')", "Overwrite", id="pod_changed.overwrite"),
        Binding("d", "choose('diff')", "Diff", id="pod_changed.diff"),
    ]

    def __init__(self, pod: str, relpath: str) -> None:
        super().__init__()
        self.pod = pod
        self.relpath = relpath

    def compose(self) -> ComposeResult:
        with Vertical(id="pod-changed"):
            yield Static(
                f"{self.relpath} changed on {self.pod} since you opened it. "
                "Nothing was saved.\n\nReload drops your edits and shows the pod's "
                "file; overwrite replaces the pod's changes with yours; diff shows "
                "the pod's file against yours."
            )
            with Horizontal(id="pod-changed-buttons"):
                yield Button("Reload (r)", name="reload")
                yield Button("Overwrite (o)", name="overwrite", variant="error")
                yield Button("Diff (d)", name="diff", variant="primary")
                yield Button("Cancel", name="cancel")


class CopyBackDialog(ChoiceDialog):
    """Changed on both sides: both diffs, then merge or keep both."""

    DEFAULT_CSS = """
    CopyBackDialog { align: center middle; }
    #copy-back { width: 95%; height: 95%; border: thick $warning; background: $surface; }
    #copy-back-diffs { height: 1fr; }
    #copy-back-buttons { height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "choose('merge')", "Merge", id="copy_back.merge"),
        Binding("k", "choose('keep-both')", "Keep both", id="copy_back.keep_both"),
    ]

    def __init__(self, copy: CopyBack) -> None:
        super().__init__()
        self.copy = copy
        """The copy-back that stopped at the conflict."""

    def compose(self) -> ComposeResult:
        copy = self.copy
        with Vertical(id="copy-back"):
            yield Static(
                f"{copy.relpath} changed locally too, so nothing was written to "
                f"{copy.local}. Merge three-way (conflicts marked where both "
                f"changed the same lines), or keep both (the pod's version goes "
                f"beside the local file). Escape leaves the local file as it is."
            )
            with Horizontal(id="copy-back-diffs"):
                yield DiffView("local edits since the base", copy.local_diff)
                yield DiffView(f"edits on {copy.pod}", copy.pod_diff)
            with Horizontal(id="copy-back-buttons"):
                yield Button("Merge (m)", name="merge", variant="primary")
                yield Button("Keep both (k)", name="keep-both")
                yield Button("Later (escape)", name="later")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.name == "later" else event.button.name)
