"""Hot fixes: edit a file of a pod's app directory, save, restart, copy back.

The tier-1 loop without ssh and nano: open a file from the pod, change it,
save. Saving writes the file atomically through the pod agent, refusing when
the pod's copy changed since it was opened (so two people never overwrite
each other unknowingly), and checks the written hash. The edit is then copied
back into the local working tree (see `podtui.ops.copyback`), and for code
files the service is restarted and must pass its health check. Progress goes
to an event sink, as for deploys; nothing here prints.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import posixpath
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from podtui.config import Config, EnvironmentConfig
from podtui.errors import AgentError, PodError, PodtuiError
from podtui.model import Pod, Release
from podtui.ops.copyback import (
    CopyBack,
    checked_relpath,
    copy_back,
    local_path,
    require_text,
    resolve_conflict,
    sha256,
)
from podtui.ops.deploy import (
    ConfirmationRequired,
    HealthGateFailed,
    health_gate,
    log_tail,
)
from podtui.ops.events import EventSink, StepTimer, ignore_events
from podtui.ops.fleet import Fleet, PodSession
from podtui.remote.service import MANIFEST_FILE

log = logging.getLogger(__name__)

CODE_SUFFIXES = frozenset(
    {".py", ".toml", ".yaml", ".yml", ".json", ".sh", ".cfg", ".ini", ".env"}
)
"""Files the service reads at start: saving one restarts it (restart_on_save)."""


class PodFileChanged(PodError):
    """The pod's file changed after it was opened: saving would overwrite that."""

    def __init__(self, pod: str, relpath: str) -> None:
        super().__init__(
            pod,
            f"{relpath} changed on the pod since you opened it",
            hint="reload it, overwrite it, or look at the diff first",
        )
        self.relpath = relpath


@dataclass(frozen=True)
class PodFile:
    """A text file of a pod's app directory as podtui last read or wrote it."""

    pod: Pod
    relpath: str
    """Relative to the app directory (and so to the repository)."""
    data: bytes
    """The content at open time or at the last save."""
    sha256: str | None
    """The pod's hash of `data`; None when the file does not exist yet."""

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


@dataclass
class SaveOutcome:
    """What one save did: the write, the copy-back, the restart and health."""

    file: PodFile
    """The file as saved: the base of the next save."""
    copy_back: CopyBack | None = None
    copy_back_error: str | None = None
    restarted: bool = False
    healthy: bool | None = None
    """None when the service was not restarted."""
    error: str | None = None
    """Why the restart or health check failed, after the file was saved."""
    log_tail: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.copy_back_error is None


def pod_path(environment: EnvironmentConfig, relpath: str) -> str:
    """The path on the pod of an app-directory file (relative to its home)."""
    return posixpath.join(environment.app_dir, checked_relpath(relpath))


def should_restart(environment: EnvironmentConfig, relpath: str) -> bool:
    """Whether saving `relpath` restarts the service, per `restart_on_save`."""
    if environment.restart_on_save == "always":
        return True
    if environment.restart_on_save == "never":
        return False
    return PurePosixPath(relpath).suffix in CODE_SUFFIXES


def require_confirmed(environment: EnvironmentConfig, confirmed: bool) -> None:
    if environment.protected and not confirmed:
        raise ConfirmationRequired(
            f"{environment.name} is protected: changing its files needs confirmation",
            hint="confirm in the app",
        )


async def list_manifest(session: PodSession) -> dict[str, str]:
    """Every file of the pod's app directory now: relative path to sha256."""
    answer = await session.agent.call(
        "manifest",
        {"root": session.environment.app_dir},
        timeout=session.environment.timeouts.command,
    )
    files = answer.get("files", {})
    return dict(files) if isinstance(files, dict) else {}


async def list_files(session: PodSession) -> list[str]:
    """Every file of the pod's app directory, as sorted relative paths."""
    return sorted(await list_manifest(session))


async def open_file(session: PodSession, relpath: str) -> PodFile:
    """Read a text file of the app directory; binary files are refused."""
    answer = await session.agent.call(
        "read",
        {"path": pod_path(session.environment, relpath)},
        timeout=session.environment.timeouts.command,
    )
    data = base64.b64decode(answer["data"])
    require_text(relpath, data)
    return PodFile(session.pod, relpath, data, str(answer["sha256"]))


def new_file(pod: Pod, relpath: str) -> PodFile:
    """A file to create on the pod: saving refuses if it appeared meanwhile."""
    return PodFile(pod, checked_relpath(relpath), b"", None)


async def write_file(
    session: PodSession, opened: PodFile, data: bytes, *, overwrite: bool = False
) -> PodFile:
    """Write atomically, checking the pod still has what was opened."""
    request: dict[str, Any] = {
        "path": pod_path(session.environment, opened.relpath),
        "data": base64.b64encode(data).decode("ascii"),
    }
    if not overwrite:
        request["expected_sha256"] = opened.sha256
    try:
        answer = await session.agent.call(
            "write", request, timeout=session.environment.timeouts.command
        )
    except AgentError as error:
        if error.answer.get("conflict"):
            raise PodFileChanged(session.pod.name, opened.relpath) from None
        raise
    digest = hashlib.sha256(data).hexdigest()
    if answer.get("sha256") != digest:
        raise PodError(
            session.pod.name,
            f"{opened.relpath} did not arrive intact on the pod (hash "
            f"{str(answer.get('sha256'))[:12]}, sent {digest[:12]})",
        )
    return replace(opened, data=data, sha256=digest)


