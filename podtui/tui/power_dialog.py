"""Stop, resume or terminate a RunPod pod: the questions asked before.

`PowerDialog` asks to stop a running pod (its volume is kept, its container
disk lost) or to resume a stopped one (it can come back with no GPU), and
offers termination behind a second dialog, `TerminateDialog`, which only
enables its button once the pod's name is typed exactly.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from podtui.model import Pod, PodStatus
from podtui.ops.power import RESUME_WARNING, STOP_WARNING, TERMINATE_WARNING

DIALOG_CSS = """
PowerDialog, TerminateDialog {
    align: center middle;
}
.power-box {
    width: 68;
    max-width: 100%;
    height: auto;
    padding: 1 2;
    border: thick $error;
    background: $surface;
}
.power-box > * {
    width: 100%;
    height: auto;
}
.power-question {
    text-style: bold;
    margin-bottom: 1;
}
.power-warning {
    margin-bottom: 1;
}
.power-buttons {
    height: auto;
    align-horizontal: right;
}
.power-buttons Button {
    margin-left: 1;
}
"""


def describe(pod: Pod) -> str:
    """`voice-1 (1x RTX A5000, $0.26/hr)`."""
    cost = f"${pod.cost_per_hour:.2f}/hr" if pod.cost_per_hour is not None else None
    parts = [part for part in (pod.gpu, cost) if part]
    return f"{pod.name} ({', '.join(parts)})" if parts else pod.name


class PowerDialog(ModalScreen[str | None]):
    """Stop or resume one pod; dismisses with "stop", "resume", "terminate"
    or None (cancelled)."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "cancel", "Cancel", id="power.cancel"),
    ]

    def __init__(self, pod: Pod) -> None:
        super().__init__()
        self.pod = pod
        """The pod the question is about."""
        self.action = "resume" if pod.status == PodStatus.STOPPED else "stop"
        """What confirming does: "stop" a running pod or "resume" a stopped one."""

    def compose(self) -> ComposeResult:
        verb = self.action.capitalize()
        warning = RESUME_WARNING if self.action == "resume" else STOP_WARNING
        with Vertical(classes="power-box"):
            yield Static(f"{verb} {describe(self.pod)}?", classes="power-question")
            yield Static(warning, classes="power-warning")
            with Horizontal(classes="power-buttons"):
                yield Button("Terminate…", variant="error", id="power-terminate")
                yield Button(verb, variant="warning", id="power-confirm")
                yield Button("Cancel", variant="primary", id="power-cancel")

    def on_mount(self) -> None:
        self.query_one("#power-cancel", Button).focus()

    @on(Button.Pressed, "#power-confirm")
    def _confirmed(self) -> None:
        self.dismiss(self.action)

    @on(Button.Pressed, "#power-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#power-terminate")
    def _terminate(self) -> None:
        def typed(confirmed: bool | None) -> None:
            if confirmed:
                self.dismiss("terminate")

        self.app.push_screen(TerminateDialog(self.pod), typed)


class TerminateDialog(ModalScreen[bool]):
    """Terminate a pod only after its name is typed; dismisses with True then."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="terminate.cancel"),
    ]

    def __init__(self, pod: Pod) -> None:
        super().__init__()
        self.pod = pod

    def compose(self) -> ComposeResult:
        with Vertical(classes="power-box"):
            yield Static(f"Terminate {describe(self.pod)}?", classes="power-question")
            yield Static(TERMINATE_WARNING, classes="power-warning")
            yield Static(f"Type [b]{self.pod.name}[/b] to confirm:")
            yield Input(placeholder=self.pod.name, id="terminate-name")
            with Horizontal(classes="power-buttons"):
                yield Button(
                    "Terminate", variant="error", id="terminate-confirm", disabled=True
                )
                yield Button("Cancel", variant="primary", id="terminate-cancel")

    def on_mount(self) -> None:
        self.query_one("#terminate-name", Input).focus()

    @property
    def name_typed(self) -> bool:
        return self.query_one("#terminate-name", Input).value == self.pod.name

    @on(Input.Changed, "#terminate-name")
    def _typed(self) -> None:
        self.query_one("#terminate-confirm", Button).disabled = not self.name_typed

    @on(Input.Submitted, "#terminate-name")
    @on(Button.Pressed, "#terminate-confirm")
    def _confirmed(self) -> None:
        if self.name_typed:
            self.dismiss(True)

    @on(Button.Pressed, "#terminate-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
