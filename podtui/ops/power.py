"""Stopping, resuming and terminating pods, and telling which ones sit idle.

Only RunPod pods have a machine podtui can stop: local pods and ssh hosts are
always on. What each operation costs the user is said before it runs (the
`*_WARNING` texts, shown by both front ends), and what a resumed pod came
back with is said after.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from podtui.config import EnvironmentConfig
from podtui.errors import PodtuiError
from podtui.model import Pod, PodReport, PodStatus

if TYPE_CHECKING:
    from podtui.ops.fleet import Fleet

log = logging.getLogger(__name__)

POWERED_PROVIDERS = ("runpod",)
"""Providers whose pods can be stopped, resumed and terminated."""

STOP_WARNING = (
    "Stopping keeps the pod's volume (e.g. /workspace) and loses its container "
    "disk: everything outside the volume, including an app directory there, "
    "is gone when it resumes (deploy again then). A stopped pod costs only "
    "its volume's storage."
)
RESUME_WARNING = (
    "A resumed pod goes back to the same machine. If that machine's GPUs were "
    "taken while it was stopped, RunPod can start it with no GPU."
)
TERMINATE_WARNING = (
    "Terminating deletes the pod with its container disk AND its volume. "
    "This cannot be undone."
)


@dataclass(frozen=True)
class Resumed:
    """A pod after a resume, and whether it got the GPUs it had."""

    pod: Pod
    gpus_wanted: int

    @property
    def without_gpu(self) -> bool:
        return not self.pod.gpu_count

    @property
    def message(self) -> str:
        """What the pod came back with, in one sentence for the user."""
        pod = self.pod
        if self.without_gpu:
            return (
                f"{pod.name} resumed WITHOUT a GPU: its machine has none free. "
                "Stop it and resume later, or move the workload to a new pod."
            )
        gpus = pod.gpu or f"{pod.gpu_count} GPU(s)"
        cost = f" at ${pod.cost_per_hour:.2f}/hr" if pod.cost_per_hour else ""
        fewer = (
            f" (it had {self.gpus_wanted})"
            if (pod.gpu_count or 0) < self.gpus_wanted
            else ""
        )
        return f"{pod.name} resumed with {gpus}{fewer}{cost}"


def can_power(pod: Pod) -> bool:
    """Whether podtui can stop, resume or terminate this pod."""
    return pod.provider in POWERED_PROVIDERS


def _require_power(pod: Pod) -> None:
    if not can_power(pod):
        raise PodtuiError(
            f"{pod.name} is a {pod.provider} pod: podtui cannot stop or start "
            "its machine",
            hint="only RunPod pods can be stopped and resumed from podtui",
        )


async def find_pod(fleet: Fleet, name: str) -> Pod:
    """The pod called `name`, as its provider sees it now."""
    pods = await fleet.pods()
    for pod in pods:
        if pod.name == name:
            return pod
    errors = "; ".join(f"{env}: {m}" for env, m in fleet.provider_errors.items())
    known = ", ".join(pod.name for pod in pods) or "none"
    raise PodtuiError(
        f"no pod named {name!r}" + (f" (and {errors})" if errors else ""),
        hint=f"known pods: {known}",
    )


async def stop_pod(fleet: Fleet, pod: Pod) -> Pod:
    """Stop a running pod's machine; its volume is kept. The pod afterwards."""
    _require_power(pod)
    if pod.status == PodStatus.STOPPED:
        raise PodtuiError(f"{pod.name} is already stopped")
    await fleet.runpod.api.stop_pod(pod.id)
    await fleet.drop_session(pod)
    log.info("stopped pod %s (%s)", pod.name, pod.id)
    return await _read_again(fleet, pod)


async def resume_pod(fleet: Fleet, pod: Pod) -> Resumed:
    """Resume a stopped pod with the GPUs it had; say what it came back with."""
    _require_power(pod)
    if pod.status != PodStatus.STOPPED:
        raise PodtuiError(f"{pod.name} is not stopped ({pod.status.value})")
    gpus = pod.gpu_count or 1
    await fleet.runpod.api.resume_pod(pod.id, gpus)
    after = await _read_again(fleet, pod)
    log.info("resumed pod %s (%s) with %s GPU(s)", pod.name, pod.id, after.gpu_count)
    return Resumed(after, gpus)


async def terminate_pod(fleet: Fleet, pod: Pod, typed_name: str) -> None:
    """Delete a pod for good, only when `typed_name` is exactly its name."""
    _require_power(pod)
    if typed_name != pod.name:
        raise PodtuiError(
            f"not terminating {pod.name}: the name typed was {typed_name!r}",
            hint="type the pod's name exactly to confirm",
        )
    await fleet.runpod.api.terminate_pod(pod.id)
    await fleet.drop_session(pod)
    log.info("terminated pod %s (%s)", pod.name, pod.id)


async def _read_again(fleet: Fleet, pod: Pod) -> Pod:
    from podtui.providers.runpod import runpod_pod

    environment = fleet.config.environment(pod.environment)
    data = await fleet.runpod.api.get_pod(pod.id)
    if data is None:
        raise PodtuiError(f"{pod.name}: RunPod no longer lists pod {pod.id}")
    pod_config = next((p for p in environment.pods if p.pod_id == pod.id), None)
    after = runpod_pod(environment, data, pod_config)
    if pod_config is None and after.name != pod.name:
        after = replace(after, name=pod.name)
    return after


# --- idle pods ----------------------------------------------------------------


def idle_seconds(
    report: PodReport,
    environment: EnvironmentConfig,
    last_activity: float | None,
    now: float,
) -> float | None:
    """How long a running, stoppable pod has gone unused, if past the threshold.

    Used means started, deployed to, or given a log view or hot fix (the
    fleet's `activity`). None when the pod is not idle or it is not known.
    """
    pod = report.pod
    if not can_power(pod) or report.status != PodStatus.RUNNING:
        return None
    moments = [last_activity]
    if pod.uptime is not None:
        moments.append(now - pod.uptime)
    if report.release is not None and report.release.deployed_at:
        moments.append(_epoch(report.release.deployed_at))
    known = [moment for moment in moments if moment is not None]
    if not known:
        return None
    idle = now - max(known)
    return idle if idle >= environment.idle_minutes * 60 else None


def idle_note(pod: Pod, seconds: float) -> str:
    """The idle mark's text, with the stop it suggests."""
    from podtui.present import format_uptime

    cost = f", ${pod.cost_per_hour:.2f}/hr" if pod.cost_per_hour else ""
    return (
        f"{pod.name} idle for {format_uptime(seconds)}{cost}: "
        f"stop it with `s` or `podtui stop {pod.name}`"
    )


def _epoch(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


async def apply_power(fleet: Fleet, pod: Pod, action: str) -> str:
    """Run what a power dialog answered ("stop", "resume" or "terminate", the
    name already typed); the sentence to show the user."""
    if action == "stop":
        after = await stop_pod(fleet, pod)
        return f"{after.name} {after.status.value}: its volume is kept"
    if action == "resume":
        return (await resume_pod(fleet, pod)).message
    if action == "terminate":
        await terminate_pod(fleet, pod, pod.name)
        return f"{pod.name} terminated"
    raise ValueError(f"unknown power action {action!r}")
