"""Pick a file of a pod's app directory: a tree, narrowed by a fuzzy filter.

Typing narrows the tree to the paths that match (best first when enter is
pressed); enter on a file, or on the filter, picks it. A path that matches
nothing is offered as a new file to create on the pod.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.widgets import Input, Static, Tree


def fuzzy_matches(query: str, paths: Sequence[str]) -> list[str]:
    """The paths that match `query`, best first (all of them for no query)."""
    if not query.strip():
        return list(paths)
    matcher = Matcher(query)
    scored = [(matcher.match(path), path) for path in paths]
    return [path for score, path in sorted(scored, key=lambda s: -s[0]) if score > 0]


class FilePicker(ModalScreen[str | None]):
    """Dismisses with the chosen relative path, or None when cancelled."""

    DEFAULT_CSS = """
    FilePicker { align: center middle; }
    #picker-box { width: 80%; height: 80%; background: $surface; border: thick $primary; }
    #picker-tree { height: 1fr; }
    #picker-hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("down", "focus_tree", "Tree", show=False, id="picker.tree"),
    ]

    def __init__(self, paths: Sequence[str], title: str) -> None:
        super().__init__()
        self.paths = sorted(paths)
        """Every file of the app directory, relative to it."""
        self.title_text = title
        self.matches: list[str] = list(self.paths)
        """The paths the filter lets through, best first."""

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Static(self.title_text, id="picker-title")
            yield Input(
                placeholder="filter, or a new path to create", id="picker-filter"
            )
            yield Tree[str]("app directory", id="picker-tree")
            yield Static(
                "enter: open · ↓: browse the tree · escape: cancel", id="picker-hint"
            )

    def on_mount(self) -> None:
        self.show_tree(self.paths, expand=False)
        self.query_one(Input).focus()

    def show_tree(self, paths: Sequence[str], *, expand: bool) -> None:
        """Lay the paths out as folders and files."""
        tree = self.query_one(Tree)
        tree.clear()
        tree.root.expand()
        folders = {"": tree.root}
        for path in sorted(paths):
            parts = path.split("/")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                if folder not in folders:
                    parent = folders["/".join(parts[: depth - 1])]
                    folders[folder] = parent.add(parts[depth - 1] + "/", expand=expand)
            folders["/".join(parts[:-1])].add_leaf(parts[-1], data=path)

    @on(Input.Changed, "#picker-filter")
    def _filter(self, event: Input.Changed) -> None:
        self.matches = fuzzy_matches(event.value, self.paths)
        self.show_tree(self.matches, expand=bool(event.value.strip()))

    @on(Input.Submitted, "#picker-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        query = event.value.strip()
        if query in self.paths or (not self.matches and query):
            self.dismiss(query)
        elif self.matches:
            self.dismiss(self.matches[0])

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[str]) -> None:
        if event.node.data is not None:
            self.dismiss(event.node.data)

    def action_focus_tree(self) -> None:
        self.query_one(Tree).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
