"""Log panes: one per pod side by side, and a merged view of them all.

Each `LogPane` follows one pod's log in a worker and shows its state in its
title bar: live, paused, reconnecting (with the attempt) or ended, so a quiet
log is never mistaken for a dead stream. `LogPanes` holds the panes and the
`MergedLog`, which interleaves the open pods' lines by their timestamps, one
colour per pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import time
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import ClassVar, Protocol

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static

from podtui.errors import PodtuiError
from podtui.ops.logs import LineFilter, time_key
from podtui.remote.tail_events import LogBatch, TailEvent, TailState, TailStatus
from podtui.tui.log_view import DEFAULT_MAX_LINES, REFRESH_RATE, LogView

POD_COLOURS = ("cyan", "yellow", "magenta", "green", "blue", "red", "bright_cyan")
"""Colours given to pods in turn, in pane titles and the merged view."""
TITLE_INTERVAL = 0.25
"""Seconds between updates of a pane's title (line count, state)."""
STATE_STYLES = {
    TailState.CONNECTING: "yellow",
    TailState.LIVE: "green",
    TailState.RECONNECTING: "yellow",
    TailState.ENDED: "red",
}


class TailSource(Protocol):
    """Where a pane's lines come from: a `LogTail` of a pod."""

    def events(self) -> AsyncGenerator[TailEvent, None]: ...


Listener = Callable[["LogPane", LogBatch], None]


class LogPane(Vertical):
    """One pod's log: a title bar with its state, the lines, and a prompt."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash", "prompt('search')", "Search", key_display="/", id="log.search"
        ),
        Binding(
            "ampersand", "prompt('filter')", "Filter", key_display="&", id="log.filter"
        ),
        Binding(
            "exclamation_mark", "invert_filter", "Invert", key_display="!", show=False
        ),
        Binding("ctrl+s", "save", "Save", id="log.save"),
    ]

    DEFAULT_CSS = """
    LogPane { width: 1fr; border-left: vkey $panel; }
    LogPane > .log-title { height: 1; background: $panel; }
    LogPane > Input { height: 3; display: none; }
    LogPane > Input.shown { display: block; }
    """

    def __init__(
        self,
        pod: str,
        source: TailSource,
        *,
        colour: str = "cyan",
        max_lines: int = DEFAULT_MAX_LINES,
        listener: Listener | None = None,
    ) -> None:
        super().__init__(classes="log-pane")
        self.pod = pod
        """The pod whose log this pane follows."""
        self.source = source
        self.colour = colour
        self.max_lines = max_lines
        self.listener = listener
        """Also called with every batch (the merged view listens)."""
        self.status = TailStatus(TailState.CONNECTING)
        """The stream's last state."""
        self.prompt_mode = "search"
        self._titled_at = 0.0

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def compose(self) -> ComposeResult:
        yield Static(classes="log-title")
        yield LogView(max_lines=self.max_lines, own_clock=False)
        yield Input(placeholder="regular expression")

    def on_mount(self) -> None:
        self.show_title()
        self.set_interval(TITLE_INTERVAL, self.show_title)
        self.run_worker(self._follow(), name=f"log {self.pod}", exit_on_error=False)

    async def _follow(self) -> None:
        async with contextlib.aclosing(self.source.events()) as events:
            async for event in events:
                if isinstance(event, LogBatch):
                    self.view.add_lines(event.lines)
                    if self.listener is not None:
                        self.listener(self, event)
                    if time.monotonic() - self._titled_at > TITLE_INTERVAL:
                        self.show_title()
                else:
                    self.status = event
                    self.show_title()

    def state_text(self) -> tuple[str, str]:
        """What the title says about the stream and the view, and its colour."""
        text = self.status.describe()
        colour = STATE_STYLES[self.status.state]
        if not self.view.following:
            text, colour = f"paused · {text}", "bright_yellow"
        return text, colour

    def show_title(self) -> None:
        view = self.view
        text, colour = self.state_text()
        parts: list[str | tuple[str, str]] = [
            (self.pod, f"bold {self.colour}"),
            (text, colour),
            f"{view.visible_count:,} lines",
        ]
        if view.line_filter is not None:
            sign = "!" if view.line_filter.invert else ""
            parts.append(f"filter {sign}/{view.line_filter.pattern.pattern}/")
        if view.search is not None:
            parts.append(f"search /{view.search.pattern}/")
        title = Text(" · ", style="dim").join(Text.assemble(part) for part in parts)
        # One row whatever it says: no layout pass, which would cost every pane.
        self.query_one(".log-title", Static).update(title, layout=False)
        self._titled_at = time.monotonic()

    # --- prompts: search and filter ------------------------------------------

    def action_prompt(self, mode: str) -> None:
        """Ask for a search or filter expression in the pane's prompt."""
        self.prompt_mode = mode
        prompt = self.query_one(Input)
        prompt.placeholder = f"{mode} (regular expression; empty clears)"
        current = self.view.search if mode == "search" else self.view.line_filter
        if isinstance(current, LineFilter):
            current = current.pattern
        prompt.value = current.pattern if current is not None else ""
        prompt.add_class("shown")
        prompt.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            self.apply_prompt(event.value)
        except PodtuiError as error:
            self.notify(error.message, title="Not a valid expression", severity="error")
            return
        self.close_prompt()

    def apply_prompt(self, text: str) -> None:
        """Search for or filter by `text`; an empty text clears it."""
        view = self.view
        if self.prompt_mode == "search":
            view.set_search(LineFilter.parse(text).pattern if text else None)
        else:
            invert = view.line_filter.invert if view.line_filter else False
            view.set_filter(LineFilter.parse(text, invert=invert) if text else None)
        self.show_title()

    def close_prompt(self) -> None:
        self.query_one(Input).remove_class("shown")
        self.view.focus()

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self.query_one(Input).has_class("shown"):
            event.stop()
            event.prevent_default()
            self.close_prompt()

    def action_invert_filter(self) -> None:
        """Show the lines the filter drops instead of those it keeps."""
        current = self.view.line_filter
        if current is not None:
            self.view.set_filter(LineFilter(current.pattern, not current.invert))
            self.show_title()

    # --- saving ----------------------------------------------------------------

    async def action_save(self) -> None:
        """Write the lines the pane shows to a file in the current directory."""
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path.cwd() / f"{self.pod}-{stamp}.log"
        await self.save_to(path)

    async def save_to(self, path: Path) -> None:
        lines = self.view.visible_lines()
        text = "".join(line + "\n" for line in lines)
        try:
            await asyncio.to_thread(path.write_text, text, encoding="utf-8")
        except OSError as error:
            self.notify(
                f"{path}: {error.strerror}", title="Not saved", severity="error"
            )
            return
        self.notify(f"{len(lines):,} lines saved to {path}", title=self.pod)


