"""How one pod's report reads in the dashboard: the text of each cell.

Pure functions from plain data to Rich text, so that what a person sees for
a given report is decided in one place and can be tested without an app.
Every state carries a word or a mark besides its colour.
"""

from __future__ import annotations

from rich.text import Text

from podtui.model import Health, LocalHead, Pod, PodReport, PodStatus

REASON_WIDTH = 28
"""How much of an error fits in a row by default; the detail line shows all."""

HEALTHY_MARK = "✓"
UNHEALTHY_MARK = "✗"

STATUS_STYLES = {
    PodStatus.RUNNING: "green",
    PodStatus.STARTING: "yellow",
    PodStatus.STOPPED: "yellow",
    PodStatus.UNREACHABLE: "bold red",
    PodStatus.UNKNOWN: "dim",
}


def human_duration(seconds: float | None) -> str:
    """A duration the way people say it: 45s, 3m12s, 2h05m, 4d03h."""
    if seconds is None or seconds < 0:
        return "-"
    whole = int(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def truncate(text: str, width: int = REASON_WIDTH) -> str:
    """The first line of `text`, cut to `width` characters with an ellipsis."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def status_cell(report: PodReport | None, *, local_pods_starting: bool) -> Text:
    """The pod's status word, or that it is being checked or started."""
    if report is None:
        return Text("checking…", style="dim")
    pod = report.pod
    if (
        local_pods_starting
        and pod.provider == "local"
        and report.status == PodStatus.STOPPED
    ):
        return Text("starting…", style="yellow")
    return Text(report.status.value, style=STATUS_STYLES[report.status])


def health_cell(report: PodReport | None, width: int = REASON_WIDTH) -> Text:
    """✓ and the latency when healthy, else ✗ and why, cut to `width`."""
    if report is None:
        return Text("")
    if report.error and report.health is None:
        reason = report.error.removeprefix(f"{report.pod.name}: ")
        return Text(f"{UNHEALTHY_MARK} {truncate(reason, width)}", style="red")
    if report.health is None:
        return Text("-", style="dim")
    return _health_text(report.health, width)


def _health_text(health: Health, width: int) -> Text:
    if health.healthy:
        latency = (
            f" {health.latency_ms:.0f} ms" if health.latency_ms is not None else ""
        )
        return Text(f"{HEALTHY_MARK}{latency}", style="green")
    reason = health.detail or (
        f"HTTP {health.status_code}" if health.status_code else "unhealthy"
    )
    return Text(f"{UNHEALTHY_MARK} {truncate(reason, width)}", style="red")


RELATION_MARKS = {
    "head": ("=HEAD", "green"),
    "behind": ("behind", "yellow"),
    "other": ("≠HEAD", "yellow"),
}
"""How a release relates to the local HEAD, in a word, and its style."""
REBUILD_MARK = "⚠rebuild"


def release_cell(report: PodReport | None, local: LocalHead | None = None) -> Text:
    """The short commit of the release, with `*` when its tree was dirty, then
    how it relates to the local HEAD and whether the image needs a rebuild."""
    if report is None or report.release is None:
        text = Text("-", style="dim")
    else:
        release = report.release
        text = Text(release.short, style="yellow" if release.dirty else "")
        relation = local.relation(release) if local is not None else None
        if relation is not None:
            word, style = RELATION_MARKS[relation]
            text.append(f" {word}", style=style)
    if report is not None and local is not None and local.needs_image(report):
        text.append(f" {REBUILD_MARK}", style="bold red")
    return text


def local_detail(report: PodReport, local: LocalHead | None) -> str:
    """How the pod compares with the local repository, for the detail line."""
    if local is None:
        return ""
    parts = []
    relation = local.relation(report.release)
    head = (local.commit or "")[:8]
    if relation == "head":
        parts.append(f"runs local HEAD {head}")
    elif relation == "behind":
        parts.append(f"behind local HEAD {head}")
    elif relation == "other":
        parts.append(f"not local HEAD {head} (another branch, or not pushed here)")
    if relation is not None and local.dirty:
        parts.append("the local tree has uncommitted changes")
    if local.needs_image(report):
        image = str(report.image_requirements_hash)[:12]
        wanted = str(local.requirements_hash)[:12]
        parts.append(
            f"IMAGE REBUILD NEEDED: the image was built with requirements {image}, "
            f"the local ones are {wanted}"
        )
    return " · ".join(parts)


def drift_cell(count: int | None) -> Text:
    """How many files of the pod differ from its release; `-` when unknown."""
    if count is None:
        return Text("-", style="dim")
    if count == 0:
        return Text("none", style="dim")
    return Text(f"{count} file{'s' if count > 1 else ''}", style="bold yellow")


def uptime_cell(report: PodReport | None) -> Text:
    """How long the app has been running, or how it ended."""
    if report is None or report.app is None:
        return Text("-", style="dim")
    if not report.app.running:
        ended = report.app.exit_code
        return Text("stopped" if ended is None else f"exit {ended}", style="yellow")
    return Text(human_duration(report.app.uptime))


def gpu_cell(pod: Pod) -> Text:
    return Text(pod.gpu or "-", style="" if pod.gpu else "dim")


def cost_cell(pod: Pod, *, idle: bool = False) -> Text:
    """Dollars per hour, or `-` when the provider does not say; marked when the
    pod sits idle, since that is money spent for nothing."""
    if pod.cost_per_hour is None:
        return Text("-", style="dim")
    cost = Text(f"{pod.cost_per_hour:.2f}")
    if idle:
        cost.append(" idle", style="bold yellow")
    return cost


def report_detail(report: PodReport) -> str:
    """One full line about a pod for the detail panel: nothing cut short."""
    pod = report.pod
    parts = [f"{pod.name} ({pod.environment}, {pod.provider})", report.status.value]
    if report.error:
        parts.append(report.error.removeprefix(f"{pod.name}: "))
    if report.app is not None:
        parts.append(_app_detail(report))
    if report.health is not None:
        parts.append(_health_detail(report.health))
    if report.release is not None and report.release.commit:
        release = report.release
        deployed = " ".join(
            part
            for part in (
                release.deployed_at,
                release.deployed_by and f"by {release.deployed_by}",
            )
            if part
        )
        parts.append(
            f"release {release.short}" + (f" deployed {deployed}" if deployed else "")
        )
    return " · ".join(parts)


def _app_detail(report: PodReport) -> str:
    app = report.app
    assert app is not None
    if app.running:
        pid = f" pid {app.pid}" if app.pid is not None else ""
        return f"app{pid} up {human_duration(app.uptime)}"
    if app.exit_code is not None:
        return f"app exited with code {app.exit_code}"
    return "app not running"


def _health_detail(health: Health) -> str:
    if health.healthy:
        latency = (
            f" in {health.latency_ms:.0f} ms" if health.latency_ms is not None else ""
        )
        return f"healthy{latency}"
    code = f" (HTTP {health.status_code})" if health.status_code else ""
    return f"unhealthy{code}: {health.detail or 'no detail'}"
