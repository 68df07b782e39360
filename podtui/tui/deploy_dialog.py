"""The confirmation before a deploy to a protected environment.

It names what will change: the environment, each pod and the release, so a
production deploy is never one stray key away.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

if TYPE_CHECKING:
    from podtui.ops.deploy import DeployPlan


class DeployConfirmDialog(ModalScreen[bool]):
    """Asks to confirm a deploy plan; dismisses with True only on yes."""

    DEFAULT_CSS = """
    DeployConfirmDialog { align: center middle; }
    #deploy-confirm { width: 72; height: auto; border: thick $error; padding: 1 2; }
    #deploy-confirm-buttons { height: auto; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Deploy", id="deploy_confirm.yes"),
        Binding("n,escape", "answer(False)", "Cancel", id="deploy_confirm.no"),
    ]

    def __init__(self, plan: DeployPlan, *, verb: str = "Deploy") -> None:
        super().__init__()
        self.plan = plan
        """What the deploy will do."""
        self.verb = verb
        """Deploy, Promote or Restart: what the yes button does."""

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(id="deploy-confirm"):
            yield Static(
                f"{self.verb} {plan.release} to {plan.environment.upper()}?",
                id="deploy-confirm-question",
            )
            yield Static(
                f"{plan.environment} is protected. Pods, one at a time, stopping at "
                f"the first failure: {', '.join(plan.pods)}\nmode: {plan.mode}",
                id="deploy-confirm-detail",
            )
            with Horizontal(id="deploy-confirm-buttons"):
                yield Button(
                    f"{self.verb} to {plan.environment}",
                    variant="error",
                    id="deploy-confirm-yes",
                )
                yield Button("Cancel", variant="primary", id="deploy-confirm-no")
            yield Static(
                f"y: {self.verb.lower()} · n or escape: cancel", classes="dialog-keys"
            )

    def on_mount(self) -> None:
        self.query_one("#deploy-confirm-no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "deploy-confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
