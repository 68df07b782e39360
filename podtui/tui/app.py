"""The podtui app: a live dashboard of every pod of every environment.

The app lists the pods of the config, inspects each one in its own worker and
updates that pod's row as soon as its report arrives, so a slow or hanging
pod never holds up the others or the screen. It refreshes every
`refresh_interval` seconds. When the config has local pods, it starts them
first (in a thread), as a fresh user expects to see pods come up.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.widgets.data_table import RowDoesNotExist
from textual.worker import Worker, WorkerState

from podtui.config import Config
from podtui.errors import PodtuiError
from podtui.model import Pod, PodReport
from podtui.ops.power import apply_power, can_power, idle_note, idle_seconds
from podtui.present import format_cost_totals
from podtui.tui import cells
from podtui.tui.commands import PodCommands
from podtui.tui.confirm_screen import ConfirmScreen
from podtui.tui.deploy_actions import DeployActions
from podtui.tui.help_screen import HelpScreen, KeyHelp
from podtui.tui.hotfix_actions import HotfixActions
from podtui.tui.log_pane import LogPane, LogPanes
from podtui.tui.messages import (
    LocalPodsFailed,
    LocalPodsStarted,
    PodInspected,
    PodsListed,
    ServiceRestarted,
    ServiceRestartFailed,
)
from podtui.tui.pod_table import ENVIRONMENT_PREFIX, PodTable
from podtui.tui.power_dialog import PowerDialog

if TYPE_CHECKING:
    from podtui.ops.fleet import Fleet

log = logging.getLogger(__name__)

FLEET_MODULE = "podtui.ops.fleet"
DASHBOARD_ACTIONS = frozenset(
    {
        "power",
        "deploy",
        "promote",
        "restart_pods",
        "logs",
        "merged_logs",
        "edit",
        "drift",
        "focus_pods",
    }
)
"""Actions on the pod table's highlighted row: only while the dashboard shows."""


