"""Cost totals per environment and idle marks for RunPod pods."""

from __future__ import annotations

from pathlib import Path

from podtui.config import EnvironmentConfig, parse_config
from podtui.model import Pod, PodReport, PodStatus, Release
from podtui.ops.power import idle_note, idle_seconds
from podtui.present import cost_totals, format_cost_totals

NOW = 1_800_000_000.0
CONFIG = """\
[project]
name = "demo"
deploy = ["src"]

[environments.cloud]
provider = "runpod"
pod_name_pattern = "^voice-"
idle_minutes = 30
"""


def cloud() -> EnvironmentConfig:
    return parse_config(CONFIG, Path("config.toml")).environment("cloud")


def report(
    name: str = "voice-1",
    *,
    environment: str = "cloud",
    status: PodStatus = PodStatus.RUNNING,
    cost: float | None = 0.5,
    uptime: float | None = 7200,
    provider: str = "runpod",
    deployed_at: str | None = None,
) -> PodReport:
    pod = Pod(
        id=name,
        name=name,
        environment=environment,
        provider=provider,
        status=status,
        ssh=None,
        http_port=8000,
        cost_per_hour=cost,
        uptime=uptime,
    )
    release = Release(commit="abc", deployed_at=deployed_at) if deployed_at else None
    return PodReport(pod, status, release=release)


def test_totals_add_up_the_pods_that_hold_a_machine_per_environment() -> None:
    reports = [
        report("a", cost=0.5),
        report("b", cost=0.25, status=PodStatus.STARTING),
        report("c", cost=1.0, status=PodStatus.STOPPED),
        report("d", cost=0.75, environment="batch"),
        report("e", cost=None, provider="local", environment="dev"),
    ]

    assert cost_totals(reports) == {"cloud": 0.75, "batch": 0.75}
    assert format_cost_totals(reports) == (
        "cloud $0.75/hr · batch $0.75/hr · total $1.50/hr"
    )


def test_no_known_costs_give_no_totals_line() -> None:
    assert format_cost_totals([report(cost=None)]) == ""


def test_a_pod_up_past_the_threshold_with_no_activity_is_idle() -> None:
    seconds = idle_seconds(report(uptime=3600), cloud(), None, NOW)

    assert seconds == 3600
    assert idle_note(report().pod, 3600) == (
        "voice-1 idle for 1h00m, $0.50/hr: stop it with `s` or `podtui stop voice-1`"
    )


def test_a_recent_log_view_or_hot_fix_keeps_a_pod_from_being_idle() -> None:
    assert idle_seconds(report(uptime=7200), cloud(), NOW - 60, NOW) is None


def test_a_recent_deploy_keeps_a_pod_from_being_idle() -> None:
    deployed = "2027-01-15T07:50:00+00:00"  # ten minutes before NOW

    assert idle_seconds(report(deployed_at=deployed), cloud(), None, NOW) is None


def test_a_pod_just_started_is_not_idle() -> None:
    assert idle_seconds(report(uptime=60), cloud(), None, NOW) is None


def test_stopped_and_local_pods_are_never_marked_idle() -> None:
    stopped = report(status=PodStatus.STOPPED)
    local = report(provider="local")

    assert idle_seconds(stopped, cloud(), None, NOW) is None
    assert idle_seconds(local, cloud(), None, NOW) is None
