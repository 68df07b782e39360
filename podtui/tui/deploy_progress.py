"""The progress of a deploy, promote or restart while it runs: one row per pod.

Each pod's row shows its steps in order (connect, fetch, dependencies, sync,
restart, health, and rollback when it comes to that) with a mark and a word
for where each step is and how long it took, the running step's time ticking.
A bar counts the steps done over all pods, and the summary of the operation
(what changed where, how long it took) appears when it ends. Escape closes
the view; the operation goes on and its summary still arrives as a
notification.

The operation's event sink only queues events and posts one message while
none is pending, so a burst of events costs one screen update, and each
update rewrites the rows in place.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import ProgressBar, Static

from podtui.ops.events import Phase, StepEvent

DEPLOY_STEPS = ("connect", "fetch", "dependencies", "sync", "restart", "health")
RESTART_STEPS = ("restart", "health")
TICK_SECONDS = 0.25
"""How often the running steps' times are redrawn."""

MARKS = {
    None: ("·", "dim"),
    Phase.STARTED: ("▶", "bold cyan"),
    Phase.FINISHED: ("✓", "green"),
    Phase.FAILED: ("✗", "bold red"),
    Phase.SKIPPED: ("–", "dim"),
}
"""The mark and style of a step in each phase (None: not started yet)."""


def steps_of(kind: str) -> tuple[str, ...]:
    """The steps an operation (deploy, promote or restart) takes on each pod."""
    return RESTART_STEPS if kind == "restart" else DEPLOY_STEPS


@dataclass
class StepState:
    """Where one step of one pod is."""

    phase: Phase | None = None
    detail: str = ""
    seconds: float | None = None
    started: float | None = None
    """When it started (monotonic), to show the time of a running step."""

    @property
    def done(self) -> bool:
        return self.phase in (Phase.FINISHED, Phase.SKIPPED, Phase.FAILED)


@dataclass
class PodProgress:
    """The steps of one pod, fed by its events."""

    pod: str
    steps: dict[str, StepState]

    @classmethod
    def waiting(cls, pod: str, steps: Iterable[str]) -> PodProgress:
        return cls(pod, {name: StepState() for name in steps})

    def apply(self, event: StepEvent, now: float) -> None:
        """Record an event; an unexpected step (rollback) joins at the end."""
        state = self.steps.setdefault(event.step, StepState())
        state.phase = event.phase
        state.detail = event.detail
        if event.phase == Phase.STARTED:
            state.started = now
            state.seconds = None
        else:
            state.seconds = event.seconds

    @property
    def running(self) -> bool:
        return any(s.phase == Phase.STARTED for s in self.steps.values())

    @property
    def failed(self) -> bool:
        return any(s.phase == Phase.FAILED for s in self.steps.values())

    @property
    def done_count(self) -> int:
        return sum(1 for s in self.steps.values() if s.done)

    def verdict(self) -> tuple[str, str]:
        """A word for the pod as a whole, and its style."""
        if self.failed:
            rolled = self.steps.get("rollback")
            if rolled is not None and rolled.phase == Phase.FINISHED:
                return "failed, rolled back", "bold yellow"
            return "FAILED", "bold red"
        current = next(
            (name for name, s in self.steps.items() if s.phase == Phase.STARTED), None
        )
        if current is not None:
            return current + "…", "cyan"
        if self.done_count == len(self.steps):
            return "done", "green"
        return ("waiting", "dim") if not self.done_count else ("…", "cyan")

    def render(self, now: float) -> Text:
        """Two lines: the pod, its state and count; then a mark per step."""
        word, style = self.verdict()
        text = Text.assemble(
            (self.pod.ljust(14), "bold"),
            (word.ljust(22), style),
            (f"{self.done_count}/{len(self.steps)} steps", "dim"),
            "\n  ",
        )
        for name, state in self.steps.items():
            mark, mark_style = MARKS[state.phase]
            text.append(f"{mark} {name}", style=mark_style)
            seconds = state.seconds
            if state.phase == Phase.STARTED and state.started is not None:
                seconds = now - state.started
            if seconds is not None:
                text.append(f" {seconds:.1f}s", style="dim")
            if state.detail and state.phase != Phase.STARTED:
                text.append(f" ({state.detail})", style="dim")
            text.append("   ")
        text.rstrip()
        return text


class DeployStepped(Message):
    """Step events arrived; the view drains its queue when it handles this."""


class DeployEnded(Message):
    """The operation ended: whether all went well and its summary lines."""

    def __init__(self, ok: bool, lines: list[str]) -> None:
        super().__init__()
        self.ok = ok
        self.lines = lines