class PodtuiApp(HotfixActions, DeployActions, App[None]):
    """The dashboard: one table of all pods, refreshed live."""

    CSS_PATH = "app.tcss"
    TITLE = "podtui"
    COMMANDS = App.COMMANDS | {PodCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+r,f5",
            "refresh_pods",
            "Refresh",
            tooltip="Inspect every pod now",
            id="refresh",
        ),
        Binding(
            "s",
            "power",
            "Stop/resume",
            tooltip="Stop a running RunPod pod or resume a stopped one",
            id="power",
        ),
        Binding(
            "d",
            "deploy",
            "Deploy",
            tooltip="Deploy the local release to the highlighted environment or pod",
            id="deploy",
        ),
        Binding(
            "p",
            "promote",
            "Promote",
            tooltip="Deploy the release healthy here to the next environment",
            id="promote",
        ),
        Binding(
            "r",
            "restart_pods",
            "Restart",
            tooltip="Restart the highlighted environment or pod, health-gated",
            id="restart",
        ),
        Binding(
            "l",
            "logs",
            "Logs",
            tooltip="Open or close the highlighted pod's log pane",
            id="logs",
        ),
        Binding(
            "m",
            "merged_logs",
            "Merged",
            tooltip="Switch the log panes to one view ordered by time, and back",
            id="merged-logs",
            show=False,
        ),
        Binding(
            "e",
            "edit",
            "Edit",
            tooltip="Hot fix: edit a file of the highlighted pod, save, restart",
            id="edit",
        ),
        Binding(
            "c",
            "drift",
            "Drift",
            tooltip="Files that differ from the release: diff, copy back, revert",
            id="drift",
        ),
        Binding(
            "question_mark",
            "help",
            "Help",
            tooltip="Show the keys",
            key_display="?",
            id="help",
        ),
        Binding(
            "q", "quit", "Quit", tooltip="Quit (local pods keep running)", id="quit"
        ),
        Binding(
            "escape",
            "focus_pods",
            "Pods",
            tooltip="Back to the pod table",
            id="focus-pods",
            show=False,
        ),
    ]

    def __init__(
        self,
        config: Config,
        *,
        fleet: Fleet | None = None,
        start_local_pods: bool = True,
        ready_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.ready_file = ready_file
        """For start-up benchmarks: once every pod shows healthy, write the
        seconds since the process started here, and quit."""
        self.config = config
        """The loaded config: environments, pods and the refresh interval."""
        self.fleet = fleet
        """The fleet, made on first use unless one was given."""
        self.start_local_pods = start_local_pods and any(
            environment.provider == "local" for environment in config.environments
        )
        """Whether to bring the config's local pods up when the app starts."""
        self.local_pods_starting = False
        """True while the local pods are being started."""
        self.pods: dict[str, Pod] = {}
        """The pods of the last listing, by id, in config order."""
        self.reports: dict[str, PodReport] = {}
        """The latest report of each pod, by pod id."""
        self.provider_errors: dict[str, str] = {}
        """Environment name to why its provider failed at the last listing."""
        self._listing: Worker[None] | None = None
        self._inspections: dict[str, Worker[None]] = {}
        if fleet is None:
            # SSH and HTTP libraries take a few hundred ms to import: start now,
            # while Textual sets the screen up, so the first refresh needn't wait.
            threading.Thread(
                target=importlib.import_module, args=(FLEET_MODULE,), daemon=True
            ).start()

    def compose(self) -> ComposeResult:
        yield Static(id="summary")
        yield PodTable(id="pods")
        yield Static(id="detail")
        yield LogPanes(max_lines=self.config.log_lines, id="logs")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(PodTable).show_sections(self.config.environments, [], {})
        if self.start_local_pods:
            self.local_pods_starting = True
            self.run_worker(
                self._start_local_pods(),
                name="start local pods",
                group="local-pods",
                exit_on_error=False,
            )
        self.show_summary()
        self.action_refresh_pods()
        self.set_interval(self.config.refresh_interval, self.action_refresh_pods)

    async def on_unmount(self) -> None:
        """Close the fleet's connections; local pods keep running, as real pods do."""
        if self.fleet is not None:
            await self.fleet.close()

    @property
    def closing_dashboard(self) -> bool:
        """Whether the dashboard's widgets are gone: the app is closing, and
        what a worker reports late has nowhere to go."""
        return not self.query(PodTable)

    # -- workers -------------------------------------------------------------

    async def _get_fleet(self) -> Fleet:
        """The fleet; its module (SSH, HTTP) is imported off the event loop."""
        if self.fleet is None:
            module = await asyncio.to_thread(importlib.import_module, FLEET_MODULE)
            if self.fleet is None:
                self.fleet = module.Fleet(self.config)
        assert self.fleet is not None
        return self.fleet

    async def _start_local_pods(self) -> None:
        module = await asyncio.to_thread(
            importlib.import_module, "podtui.providers.local"
        )
        try:
            created = await asyncio.to_thread(module.LocalPods().up, self.config)
        except PodtuiError as error:
            self.post_message(LocalPodsFailed(str(error)))
            return
        self.post_message(LocalPodsStarted(tuple(created)))

    async def _list_pods(self) -> None:
        fleet = await self._get_fleet()
        pods = await fleet.pods()
        self.post_message(PodsListed(tuple(pods), dict(fleet.provider_errors)))

    async def _inspect(self, pod: Pod) -> None:
        fleet = await self._get_fleet()
        self.post_message(PodInspected(await fleet.inspect(pod)))

    async def _restart_service(self, pod: Pod) -> None:
        from podtui.ops.fleet import wait_healthy

        fleet = await self._get_fleet()
        environment = self.config.environment(pod.environment)
        try:
            app = await fleet.session(pod).restart_app()
        except PodtuiError as error:
            self.post_message(ServiceRestartFailed(pod, str(error)))
            return
        health = await wait_healthy(fleet, pod, timeout=environment.timeouts.command)
        self.post_message(ServiceRestarted(pod, app, health))

    def inspect_pod(self, pod: Pod) -> None:
        """Inspect one pod in its own worker, unless it is still being inspected."""
        running = self._inspections.get(pod.id)
        if running is not None and running.is_running:
            return
        self._inspections[pod.id] = self.run_worker(
            self._inspect(pod),
            name=f"inspect {pod.name}",
            group="inspect",
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that failed unexpectedly becomes an error notification."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            log.error("%s failed: %r", event.worker.name, error)
            self.notify(
                str(error) or type(error).__name__,
                title=f"Could not {event.worker.name}",
                severity="error",
                timeout=10,
            )

    # -- what the workers found ----------------------------------------------

    @on(PodsListed)
    def _pods_listed(self, message: PodsListed) -> None:
        if self.closing_dashboard:
            return
        self.pods = {pod.id: pod for pod in message.pods}
        self._announce_provider_errors(message.provider_errors)
        table = self.query_one(PodTable)
        table.show_sections(
            self.config.environments, message.pods, message.provider_errors
        )
        for pod in message.pods:
            report = self.reports.get(pod.id)
            if report is not None:
                table.show_report(report, local_pods_starting=self.local_pods_starting)
            self.inspect_pod(pod)
        self._after_first_round()
        self.show_summary()
        self.show_detail()

    def _announce_provider_errors(self, errors: dict[str, str]) -> None:
        """Notify each provider failure once, when it first appears or changes."""
        for environment, reason in errors.items():
            if self.provider_errors.get(environment) != reason:
                self.notify(
                    reason,
                    title=f"Could not list the pods of {environment}",
                    severity="error",
                    timeout=10,
                )
        self.provider_errors = errors

    @on(PodInspected)
    def _pod_inspected(self, message: PodInspected) -> None:
        report = message.report
        if self.closing_dashboard:
            return
        self.reports[report.pod.id] = report
        self.drift_after_report(report)
        table = self.query_one(PodTable)
        table.show_report(report, local_pods_starting=self.local_pods_starting)
        table.show_idle(report.pod.id, self._idle_seconds(report) is not None)
        self.show_summary()
        if table.highlighted_key() == report.pod.id:
            self.show_detail()
        self._after_first_round()
        if self.ready_file is not None and self._all_healthy():
            self.ready_file.write_text(f"{process_age():.3f}\n")
            self.exit()

    def _after_first_round(self) -> None:
        """Secondary reads (drift, local HEAD) wait until every pod was shown
        once, so they never slow down the first view of the fleet."""
        if not self.pods or any(pod_id not in self.reports for pod_id in self.pods):
            return
        self.measure_drift(list(self.pods.values()))
        self.refresh_local_head()

    def _all_healthy(self) -> bool:
        """Whether every listed pod's latest report is healthy (and shown)."""
        reports = [self.reports.get(pod_id) for pod_id in self.pods]
        return bool(reports) and all(r is not None and r.healthy for r in reports)

    @on(LocalPodsStarted)
    def _local_pods_started(self, message: LocalPodsStarted) -> None:
        self.local_pods_starting = False
        if message.created:
            self.notify(", ".join(message.created), title="Created local pods")
        self.show_summary()
        self.action_refresh_pods()

    @on(LocalPodsFailed)
    def _local_pods_failed(self, message: LocalPodsFailed) -> None:
        self.local_pods_starting = False
        self.notify(
            message.reason,
            title="Could not start the local pods",
            severity="error",
            timeout=15,
        )
        self.show_summary()

    @on(ServiceRestarted)
    def _service_restarted(self, message: ServiceRestarted) -> None:
        if message.health.healthy:
            self.notify(f"{message.pod.name} is healthy", title="Service restarted")
        else:
            self.notify(
                f"{message.pod.name}: {message.health.detail or 'no answer'}",
                title="Service restarted but not healthy",
                severity="warning",
                timeout=10,
            )
        self.inspect_pod(message.pod)

    @on(ServiceRestartFailed)
    def _service_restart_failed(self, message: ServiceRestartFailed) -> None:
        self.notify(
            message.reason,
            title=f"Could not restart the service of {message.pod.name}",
            severity="error",
            timeout=10,
        )
        self.inspect_pod(message.pod)

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self.show_detail()

    # -- what the screen shows -------------------------------------------------

    def show_summary(self) -> None:
        """The header line: project, totals and what podtui is doing."""
        reports = [
            self.reports[pod_id] for pod_id in self.pods if pod_id in self.reports
        ]
        running = sum(1 for report in reports if report.status == "running")
        healthy = sum(1 for report in reports if report.healthy)
        summary = Text.assemble(
            ("podtui", "bold"),
            "  ",
            (self.config.project.name, "bold"),
            "   ",
            f"{len(self.pods)} pods · {running} running · ",
            (f"{healthy} healthy", "green" if healthy == len(self.pods) else "yellow"),
        )
        costs = format_cost_totals(reports)
        if costs:
            summary.append(f" · {costs}")
        idle = sum(1 for report in reports if self._idle_seconds(report) is not None)
        if idle:
            summary.append(f" · {idle} idle", style="bold yellow")
        if self.local_pods_starting:
            summary.append("   starting local pods…", style="italic yellow")
        self.query_one("#summary", Static).update(summary)

    def show_detail(self) -> None:
        """The line under the table: everything about the highlighted row."""
        key = self.query_one(PodTable).highlighted_key()
        self.query_one("#detail", Static).update(self._detail(key))

    def _detail(self, key: str | None) -> Text:
        if key is None:
            return Text("")
        if key.startswith(ENVIRONMENT_PREFIX):
            return self._environment_detail(key.removeprefix(ENVIRONMENT_PREFIX))
        report = self.reports.get(key)
        if report is None:
            pod = self.pods.get(key)
            return Text(f"{pod.name}: checking…" if pod else "")
        style = "red" if report.error else ""
        detail = Text(cells.report_detail(report), style=style)
        local = cells.local_detail(report, self.local_head)
        if local:
            detail.append(f" · {local}", style="bold" if "REBUILD" in local else "")
        idle = self._idle_seconds(report)
        if idle is not None:
            detail.append(f" · {idle_note(report.pod, idle)}", style="bold yellow")
        return detail

    def _idle_seconds(self, report: PodReport) -> float | None:
        """How long a running RunPod pod has gone unused, once past its limit."""
        activity = self.fleet.activity.get(report.pod.id) if self.fleet else None
        environment = self.config.environment(report.pod.environment)
        return idle_seconds(report, environment, activity, time.time())

    def _environment_detail(self, name: str) -> Text:
        environment = self.config.environment(name)
        count = sum(1 for pod in self.pods.values() if pod.environment == name)
        detail = Text(f"{name} ({environment.provider}): {count} pods")
        if environment.protected:
            detail.append(" · PROTECTED: changes ask for confirmation", style="bold")
        error = self.provider_errors.get(name)
        if error:
            detail.append(f" · provider failed: {error}", style="red")
        return detail

    # -- actions -------------------------------------------------------------

    def action_refresh_pods(self) -> None:
        """List the pods again and inspect each one (skipping those still busy)."""
        if self.reports:
            self.refresh_local_head()
        if self._listing is not None and self._listing.is_running:
            return
        self._listing = self.run_worker(
            self._list_pods(), name="list pods", group="list", exit_on_error=False
        )

    def act_on(self, key: str, action: str) -> None:
        """Highlight a row (a pod id or an environment key), then run a pod key's
        action on it, as the command palette's commands do."""
        table = self.query_one(PodTable)
        try:
            table.move_cursor(row=table.get_row_index(key))
        except RowDoesNotExist:
            self.notify("That pod is no longer listed.", severity="warning")
            return
        self.call_later(self.run_action, action)

    def action_help(self) -> None:
        """Show the keys of the dashboard, as currently bound."""
        self.push_screen(HelpScreen(self._key_help()))

    def _key_help(self) -> list[KeyHelp]:
        """The keys shown in the footer (as remapped), grouped by action."""
        keys: dict[str, list[str]] = {}
        descriptions: dict[str, str] = {}
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show and binding.action != "command_palette":
                continue
            keys.setdefault(binding.action, []).append(self.get_key_display(binding))
            descriptions[binding.action] = binding.tooltip or binding.description
        descriptions["command_palette"] = "Command palette: every action, by name"
        help_lines = [("↑ / ↓", "Move between pods; the line below shows details")]
        help_lines += [(" / ".join(keys[a]), descriptions[a]) for a in keys]
        return help_lines

    def request_restart(self, pod: Pod) -> None:
        """Restart the service of `pod`, asking first in a protected environment."""
        environment = self.config.environment(pod.environment)
        if not environment.protected:
            self._restart(pod)
            return
        question = f"Restart the service of {pod.name}?"
        warning = f"{environment.name} is a PROTECTED environment."

        def answered(yes: bool | None) -> None:
            if yes:
                self._restart(pod)

        self.push_screen(
            ConfirmScreen(question, warning, confirm_label="Restart"), answered
        )

    def _restart(self, pod: Pod) -> None:
        self.notify(f"Restarting the service of {pod.name}…")
        self.run_worker(
            self._restart_service(pod),
            name=f"restart the service of {pod.name}",
            group="restart",
            exit_on_error=False,
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer the pod keys only on the dashboard itself, and stop/resume only
        when the config has RunPod environments.

        Over the editor or the drift list, `d` or `e` must not act on the pod
        table hidden below.
        """
        if action in DASHBOARD_ACTIONS and self.screen is not self.screen_stack[0]:
            return False
        if action == "power":
            return any(e.provider == "runpod" for e in self.config.environments)
        return True

    async def action_logs(self) -> None:
        """Open the highlighted pod's log pane, or close it if it is open.

        From inside a pane, `l` closes that pane and returns to the pod table.
        """
        focused_pane = self._focused_log_pane()
        if focused_pane is not None:
            self.query_one(PodTable).focus()
            await self.query_one(LogPanes).close_pane(focused_pane.pod)
            return
        pod = self.pods.get(self.query_one(PodTable).highlighted_key() or "")
        if pod is None:
            self.notify("Highlight a pod to see its log.", severity="warning")
            return
        panes = self.query_one(LogPanes)
        if panes.pane(pod.name) is not None:
            await panes.close_pane(pod.name)
            return
        from podtui.ops.logs import pod_tail

        fleet = await self._get_fleet()
        fleet.note_activity(pod)
        await panes.open_pane(pod.name, pod_tail(fleet.session(pod)))

    def _focused_log_pane(self) -> LogPane | None:
        if self.focused is None:
            return None
        return next(
            (w for w in self.focused.ancestors_with_self if isinstance(w, LogPane)),
            None,
        )

    def action_focus_pods(self) -> None:
        self.query_one(PodTable).focus()

    def action_merged_logs(self) -> None:
        self.query_one(LogPanes).toggle_merged()

    def action_power(self) -> None:
        """Stop the highlighted RunPod pod, or resume it if stopped, after asking."""
        pod = self.pods.get(self.query_one(PodTable).highlighted_key() or "")
        if pod is None or not can_power(pod):
            self.notify(
                "Only RunPod pods can be stopped and resumed.", severity="warning"
            )
            return

        def answered(action: str | None) -> None:
            if action:
                self.run_worker(
                    self._power(pod, action),
                    name=f"{action} {pod.name}",
                    group="power",
                    exit_on_error=False,
                )

        self.push_screen(PowerDialog(pod), answered)

    async def _power(self, pod: Pod, action: str) -> None:
        fleet = await self._get_fleet()
        self.notify(f"{action.capitalize()} {pod.name}…")
        try:
            message = await apply_power(fleet, pod, action)
        except PodtuiError as error:
            self.notify(
                str(error),
                title=f"Could not {action} {pod.name}",
                severity="error",
                timeout=10,
            )
            return
        self.notify(
            message,
            title=f"{action.capitalize()}: {pod.name}",
            severity="warning" if "WITHOUT a GPU" in message else "information",
            timeout=15,
        )
        self.action_refresh_pods()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The built-in palette commands, less those PodCommands already offers."""
        ours = {"Quit", "Keys"}
        for command in super().get_system_commands(screen):
            if command.title not in ours:
                yield command


def process_age() -> float:
    """Seconds since this process started, from the kernel's own record."""
    ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - ticks / os.sysconf("SC_CLK_TCK")