async def restart_gated(
    fleet: Fleet, session: PodSession, timer: StepTimer, outcome: SaveOutcome
) -> None:
    """Restart the service and wait for its health; failures go in `outcome`."""
    try:
        async with timer.step("restart") as step:
            state = await session.restart_app()
            outcome.restarted = True
            step.detail = f"pid {state.pid}"
        async with timer.step("health") as step:
            detail = await health_gate(fleet, session, None)
            if detail is not None:
                outcome.log_tail = await log_tail(session)
                raise HealthGateFailed(session.pod.name, detail)
            step.detail = "healthy"
        outcome.healthy = True
    except PodtuiError as error:
        outcome.healthy = False
        outcome.error = timer.reason(error)


async def save_hotfix(
    fleet: Fleet,
    opened: PodFile,
    data: bytes,
    *,
    restart: bool | None = None,
    overwrite: bool = False,
    confirmed: bool = False,
    copy_back_base: PodFile | None = None,
    on_event: EventSink = ignore_events,
) -> SaveOutcome:
    """Save an edited file to its pod, copy it back, restart if it is code.

    Raises PodFileChanged (nothing written) when the pod's file changed since
    `opened` was read, unless `overwrite`. `restart` None follows the
    environment's `restart_on_save`. `copy_back_base` is the pod's file as
    the local file last agreed with it, copy-back's common base; by default
    `opened`. A base that did not exist on the pod means there is none.
    """
    pod = opened.pod
    session = fleet.session(pod)
    require_confirmed(session.environment, confirmed)
    require_text(opened.relpath, data)
    fleet.note_activity(pod)
    timer = StepTimer(pod.name, on_event)
    async with timer.step("save") as step:
        saved = await write_file(session, opened, data, overwrite=overwrite)
        step.detail = f"{len(data)} bytes, sha256 {saved.sha256 and saved.sha256[:12]}"
    outcome = SaveOutcome(saved, timings=timer.timings)
    agreed = copy_back_base or opened
    base = agreed.data if agreed.sha256 is not None else None
    await copy_back_step(fleet.config, timer, outcome, base)
    if restart is None:
        restart = should_restart(session.environment, opened.relpath)
    if restart:
        await restart_gated(fleet, session, timer, outcome)
    else:
        timer.skip("restart", "not a code file")
    return outcome


async def copy_back_step(
    config: Config, timer: StepTimer, outcome: SaveOutcome, base: bytes | None
) -> None:
    """Copy the saved file back; a failure is reported, the save stands."""
    saved = outcome.file
    try:
        async with timer.step("copy-back") as step:
            outcome.copy_back = await asyncio.to_thread(
                copy_back,
                config,
                saved.pod.name,
                saved.relpath,
                saved.data,
                base=base,
            )
            step.detail = outcome.copy_back.status.value
    except PodtuiError as error:
        outcome.copy_back_error = timer.reason(error)


# --- copy back without the editor: against the release ---------------------------


async def release_record(session: PodSession) -> tuple[Release | None, dict[str, str]]:
    """The pod's release and its app-directory manifest as released (path to hash).

    A pod without a manifest record (never deployed by podtui) has an empty one.
    """
    release = await session.release()
    try:
        answer = await session.agent.call("read", {"path": MANIFEST_FILE})
        files = json.loads(base64.b64decode(answer["data"]))
    except (AgentError, ValueError):
        return release, {}
    return release, files if isinstance(files, dict) else {}


async def released_content(
    config: Config,
    session: PodSession,
    release: Release | None,
    relpath: str,
    digest: str,
) -> bytes | None:
    """The content a file had in the pod's release, found by its hash.

    Looked for in the local repository (at the release's commit, at HEAD, in
    the working tree) and in the pod's git checkout; None when nowhere.
    """
    found = await asyncio.to_thread(local_candidates, config, release, relpath, digest)
    if found is not None:
        return found
    checkout = posixpath.join(session.environment.workspace_dir, config.project.name)
    try:
        answer = await session.agent.call(
            "read", {"path": posixpath.join(checkout, relpath)}
        )
    except PodError:
        return None
    data = base64.b64decode(answer["data"])
    return data if sha256(data) == digest else None


def local_candidates(
    config: Config, release: Release | None, relpath: str, digest: str
) -> bytes | None:
    """The first local version of `relpath` whose sha256 is `digest`."""
    repo = config.project.repo
    revisions = [release.commit] if release and release.commit else []
    for revision in [*revisions, "HEAD"]:
        data = git_show(repo, revision, relpath)
        if data is not None and sha256(data) == digest:
            return data
    try:
        data = local_path(config, relpath).read_bytes()
    except (OSError, PodtuiError):
        return None
    return data if sha256(data) == digest else None


def git_show(repo: Path, revision: str, relpath: str) -> bytes | None:
    """A file's bytes at a revision of the local repository, or None."""
    result = subprocess.run(
        ["git", "-C", str(repo), "show", f"{revision}:{relpath}"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return result.stdout if result.returncode == 0 else None


async def pull_file(
    fleet: Fleet, pod: Pod, relpath: str, *, choice: str | None = None
) -> CopyBack:
    """Copy one pod file back, with the release as the base.

    The local file is replaced only when it is unchanged since the release;
    otherwise `choice` (merge or keep-both) settles the conflict, and without
    one the returned copy-back still `needs_choice` and nothing was written.
    """
    session = fleet.session(pod)
    fleet.note_activity(pod)
    opened, (release, manifest) = await asyncio.gather(
        open_file(session, relpath), release_record(session)
    )
    released = manifest.get(relpath)
    base = None
    if released is not None:
        base = await released_content(fleet.config, session, release, relpath, released)
    copy = await asyncio.to_thread(
        copy_back,
        fleet.config,
        pod.name,
        relpath,
        opened.data,
        base=base,
        released_sha256=released,
    )
    if copy.needs_choice and choice is not None:
        copy = await asyncio.to_thread(resolve_conflict, copy, choice)
    return copy