class DeployProgressScreen(ModalScreen[None]):
    """Every pod of an operation with its steps, times and the final summary."""

    DEFAULT_CSS = """
    DeployProgressScreen { align: center middle; }
    #deploy-progress {
        width: 90%; height: auto; max-height: 90%;
        border: thick $accent; padding: 0 1;
    }
    #deploy-progress-title { text-style: bold; margin-bottom: 1; }
    .deploy-progress-pod { margin-bottom: 1; }
    #deploy-progress-bar { margin-bottom: 1; }
    #deploy-progress-summary { margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="deploy_progress.close"),
    ]

    def __init__(self, title: str, pods: Iterable[str], steps: Iterable[str]) -> None:
        super().__init__()
        self.title_text = title
        """What runs, e.g. `Deploy to dev (push)`."""
        self.step_names = tuple(steps)
        self.progress: dict[str, PodProgress] = {
            pod: PodProgress.waiting(pod, self.step_names) for pod in pods
        }
        """Pod name to its steps, in the order the rows show them."""
        self.started = time.monotonic()
        self.ended: DeployEnded | None = None
        """The end of the operation, once it ended."""
        self._queue: list[StepEvent] = []
        self._posted = False

    # -- the operation's side --------------------------------------------------

    def sink(self, event: StepEvent) -> None:
        """The operation's event sink: queue, and post at most one message."""
        self._queue.append(event)
        if not self._posted:
            self._posted = True
            self.post_message(DeployStepped())

    def end(self, ok: bool, lines: list[str]) -> None:
        """The operation ended; show its summary."""
        self.post_message(DeployEnded(ok, lines))

    # -- the screen ------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="deploy-progress"):
            yield Static(id="deploy-progress-title")
            yield ProgressBar(
                total=max(1, self._total_steps()),
                show_eta=False,
                id="deploy-progress-bar",
            )
            for index, _pod in enumerate(self.progress):
                yield Static(
                    id=f"deploy-progress-{index}", classes="deploy-progress-pod"
                )
            yield Static(id="deploy-progress-summary")

    def on_mount(self) -> None:
        self._redraw(list(self.progress))
        self.set_interval(TICK_SECONDS, self._tick)

    def on_deploy_stepped(self, message: DeployStepped) -> None:
        events, self._queue, self._posted = self._queue, [], False
        now = time.monotonic()
        changed: list[str] = []
        for event in events:
            if event.pod not in self.progress:
                self.progress[event.pod] = PodProgress.waiting(
                    event.pod, self.step_names
                )
                self._add_row()
            self.progress[event.pod].apply(event, now)
            if event.pod not in changed:
                changed.append(event.pod)
        self._redraw(changed)

    def on_deploy_ended(self, message: DeployEnded) -> None:
        self.ended = message
        self._redraw(list(self.progress))

    def action_close(self) -> None:
        self.dismiss(None)

    # -- drawing ---------------------------------------------------------------

    def _total_steps(self) -> int:
        return sum(len(p.steps) for p in self.progress.values())

    def _add_row(self) -> None:
        index = len(self.progress) - 1
        row = Static(id=f"deploy-progress-{index}", classes="deploy-progress-pod")
        self.query_one("#deploy-progress", VerticalScroll).mount(
            row, before="#deploy-progress-summary"
        )

    def _tick(self) -> None:
        running = [name for name, p in self.progress.items() if p.running]
        if running or self.ended is None:
            self._redraw(running)

    def _redraw(self, pods: list[str]) -> None:
        """Rewrite the title, the bar and the rows of `pods` in place."""
        now = time.monotonic()
        names = list(self.progress)
        for pod in pods:
            row = self.query(f"#deploy-progress-{names.index(pod)}")
            if row:
                row.first(Static).update(self.progress[pod].render(now))
        self.query_one("#deploy-progress-title", Static).update(self._title(now))
        bar = self.query_one("#deploy-progress-bar", ProgressBar)
        done = sum(p.done_count for p in self.progress.values())
        total = self._total_steps()
        if self.ended is not None:
            done = total  # pods not attempted count as done: nothing more comes
        bar.update(total=max(1, total), progress=done)
        summary = self.query_one("#deploy-progress-summary", Static)
        summary.update(self._summary())

    def _title(self, now: float) -> Text:
        if self.ended is None:
            state = (f"running {now - self.started:.1f}s", "cyan")
        elif self.ended.ok:
            state = ("done", "bold green")
        else:
            state = ("FAILED", "bold red")
        return Text.assemble(
            (self.title_text, "bold"), "  ", state, ("   escape closes", "dim")
        )

    def _summary(self) -> Text:
        if self.ended is None:
            return Text("")
        style = "" if self.ended.ok else "red"
        return Text("\n".join(self.ended.lines), style=style)
