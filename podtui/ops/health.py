"""Health checks: the service's health endpoint, reached through SSH."""

from __future__ import annotations

import time

import httpx

from podtui.config import EnvironmentConfig
from podtui.errors import PodtuiError
from podtui.model import Health, Pod
from podtui.remote.connection import PodConnection


async def check_health(
    client: httpx.AsyncClient,
    connection: PodConnection | None,
    pod: Pod,
    environment: EnvironmentConfig,
) -> Health:
    """GET the health path, through an SSH port forward unless the pod has a URL.

    Never raises for an expected failure: the reason is in `Health.detail`.
    """
    try:
        base = await _base_url(connection, pod)
    except PodtuiError as error:
        return Health(False, detail=error.message)
    started = time.perf_counter()
    try:
        response = await client.get(
            base + environment.health_path, timeout=environment.timeouts.health
        )
    except httpx.TimeoutException:
        return Health(
            False, detail=f"no answer within {environment.timeouts.health:g}s"
        )
    except httpx.HTTPError as error:
        return Health(False, detail=_describe(error))
    latency = (time.perf_counter() - started) * 1000
    data = _json_object(response)
    return Health(
        healthy=response.status_code == 200,
        status_code=response.status_code,
        latency_ms=latency,
        detail=str(data["status"])
        if "status" in data
        else f"HTTP {response.status_code}",
        data=data,
    )


async def _base_url(connection: PodConnection | None, pod: Pod) -> str:
    if pod.http_url:
        return pod.http_url.rstrip("/")
    if connection is None:
        raise PodtuiError("no SSH connection to forward the health check through")
    port = await connection.forward(pod.http_port)
    return f"http://127.0.0.1:{port}"


def _json_object(response: httpx.Response) -> dict[str, object]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _describe(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError):
        return "service not answering (connection closed)"
    if isinstance(error, httpx.ConnectError):
        return "service not listening"
    return str(error) or type(error).__name__
