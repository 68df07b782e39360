"""Deploy, promote and restart from the dashboard, on the highlighted row.

Mixed into the app: `d` deploys the highlighted environment (or pod), `p`
promotes the highlighted environment's healthy release to the next one, `r`
restarts with a health gate. Protected environments ask first, naming the
environment, the pods and the release. Failed steps and the summary arrive as
notifications; the table refreshes when the operation ends.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from podtui.errors import PodtuiError
from podtui.ops.events import Phase, StepEvent, event_line
from podtui.tui.deploy_dialog import DeployConfirmDialog
from podtui.tui.pod_table import ENVIRONMENT_PREFIX, PodTable

if TYPE_CHECKING:
    from podtui.ops.deploy import DeployOptions, DeployPlan, DeployResult

log = logging.getLogger(__name__)


class DeployActions:
    """The deploy keys of the app; expects the app's `pods`, `config` and fleet."""

    def _highlighted_target(self: Any) -> tuple[str, str | None] | None:
        """The highlighted environment, or the highlighted pod and its environment."""
        key = self.query_one(PodTable).highlighted_key()
        if key is None:
            return None
        if key.startswith(ENVIRONMENT_PREFIX):
            return key.removeprefix(ENVIRONMENT_PREFIX), None
        pod = self.pods.get(key)
        return (pod.environment, pod.name) if pod is not None else None

    def action_deploy(self: Any) -> None:
        """Deploy the local release to the highlighted environment or pod."""
        self._start_operation("deploy")

    def action_promote(self: Any) -> None:
        """Deploy the highlighted environment's healthy release to the next one."""
        self._start_operation("promote")

    def action_restart_pods(self: Any) -> None:
        """Restart the highlighted environment's or pod's service, health-gated."""
        self._start_operation("restart")

    def _start_operation(self: Any, kind: str) -> None:
        target = self._highlighted_target()
        if target is None:
            self.notify("Highlight an environment or a pod first.", severity="warning")
            return
        environment, pod = target
        self.run_worker(
            self._operation(kind, environment, pod),
            name=f"{kind} {pod or environment}",
            group="deploy",
            exclusive=True,
            exit_on_error=False,
        )

    async def _operation(
        self: Any, kind: str, environment: str, pod: str | None
    ) -> None:
        fleet = await self._get_fleet()
        try:
            plan, options = await self._plan(fleet, kind, environment, pod)
            if plan.protected:
                verb = kind.capitalize()
                dialog = DeployConfirmDialog(plan, verb=verb)
                if not await self.push_screen_wait(dialog):
                    self.notify(f"{verb} to {plan.environment} cancelled.")
                    return
            options = replace(options, confirmed=True)
            self.notify(f"{kind.capitalize()} to {plan.environment}…")
            result = await self._run(fleet, kind, plan, pod, options)
        except PodtuiError as error:
            self.notify(
                str(error), title=f"Could not {kind}", severity="error", timeout=15
            )
            return
        self._announce(kind, result)

    async def _plan(
        self: Any, fleet: Any, kind: str, environment: str, pod: str | None
    ) -> tuple[DeployPlan, DeployOptions]:
        # The deploy machinery (SSH, git) loads on first use, not at start-up.
        from podtui.ops.deploy import (
            DeployOptions,
            next_environment,
            plan_deploy,
            promotable_release,
        )

        options = DeployOptions()
        if kind == "promote":
            release = await promotable_release(fleet, environment)
            options = DeployOptions(mode="push", commit=release.commit)
            environment, pod = next_environment(self.config, environment).name, None
        plan = await plan_deploy(fleet, environment, pod=pod, options=options)
        if kind == "restart":
            plan = replace(plan, mode="restart", release="the running release")
        return plan, options

    async def _run(
        self: Any,
        fleet: Any,
        kind: str,
        plan: DeployPlan,
        pod: str | None,
        options: DeployOptions,
    ) -> DeployResult:
        from podtui.ops.deploy import deploy, restart

        def on_event(event: StepEvent) -> None:
            if event.phase == Phase.FAILED:
                self.notify(event_line(event), severity="warning", timeout=10)

        if kind == "restart":
            return await restart(
                fleet, plan.environment, pod=pod, confirmed=True, on_event=on_event
            )
        return await deploy(
            fleet, plan.environment, pod=pod, options=options, on_event=on_event
        )

    def _announce(self: Any, kind: str, result: DeployResult) -> None:
        from podtui.ops.deploy import summary_lines

        self.notify(
            "\n".join(summary_lines(result)),
            title=f"{kind.capitalize()} {'done' if result.ok else 'FAILED'}",
            severity="information" if result.ok else "error",
            timeout=20,
        )
        self.action_refresh_pods()
