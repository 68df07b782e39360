"""Unified diffs on screen: a coloured view, and a screen that shows one."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

LINE_STYLES = (
    ("+++", "bold"),
    ("---", "bold"),
    ("@@", "cyan"),
    ("+", "green"),
    ("-", "red"),
)


def diff_text(diff: str, *, empty: str = "no differences") -> Text:
    """A unified diff as Rich text: additions green, removals red."""
    if not diff:
        return Text(empty, style="dim italic")
    text = Text()
    for line in diff.splitlines(keepends=True):
        style = next((s for prefix, s in LINE_STYLES if line.startswith(prefix)), "")
        text.append(line, style=style)
    return text


class DiffView(VerticalScroll):
    """A scrollable unified diff with a title line."""

    DEFAULT_CSS = """
    DiffView { height: 1fr; border: round $primary; }
    DiffView > .diff-title { text-style: bold; }
    """

    def __init__(self, title: str, diff: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title_text = title
        """What the diff compares, e.g. `local edits since the base`."""
        self.diff = diff
        """The unified diff shown."""

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, classes="diff-title")
        yield Static(diff_text(self.diff), classes="diff-body")

    def show(self, title: str, diff: str) -> None:
        """Replace the diff on view."""
        self.title_text, self.diff = title, diff
        self.query_one(".diff-title", Static).update(title)
        self.query_one(".diff-body", Static).update(diff_text(diff))


class DiffScreen(ModalScreen[None]):
    """Shows one diff until escape."""

    DEFAULT_CSS = """
    DiffScreen { align: center middle; }
    #diff-box { width: 90%; height: 90%; background: $surface; }
    #diff-hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss", "Close", id="diff.close"),
    ]

    def __init__(self, title: str, diff: str) -> None:
        super().__init__()
        self.title_text = title
        self.diff = diff

    def compose(self) -> ComposeResult:
        with Vertical(id="diff-box"):
            yield DiffView(self.title_text, self.diff, id="diff-view")
            yield Static("escape: close", id="diff-hint")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
