"""Quick deploy: sync the app directory, restart, gate on health, roll back.

A deploy brings every pod of an environment (or one pod) to one release:

1. connect, and take a `snapshot` of the pod (app manifest, release record,
   the requirements hash its image was built with, its git checkout's HEAD);
2. fetch the source: `git pull --ff-only` in the pod's checkout (`git`), a
   git bundle of the local commits into it (`push`), or the local working
   tree (`files`);
3. check dependencies: a release whose requirements differ from the image's
   stops here, since only a new image can install them;
4. sync: only files whose hash differs are written and files gone from the
   source removed, all in one `apply` of the pod agent, which leaves the pod
   on the old or the new release, never a mix;
5. restart through the agent, then the health gate: `/health` answers 200
   and `/version` reports the new release, or the pod's log tail and exit
   status are collected and the previous release is put back and checked.

Pods deploy in parallel, except in protected environments: there one pod at
a time, stopping at the first failure, and only once confirmed. Progress goes
to an event sink (`podtui.ops.events`); nothing here prints.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import posixpath
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from podtui.config import Config, EnvironmentConfig
from podtui.errors import PodError, PodtuiError, UnreachableError
from podtui.model import LocalHead, Pod, PodStatus, Release
from podtui.ops.events import EventSink, StepTimer, ignore_events
from podtui.ops.fleet import Fleet, PodSession, image_files
from podtui.ops.release import (
    head_of,
    local_release,
    manifest_of,
    requirements_hash,
)
from podtui.ops.repo import bundle_for, resolve_commit

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 20
GATE_POLL_START = 0.05
GATE_POLL_MAX = 0.1
EXIT_CHECK_INTERVAL = 1.0
"""Seconds between looks at whether the app exited while the gate waits."""

PUSH_SCRIPT = """\
set -e
checkout=$1
commit=$2
bundle=$(mktemp)
trap 'rm -f "$bundle"' EXIT
cat > "$bundle"
if [ ! -e "$checkout/.git" ]; then
    mkdir -p "$(dirname "$checkout")"
    git clone -q "$bundle" "$checkout"
elif [ -s "$bundle" ]; then
    git -C "$checkout" fetch -q "$bundle" HEAD
fi
git -C "$checkout" reset -q --keep "$commit"
git -C "$checkout" rev-parse HEAD
"""
"""Bring the pod's checkout to a commit from a bundle on stdin; args are data."""

PULL_SCRIPT = """\
set -e
git -C "$1" pull -q --ff-only
git -C "$1" rev-parse HEAD
"""


class DeployError(PodtuiError):
    """A deploy that cannot start as asked."""


class ConfirmationRequired(DeployError):
    """A protected environment is changed only once the user confirmed it."""


class RequirementsChanged(PodError):
    """The release needs other dependencies than the pod's image has."""


class HealthGateFailed(PodError):
    """The restarted service did not pass its health check in time."""


@dataclass(frozen=True)
class DeployOptions:
    """How to deploy, beyond which pods."""

    mode: str | None = None
    """git, push or files; None means the environment's deploy_mode."""
    commit: str | None = None
    """Deploy this commit (push mode), e.g. a promoted release; None is HEAD."""
    force: bool = False
    """Restart even when nothing changed."""
    allow_requirements_change: bool = False
    """Deploy although the image was built with other requirements."""
    confirmed: bool = False
    """The user confirmed a change to a protected environment."""


@dataclass
class PodOutcome:
    """What a deploy (or restart) did to one pod."""

    pod: str
    ok: bool = False
    written: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    restarted: bool = False
    rolled_back: bool = False
    release: Release | None = None
    """The release the pod runs afterwards, as far as the deploy knows."""
    error: str | None = None
    needs_image: bool = False
    """The requirements differ from the image's: a rebuild is needed."""
    log_tail: list[str] = field(default_factory=list)
    exit_code: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: bool = False
    """Not attempted: an earlier pod of a protected environment failed."""

    @property
    def changed(self) -> bool:
        return bool(self.written or self.deleted or self.restarted)


@dataclass
class DeployResult:
    """The outcome of one deploy over the pods of an environment."""

    environment: str
    mode: str
    outcomes: list[PodOutcome]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(outcome.ok for outcome in self.outcomes)


