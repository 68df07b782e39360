"""The dashboard against real local pods: what a person sees and can do."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.message import Message

from podtui.config import Config, load_config
from podtui.model import (
    AppState,
    Health,
    Pod,
    PodReport,
    PodStatus,
    Release,
    SSHEndpoint,
)
from podtui.ops.fleet import Fleet
from podtui.providers.local import LocalPods
from podtui.tui.app import PodtuiApp
from podtui.tui.confirm_screen import ConfirmScreen
from podtui.tui.help_screen import HelpScreen
from podtui.tui.log_pane import LogPanes
from podtui.tui.messages import PodInspected
from podtui.tui.pod_table import PodTable, environment_key

LOCAL_POD_NAMES = ("dev-1", "dev-2", "staging-1", "prod-1")
REPORT_TIMEOUT = 60.0
"""Generous: right after the fixture is up, the services may still be starting."""

Reports = dict[str, list[PodReport]]


class ReportWatcher:
    """A message hook that collects pod reports and tells when enough arrived."""

    def __init__(self, done: Callable[[Reports], bool]) -> None:
        self.done = done
        self.reports: Reports = {}
        self.event = asyncio.Event()

    def __call__(self, message: Message) -> None:
        if isinstance(message, PodInspected):
            report = message.report
            self.reports.setdefault(report.pod.name, []).append(report)
            if self.done(self.reports):
                self.event.set()

    async def wait(self) -> None:
        await asyncio.wait_for(self.event.wait(), REPORT_TIMEOUT)


def all_healthy(reports: Reports) -> bool:
    return all(
        name in reports and reports[name][-1].healthy for name in LOCAL_POD_NAMES
    )


def cell(table: PodTable, row: str, column: str) -> str:
    return str(table.get_cell(row, column))


@pytest.fixture
def unreachable_config(config_path: Path, tmp_path: Path) -> Config:
    """The local pods plus an `ssh` pod on a 127.0.0.1 port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    text = config_path.read_text() + (
        '\n[environments.lab]\nprovider = "ssh"\nprotected = false\n\n'
        '[[environments.lab.pods]]\nname = "lab-1"\n'
        f'host = "127.0.0.1"\nport = {closed_port}\n'
    )
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path)


async def test_pods_appear_with_their_healthy_status(
    local_pods: LocalPods, local_config: Config
) -> None:
    watcher = ReportWatcher(all_healthy)
    app = PodtuiApp(local_config)
    async with app.run_test(size=(120, 30), message_hook=watcher) as pilot:
        await watcher.wait()
        await pilot.pause()
        table = app.query_one(PodTable)
        for name in LOCAL_POD_NAMES:
            assert cell(table, f"local:{name}", "status") == "running"
            assert cell(table, f"local:{name}", "health").startswith("✓")
        assert "4 healthy" in str(app.query_one("#summary").render())


async def test_an_unreachable_pod_shows_its_reason_while_local_pods_stay_healthy(
    local_pods: LocalPods, unreachable_config: Config
) -> None:
    def lab_down_then_every_local_pod_healthy_again(reports: Reports) -> bool:
        if "lab-1" not in reports:
            return False
        seen = len(reports["lab-1"])
        return seen >= 2 and all_healthy(reports)

    watcher = ReportWatcher(lab_down_then_every_local_pod_healthy_again)
    app = PodtuiApp(unreachable_config)
    async with app.run_test(size=(160, 30), message_hook=watcher) as pilot:
        await watcher.wait()
        await pilot.pause()
        table = app.query_one(PodTable)
        report = watcher.reports["lab-1"][-1]
        assert report.status == PodStatus.UNREACHABLE
        assert cell(table, "ssh:lab-1", "status") == "unreachable"
        assert cell(table, "ssh:lab-1", "health").startswith("✗ cannot connect")

        table.move_cursor(row=table.get_row_index("ssh:lab-1"))
        await pilot.pause()
        detail = str(app.query_one("#detail").render())
        assert report.error is not None
        assert report.error.removeprefix("lab-1: ") in detail


