"""The table of every pod, grouped by environment.

Each environment is a section: a bold header row (with a PROTECTED mark for
protected environments and its provider's failure, if any) followed by one
row per pod. Rows are keyed by pod id, so a report updates its own row as
soon as it arrives, whatever the other pods are doing. Reasons for failures
are cut to the room the terminal leaves; the detail line shows them whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rich.text import Text
from textual import events
from textual.widgets import DataTable

from podtui.config import EnvironmentConfig
from podtui.model import LocalHead, Pod, PodReport
from podtui.tui import cells

COLUMNS = (
    ("pod", "pod"),
    ("provider", "provider"),
    ("status", "status"),
    ("health", "health"),
    ("release", "release"),
    ("drift", "drift"),
    ("uptime", "uptime"),
    ("gpu", "GPU"),
    ("cost", "$/hr"),
)
"""Column keys and their labels, in order."""

ENVIRONMENT_PREFIX = "env:"
"""Row keys of environment headers start with this; pod rows use the pod id."""

MIN_REASON_WIDTH = 8
MAX_REASON_WIDTH = 48


def environment_key(name: str) -> str:
    return ENVIRONMENT_PREFIX + name


class PodTable(DataTable[Text]):
    """Every pod of every environment, one row each, under its environment."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._row_keys: tuple[str, ...] = ()
        self._pods: dict[str, Pod] = {}
        self._reports: dict[str, PodReport] = {}
        self._local_pods_starting = False
        self._drift: dict[str, int | None] = {}
        self._idle: set[str] = set()
        """Ids of the pods marked idle (running, unused past their limit)."""
        self._local: LocalHead | None = None
        self.reason_width = cells.REASON_WIDTH
        """How many characters of a failure reason fit in the health column."""

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def on_resize(self, event: events.Resize) -> None:
        self._fit_reasons()

    def show_sections(
        self,
        environments: Sequence[EnvironmentConfig],
        pods: Iterable[Pod],
        provider_errors: Mapping[str, str],
    ) -> None:
        """Lay out one section per environment with its pods, in config order.

        The rows are rebuilt only when the set of pods changed; the cursor
        stays on the row it was on.
        """
        self._pods = {pod.id: pod for pod in pods}
        by_environment: dict[str, list[Pod]] = {e.name: [] for e in environments}
        for pod in self._pods.values():
            by_environment.setdefault(pod.environment, []).append(pod)
        wanted = tuple(
            key
            for environment in environments
            for key in (
                environment_key(environment.name),
                *(pod.id for pod in by_environment[environment.name]),
            )
        )
        if wanted != self._row_keys:
            self._rebuild(environments, by_environment, wanted)
        for environment in environments:
            self._show_header(environment, provider_errors.get(environment.name))
        for pod in self._pods.values():
            self._show_pod(pod)

    def show_report(self, report: PodReport, *, local_pods_starting: bool) -> None:
        """Update the row of the report's pod (ignored if it has no row yet)."""
        self._reports[report.pod.id] = report
        if self._local_pods_starting != local_pods_starting:
            self._local_pods_starting = local_pods_starting
            for pod in self._pods.values():
                self._show_pod(pod)
        elif report.pod.id in self._row_keys:
            self._show_pod(report.pod)
        self._fit_reasons()

    def show_drift(self, pod_id: str, count: int | None) -> None:
        """Show how many files of a pod differ from its release (None: unknown)."""
        self._drift[pod_id] = count
        if pod_id in self._row_keys:
            self._update(pod_id, "drift", cells.drift_cell(count))

    def show_idle(self, pod_id: str, idle: bool) -> None:
        """Mark a pod's cost as idle (stopping it is suggested), or unmark it."""
        if idle == (pod_id in self._idle):
            return
        if idle:
            self._idle.add(pod_id)
        else:
            self._idle.discard(pod_id)
        pod = self._pods.get(pod_id)
        if pod is not None and pod_id in self._row_keys:
            self._update(pod_id, "cost", cells.cost_cell(pod, idle=idle))

    def show_local_head(self, local: LocalHead) -> None:
        """Mark each release against the local HEAD (and the image's needs)."""
        if local == self._local:
            return
        self._local = local
        for pod_id in self._pods:
            if pod_id in self._row_keys:
                report = self._reports.get(pod_id)
                self._update(pod_id, "release", cells.release_cell(report, local))

    def highlighted_key(self) -> str | None:
        """The key of the row under the cursor: a pod id or an environment key."""
        if not self._row_keys or not 0 <= self.cursor_row < len(self._row_keys):
            return None
        return self._row_keys[self.cursor_row]

    def _rebuild(
        self,
        environments: Sequence[EnvironmentConfig],
        by_environment: Mapping[str, list[Pod]],
        wanted: tuple[str, ...],
    ) -> None:
        highlighted = self.highlighted_key()
        self.clear()
        blank = [Text("") for _ in COLUMNS]
        for environment in environments:
            self.add_row(*blank, key=environment_key(environment.name))
            for pod in by_environment[environment.name]:
                self.add_row(*blank, key=pod.id)
        self._row_keys = wanted
        if highlighted in wanted:
            self.move_cursor(row=wanted.index(highlighted), animate=False)

    def _show_header(self, environment: EnvironmentConfig, error: str | None) -> None:
        key = environment_key(environment.name)
        protected = (
            Text(" PROTECTED ", style="bold white on dark_red")
            if environment.protected
            else Text("")
        )
        failure = (
            Text(f"{cells.UNHEALTHY_MARK} provider failed", style="bold red")
            if error
            else Text("")
        )
        self._update(key, "pod", Text(environment.name, style="bold underline"))
        self._update(key, "provider", Text(environment.provider, style="bold"))
        self._update(key, "status", protected)
        self._update(key, "health", failure)

    def _show_pod(self, pod: Pod) -> None:
        report = self._reports.get(pod.id)
        if report is not None and report.pod.id == pod.id:
            pod = report.pod
        values = [
            Text(f"  {pod.name}"),
            Text(pod.provider, style="dim"),
            cells.status_cell(report, local_pods_starting=self._local_pods_starting),
            cells.health_cell(report, self.reason_width),
            cells.release_cell(report, self._local),
            cells.drift_cell(self._drift.get(pod.id)),
            cells.uptime_cell(report),
            cells.gpu_cell(pod),
            cells.cost_cell(pod, idle=pod.id in self._idle),
        ]
        for (column, _), value in zip(COLUMNS, values, strict=True):
            self._update(pod.id, column, value)

    def _fit_reasons(self) -> None:
        """Cut failure reasons to the room the other columns leave."""
        if not self.columns or not self.size.width:
            return
        others = sum(
            column.get_render_width(self)
            for key, column in self.columns.items()
            if key.value != "health"
        )
        room = self.size.width - others - 2 * self.cell_padding - 3
        width = max(MIN_REASON_WIDTH, min(MAX_REASON_WIDTH, room))
        if width != self.reason_width:
            self.reason_width = width
            for pod in self._pods.values():
                self._show_pod(pod)

    def _update(self, row: str, column: str, value: Text) -> None:
        self.update_cell(row, column, value, update_width=True)
