"""Deploy, promote and restart from the dashboard, on the highlighted row.

Mixed into the app: `d` deploys the highlighted environment (or pod), `p`
promotes the highlighted environment's healthy release to the next one, `r`
restarts with a health gate. Protected environments ask first, naming the
environment, the pods and the release. While the operation runs, a progress
view shows each pod's steps and times, then the summary; the summary also
arrives as a notification (and failed steps too, once the view is closed).
The table refreshes when the operation ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from textual.message import Message

from podtui.errors import PodtuiError
from podtui.model import LocalHead
from podtui.ops.events import Phase, StepEvent, event_line
from podtui.tui.confirm_screen import ConfirmScreen
from podtui.tui.deploy_dialog import DeployConfirmDialog
from podtui.tui.deploy_progress import DeployProgressScreen, steps_of
from podtui.tui.pod_table import ENVIRONMENT_PREFIX, PodTable

if TYPE_CHECKING:
    from podtui.ops.deploy import DeployOptions, DeployPlan, DeployResult

log = logging.getLogger(__name__)

LOCAL_HEAD_INTERVAL = 5.0
"""Seconds between reads of the local repository's HEAD (git runs each time)."""


class LocalHeadRead(Message):
    """The local repository's HEAD was read, and pods' releases placed against it."""

    def __init__(self, local: LocalHead) -> None:
        super().__init__()
        self.local = local


class DeployActions:
    """The deploy keys of the app; expects the app's `pods`, `config` and fleet."""

    local_head: LocalHead | None = None
    """The local HEAD as last read, for the release column and detail line."""
    _local_head_read_at: float = float("-inf")

    def refresh_local_head(self: Any) -> None:
        """Read the local HEAD again, off the event loop, at most every few seconds."""
        now = time.monotonic()
        if now - self._local_head_read_at < LOCAL_HEAD_INTERVAL:
            return
        self._local_head_read_at = now
        commits = {
            report.release.commit
            for report in self.reports.values()
            if report.release is not None and report.release.commit
        }
        self.run_worker(
            self._read_local_head(commits),
            name="read the local HEAD",
            group="local-head",
            exclusive=True,
            exit_on_error=False,
        )

    async def _read_local_head(self: Any, commits: set[str]) -> None:
        def read() -> LocalHead:
            # The deploy machinery (git) loads on first use, in this thread.
            from podtui.ops.deploy import read_local_head

            return read_local_head(self.config, commits)

        try:
            local = await asyncio.to_thread(read)
        except (ImportError, OSError, ValueError) as error:
            log.info("cannot read the local HEAD: %s", error)
            return
        self.post_message(LocalHeadRead(local))

    def on_local_head_read(self: Any, message: LocalHeadRead) -> None:
        if self.closing_dashboard:
            return
        self.local_head = message.local
        self.query_one(PodTable).show_local_head(message.local)
        self.show_detail()

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
        self: Any,
        kind: str,
        environment: str,
        pod: str | None,
        override_image: bool = False,
    ) -> None:
        """Plan, confirm, run with a progress view, then announce the outcome.

        `override_image`: the user chose to deploy although the pods' image was
        built with other requirements (which is itself their confirmation).
        """
        fleet = await self._get_fleet()
        try:
            plan, options = await self._plan(fleet, kind, environment, pod)
            options = replace(options, allow_requirements_change=override_image)
            if plan.protected and not override_image:
                verb = kind.capitalize()
                dialog = DeployConfirmDialog(plan, verb=verb)
                if not await self.push_screen_wait(dialog):
                    self.notify(f"{verb} to {plan.environment} cancelled.")
                    return
            options = replace(options, confirmed=True)
            progress = DeployProgressScreen(
                progress_title(kind, plan), plan.pods, steps_of(kind)
            )
            await self.push_screen(progress)
            try:
                result = await self._run(fleet, kind, plan, pod, options, progress)
            except PodtuiError as error:
                progress.end(False, [str(error)])
                raise
        except PodtuiError as error:
            self.notify(
                str(error), title=f"Could not {kind}", severity="error", timeout=15
            )
            return
        self._announce(kind, result, progress)
        if kind != "restart" and not override_image and stopped_for_image(result):
            await self._offer_image_override(kind, environment, pod, plan, progress)

    async def _offer_image_override(
        self: Any,
        kind: str,
        environment: str,
        pod: str | None,
        plan: DeployPlan,
        progress: DeployProgressScreen,
    ) -> None:
        """A deploy stopped for an image rebuild: deploy anyway, if asked to."""
        dialog = ConfirmScreen(
            f"{kind.capitalize()} {plan.release} to {plan.environment} anyway?",
            "The requirements changed since the pods' image was built: the new "
            "dependencies stay missing until the image is rebuilt (podtui image "
            "build), and the service may fail its health check and roll back.",
            confirm_label=f"{kind.capitalize()} anyway",
        )
        if not await self.push_screen_wait(dialog):
            return
        if self.screen is progress:
            await progress.dismiss(None)
        await self._operation(kind, environment, pod, override_image=True)

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
        progress: DeployProgressScreen,
    ) -> DeployResult:
        from podtui.ops.deploy import deploy, restart

        def on_event(event: StepEvent) -> None:
            progress.sink(event)
            if event.phase == Phase.FAILED and self.screen is not progress:
                self.notify(event_line(event), severity="warning", timeout=10)

        if kind == "restart":
            return await restart(
                fleet, plan.environment, pod=pod, confirmed=True, on_event=on_event
            )
        return await deploy(
            fleet, plan.environment, pod=pod, options=options, on_event=on_event
        )

    def _announce(
        self: Any, kind: str, result: DeployResult, progress: DeployProgressScreen
    ) -> None:
        from podtui.ops.deploy import summary_lines

        lines = summary_lines(result)
        progress.end(result.ok, lines)
        self.notify(
            "\n".join(lines),
            title=f"{kind.capitalize()} {'done' if result.ok else 'FAILED'}",
            severity="information" if result.ok else "error",
            timeout=20,
        )
        self.action_refresh_pods()


def stopped_for_image(result: DeployResult) -> bool:
    """Whether a pod refused the deploy because its image needs a rebuild."""
    return any(o.needs_image and not o.ok for o in result.outcomes)


def progress_title(kind: str, plan: DeployPlan) -> str:
    """What the progress view says runs: e.g. `Deploy 1a2b3c4d to dev (push)`."""
    if kind == "restart":
        return f"Restart {', '.join(plan.pods)} in {plan.environment}"
    return f"{kind.capitalize()} {plan.release} to {plan.environment} ({plan.mode})"