@dataclass(frozen=True)
class DeployPlan:
    """What a deploy is about to do, for a confirmation to name."""

    environment: str
    protected: bool
    pods: tuple[str, ...]
    mode: str
    release: str
    """The commit (short, `*` when dirty) or what the pods will pull."""


@dataclass
class Desired:
    """The app directory a pod should have: path to hash, and how to write it."""

    files: dict[str, str]
    specs: dict[str, dict[str, Any]]
    """Path to the agent's write spec (`source` on the pod or `data`)."""
    release: Release


# --- the local side ----------------------------------------------------------


@dataclass
class LocalSource:
    """What the local repository gives a deploy, computed once for all pods."""

    config: Config
    mode: str
    release: Release
    files: dict[str, str] = field(default_factory=dict)
    """files mode: the working tree's deploy paths, path to sha256."""

    @classmethod
    def read(cls, config: Config, mode: str, commit: str | None) -> LocalSource:
        """Blocking: reads the working tree and asks git."""
        release = local_release(config)
        if mode == "push":
            target = resolve_commit(config.project.repo, commit or "HEAD")
            release = replace(release, commit=target, dirty=False)
        source = cls(config, mode, release)
        if mode == "files":
            source.files = working_tree_files(config)
        return source

    def data_specs(self, paths: list[str]) -> dict[str, dict[str, Any]]:
        """Write specs carrying the content of local files (files mode)."""
        repo = self.config.project.repo
        return {
            path: {
                "data": base64.b64encode((repo / path).read_bytes()).decode("ascii"),
                "sha256": self.files[path],
            }
            for path in paths
        }


def working_tree_files(config: Config) -> dict[str, str]:
    """The deploy paths of the working tree as the app directory should hold them."""
    repo = config.project.repo
    files: dict[str, str] = {}
    for deployed in config.project.deploy:
        path = repo / deployed
        if path.is_dir():
            for relpath, digest in manifest_of(path).items():
                files[f"{deployed}/{relpath}"] = digest
        elif path.is_file():
            files[deployed.rstrip("/")] = hashlib.sha256(path.read_bytes()).hexdigest()
    return dict(sorted(files.items()))


def under_deploy_paths(relpath: str, deploy: tuple[str, ...]) -> bool:
    """Whether an app-directory path belongs to the deployed paths."""
    return any(relpath == d or relpath.startswith(d.rstrip("/") + "/") for d in deploy)


