"""The fleet: every pod of every environment, and one session per pod.

Both front ends hold one `Fleet`. It asks the providers which pods exist,
keeps one shared SSH connection per pod, and inspects pods (agent status,
release and health) without ever raising for an expected failure: a pod that
cannot be reached comes back as a report saying so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import posixpath
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import httpx

from podtui.config import Config, EnvironmentConfig
from podtui.errors import PodError, PodtuiError, ProviderError
from podtui.model import AppState, Health, Pod, PodReport, PodStatus, Release
from podtui.ops.health import check_health
from podtui.remote.agent_client import AgentClient
from podtui.remote.connection import PodConnection
from podtui.remote.files import PodFiles
from podtui.remote.service import start_request

if TYPE_CHECKING:
    from podtui.providers.local import LocalPods
    from podtui.providers.runpod import RunPodProvider

log = logging.getLogger(__name__)

IMAGE_RECORD = ".podtui/image.json"
"""Where local pods record the requirements their "image" was made with."""
IMAGE_HASH_FILES = ("/app/requirements.sha256",)
"""Where a pod image records its requirements hash (see the Dockerfile)."""


def image_files(environment: EnvironmentConfig) -> list[str]:
    """Where the agent looks for the image's requirements hash, besides its record
    (local pods keep theirs in `.podtui/image.json`)."""
    beside_app = posixpath.join(
        posixpath.dirname(environment.app_dir.rstrip("/")), "requirements.sha256"
    )
    return [beside_app, *IMAGE_HASH_FILES]


@dataclass
class PodSession:
    """Everything that talks to one pod, over its one connection."""

    pod: Pod
    environment: EnvironmentConfig
    connection: PodConnection
    agent: AgentClient
    files: PodFiles
    image_requirements_hash: str | None = None
    """The requirements hash of the pod's image, once read (None: unknown)."""
    image_lookup: asyncio.Task[str | None] | None = field(default=None, repr=False)
    """The one read of the image's hash in this session."""

    async def start_request(self) -> dict[str, Any]:
        home = await self.connection.home()
        python = self.pod.python or self.environment.python
        return start_request(
            self.environment, home=home, port=self.pod.http_port, python=python
        )

    async def start_app(self) -> AppState:
        answer = await self.agent.call("start", await self.start_request())
        return app_state(answer)

    async def stop_app(self) -> dict[str, Any]:
        timeout = self.environment.timeouts.stop
        return await self.agent.call("stop", {"timeout": timeout}, timeout=timeout + 30)

    async def restart_app(self) -> AppState:
        request = {
            **await self.start_request(),
            "timeout": self.environment.timeouts.stop,
        }
        answer = await self.agent.call(
            "restart", request, timeout=self.environment.timeouts.stop + 30
        )
        return app_state(answer)

    async def release(self) -> Release | None:
        answer = await self.agent.call("release")
        data = answer.get("release")
        return Release.from_dict(data) if isinstance(data, dict) else None

    async def set_release(self, release: Release) -> None:
        await self.agent.call("release", {"set": release.to_dict()})

    async def read_image_requirements_hash(self) -> str | None:
        """Ask the pod which requirements its image was built with.

        Small files read over SFTP: no process is started on the pod for it.
        """
        candidates = [IMAGE_RECORD, *image_files(self.environment)]
        for path in candidates:
            try:
                data = await self.files.read(path)
            except PodError:
                continue
            found = _image_hash_in(path, data)
            if found:
                self.image_requirements_hash = found
                return found
        self.image_requirements_hash = None
        return None


def _image_hash_in(path: str, data: bytes) -> str | None:
    """The hash in the pod's image record (JSON) or a `requirements.sha256` file."""
    text = data.decode(errors="replace")
    if path == IMAGE_RECORD:
        try:
            record = json.loads(text)
        except ValueError:
            return None
        found = record.get("requirements_hash") if isinstance(record, dict) else None
        return found if isinstance(found, str) else None
    words = text.split()
    return words[0] if words else None


