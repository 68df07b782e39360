"""How pod reports read as text, shared by the dashboard and the CLI."""

from __future__ import annotations

from typing import Any

from podtui.model import PodReport


def format_uptime(seconds: float | None) -> str:
    """`42s`, `3m12s`, `2h05m`, `3d04h`; `-` when unknown."""
    if seconds is None:
        return "-"
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_health(report: PodReport) -> str:
    health = report.health
    if health is None:
        return "-"
    if health.healthy:
        latency = (
            f" {health.latency_ms:.0f} ms" if health.latency_ms is not None else ""
        )
        return f"ok{latency}"
    return health.detail or "unhealthy"


def format_cost(cost: float | None) -> str:
    return "-" if cost is None else f"${cost:.2f}"


def report_fields(report: PodReport) -> dict[str, str]:
    """The columns of one pod, as the table shows them."""
    pod = report.pod
    status = report.status.value
    if report.app is not None and not report.app.running:
        status = f"{status} (app stopped)"
    return {
        "environment": pod.environment,
        "pod": pod.name,
        "provider": pod.provider,
        "status": status,
        "health": format_health(report),
        "release": report.release.short if report.release else "-",
        "uptime": format_uptime(report.app.uptime if report.app else None),
        "gpu": pod.gpu or "-",
        "cost": format_cost(pod.cost_per_hour),
    }


def report_json(report: PodReport) -> dict[str, Any]:
    """One pod as `podtui status --json` prints it."""
    pod = report.pod
    health = report.health
    release = report.release
    return {
        "environment": pod.environment,
        "pod": pod.name,
        "id": pod.id,
        "provider": pod.provider,
        "status": report.status.value,
        "healthy": report.healthy,
        "health": None
        if health is None
        else {
            "status_code": health.status_code,
            "latency_ms": health.latency_ms,
            "detail": health.detail,
        },
        "app_running": report.app.running if report.app else None,
        "uptime": report.app.uptime if report.app else None,
        "release": release.commit if release else None,
        "dirty": release.dirty if release else None,
        "requirements_hash": release.requirements_hash if release else None,
        "gpu": pod.gpu,
        "cost_per_hour": pod.cost_per_hour,
        "pod_uptime": pod.uptime,
        "error": report.error,
    }


def render_table(rows: list[dict[str, str]], columns: dict[str, str]) -> str:
    """A plain aligned text table; `columns` maps field to heading."""
    widths = {
        key: max([len(title)] + [len(row[key]) for row in rows])
        for key, title in columns.items()
    }
    lines = ["  ".join(title.ljust(widths[key]) for key, title in columns.items())]
    for row in rows:
        lines.append("  ".join(row[key].ljust(widths[key]) for key in columns))
    return "\n".join(line.rstrip() for line in lines)


BILLED_STATUSES = ("running", "starting", "unreachable")
"""A pod in one of these states holds its machine, so it costs its $/hr."""


def cost_totals(reports: list[PodReport]) -> dict[str, float]:
    """$/hr of the pods that hold a machine, per environment, in report order."""
    totals: dict[str, float] = {}
    for report in reports:
        cost = report.pod.cost_per_hour
        if cost is None or report.status.value not in BILLED_STATUSES:
            continue
        environment = report.pod.environment
        totals[environment] = totals.get(environment, 0.0) + cost
    return totals


def format_cost_totals(reports: list[PodReport]) -> str:
    """`cloud $0.52/hr · batch $0.26/hr · total $0.78/hr`; empty with no costs."""
    totals = cost_totals(reports)
    if not totals:
        return ""
    parts = [f"{name} ${cost:.2f}/hr" for name, cost in totals.items()]
    parts.append(f"total ${sum(totals.values()):.2f}/hr")
    return " · ".join(parts)
