"""The help screen: every key of the dashboard and what it does."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KeyHelp = tuple[str, str]
"""A key as shown to the user, and what it does."""


class HelpScreen(ModalScreen[None]):
    """Lists the keys the dashboard had when help was asked for."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, keys: Sequence[KeyHelp]) -> None:
        super().__init__()
        self.keys = tuple(keys)
        """The keys to list, taken from the screen underneath (remaps included)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static("podtui: keys", id="help-title")
            yield Static(self._key_table(), id="help-keys")
            yield Static(
                "Every action is also in the command palette. Press escape to close.",
                id="help-hint",
            )

    def _key_table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, description in self.keys:
            table.add_row(key, description)
        return table

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
