"""The log view: a bounded buffer of lines, drawn one screen at a time.

A pane may receive tens of thousands of lines a second, so the view never
makes a widget per line: lines go into a fixed-size ring (`LineBuffer`), and
the view draws only the rows on screen, at most `REFRESH_RATE` times a second,
however many batches arrived meanwhile. A filter keeps a list of the matching
lines' sequence numbers, so paging through a filtered log is as cheap as
paging through the whole one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from podtui.ops.logs import LineFilter, split_timestamp

DEFAULT_MAX_LINES = 20_000
"""Lines a view keeps by default; older ones are dropped as new ones come."""
REFRESH_RATE = 20
"""Redraws per second at most while lines stream in."""
SEARCH_STYLE = Style(bgcolor="yellow", color="black")
FOUND_STYLE = Style(bgcolor="dark_orange", color="black", bold=True)
TIMESTAMP_STYLE = Style(dim=True)


class LineBuffer:
    """The last `capacity` lines, each with a small tag (which pod it came from).

    Lines are numbered by a sequence number that only grows; a line's slot in
    the ring is its number modulo the capacity, so lookups are constant time.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._texts: list[str] = [""] * capacity
        self._tags = bytearray(capacity)
        self.end = 0
        """The sequence number the next line will get."""

    @property
    def first(self) -> int:
        """The sequence number of the oldest line still kept."""
        return max(0, self.end - self.capacity)

    def __len__(self) -> int:
        return self.end - self.first

    def extend(self, lines: list[str], tag: int = 0) -> None:
        """Add lines at the end, dropping the oldest beyond the capacity."""
        if len(lines) > self.capacity:
            self.end += len(lines) - self.capacity
            lines = lines[-self.capacity :]
        start = self.end % self.capacity
        head = min(len(lines), self.capacity - start)
        self._texts[start : start + head] = lines[:head]
        self._tags[start : start + head] = bytes((tag,)) * head
        rest = len(lines) - head
        if rest:
            self._texts[:rest] = lines[head:]
            self._tags[:rest] = bytes((tag,)) * rest
        self.end += len(lines)

    def text(self, seq: int) -> str:
        return self._texts[seq % self.capacity]

    def tag(self, seq: int) -> int:
        return self._tags[seq % self.capacity]

    def clear(self) -> None:
        self.end = 0


class Matches:
    """Sequence numbers of the lines a filter keeps, oldest first."""

    def __init__(self) -> None:
        self._seqs: list[int] = []
        self._start = 0

    def __len__(self) -> int:
        return len(self._seqs) - self._start

    def __getitem__(self, index: int) -> int:
        return self._seqs[self._start + index]

    def add(self, seqs: Iterator[int]) -> None:
        self._seqs.extend(seqs)

    def drop_before(self, first: int) -> None:
        """Forget lines the buffer no longer holds."""
        seqs, start = self._seqs, self._start
        while start < len(seqs) and seqs[start] < first:
            start += 1
        if start > 4096 and start > len(seqs) // 2:
            del seqs[:start]
            start = 0
        self._start = start

    def index_of(self, seq: int) -> int:
        """The index of the first kept line at or after `seq`."""
        import bisect

        return bisect.bisect_left(self._seqs, seq, self._start) - self._start


