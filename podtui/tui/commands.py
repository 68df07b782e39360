"""The command palette's commands: the app's actions and one per pod."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from podtui.tui.app import PodtuiApp

Command = tuple[str, Callable[[], object], str]
"""The palette text, what it does when chosen, and its help line."""


class PodCommands(Provider):
    """Refresh, help, quit, and "restart service of POD" for every known pod."""

    def _commands(self) -> list[Command]:
        app = cast("PodtuiApp", self.app)
        commands: list[Command] = [
            ("Refresh pods", app.action_refresh_pods, "Inspect every pod now"),
            ("Help", app.action_help, "List the keys of the dashboard"),
            ("Quit", app.action_quit, "Leave podtui (local pods keep running)"),
        ]
        for pod in app.pods.values():
            environment = app.config.environment(pod.environment)
            note = " (protected: asks first)" if environment.protected else ""
            commands.append(
                (
                    f"Restart service of {pod.name}",
                    partial(app.request_restart, pod),
                    f"Restart the app on {pod.name} in {pod.environment}{note}",
                )
            )
        return commands

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands():
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, help=help_text)