async def test_protected_environments_are_marked_in_words(
    local_pods: LocalPods, local_config: Config
) -> None:
    app = PodtuiApp(local_config)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        table = app.query_one(PodTable)
        assert cell(table, environment_key("staging"), "status").strip() == "PROTECTED"
        assert cell(table, environment_key("production"), "status").strip() == (
            "PROTECTED"
        )
        assert cell(table, environment_key("dev"), "status") == ""


async def test_question_mark_opens_the_help_and_escape_closes_it(
    local_pods: LocalPods, local_config: Config
) -> None:
    app = PodtuiApp(local_config)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        listed = dict((description, key) for key, description in app.screen.keys)
        assert listed["Inspect every pod now"] == "^r / f5"
        assert listed["Show the keys"] == "?"

        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_q_quits_closing_the_fleet_and_leaving_local_pods_running(
    local_pods: LocalPods, local_config: Config
) -> None:
    watcher = ReportWatcher(all_healthy)
    fleet = Fleet(local_config)
    app = PodtuiApp(local_config, fleet=fleet)
    async with app.run_test(size=(120, 30), message_hook=watcher) as pilot:
        await watcher.wait()
        await pilot.press("q")
    assert app.return_code == 0
    assert not app.is_running
    assert fleet._http is None and not fleet._sessions
    assert local_pods.host_pid() is not None


async def test_restarting_a_pod_of_a_protected_environment_asks_first(
    local_pods: LocalPods, local_config: Config
) -> None:
    watcher = ReportWatcher(all_healthy)
    app = PodtuiApp(local_config)
    async with app.run_test(size=(120, 30), message_hook=watcher) as pilot:
        await watcher.wait()
        await pilot.pause()
        app.request_restart(app.pods["local:prod-1"])
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)

        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        assert not [w for w in app.workers if w.group == "restart"]


# --- layout, with fixed reports ---------------------------------------------

LAYOUT_CONFIG = """\
[project]
name = "voice-pipeline"
repo = "."
deploy = ["voice_pipeline"]
requirements = "voice_pipeline/requirements.txt"

[ui]
refresh_interval = 60.0

[environments.dev]
provider = "local"

[[environments.dev.pods]]
name = "dev-1"

[[environments.dev.pods]]
name = "dev-2"

[environments.staging]
provider = "local"
protected = true

[[environments.staging.pods]]
name = "staging-1"

[environments.cloud]
provider = "runpod"
protected = true

[[environments.cloud.pods]]
name = "cloud-1"
pod_id = "abc123"

[environments.lab]
provider = "ssh"

[[environments.lab.pods]]
name = "lab-1"
host = "127.0.0.1"
port = 2222
"""


class FixedFleet(Fleet):
    """A fleet whose pods and reports are given, so the layout is the same
    on every run (real latencies, uptimes and commits vary)."""

    def __init__(self, config: Config, reports: list[PodReport]) -> None:
        super().__init__(config)
        self.reports = {report.pod.id: report for report in reports}

    async def pods(self) -> list[Pod]:
        return [report.pod for report in self.reports.values()]

    async def inspect(self, pod: Pod) -> PodReport:
        return self.reports[pod.id]


def fixed_reports() -> list[PodReport]:
    def pod(name: str, environment: str, provider: str, **extra: object) -> Pod:
        endpoint = SSHEndpoint(host="127.0.0.1", port=2222)
        return Pod(
            id=f"{provider}:{name}",
            name=name,
            environment=environment,
            provider=provider,
            status=PodStatus.RUNNING,
            ssh=endpoint,
            http_port=8000,
            **extra,  # type: ignore[arg-type]
        )

    release = Release(commit="3f9c2a1b7d0e", deployed_at="2026-01-05T10:00:00+00:00")
    dirty = Release(commit="8e1d4c0a55aa", dirty=True)
    running = PodStatus.RUNNING
    return [
        PodReport(
            pod("dev-1", "dev", "local"),
            running,
            app=AppState(True, pid=101, uptime=192),
            health=Health(True, 200, 12.0, "ok"),
            release=release,
        ),
        PodReport(
            pod("dev-2", "dev", "local"),
            running,
            app=AppState(True, pid=102, uptime=7500),
            health=Health(True, 200, 9.0, "ok"),
            release=dirty,
        ),
        PodReport(
            pod("staging-1", "staging", "local"),
            running,
            app=AppState(False, exit_code=1),
            health=Health(False, None, None, "connection refused"),
            release=release,
        ),
        PodReport(
            pod("cloud-1", "cloud", "runpod", gpu="RTX 4090", cost_per_hour=0.69),
            running,
            app=AppState(True, pid=7, uptime=200000),
            health=Health(True, 200, 48.0, "ok"),
            release=release,
        ),
        PodReport(
            pod("lab-1", "lab", "ssh"),
            PodStatus.UNREACHABLE,
            error="lab-1: cannot connect to 127.0.0.1:2222: connection refused",
        ),
    ]