class MergedLog(Vertical):
    """The open pods' lines in one view, ordered by time, one colour per pod.

    Lines are held for one tick and then sorted by their timestamps, so lines
    of different pods that arrive within a tick of each other interleave in
    the order they were logged.
    """

    DEFAULT_CSS = """
    MergedLog { width: 1fr; }
    MergedLog > .log-title { height: 1; background: $panel; }
    """

    def __init__(self, *, max_lines: int = DEFAULT_MAX_LINES) -> None:
        super().__init__()
        self.max_lines = max_lines
        self.active = False
        """Whether the merged view is shown (and so collects lines)."""
        self.pods: list[str] = []
        self._pending: list[tuple[str, int, str]] = []

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def compose(self) -> ComposeResult:
        yield Static("merged", classes="log-title")
        yield LogView(max_lines=self.max_lines, own_clock=False)

    def on_mount(self) -> None:
        self.set_interval(0.1, self.flush)

    def add(self, pane: LogPane, batch: LogBatch) -> None:
        """Hold a pane's new lines until the next tick sorts them in.

        Only while the merged view is shown: opening it fills it from the
        panes' own lines (`fill`), so a hidden merged view costs nothing.
        """
        if self.active:
            self._hold(pane, batch.lines, batch.received)

    def fill(self, panes: list[LogPane]) -> None:
        """Start over with the lines the panes hold now, ordered by time."""
        self.view.clear()
        self._pending = []
        now = time.time()
        for pane in panes:
            self._hold(pane, pane.view.visible_lines()[-self.max_lines :], now)
        self.flush()

    def _hold(self, pane: LogPane, lines: list[str], received: float) -> None:
        if pane.pod not in self.pods:
            self.pods.append(pane.pod)
            self.view.prefixes.append(
                (f"{pane.pod} ", Style.parse(f"bold {pane.colour}"))
            )
            self.query_one(Static).update("merged: " + " ".join(self.pods))
        tag = self.pods.index(pane.pod)
        fallback = dt.datetime.fromtimestamp(received, dt.UTC).isoformat()
        self._pending += [(time_key(line, fallback), tag, line) for line in lines]

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        pending.sort(key=lambda item: item[0])
        run: list[str] = []
        tag = pending[0][1]
        for _, line_tag, line in pending:
            if line_tag != tag:
                self.view.add_lines(run, tag)
                run, tag = [], line_tag
            run.append(line)
        self.view.add_lines(run, tag)