class Fleet:
    """All pods of a config, their connections and their inspection."""

    def __init__(
        self,
        config: Config,
        *,
        local_pods: LocalPods | None = None,
        runpod: RunPodProvider | None = None,
    ) -> None:
        self.config = config
        self.local_pods = local_pods
        """The local pods to use; by default those of `$PODTUI_HOME`."""
        self._runpod = runpod
        self.activity: dict[str, float] = {}
        """Pod id to when (epoch seconds) it last had a deploy, log view or hot
        fix; a running pod without one for a while is idle."""
        self._sessions: dict[str, PodSession] = {}
        self._http: httpx.AsyncClient | None = None
        self.provider_errors: dict[str, str] = {}
        """Environment name to the message of its provider's last failure."""
        self._background: set[asyncio.Task[str | None]] = set()

    async def pods(self) -> list[Pod]:
        """Every pod of every environment, in config order.

        A provider that fails is recorded in `provider_errors` and its pods
        are left out; the other environments' pods are still returned.
        """
        if self._runpod is not None:
            self._runpod.new_refresh()
        results = await asyncio.gather(
            *(self._environment_pods(e) for e in self.config.environments)
        )
        return [pod for pods in results for pod in pods]

    async def _environment_pods(self, environment: EnvironmentConfig) -> list[Pod]:
        try:
            pods = await self._provider_pods(environment)
        except PodtuiError as error:
            self.provider_errors[environment.name] = str(error)
            return []
        self.provider_errors.pop(environment.name, None)
        return pods

    async def _provider_pods(self, environment: EnvironmentConfig) -> list[Pod]:
        if environment.provider == "local":
            from podtui.providers.local import LocalPods

            local_pods = self.local_pods or LocalPods()
            return await asyncio.to_thread(local_pods.pods, environment)
        if environment.provider == "ssh":
            from podtui.providers.ssh import ssh_pods

            return ssh_pods(environment)
        if environment.provider == "runpod":
            return await self.runpod.pods(environment)
        raise ProviderError(f"unknown provider {environment.provider!r}")

    def session(self, pod: Pod) -> PodSession:
        """The session of a pod, created on first use and then shared."""
        session = self._sessions.get(pod.id)
        if session is None or session.pod.ssh != pod.ssh:
            environment = self.config.environment(pod.environment)
            connection = PodConnection(
                pod, connect_timeout=environment.timeouts.connect
            )
            python = pod.python or environment.python
            agent = AgentClient(connection, python)
            files = PodFiles(connection, agent)
            session = PodSession(pod, environment, connection, agent, files)
            self._sessions[pod.id] = session
        else:
            session.pod = pod
        return session

    @property
    def runpod(self) -> RunPodProvider:
        """The RunPod provider: one API list call per refresh for all environments."""
        if self._runpod is None:
            from podtui.providers.runpod import RunPodProvider

            self._runpod = RunPodProvider()
        return self._runpod

    def note_activity(self, pod: Pod) -> None:
        """Record a deploy, log view or hot fix on `pod` now: it is not idle."""
        self.activity[pod.id] = time.time()

    async def drop_session(self, pod: Pod) -> None:
        """Close a pod's connection and forget its session (it was stopped)."""
        session = self._sessions.pop(pod.id, None)
        if session is not None:
            await session.connection.close()

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(trust_env=False)
        return self._http

    async def image_requirements_hash(self, pod: Pod) -> str | None:
        """The requirements hash of a pod's image, read once per session.

        It changes only when the pod is rebuilt, which makes a new session.
        A failed read is tried again on the next call.
        """
        session = self.session(pod)
        if session.image_lookup is None or (
            session.image_lookup.done()
            and (
                session.image_lookup.cancelled()
                or session.image_lookup.exception() is not None
            )
        ):
            session.image_lookup = asyncio.create_task(
                session.read_image_requirements_hash(),
                name=f"image requirements of {pod.name}",
            )
        try:
            return await asyncio.shield(session.image_lookup)
        except (PodtuiError, OSError, TimeoutError) as error:
            log.info("%s: image requirements unknown: %s", pod.name, error)
            return None

    def _look_up_image(self, session: PodSession) -> None:
        """Start the session's one read of the image hash, in the background, so
        the report that triggers it is not held up; later reports carry it."""
        if session.image_lookup is None:
            task = asyncio.create_task(self.image_requirements_hash(session.pod))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def inspect(self, pod: Pod) -> PodReport:
        """Status, app, release and health of one pod; never raises."""
        if pod.status == PodStatus.STOPPED or pod.ssh is None:
            status = pod.status if pod.ssh is None else PodStatus.STOPPED
            return PodReport(pod, status, error=pod.reason)
        session = self.session(pod)
        environment = session.environment
        try:
            report = await asyncio.wait_for(
                self._inspect(session), timeout=environment.timeouts.command
            )
        except TimeoutError:
            return PodReport(
                pod,
                PodStatus.UNREACHABLE,
                error=f"no answer within {environment.timeouts.command:g}s",
            )
        except PodtuiError as error:
            return PodReport(pod, PodStatus.UNREACHABLE, error=error.message)
        self._look_up_image(session)
        return replace(report, image_requirements_hash=session.image_requirements_hash)

    async def _inspect(self, session: PodSession) -> PodReport:
        """Health first: a healthy service that reports its uptime and release
        answers everything in one request. Otherwise the pod agent says what
        the app is doing (stopped, exited with a code, starting).
        """
        await session.connection.connection()
        health = await check_health(
            self.http, session.connection, session.pod, session.environment
        )
        status = _running(session.pod)
        reported = _release_of(health.data.get("release"))
        uptime = health.data.get("uptime")
        if health.healthy and reported is not None and isinstance(uptime, int | float):
            app = AppState(running=True, uptime=float(uptime))
            return PodReport(
                session.pod, status, app=app, health=health, release=reported
            )
        answer = await session.agent.call("status")
        return PodReport(
            session.pod,
            status,
            app=app_state(answer),
            health=health,
            release=_release_of(answer.get("release")),
        )

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        for session in self._sessions.values():
            if session.image_lookup is not None:
                session.image_lookup.cancel()
        await asyncio.gather(*(s.connection.close() for s in self._sessions.values()))
        self._sessions.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def _running(pod: Pod) -> PodStatus:
    return PodStatus.STARTING if pod.status == PodStatus.STARTING else PodStatus.RUNNING


def _release_of(data: object) -> Release | None:
    return Release.from_dict(data) if isinstance(data, dict) else None


def app_state(answer: dict[str, Any]) -> AppState:
    """The app part of an agent answer (`status`, `start`, `restart`)."""
    app = answer.get("app", answer)
    if not isinstance(app, dict):
        return AppState(running=False)
    return AppState(
        running=bool(app.get("running")),
        pid=app.get("pid"),
        uptime=app.get("uptime"),
        exit_code=app.get("exit_code"),
    )


async def wait_healthy(fleet: Fleet, pod: Pod, timeout: float) -> Health:
    """Check health until it passes or `timeout` runs out; the last answer."""
    session = fleet.session(pod)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.05
    while True:
        health = await check_health(
            fleet.http, session.connection, pod, session.environment
        )
        if health.healthy or loop.time() + delay > deadline:
            return health
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.1)