def changes(
    current: dict[str, str], desired: dict[str, str], deploy: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """The paths to write and the deployed paths to delete."""
    written = [path for path, digest in desired.items() if current.get(path) != digest]
    deleted = [
        path
        for path in current
        if path not in desired and under_deploy_paths(path, deploy)
    ]
    return written, deleted


def same_release(a: Release | None, b: Release) -> bool:
    """Whether a pod's recorded release is the one a deploy would record."""
    return a is not None and (a.commit, a.dirty, a.requirements_hash) == (
        b.commit,
        b.dirty,
        b.requirements_hash,
    )


# --- one pod -------------------------------------------------------------------


class PodDeploy:
    """The deploy of one pod: its steps, in order, with their events."""

    def __init__(
        self,
        deploy: Deployer,
        session: PodSession,
        timer: StepTimer,
    ) -> None:
        self.deploy = deploy
        self.session = session
        self.environment = session.environment
        self.timer = timer
        self.outcome = PodOutcome(session.pod.name, timings=timer.timings)
        self.snapshot: dict[str, Any] = {}

    @property
    def config(self) -> Config:
        return self.deploy.fleet.config

    @property
    def checkout(self) -> str:
        """The pod's git checkout of the project, in its workspace."""
        return posixpath.join(self.environment.workspace_dir, self.config.project.name)

    async def run(self) -> PodOutcome:
        started = time.perf_counter()
        try:
            await self.steps()
        except PodtuiError as error:
            self.outcome.error = self.timer.reason(error)
        except (OSError, TimeoutError) as error:
            self.outcome.error = str(error) or type(error).__name__
        self.outcome.seconds = time.perf_counter() - started
        return self.outcome

    async def steps(self) -> None:
        async with self.timer.step("connect"):
            await self.session.connection.connection()
            self.snapshot = await self.session.agent.call(
                "snapshot", self.snapshot_request()
            )
        async with self.timer.step("fetch") as step:
            desired = await self.fetch()
            step.detail = desired.release.short
        async with self.timer.step("dependencies") as step:
            step.detail = self.check_requirements(desired.release)
        written, deleted = changes(
            self.snapshot["files"], desired.files, self.config.project.deploy
        )
        recorded = self.recorded_release()
        if written or deleted or not same_release(recorded, desired.release):
            await self.sync(desired, written, deleted)
        else:
            self.timer.skip("sync", "nothing changed")
            self.outcome.release = recorded
        if not written and not deleted and not self.deploy.options.force:
            self.timer.skip("restart", "no file changed")
            self.timer.skip("health", "not restarted")
            self.outcome.ok = True
            return
        await self.restart_and_gate(self.outcome.release or desired.release)

    def snapshot_request(self) -> dict[str, Any]:
        return {
            "root": self.environment.app_dir,
            "checkout": self.checkout,
            "image_files": image_files(self.environment),
        }

    def recorded_release(self) -> Release | None:
        data = self.snapshot.get("release")
        return Release.from_dict(data) if isinstance(data, dict) else None

    # -- fetch ------------------------------------------------------------------

    async def fetch(self) -> Desired:
        source = self.deploy.source
        if source.mode == "files":
            return Desired(
                dict(source.files),
                {},
                source.release,
            )
        if source.mode == "push":
            head = await self.push(source)
        else:
            head = await self.pull()
        files = await self.checkout_files()
        release = replace(
            source.release,
            commit=head,
            dirty=False,
            requirements_hash=await self.checkout_requirements_hash(files),
        )
        specs = {
            path: {"source": posixpath.join(self.checkout, path), "sha256": digest}
            for path, digest in files.items()
        }
        return Desired(files, specs, release)

    async def pull(self) -> str:
        if not self.snapshot.get("checkout_head"):
            raise PodError(
                self.session.pod.name,
                f"no git checkout at {self.checkout} on the pod",
                hint="clone the project there, or deploy with --mode push or files",
            )
        return await self.shell(PULL_SCRIPT, b"", "git pull")

    async def push(self, source: LocalSource) -> str:
        commit = source.release.commit
        assert commit is not None
        bundle = await asyncio.to_thread(
            bundle_for, self.config.project.repo, commit, self.snapshot["checkout_head"]
        )
        self.timer.detail = f"bundle {len(bundle)} bytes"
        return await self.shell(PUSH_SCRIPT, bundle, "the git bundle", commit)

    async def shell(self, script: str, data: bytes, what: str, *args: str) -> str:
        """Run a fixed script with the checkout and `args` as its arguments."""
        result = await self.session.connection.run(
            ["sh", "-c", script, "sh", self.checkout, *args],
            input=data,
            timeout=self.environment.timeouts.command,
        )
        if not result.ok:
            message = result.stderr.decode(errors="replace").strip()
            raise PodError(
                self.session.pod.name,
                f"{what} failed in {self.checkout}: {message[-400:] or 'no message'}",
            )
        return result.stdout.decode().strip().splitlines()[-1]

    async def checkout_files(self) -> dict[str, str]:
        """The deploy paths of the pod's checkout, as app-directory paths."""
        found = await asyncio.gather(
            *(self.checkout_path(deployed) for deployed in self.config.project.deploy)
        )
        files = {path: digest for part in found for path, digest in part.items()}
        return dict(sorted(files.items()))

    async def checkout_path(self, deployed: str) -> dict[str, str]:
        """One deploy path of the checkout: a folder's files, or a single file."""
        agent = self.session.agent
        path = posixpath.join(self.checkout, deployed)
        answer = await agent.call("manifest", {"root": path})
        if answer.get("exists", True):
            return {
                f"{deployed}/{relpath}": digest
                for relpath, digest in answer["files"].items()
            }
        try:
            single = await agent.call("read", {"path": path})
        except PodError:
            return {}  # in neither the commit nor the tree: nothing to deploy
        return {deployed.rstrip("/"): str(single["sha256"])}

    async def checkout_requirements_hash(self, files: dict[str, str]) -> str | None:
        requirements = self.config.project.requirements
        if requirements in files:
            return files[requirements]
        try:
            answer = await self.session.agent.call(
                "read", {"path": posixpath.join(self.checkout, requirements)}
            )
        except PodError:
            return None
        return str(answer["sha256"])

    # -- dependencies, sync -------------------------------------------------------

    def check_requirements(self, release: Release) -> str:
        image = self.snapshot.get("image_requirements_hash")
        if image is None:
            return "image requirements unknown"
        if image == release.requirements_hash:
            return "requirements match the image"
        self.outcome.needs_image = True
        if self.deploy.options.allow_requirements_change:
            return "requirements differ from the image (overridden)"
        raise RequirementsChanged(
            self.session.pod.name,
            f"requirements changed since the image was built "
            f"(image {image[:12]}, release {str(release.requirements_hash)[:12]}): "
            "an image rebuild is needed",
            hint="build and roll out a new image (podtui image build), or deploy "
            "anyway with --allow-requirements-change",
        )

    async def sync(
        self, desired: Desired, written: list[str], deleted: list[str]
    ) -> None:
        async with self.timer.step("sync") as step:
            specs = {
                path: desired.specs[path] for path in written if path in desired.specs
            }
            missing = [path for path in written if path not in specs]
            if missing:
                specs.update(
                    await asyncio.to_thread(self.deploy.source.data_specs, missing)
                )
            request = {
                "root": self.environment.app_dir,
                "write": specs,
                "delete": deleted,
                "release": desired.release.to_dict(),
                "max_removal": self.environment.max_removal,
            }
            await self.session.agent.call(
                "apply", request, timeout=self.environment.timeouts.command
            )
            self.outcome.written = tuple(written)
            self.outcome.deleted = tuple(deleted)
            self.outcome.release = desired.release
            step.detail = f"{len(written)} written, {len(deleted)} deleted"

    # -- restart, health gate, rollback ---------------------------------------------

    async def restart_and_gate(self, release: Release) -> None:
        try:
            await self.restart_step(release)
        except (HealthGateFailed, PodError) as error:
            if (
                isinstance(error, UnreachableError)
                or not self.outcome.written
                and not self.outcome.deleted
            ):
                raise
            self.outcome.error = self.timer.reason(error)
            await self.roll_back()
            return
        self.outcome.ok = True

    async def restart_step(self, release: Release) -> None:
        async with self.timer.step("restart") as step:
            state = await self.session.restart_app()
            self.outcome.restarted = True
            step.detail = f"pid {state.pid}"
        async with self.timer.step("health") as step:
            step.detail = await self.gate(release)

    async def gate(self, release: Release | None) -> str:
        """Wait for 200 on health and the release on /version; else diagnose."""
        detail = await health_gate(self.deploy.fleet, self.session, release)
        if detail is None:
            return "healthy"
        await self.diagnose()
        raise HealthGateFailed(self.session.pod.name, detail)

    async def diagnose(self) -> None:
        """Keep the pod's log tail and the app's exit status for the report."""
        try:
            status = await self.session.agent.call("status")
            app = status.get("app") or {}
            self.outcome.exit_code = app.get("exit_code")
            self.outcome.log_tail = await log_tail(self.session)
        except PodtuiError as error:
            log.info("%s: cannot diagnose: %s", self.session.pod.name, error)

    async def roll_back(self) -> None:
        """Put the previous release back, restart it and check it too."""
        error = self.outcome.error
        try:
            async with self.timer.step("rollback") as step:
                previous = await self.restore_previous()
                step.detail = f"back on {previous.short if previous else 'previous'}"
        except PodtuiError as failure:
            self.outcome.error = (
                f"{error}; rollback failed: {self.timer.reason(failure)}"
            )
            return
        self.outcome.error = f"{error}; rolled back to {step.detail[8:]}"

    async def restore_previous(self) -> Release | None:
        answer = await self.session.agent.call(
            "rollback", timeout=self.environment.timeouts.command
        )
        data = answer.get("release")
        previous = Release.from_dict(data) if isinstance(data, dict) else None
        self.outcome.rolled_back = True
        self.outcome.release = previous
        await self.session.restart_app()
        detail = await health_gate(self.deploy.fleet, self.session, previous)
        if detail is not None:
            raise HealthGateFailed(
                self.session.pod.name,
                f"the previous release is not healthy either ({detail})",
            )
        return previous


async def health_gate(
    fleet: Fleet, session: PodSession, release: Release | None
) -> str | None:
    """None once health is 200 and /version reports `release`; else why not.

    The why is a sentence for the user: that the app exited, or that it was
    not healthy in time and what the last check saw.
    """
    environment = session.environment
    loop = asyncio.get_running_loop()
    deadline = loop.time() + environment.timeouts.start
    delay = GATE_POLL_START
    next_exit_check = loop.time() + EXIT_CHECK_INTERVAL
    while True:
        detail = await gate_check(fleet, session, release)
        if detail is None:
            return None
        if loop.time() + delay > deadline:
            return f"not healthy within {environment.timeouts.start:g}s ({detail})"
        if loop.time() >= next_exit_check:
            # Each look costs an agent run on the pod: not on every poll.
            exited = await app_exit(session)
            if exited is not None:
                return exited
            next_exit_check = loop.time() + EXIT_CHECK_INTERVAL
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, GATE_POLL_MAX)