def freeze_long_lived() -> None:
    """Leave the objects that exist now out of full garbage collections.

    Streaming lines make Python run full collections every few seconds, and
    each walks every object of the app (widgets, SSH, modules): tens of
    milliseconds of frozen UI. Frozen objects are skipped, so a full
    collection walks only what was made since. Garbage is collected first,
    so none is kept frozen; `gc.unfreeze` (when the last pane closes) hands
    the rest back to the collector.
    """
    gc.collect()
    gc.freeze()


class LogPanes(Horizontal):
    """The open log panes side by side, or the merged view of them."""

    DEFAULT_CSS = """
    LogPanes { height: 1fr; display: none; }
    LogPanes.open { display: block; }
    LogPanes.merged > LogPane { display: none; }
    LogPanes > MergedLog { display: none; }
    LogPanes.merged > MergedLog { display: block; }
    """

    def __init__(self, *, max_lines: int = DEFAULT_MAX_LINES, id: str | None = None):
        super().__init__(id=id)
        self.max_lines = max_lines
        self._colours = 0
        self._frozen = False
        """Whether objects are frozen out of full collections (`freeze_long_lived`)."""

    def compose(self) -> ComposeResult:
        yield MergedLog(max_lines=self.max_lines)

    def on_mount(self) -> None:
        self.set_interval(1 / REFRESH_RATE, self.redraw)

    def on_unmount(self) -> None:
        self._thaw()

    def _thaw(self) -> None:
        """Hand the objects frozen while panes were open back to the collector.

        Then collect at once: the closed panes' lines are garbage now, and a
        key press (closing the last pane) is a good moment for the pause.
        """
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
            gc.collect()

    def redraw(self) -> None:
        """Redraw every view with new lines at once: one screen update for all."""
        for view in self.query(LogView):
            view.redraw_if_needed()

    @property
    def panes(self) -> list[LogPane]:
        return list(self.query(LogPane))

    def pane(self, pod: str) -> LogPane | None:
        return next((p for p in self.panes if p.pod == pod), None)

    async def open_pane(self, pod: str, source: TailSource) -> LogPane:
        """Open a pane following `source`, coloured as the merged view shows it.

        Focus stays where it was, so that the next pod can be picked in the
        pod table and opened beside this one.
        """
        colour = POD_COLOURS[self._colours % len(POD_COLOURS)]
        self._colours += 1
        merged = self.query_one(MergedLog)
        pane = LogPane(
            pod, source, colour=colour, max_lines=self.max_lines, listener=merged.add
        )
        await self.mount(pane, before=merged)
        self.add_class("open")
        freeze_long_lived()
        self._frozen = True
        return pane

    async def close_pane(self, pod: str) -> None:
        pane = self.pane(pod)
        if pane is not None:
            await pane.remove()
        if not self.panes:
            self._thaw()
            self.remove_class("open", "merged")
            self.query_one(MergedLog).active = False

    def toggle_merged(self) -> None:
        """Switch between panes side by side and the merged view."""
        if not self.panes:
            return
        merged = self.query_one(MergedLog)
        self.toggle_class("merged")
        merged.active = self.has_class("merged")
        if merged.active:
            merged.fill(self.panes)
        focused = self.screen.focused
        if focused is not None and self in focused.ancestors:
            # The pane that had focus is hidden now: keep focus in the logs.
            (merged if merged.active else self.panes[0]).view.focus()
