"""A fake RunPod API for tests: a GraphQL server on 127.0.0.1 that keeps state.

The real `runpod` SDK talks to it through `RUNPOD_API_BASE_URL`, which the SDK
reads on every call. The server understands the handful of queries and
mutations the SDK sends for pods. It keeps each pod's state as RunPod does: a
created (or resumed) pod is RUNNING without runtime for a few polls, then its
port 22 maps to a real SSH server on 127.0.0.1; stopping gives EXITED. Fault
modes answer 401, 429, 500, a 502 HTML page or a 200 HTML page.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import random
import re
import string
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from podtui.config import Config, parse_config
from podtui.providers.local import LocalPods
from podtui.providers.runpod import RunPodAPI, RunPodProvider

API_KEY = "rpa_TESTKEY0123456789SECRET"


@dataclass
class FakePod:
    """One pod as the fake API keeps it."""

    id: str
    name: str
    ssh_port: int | None
    """The real SSH server behind the pod's public port 22 (None: no public 22)."""
    gpu: str = "NVIDIA RTX A5000"
    gpu_count: int = 1
    cost: float = 0.26
    desired: str = "RUNNING"
    polls_left: int = 2
    """List or read polls until the container is up (runtime appears)."""
    uptime: int = 0

    def answer(self) -> dict[str, Any]:
        """The pod as the API describes it (all fields the SDK asks for)."""
        up = self.desired == "RUNNING" and self.polls_left <= 0
        ports = []
        if up and self.ssh_port is not None:
            ports.append(
                {
                    "ip": "127.0.0.1",
                    "isIpPublic": True,
                    "privatePort": 22,
                    "publicPort": self.ssh_port,
                    "type": "tcp",
                }
            )
        if up:
            ports.append(
                {
                    "ip": "100.65.0.2",
                    "isIpPublic": False,
                    "privatePort": 8000,
                    "publicPort": 60000,
                    "type": "http",
                }
            )
        return {
            "id": self.id,
            "name": self.name,
            "desiredStatus": self.desired,
            "costPerHr": self.cost,
            "gpuCount": self.gpu_count,
            "imageName": "voice/pipeline:latest",
            "containerDiskInGb": 20,
            "volumeInGb": 50,
            "volumeMountPath": "/workspace",
            "uptimeSeconds": self.uptime if up else 0,
            "machine": {"gpuDisplayName": self.gpu},
            "runtime": {"uptimeInSeconds": self.uptime, "ports": ports} if up else None,
        }