async def app_exit(session: PodSession) -> str | None:
    """Why the app is not running any more, or None while it runs."""
    status = await session.agent.call("status")
    app = status.get("app") or {}
    if app.get("running"):
        return None
    return f"the app exited with status {app.get('exit_code')} before it was healthy"


async def gate_check(
    fleet: Fleet, session: PodSession, release: Release | None
) -> str | None:
    import httpx

    environment = session.environment
    try:
        base = await base_url(session)
        health = await fleet.http.get(
            base + environment.health_path, timeout=environment.timeouts.health
        )
        if health.status_code != 200:
            return f"health answered {health.status_code}"
        if release is None:
            return None
        version = await fleet.http.get(
            base + "/version", timeout=environment.timeouts.health
        )
        data = version.json()
    except (httpx.HTTPError, ValueError) as error:
        return str(error) or type(error).__name__
    except PodtuiError as error:
        return error.message
    if not isinstance(data, dict):
        return "/version answered no release"
    if (data.get("commit"), data.get("deployed_at")) != (
        release.commit,
        release.deployed_at,
    ):
        return f"/version reports {str(data.get('commit'))[:8]}, not {release.short}"
    return None


async def base_url(session: PodSession) -> str:
    pod = session.pod
    if pod.http_url:
        return pod.http_url.rstrip("/")
    port = await session.connection.forward(pod.http_port)
    return f"http://127.0.0.1:{port}"


