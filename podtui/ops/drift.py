"""Drift: files of a pod's app directory that differ from its release.

A deploy records the manifest of the app directory as released (relative
path to sha256). Drift is today's manifest against that record: files
changed, added or removed since, typically hot fixes not yet copied back.
Each drifted file can be copied back (`pull_file`) or reverted on the pod to
its released content, found by its hash in the local repository or the
pod's checkout.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from enum import StrEnum

from podtui.errors import PodError, PodtuiError
from podtui.model import Pod, PodStatus, Release
from podtui.ops.events import EventSink, StepTimer, ignore_events
from podtui.ops.fleet import Fleet
from podtui.ops.hotfix import (
    PodFile,
    SaveOutcome,
    list_manifest,
    pod_path,
    release_record,
    released_content,
    require_confirmed,
    restart_gated,
    should_restart,
    write_file,
)

log = logging.getLogger(__name__)


class DriftState(StrEnum):
    CHANGED = "changed"
    ADDED = "added"
    """On the pod, not in the release."""
    REMOVED = "removed"
    """In the release, gone from the pod."""


@dataclass(frozen=True)
class DriftEntry:
    """One file that differs from the release."""

    relpath: str
    state: DriftState
    released_sha256: str | None
    pod_sha256: str | None


@dataclass
class PodDrift:
    """The drift of one pod, or why it could not be measured."""

    pod: Pod
    entries: list[DriftEntry] = field(default_factory=list)
    release: Release | None = None
    error: str | None = None

    @property
    def count(self) -> int:
        return len(self.entries)


def compare(released: dict[str, str], current: dict[str, str]) -> list[DriftEntry]:
    """The entries in which `current` differs from `released`, by path."""
    entries = []
    for relpath in sorted(set(released) | set(current)):
        was, now = released.get(relpath), current.get(relpath)
        if was == now:
            continue
        state = (
            DriftState.ADDED
            if was is None
            else DriftState.REMOVED
            if now is None
            else DriftState.CHANGED
        )
        entries.append(DriftEntry(relpath, state, was, now))
    return entries


async def pod_drift(fleet: Fleet, pod: Pod) -> PodDrift:
    """The drift of one pod; never raises for an expected failure."""
    if pod.ssh is None or pod.status in (PodStatus.STOPPED, PodStatus.UNREACHABLE):
        return PodDrift(pod, error=pod.reason or f"{pod.status.value}")
    session = fleet.session(pod)
    try:
        # A timeout scope, not wait_for around gather: cancelling that pair
        # leaves a future whose error nobody reads (noise at exit).
        async with asyncio.timeout(session.environment.timeouts.command):
            (release, released), current = await asyncio.gather(
                release_record(session), list_manifest(session)
            )
    except TimeoutError:
        return PodDrift(pod, error="no answer in time")
    except PodtuiError as error:
        return PodDrift(pod, error=error.message.removeprefix(f"{pod.name}: "))
    if not released:
        return PodDrift(pod, release=release, error="no release manifest on the pod")
    return PodDrift(pod, compare(released, current), release)


async def fleet_drift(fleet: Fleet, environment: str | None = None) -> list[PodDrift]:
    """The drift of every pod (of one environment), in config order."""
    if environment is not None:
        fleet.config.environment(environment)
    pods = [
        pod
        for pod in await fleet.pods()
        if environment is None or pod.environment == environment
    ]
    return list(await asyncio.gather(*(pod_drift(fleet, pod) for pod in pods)))


async def revert_file(
    fleet: Fleet,
    pod: Pod,
    entry: DriftEntry,
    *,
    confirmed: bool = False,
    on_event: EventSink = ignore_events,
) -> SaveOutcome:
    """Put a drifted file of a pod back to its released content (or remove it).

    The pod's file must still be what the drift saw; the service is then
    restarted for code files, as after a save.
    """
    session = fleet.session(pod)
    require_confirmed(session.environment, confirmed)
    fleet.note_activity(pod)
    timer = StepTimer(pod.name, on_event)
    current = PodFile(pod, entry.relpath, b"", entry.pod_sha256)
    async with timer.step("revert") as step:
        if entry.released_sha256 is None:
            await remove_file(fleet, pod, entry)
            saved = PodFile(pod, entry.relpath, b"", None)
            step.detail = "removed: not in the release"
        else:
            data = await released(fleet, pod, entry)
            saved = await write_file(session, current, data)
            step.detail = "back to the released content"
    outcome = SaveOutcome(saved, timings=timer.timings)
    if should_restart(session.environment, entry.relpath):
        await restart_gated(fleet, session, timer, outcome)
    else:
        timer.skip("restart", "not a code file")
    return outcome


async def released(fleet: Fleet, pod: Pod, entry: DriftEntry) -> bytes:
    """The released content of a drifted file, or a PodError saying where to look."""
    assert entry.released_sha256 is not None
    session = fleet.session(pod)
    release = await session.release()
    data = await released_content(
        fleet.config, session, release, entry.relpath, entry.released_sha256
    )
    if data is None:
        raise PodError(
            pod.name,
            f"the released content of {entry.relpath} is neither in the local "
            "repository nor in the pod's checkout",
            hint="deploy again to bring the pod back to a release",
        )
    return data


async def remove_file(fleet: Fleet, pod: Pod, entry: DriftEntry) -> None:
    """Remove a file the release does not have, if it is still as seen."""
    session = fleet.session(pod)
    listed = await list_manifest(session)
    if listed.get(entry.relpath) != entry.pod_sha256:
        raise PodError(
            pod.name,
            f"{entry.relpath} changed on the pod since the drift was read",
            hint="refresh the drift and try again",
        )
    result = await session.connection.run(
        ["rm", "-f", "--", pod_path(session.environment, entry.relpath)],
        timeout=session.environment.timeouts.command,
    )
    if not result.ok:
        raise PodError(
            pod.name,
            f"cannot remove {entry.relpath}: "
            f"{result.stderr.decode(errors='replace').strip()}",
        )


def drift_lines(drifts: list[PodDrift]) -> list[str]:
    """`podtui drift` output: a line per pod, then one per drifted file."""
    lines = []
    for drift in drifts:
        name = f"{drift.pod.environment}/{drift.pod.name}"
        if drift.error:
            lines.append(f"{name}: drift unknown ({drift.error})")
            continue
        release = drift.release.short if drift.release else "-"
        if not drift.entries:
            lines.append(f"{name}: no drift from release {release}")
            continue
        lines.append(f"{name}: {drift.count} file(s) differ from release {release}")
        lines.extend(f"    {e.state.value:<8} {e.relpath}" for e in drift.entries)
    return lines