class LogView(Widget, can_focus=True):
    """Lines of one log (or of several, tagged), following the end unless paused."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_lines(-1)", "Up", show=False),
        Binding("down,j", "scroll_lines(1)", "Down", show=False),
        Binding("pageup", "scroll_pages(-1)", "Page up", show=False),
        Binding("pagedown", "scroll_pages(1)", "Page down", show=False),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end,G", "follow", "Follow", show=False),
        Binding("p", "toggle_pause", "Pause", id="log.pause"),
        Binding("n", "find(1)", "Next", show=False),
        Binding("N", "find(-1)", "Previous", show=False),
        Binding("t", "toggle_timestamps", "Timestamps", id="log.timestamps"),
        Binding("w", "toggle_wrap", "Wrap", id="log.wrap"),
    ]

    DEFAULT_CSS = """
    LogView { height: 1fr; }
    LogView:focus { background: $boost; }
    """

    def __init__(
        self,
        *,
        max_lines: int = DEFAULT_MAX_LINES,
        own_clock: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.buffer = LineBuffer(max_lines)
        """Every kept line, filtered or not."""
        self.line_filter: LineFilter | None = None
        self.matches = Matches()
        """The kept lines the filter lets through (used only with a filter)."""
        self.search: re.Pattern[str] | None = None
        self.found: int | None = None
        """The sequence number of the search hit last jumped to."""
        self.following = True
        """Whether the view shows the newest lines as they come (not paused)."""
        self.anchor_seq = 0
        """While paused: the sequence number of the top line."""
        self.show_timestamps = True
        self.wrap = False
        self.prefixes: list[tuple[str, Style]] = []
        """Per tag, a prefix drawn before each line (the merged view's pod names)."""
        self.received = 0
        """Lines received in all, including those dropped since."""
        self.own_clock = own_clock
        """Whether the view times its own redraws; else a container calls
        `redraw_if_needed`, so that several views redraw in one screen update."""
        self._dirty = False
        self._look: tuple[object, ...] = ()
        """What the cached rows depend on: size, style and display toggles."""
        self._drawn: dict[int, list[Strip]] = {}
        """The rows of each line on screen at the last redraw, by sequence."""

    def on_mount(self) -> None:
        if self.own_clock:
            self.set_interval(1 / REFRESH_RATE, self.redraw_if_needed)

    # --- lines in ---------------------------------------------------------

    def add_lines(self, lines: list[str], tag: int = 0) -> None:
        """Take a batch of new lines; the screen catches up on the next tick."""
        if not lines:
            return
        start = self.buffer.end
        self.buffer.extend(lines, tag)
        self.received += len(lines)
        if self.line_filter is not None:
            first = max(start, self.buffer.first)
            self.matches.add(self._kept(first, self.buffer.end))
            self.matches.drop_before(self.buffer.first)
        self._dirty = True

    def _kept(self, start: int, end: int) -> Iterator[int]:
        keeps = self.line_filter.keeps if self.line_filter else None
        text = self.buffer.text
        return (seq for seq in range(start, end) if keeps is None or keeps(text(seq)))

    @property
    def drawn(self) -> bool:
        """Whether every line taken so far has been drawn (no redraw pending)."""
        return not self._dirty

    def redraw_if_needed(self) -> None:
        if self._dirty:
            self._dirty = False
            self.refresh()

    def clear(self) -> None:
        self.buffer.clear()
        self._drawn = {}
        self.matches = Matches()
        self.found = None
        self.refresh()

    # --- what is visible ----------------------------------------------------

    @property
    def visible_count(self) -> int:
        """How many lines the view can show: all kept, or those filtered in."""
        return len(self.matches) if self.line_filter else len(self.buffer)

    def seq_at(self, index: int) -> int:
        """The sequence number of the `index`-th visible line."""
        if self.line_filter is not None:
            return self.matches[index]
        return self.buffer.first + index

    def index_of(self, seq: int) -> int:
        """The index of the first visible line at or after `seq`."""
        if self.line_filter is not None:
            return self.matches.index_of(seq)
        return max(0, seq - self.buffer.first)

    def visible_lines(self) -> list[str]:
        """Every visible line as text (what saving the pane writes)."""
        return [self.buffer.text(self.seq_at(i)) for i in range(self.visible_count)]

    def top_index(self) -> int:
        """The index of the line drawn at the top of the view."""
        count = self.visible_count
        if not self.following:
            return min(self.index_of(self.anchor_seq), max(0, count - 1))
        height = max(1, self.size.height)
        if not self.wrap:
            return max(0, count - height)
        index, rows = count, 0
        while index > 0 and rows < height:
            index -= 1
            rows += len(self._strips(self.seq_at(index), self.size.width))
        return index if rows <= height else min(index + 1, count - 1)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    # --- drawing --------------------------------------------------------------

    def render_lines(self, crop: object) -> list[Strip]:
        # Work out the screen once per redraw, not once per row.
        self._frame = self._rows()
        return super().render_lines(crop)  # type: ignore[arg-type]

    def _rows(self) -> list[Strip]:
        width, height = self.size
        cache = self._drawn_cache()
        drawn: dict[int, list[Strip]] = {}
        count = self.visible_count
        rows: list[Strip] = []
        index = self.top_index()
        while len(rows) < height and index < count:
            seq = self.seq_at(index)
            strips = cache.get(seq)
            if strips is None:
                strips = self._padded(self._strips(seq, width), width)
            drawn[seq] = strips
            rows.extend(strips)
            index += 1
        self._drawn = drawn
        return rows[:height]

    def _drawn_cache(self) -> dict[int, list[Strip]]:
        """The rows of the lines drawn last time, if they would look the same.

        While following, each redraw moves the lines up by the few that came,
        so most rows are reused rather than built again.
        """
        look = (
            self.size,
            self.rich_style,
            self.wrap,
            self.show_timestamps,
            self.search,
            self.found,
            len(self.prefixes),
        )
        if look != self._look:
            self._look, self._drawn = look, {}
        return self._drawn

    def _padded(self, strips: list[Strip], width: int) -> list[Strip]:
        style = self.rich_style
        return [strip.extend_cell_length(width, style) for strip in strips]

    def render_line(self, y: int) -> Strip:
        frame: list[Strip] = getattr(self, "_frame", [])
        if y < len(frame):
            return frame[y]
        return Strip.blank(self.size.width, self.rich_style)

    def _strips(self, seq: int, width: int) -> list[Strip]:
        """The screen rows of one line: one, or several when wrapping."""
        segments = self._segments(seq)
        strip = Strip(segments)
        if not self.wrap or strip.cell_length <= width or width <= 0:
            return [strip.crop(0, max(width, 0))]
        cuts = list(range(width, strip.cell_length, width)) + [strip.cell_length]
        return list(strip.divide(cuts))

    def _segments(self, seq: int) -> list[Segment]:
        text = self.buffer.text(seq)
        segments: list[Segment] = []
        if self.prefixes:
            prefix, style = self.prefixes[self.buffer.tag(seq) % len(self.prefixes)]
            segments.append(Segment(prefix, style))
        stamp, rest = split_timestamp(text)
        if stamp and self.show_timestamps:
            segments.append(Segment(stamp, TIMESTAMP_STYLE))
        segments += self._highlighted(rest, seq)
        return segments

    def _highlighted(self, text: str, seq: int) -> list[Segment]:
        """`text` with search hits marked, the jumped-to line brighter."""
        if self.search is None:
            return [Segment(text)]
        style = FOUND_STYLE if seq == self.found else SEARCH_STYLE
        segments, position = [], 0
        for match in self.search.finditer(text):
            if match.end() == match.start():
                continue
            segments.append(Segment(text[position : match.start()]))
            segments.append(Segment(match.group(), style))
            position = match.end()
        segments.append(Segment(text[position:]))
        return segments

    # --- moving around ----------------------------------------------------------

    def pause(self) -> None:
        """Stop following: keep the lines on screen where they are."""
        if self.following:
            self.anchor_seq = self.seq_at(self.top_index()) if self.visible_count else 0
            self.following = False
            self.refresh()

    def resume(self) -> None:
        """Follow the newest lines again."""
        self.following = True
        self.refresh()

    def action_toggle_pause(self) -> None:
        if self.following:
            self.pause()
        else:
            self.resume()

    def action_follow(self) -> None:
        self.resume()

    def action_scroll_lines(self, delta: int) -> None:
        """Move by `delta` lines; moving up pauses, reaching the end follows."""
        count = self.visible_count
        if not count:
            return
        top = self.top_index()
        if delta < 0:
            self.pause()
        index = max(0, min(top + delta, count - 1))
        if delta > 0 and index >= max(0, count - self.size.height):
            self.resume()
            return
        if not self.following:
            self.anchor_seq = self.seq_at(index)
            self.refresh()

    def action_scroll_pages(self, pages: int) -> None:
        self.action_scroll_lines(pages * max(1, self.size.height - 1))

    def action_scroll_home(self) -> None:
        self.pause()
        self.anchor_seq = self.seq_at(0) if self.visible_count else 0
        self.refresh()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.action_scroll_lines(-3)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.action_scroll_lines(3)

    # --- search, filter, display toggles -------------------------------------

    def set_filter(self, line_filter: LineFilter | None) -> None:
        """Show only lines `line_filter` keeps (all lines for None)."""
        anchor = self.seq_at(self.top_index()) if self.visible_count else 0
        self.line_filter = line_filter
        self.matches = Matches()
        if line_filter is not None:
            self.matches.add(self._kept(self.buffer.first, self.buffer.end))
        self.anchor_seq = anchor
        self.refresh()

    def set_search(self, pattern: re.Pattern[str] | None) -> None:
        """Highlight `pattern` and jump to its last hit (None clears it)."""
        self.search = pattern
        self.found = None
        if pattern is not None:
            self.action_find(-1)
        self.refresh()

    def action_find(self, direction: int) -> None:
        """Jump to the next (1) or previous (-1) line the search matches."""
        if self.search is None or not self.visible_count:
            return
        count = self.visible_count
        if self.found is not None and self.found >= self.buffer.first:
            start = self.index_of(self.found) + direction
        else:
            start = count - 1 if direction < 0 else self.top_index()
        hit = self._next_hit(start, direction)
        if hit is None:
            self.notify("No more matches", severity="warning", timeout=2)
            return
        self.found = hit
        self.pause()
        self.anchor_seq = self.seq_at(
            max(0, self.index_of(hit) - self.size.height // 2)
        )
        self.refresh()

    def _next_hit(self, start: int, direction: int) -> int | None:
        assert self.search is not None
        search, text = self.search.search, self.buffer.text
        index = start
        while 0 <= index < self.visible_count:
            seq = self.seq_at(index)
            if search(split_timestamp(text(seq))[1]):
                return seq
            index += direction
        return None

    def search_hits(self) -> int:
        """How many visible lines the search matches."""
        if self.search is None:
            return 0
        search, text = self.search.search, self.buffer.text
        return sum(1 for i in range(self.visible_count) if search(text(self.seq_at(i))))

    def action_toggle_timestamps(self) -> None:
        self.show_timestamps = not self.show_timestamps
        self.refresh()

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self.refresh()