def test_the_dashboard_lays_out_environments_pods_and_details(
    snap_compare: Callable[..., bool], tmp_path: Path
) -> None:
    """You should see five pods in four sections (staging and cloud marked
    PROTECTED), a dirty release with `*`, GPU and $/hr for the cloud pod, and
    the unreachable lab-1 highlighted with its full reason under the table."""
    path = tmp_path / "config.toml"
    path.write_text(LAYOUT_CONFIG)
    config = load_config(path)
    reports = fixed_reports()
    app = PodtuiApp(config, fleet=FixedFleet(config, reports), start_local_pods=False)

    async def until_every_report_shows(pilot: object) -> None:
        while len(app.reports) < len(reports):
            await app.workers.wait_for_complete()
            await pilot.pause()  # type: ignore[attr-defined]
        app.query_one(PodTable).move_cursor(row=9)
        await pilot.pause()  # type: ignore[attr-defined]

    assert snap_compare(
        app, terminal_size=(100, 20), run_before=until_every_report_shows
    )


async def test_the_command_palette_opens_a_pods_log_by_name(
    local_pods: LocalPods, local_config: Config
) -> None:
    watcher = ReportWatcher(all_healthy)
    app = PodtuiApp(local_config, fleet=Fleet(local_config))
    async with app.run_test(size=(140, 30), message_hook=watcher) as pilot:
        await watcher.wait()
        await pilot.press("ctrl+p")
        await pilot.press(*"Logs of staging-1")
        await pilot.press("enter")
        panes = app.query_one(LogPanes)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REPORT_TIMEOUT
        while not panes.panes:
            assert loop.time() < deadline, "no log pane opened"
            await pilot.pause(0.02)
        opened = [pane.pod for pane in panes.panes]
        highlighted = app.query_one(PodTable).highlighted_key()

    assert opened == ["staging-1"]
    assert highlighted == "local:staging-1"


async def test_a_pod_that_hangs_holds_up_neither_the_other_pods_nor_the_keys(
    local_pods: LocalPods, config_path: Path, tmp_path: Path
) -> None:
    with socket.socket() as hung:
        # It accepts connections (the kernel does) and never says a word.
        hung.bind(("127.0.0.1", 0))
        hung.listen()
        text = config_path.read_text() + (
            '\n[environments.lab]\nprovider = "ssh"\nprotected = false\n\n'
            "[environments.lab.timeouts]\nconnect = 120.0\n\n"
            '[[environments.lab.pods]]\nname = "lab-1"\n'
            f'host = "127.0.0.1"\nport = {hung.getsockname()[1]}\n'
        )
        path = tmp_path / "config.toml"
        path.write_text(text)
        watcher = ReportWatcher(all_healthy)
        app = PodtuiApp(load_config(path))
        async with app.run_test(size=(160, 30), message_hook=watcher) as pilot:
            await watcher.wait()
            table = app.query_one(PodTable)
            hung_status = cell(table, "ssh:lab-1", "status")
            await pilot.press("question_mark")
            help_opened = isinstance(app.screen, HelpScreen)

    assert "lab-1" not in watcher.reports
    assert hung_status != "running"
    assert help_opened