@dataclass
class FakeRunPod:
    """The fake API's state; safe to use from the test while it serves."""

    key: str = API_KEY
    pods: dict[str, FakePod] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    """Every query text received, in order."""
    operations: list[str] = field(default_factory=list)
    """The operation of each request: list, read, stop, resume, ..."""
    faults: list[str] = field(default_factory=list)
    """Fault modes for the next requests, one each: 401, 429, 500, 502html, html,
    echo (an error message that quotes the API key)."""
    resume_gpus: int | None = None
    """When set, resumed pods come back with this many GPUs."""
    polls_after_resume: int = 2
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_pod(
        self, name: str, ssh_port: int | None, *, polls: int = 0, **fields: Any
    ) -> str:
        """A new pod, RUNNING, whose container is up after `polls` polls."""
        pod_id = "".join(random.choices(string.ascii_lowercase + string.digits, k=14))
        with self.lock:
            self.pods[pod_id] = FakePod(
                pod_id, name, ssh_port, polls_left=polls, uptime=3600, **fields
            )
        return pod_id

    def fail(self, *modes: str) -> None:
        with self.lock:
            self.faults.extend(modes)

    def count(self, operation: str) -> int:
        with self.lock:
            return self.operations.count(operation)

    # -- serving -------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            fault = self.faults.pop(0) if self.faults else None
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return web.json_response({"error": "Unauthorized"}, status=401)
        if fault is not None:
            return self.fault(fault)
        query = json.loads(await request.text())["query"]
        with self.lock:
            self.queries.append(query)
            return web.json_response(self.answer(query))

    def fault(self, mode: str) -> web.Response:
        page = "<html><head><title>{}</title></head><body>oops</body></html>"
        if mode == "401":
            return web.json_response({"error": "Unauthorized"}, status=401)
        if mode == "429":
            return web.json_response(
                {"errors": [{"message": "Too many requests"}]},
                status=429,
                headers={"Retry-After": "0"},
            )
        if mode == "500":
            return web.json_response(
                {"errors": [{"message": "Internal server error"}]}, status=500
            )
        if mode == "502html":
            return web.Response(
                text=page.format("502 Bad Gateway"),
                status=502,
                content_type="text/html",
            )
        if mode == "html":
            return web.Response(
                text=page.format("Sign in to the network"), content_type="text/html"
            )
        if mode == "echo":
            message = f"key {self.key} may not read pods"
            return web.json_response({"errors": [{"message": message}]})
        raise AssertionError(f"unknown fault mode {mode}")

    def answer(self, query: str) -> dict[str, Any]:
        """The GraphQL answer to one query (called with the lock held)."""
        if match := re.search(r"podStop\(input:\s*\{\s*podId:\s*\"([^\"]*)\"", query):
            return self.stop(match.group(1))
        if match := re.search(
            r"podResume\(input:\s*\{\s*podId:\s*\"([^\"]*)\",\s*gpuCount:\s*(\d+)",
            query,
        ):
            return self.resume(match.group(1), int(match.group(2)))
        if match := re.search(
            r"podTerminate\(input:\s*\{\s*podId:\s*\"([^\"]*)\"", query
        ):
            self.operations.append("terminate")
            if self.pods.pop(match.group(1), None) is None:
                return _error("pod not found")
            return {"data": {"podTerminate": None}}
        if match := re.search(r"pod\(input:\s*\{\s*podId:\s*\"([^\"]*)\"", query):
            self.operations.append("read")
            pod = self.pods.get(match.group(1))
            if pod is not None:
                pod.polls_left -= 1
            return {"data": {"pod": pod.answer() if pod else None}}
        if "myself" in query and "pods" in query:
            self.operations.append("list")
            for pod in self.pods.values():
                pod.polls_left -= 1
            answers = [pod.answer() for pod in self.pods.values()]
            return {"data": {"myself": {"pods": answers}}}
        self.operations.append("unknown")
        return _error("unknown query")

    def stop(self, pod_id: str) -> dict[str, Any]:
        self.operations.append("stop")
        pod = self.pods.get(pod_id)
        if pod is None:
            return _error("pod not found")
        pod.desired = "EXITED"
        return {"data": {"podStop": {"id": pod_id, "desiredStatus": "EXITED"}}}

    def resume(self, pod_id: str, gpus: int) -> dict[str, Any]:
        self.operations.append("resume")
        pod = self.pods.get(pod_id)
        if pod is None:
            return _error("pod not found")
        if pod.desired != "EXITED":
            return _error("pod is not stopped")
        pod.desired = "RUNNING"
        pod.polls_left = self.polls_after_resume
        pod.gpu_count = gpus if self.resume_gpus is None else self.resume_gpus
        return {
            "data": {
                "podResume": {
                    "id": pod_id,
                    "desiredStatus": "RUNNING",
                    "imageName": "voice/pipeline:latest",
                    "env": [],
                    "machineId": "m1",
                    "machine": {"podHostId": f"{pod_id}-1"},
                }
            }
        }


def _error(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message}]}


class FakeServer:
    """Serves a FakeRunPod on 127.0.0.1 from a thread with its own loop."""

    def __init__(self, fake: FakeRunPod) -> None:
        self.fake = fake
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None

    def start(self) -> None:
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self.loop)
        self.fake.url = future.result(timeout=10)

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_post("/graphql", self.fake.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        assert self.runner is not None
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture
def fake_runpod(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunPod]:
    """The fake API, with the SDK pointed at it and the key in the environment."""
    fake = FakeRunPod()
    server = FakeServer(fake)
    server.start()
    monkeypatch.setenv("RUNPOD_API_BASE_URL", fake.url)
    monkeypatch.setenv("RUNPOD_API_KEY", API_KEY)
    yield fake
    server.stop()


@pytest.fixture
def api() -> RunPodAPI:
    """An API client that retries quickly, for fault tests."""
    return RunPodAPI(backoff=0.01)


@pytest.fixture
def provider(api: RunPodAPI) -> RunPodProvider:
    return RunPodProvider(api)


RUNPOD_CONFIG = """\
[project]
name = "voice-pipeline"
repo = "{repo}"
deploy = ["voice_pipeline"]
requirements = "voice_pipeline/requirements.txt"

[defaults]
python = "{python}"

[defaults.timeouts]
connect = 5.0
command = 15.0
health = 3.0
stop = 5.0

[environments.cloud]
provider = "runpod"
port = {http_port}
ssh_user = "{user}"
ssh_key = "{key}"
known_hosts = "{known_hosts}"
pod_name_pattern = "{pattern}"
"""


def runpod_config_text(
    pods: LocalPods, repo: Path, behind: str, *, pattern: str = "^voice-"
) -> str:
    """A config with one runpod environment whose pods' SSH servers are local
    pods: `behind` names the local pod whose service answers health."""
    spec = pods.specs()[behind]
    return RUNPOD_CONFIG.format(
        repo=repo,
        python=sys.executable,
        http_port=spec.http_port,
        user=getpass.getuser(),
        key=pods.client_key,
        known_hosts=pods.known_hosts,
        pattern=pattern,
    )


def runpod_config(
    tmp_path: Path, pods: LocalPods, repo: Path, behind: str, extra: str = ""
) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(runpod_config_text(pods, repo, behind) + extra)
    return parse_config(path.read_text(), path)
