"""The command palette's commands: the app's actions and one per pod."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from podtui.tui.pod_table import environment_key

if TYPE_CHECKING:
    from podtui.tui.app import PodtuiApp

Command = tuple[str, Callable[[], object], str]
"""The palette text, what it does when chosen, and its help line."""


class PodCommands(Provider):
    """Refresh, help and quit; deploy per environment; restart, logs, edit and
    drift per known pod."""

    def _commands(self) -> list[Command]:
        app = cast("PodtuiApp", self.app)
        commands: list[Command] = [
            ("Refresh pods", app.action_refresh_pods, "Inspect every pod now"),
            ("Help", app.action_help, "List the keys of the dashboard"),
            ("Quit", app.action_quit, "Leave podtui (local pods keep running)"),
        ]
        for environment in app.config.environments:
            note = " (protected: asks first)" if environment.protected else ""
            commands.append(
                (
                    f"Deploy to {environment.name}",
                    partial(app.act_on, environment_key(environment.name), "deploy"),
                    f"Deploy the local release to every pod of {environment.name}"
                    + note,
                )
            )
        for pod in app.pods.values():
            environment = app.config.environment(pod.environment)
            note = " (protected: asks first)" if environment.protected else ""
            commands += [
                (
                    f"Restart service of {pod.name}",
                    partial(app.request_restart, pod),
                    f"Restart the app on {pod.name} in {pod.environment}{note}",
                ),
                (
                    f"Logs of {pod.name}",
                    partial(app.act_on, pod.id, "logs"),
                    f"Open or close the log pane of {pod.name}",
                ),
                (
                    f"Edit a file on {pod.name}",
                    partial(app.act_on, pod.id, "edit"),
                    f"Hot fix: edit, save, restart and copy back{note}",
                ),
                (
                    f"Drift of {pod.name}",
                    partial(app.act_on, pod.id, "drift"),
                    f"Files on {pod.name} that differ from its release",
                ),
            ]
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