async def log_tail(session: PodSession, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last lines of the app's log and of its captured output."""
    request = await session.start_request()
    paths = [request["output"], session.environment.log_file]
    tail: list[str] = []
    for path in paths:
        result = await session.connection.run(
            ["tail", "-n", str(lines), "--", path],
            timeout=session.environment.timeouts.command,
        )
        if result.ok and result.stdout.strip():
            tail.append(f"--- {path}")
            tail.extend(result.stdout.decode(errors="replace").splitlines())
    return tail


# --- the environment -------------------------------------------------------------


class Deployer:
    """One deploy (or restart) over some pods of one environment."""

    def __init__(
        self,
        fleet: Fleet,
        environment: EnvironmentConfig,
        options: DeployOptions,
        sink: EventSink,
    ) -> None:
        self.fleet = fleet
        self.environment = environment
        self.options = options
        self.sink = sink
        self.mode = options.mode or (
            "push" if options.commit else environment.deploy_mode
        )
        self.source: LocalSource

    async def run(self, pods: list[Pod]) -> DeployResult:
        started = time.perf_counter()
        self.source = await asyncio.to_thread(
            LocalSource.read, self.fleet.config, self.mode, self.options.commit
        )
        outcomes = await for_each_pod(self.environment, pods, self.deploy_pod)
        return DeployResult(
            self.environment.name, self.mode, outcomes, time.perf_counter() - started
        )

    async def deploy_pod(self, pod: Pod) -> PodOutcome:
        self.fleet.note_activity(pod)
        timer = StepTimer(pod.name, self.sink)
        return await PodDeploy(self, self.fleet.session(pod), timer).run()


async def for_each_pod(
    environment: EnvironmentConfig, pods: list[Pod], work: Any
) -> list[PodOutcome]:
    """All pods at once, or one at a time stopping at a failure when protected."""
    if not environment.protected:
        return list(await asyncio.gather(*(work(pod) for pod in pods)))
    outcomes: list[PodOutcome] = []
    for pod in pods:
        if outcomes and not outcomes[-1].ok:
            outcomes.append(
                PodOutcome(
                    pod.name, skipped=True, error="not attempted: an earlier pod failed"
                )
            )
            continue
        outcomes.append(await work(pod))
    return outcomes


async def target_pods(
    fleet: Fleet, environment: EnvironmentConfig, only: str | None
) -> list[Pod]:
    """The running pods of an environment (or the one named), or a DeployError."""
    if only is not None:
        found_in, _ = fleet.config.find_pod(only)
        if found_in.name != environment.name:
            raise DeployError(
                f"pod {only} is in {found_in.name}, not {environment.name}"
            )
    pods = [
        pod
        for pod in await fleet.pods()
        if pod.environment == environment.name and (only is None or pod.name == only)
    ]
    down = [
        pod
        for pod in pods
        if pod.ssh is None or pod.status in (PodStatus.STOPPED, PodStatus.UNREACHABLE)
    ]
    if not pods or down:
        names = ", ".join(pod.name for pod in down) or environment.name
        reason = down[0].reason if down else fleet.provider_errors.get(environment.name)
        raise DeployError(
            f"cannot deploy to {names}: not running"
            + (f" ({reason})" if reason else ""),
            hint="start the pods first (podtui local up for local pods)",
        )
    return pods


async def plan_deploy(
    fleet: Fleet,
    environment_name: str,
    *,
    pod: str | None = None,
    options: DeployOptions | None = None,
) -> DeployPlan:
    """What `deploy` would do, for a confirmation dialog to show."""
    options = options or DeployOptions()
    environment = fleet.config.environment(environment_name)
    pods = await target_pods(fleet, environment, pod)
    mode = options.mode or ("push" if options.commit else environment.deploy_mode)
    source = await asyncio.to_thread(
        LocalSource.read, fleet.config, mode, options.commit
    )
    release = source.release.short
    if mode == "git":
        release = f"what each pod pulls (local HEAD {release})"
    return DeployPlan(
        environment.name,
        environment.protected,
        tuple(p.name for p in pods),
        mode,
        release,
    )


async def deploy(
    fleet: Fleet,
    environment_name: str,
    *,
    pod: str | None = None,
    options: DeployOptions | None = None,
    on_event: EventSink = ignore_events,
) -> DeployResult:
    """Deploy to the pods of an environment (or one of its pods)."""
    options = options or DeployOptions()
    environment = fleet.config.environment(environment_name)
    pods = await target_pods(fleet, environment, pod)
    require_confirmation(environment, options, "deploying to")
    return await Deployer(fleet, environment, options, on_event).run(pods)


def require_confirmation(
    environment: EnvironmentConfig, options: DeployOptions, what: str
) -> None:
    if environment.protected and not options.confirmed:
        raise ConfirmationRequired(
            f"{environment.name} is protected: {what} it needs confirmation",
            hint="confirm in the app, or pass --yes",
        )


# --- restart and promote -----------------------------------------------------------


async def restart(
    fleet: Fleet,
    environment_name: str,
    *,
    pod: str | None = None,
    confirmed: bool = False,
    on_event: EventSink = ignore_events,
) -> DeployResult:
    """Restart the service of pods, each gated on health; no rollback."""
    environment = fleet.config.environment(environment_name)
    pods = await target_pods(fleet, environment, pod)
    require_confirmation(environment, DeployOptions(confirmed=confirmed), "restarting")
    started = time.perf_counter()

    async def restart_pod(target: Pod) -> PodOutcome:
        fleet.note_activity(target)
        timer = StepTimer(target.name, on_event)
        session = fleet.session(target)
        outcome = PodOutcome(target.name, timings=timer.timings)
        try:
            async with timer.step("restart") as step:
                state = await session.restart_app()
                outcome.restarted = True
                step.detail = f"pid {state.pid}"
            async with timer.step("health") as step:
                detail = await health_gate(fleet, session, None)
                if detail is not None:
                    outcome.log_tail = await log_tail(session)
                    raise HealthGateFailed(target.name, detail)
                step.detail = "healthy"
            outcome.ok = True
        except PodtuiError as error:
            outcome.error = timer.reason(error)
        outcome.seconds = time.perf_counter() - started
        return outcome

    outcomes = await for_each_pod(environment, pods, restart_pod)
    return DeployResult(
        environment.name, "restart", outcomes, time.perf_counter() - started
    )


def next_environment(config: Config, source: str) -> EnvironmentConfig:
    """The environment a release of `source` is promoted to: the next in the file."""
    names = [environment.name for environment in config.environments]
    config.environment(source)
    index = names.index(source)
    if index + 1 >= len(names):
        raise DeployError(
            f"{source} is the last environment: there is nothing to promote to"
        )
    return config.environments[index + 1]


async def promotable_release(fleet: Fleet, environment_name: str) -> Release:
    """The one release the healthy pods of an environment run."""
    pods = [p for p in await fleet.pods() if p.environment == environment_name]
    reports = await asyncio.gather(*(fleet.inspect(pod) for pod in pods))
    releases = {
        report.release.commit: report.release
        for report in reports
        if report.healthy and report.release and report.release.commit
    }
    if not releases:
        raise DeployError(f"no pod of {environment_name} is healthy with a release")
    if len(releases) > 1:
        raise DeployError(
            f"the healthy pods of {environment_name} run different releases "
            f"({', '.join(r.short for r in releases.values())})",
            hint=f"deploy {environment_name} to one release first",
        )
    (release,) = releases.values()
    if release.dirty:
        raise DeployError(
            f"{environment_name} runs uncommitted changes ({release.short})",
            hint="commit them and deploy again before promoting",
        )
    return release


async def promote(
    fleet: Fleet,
    source: str,
    *,
    options: DeployOptions | None = None,
    on_event: EventSink = ignore_events,
) -> DeployResult:
    """Deploy the release healthy on `source` to the next environment."""
    target = next_environment(fleet.config, source)
    release = await promotable_release(fleet, source)
    promoted = replace(options or DeployOptions(), mode="push", commit=release.commit)
    return await deploy(fleet, target.name, options=promoted, on_event=on_event)


def read_local_head(config: Config, commits: Iterable[str]) -> LocalHead:
    """The local HEAD, whether its tree is dirty, its requirements hash, and
    which of `commits` (pods' releases) are older than HEAD.

    Blocking (GitPython runs git): call it in a thread from async code.
    """
    import git

    commit, dirty = head_of(config.project.repo)
    behind: set[str] = set()
    if commit is not None:
        repository = git.Repo(config.project.repo)
        for other in set(commits) - {commit}:
            try:
                repository.git.merge_base("--is-ancestor", other, commit)
            except git.GitCommandError:
                continue  # not an ancestor, or a commit the repository lacks
            behind.add(other)
    return LocalHead(commit, dirty, local_requirements_hash(config), frozenset(behind))


def local_requirements_hash(config: Config) -> str | None:
    """The requirements hash of the local working tree."""
    return requirements_hash(Path(config.project.repo) / config.project.requirements)


def summary_lines(result: DeployResult) -> list[str]:
    """What changed where and how long it took, one line per pod and a total."""
    lines = []
    for outcome in result.outcomes:
        release = outcome.release.short if outcome.release else "-"
        if outcome.skipped:
            what = outcome.error or "skipped"
        elif outcome.ok and not outcome.changed:
            what = f"unchanged on {release}"
        elif outcome.ok:
            what = (
                f"{len(outcome.written)} written, {len(outcome.deleted)} deleted, "
                f"{'restarted, ' if outcome.restarted else ''}healthy on {release}"
            )
        else:
            what = f"FAILED: {outcome.error}"
        if outcome.needs_image:
            what += " [image rebuild needed]"
        lines.append(f"{outcome.pod}: {what} ({outcome.seconds:.2f}s)")
        lines.extend(f"    {line}" for line in outcome.log_tail)
        if outcome.exit_code is not None and not outcome.ok:
            lines.append(f"    exit status {outcome.exit_code}")
    failed = sum(1 for outcome in result.outcomes if not outcome.ok)
    verdict = "ok" if not failed else f"{failed} of {len(result.outcomes)} pods failed"
    lines.append(
        f"{result.mode} to {result.environment}: {verdict} in {result.seconds:.2f}s"
    )
    return lines
