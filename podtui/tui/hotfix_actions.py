"""Hot fixes and drift from the dashboard, on the highlighted pod.

Mixed into the app: `e` picks a file of the highlighted pod and opens it in
the editor (asking first on protected environments); `c` lists the drift of
the highlighted environment's pods (or all pods) with copy-back and revert.
The drift count of each pod is measured off the refresh path, when a pod is
first listed, when its release changes (a deploy) and after a hot fix, and
at most every `DRIFT_MAX_AGE` seconds otherwise.
"""

from __future__ import annotations

import time
from typing import Any

from textual.message import Message

from podtui.errors import PodtuiError
from podtui.model import Pod, PodReport, PodStatus, Release
from podtui.tui.confirm_screen import ConfirmScreen
from podtui.tui.pod_table import ENVIRONMENT_PREFIX, PodTable

DRIFT_MAX_AGE = 30.0
"""Seconds after which a refresh measures a pod's drift again."""


class DriftMeasured(Message):
    """The drift of one pod was measured (or could not be)."""

    def __init__(self, drift: Any) -> None:
        super().__init__()
        self.drift = drift
        """A `podtui.ops.drift.PodDrift`."""


class HotfixActions:
    """The hot-fix keys of the app; expects the app's `pods`, `config` and fleet."""

    def _drift_books(self: Any) -> tuple[dict[str, float], dict[str, Release | None]]:
        """When each pod's drift was last measured, and against which release."""
        measured = self.__dict__.setdefault("_drift_measured_at", {})
        releases = self.__dict__.setdefault("_drift_releases", {})
        return measured, releases

    def _highlighted_pod(self: Any) -> Pod | None:
        key = self.query_one(PodTable).highlighted_key() or ""
        return self.pods.get(key)

    # -- e: edit a file of a pod ---------------------------------------------------

    def action_edit(self: Any) -> None:
        """Pick a file of the highlighted pod and edit it: a hot fix."""
        pod = self._highlighted_pod()
        if pod is None:
            self.notify("Highlight a pod first.", severity="warning")
            return
        environment = self.config.environment(pod.environment)
        if not environment.protected:
            self._start_edit(pod, confirmed=False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._start_edit(pod, confirmed=True)

        self.push_screen(
            ConfirmScreen(
                f"Edit files of {pod.name} directly?",
                f"{environment.name} is a PROTECTED environment: a saved hot fix "
                "changes it at once.",
                confirm_label="Edit",
            ),
            answered,
        )

    def _start_edit(self: Any, pod: Pod, *, confirmed: bool) -> None:
        self.run_worker(
            self._edit(pod, confirmed),
            name=f"edit a file of {pod.name}",
            group="hotfix",
            exclusive=True,
            exit_on_error=False,
        )

    async def _edit(self: Any, pod: Pod, confirmed: bool) -> None:
        from podtui.ops.hotfix import list_files, new_file, open_file
        from podtui.tui.editor_screen import EditorScreen
        from podtui.tui.file_picker import FilePicker

        fleet = await self._get_fleet()
        session = fleet.session(pod)
        try:
            files = await list_files(session)
            path = await self.push_screen_wait(
                FilePicker(files, f"{pod.name}: open a file of the app directory")
            )
            if not path:
                return
            if path in files:
                opened = await open_file(session, path)
            else:
                opened = new_file(pod, path)
        except PodtuiError as error:
            self.notify(str(error), title="Cannot edit", severity="error", timeout=15)
            return
        await self.push_screen_wait(EditorScreen(fleet, opened, confirmed=confirmed))
        self.measure_drift([pod], force=True)

    # -- c: drift --------------------------------------------------------------------

    def action_drift(self: Any) -> None:
        """List the drift of the highlighted environment's pods (or every pod)."""
        key = self.query_one(PodTable).highlighted_key() or ""
        pods = list(self.pods.values())
        if key.startswith(ENVIRONMENT_PREFIX):
            name = key.removeprefix(ENVIRONMENT_PREFIX)
            pods = [pod for pod in pods if pod.environment == name]
        elif key in self.pods:
            pods = [
                pod for pod in pods if pod.environment == self.pods[key].environment
            ]
        self.run_worker(
            self._drift(pods), name="show drift", group="hotfix", exit_on_error=False
        )

    async def _drift(self: Any, pods: list[Pod]) -> None:
        from podtui.tui.drift_screen import DriftScreen

        fleet = await self._get_fleet()
        await self.push_screen_wait(DriftScreen(fleet, pods))
        self.measure_drift(pods, force=True)

    # -- drift counts in the table ---------------------------------------------------

    def measure_drift(self: Any, pods: list[Pod], *, force: bool = False) -> None:
        """Measure the drift of running pods whose count is missing or old."""
        measured, _ = self._drift_books()
        now = time.monotonic()
        for pod in pods:
            if pod.ssh is None or pod.status in (
                PodStatus.STOPPED,
                PodStatus.UNREACHABLE,
            ):
                continue
            if not force and now - measured.get(pod.id, -DRIFT_MAX_AGE) < DRIFT_MAX_AGE:
                continue
            measured[pod.id] = now
            self.run_worker(
                self._measure(pod),
                name=f"measure the drift of {pod.name}",
                group="drift",
                exit_on_error=False,
            )

    async def _measure(self: Any, pod: Pod) -> None:
        from podtui.ops.drift import pod_drift

        fleet = await self._get_fleet()
        self.post_message(DriftMeasured(await pod_drift(fleet, pod)))

    def on_drift_measured(self: Any, message: DriftMeasured) -> None:
        if self.closing_dashboard:
            return
        drift = message.drift
        _, releases = self._drift_books()
        releases[drift.pod.id] = drift.release
        self.query_one(PodTable).show_drift(
            drift.pod.id, None if drift.error else drift.count
        )

    def drift_after_report(self: Any, report: PodReport) -> None:
        """Measure again when a pod's release changed (it was deployed)."""
        _, releases = self._drift_books()
        seen = releases.get(report.pod.id)
        if report.release is not None and seen is not None:
            if report.release.to_dict() != seen.to_dict():
                self.measure_drift([report.pod], force=True)
