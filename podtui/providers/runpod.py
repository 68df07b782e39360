"""RunPod pods: found through the RunPod API, reached over SSH like any pod.

The `runpod` SDK builds the GraphQL queries and sends them. Importing it takes
over a second and its calls block, so it is imported lazily inside the worker
thread that makes the first call, and every call runs in a thread, a few at a
time. Rate limits (429) and server errors (5xx) are retried with backoff.

The SDK pastes pod ids into the query text, so every id is checked against
`RUNPOD_ID_RE` before it reaches a query, whether it came from the config,
the command line or the API itself.

One list call answers for every runpod environment of a refresh: a
`RunPodProvider` keeps the listing of the current refresh and maps it to each
environment, by the pod ids listed in the config or by a name pattern.

The API key comes from `RUNPOD_API_KEY` or `~/.runpod/config.toml` (the
Python SDK's `[default] api_key` or runpodctl's `apikey`). It is never written
to podtui's config, and never logged or shown: messages built from what the
API answered have it removed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from podtui.config import RUNPOD_ID_RE, EnvironmentConfig, PodConfig
from podtui.errors import ProviderError
from podtui.model import Pod, PodStatus, SSHEndpoint

log = logging.getLogger(__name__)

KEY_ENV_VAR = "RUNPOD_API_KEY"
CREDENTIALS_FILE = "~/.runpod/config.toml"
KEY_HINT = (
    f"set {KEY_ENV_VAR}, or run `runpod config` (or `runpodctl config --apiKey`); "
    "create a key in the RunPod console under Settings, API Keys"
)
PROXY_URL = "https://{pod_id}-{port}.proxy.runpod.net"
"""RunPod's HTTP proxy in front of a pod's HTTP port."""
DEFAULT_USER = "root"
MAX_CONCURRENT_CALLS = 4
ATTEMPTS = 4
BACKOFF_START = 0.5
BACKOFF_MAX = 8.0
NO_PUBLIC_SSH = (
    "has no public SSH port. RunPod's basic SSH proxy (ssh.runpod.io) gives "
    "a terminal only, with no file transfer, so podtui cannot use it"
)
NO_PUBLIC_SSH_HINT = (
    "edit the pod's template: add 22 to 'Expose TCP Ports' (the pod then gets "
    "a public IP and port for SSH, with SFTP) and make sure the image starts sshd"
)


# --- the API key -------------------------------------------------------------


def api_key() -> str:
    """The RunPod API key from the environment or the RunPod config file."""
    key = os.environ.get(KEY_ENV_VAR, "").strip()
    if key:
        return key
    from_file = _key_from_file(Path(CREDENTIALS_FILE).expanduser())
    if from_file:
        return from_file
    raise ProviderError("no RunPod API key found", hint=KEY_HINT)


def _key_from_file(path: Path) -> str | None:
    """The key in the SDK's layout (`[default] api_key`) or runpodctl's (`apikey`)."""
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        return None
    except (OSError, tomllib.TOMLDecodeError):
        # The error text could quote the file, and so the key: say only where.
        raise ProviderError(
            f"cannot read the RunPod API key from {path}: not a readable TOML file",
            hint=KEY_HINT,
        ) from None
    profile = data.get("default")
    candidates = [profile.get("api_key") if isinstance(profile, dict) else None]
    candidates += [v for k, v in data.items() if k.lower() in ("apikey", "api_key")]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


def redact(text: str, key: str | None) -> str:
    """`text` with the API key taken out, for anything shown or logged."""
    if key:
        text = text.replace(key, "[api key]")
    return text


def checked_pod_id(pod_id: object) -> str:
    """A pod id that is safe to put into query text, or a ProviderError."""
    if not isinstance(pod_id, str) or not RUNPOD_ID_RE.fullmatch(pod_id):
        raise ProviderError(
            f"invalid RunPod pod id {str(pod_id)[:40]!r}: expected lowercase "
            "letters and digits"
        )
    return pod_id


# --- errors ------------------------------------------------------------------


class RunPodAPIError(ProviderError):
    """The RunPod API refused a request or failed to answer it."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        """The HTTP status, when there was an answer."""
        self.retryable = retryable
        self.retry_after = retry_after
        """Seconds to wait before the next try, when the API said so."""


def _response_error(response: Any) -> RunPodAPIError | None:
    """What is wrong with an HTTP answer of the API, or None if it looks fine.

    The SDK only checks for 401 and then parses the body as JSON, so a 429,
    a 5xx or an HTML page would surface as a confusing parse error.
    """
    status = response.status_code
    html = _is_html(response)
    page = f" ({_page_title(response.text)})" if html else ""
    if status == 401:
        return None  # the SDK raises its AuthenticationError
    if status == 403:
        return RunPodAPIError(
            f"RunPod refused the API key (HTTP 403){page}", hint=KEY_HINT, status=403
        )
    if status == 429:
        return RunPodAPIError(
            "RunPod is limiting the rate of API calls (HTTP 429)",
            hint="wait a minute, or refresh less often ([ui] refresh_interval)",
            status=status,
            retryable=True,
            retry_after=_retry_after(response),
        )
    if status >= 500:
        return RunPodAPIError(
            f"RunPod's API failed (HTTP {status}){page}",
            hint="RunPod may be having an outage: see https://uptime.runpod.io",
            status=status,
            retryable=True,
            retry_after=_retry_after(response),
        )
    if html:
        return RunPodAPIError(
            f"RunPod's API answered HTTP {status} with a web page{page} instead "
            "of JSON",
            hint="a proxy or captive portal may be in the way, or "
            "RUNPOD_API_BASE_URL points at the wrong place",
            status=status,
        )
    if status >= 400:
        return RunPodAPIError(f"RunPod's API answered HTTP {status}", status=status)
    return None


def _is_html(response: Any) -> bool:
    content_type = response.headers.get("Content-Type", "")
    return "html" in content_type or response.text.lstrip()[:1] == "<"


def _page_title(text: str) -> str:
    match = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    title = " ".join(match.group(1).split())[:80] if match else ""
    return f"an HTML page titled {title!r}" if title else "an HTML page"


def _retry_after(response: Any) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


# --- the SDK, in worker threads ----------------------------------------------

_sdk_lock = threading.Lock()


class _WatchedRequests:
    """Stands in for `requests` inside the SDK's GraphQL module.

    It sends exactly what the SDK sends, and turns a 429, a 5xx or an HTML
    page into a `RunPodAPIError` before the SDK tries to parse it as JSON.
    """

    def __init__(self, requests: Any) -> None:
        self._requests = requests

    def __getattr__(self, name: str) -> Any:
        return getattr(self._requests, name)

    def post(self, url: str, **kwargs: Any) -> Any:
        response = self._requests.post(url, **kwargs)
        error = _response_error(response)
        if error is not None:
            raise error
        return response


def _sdk() -> Any:
    """The `runpod` package, imported on first use (it takes over a second).

    Importing it calls `logging.basicConfig` (INFO, to stderr), which would
    print every library's log lines over the app: that is undone here.
    """
    with _sdk_lock:
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        import runpod
        from runpod.api import graphql

        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)

        if not isinstance(graphql.requests, _WatchedRequests):
            graphql.requests = _WatchedRequests(graphql.requests)
        return runpod


def _run_sdk(operation: Callable[[Any, str], Any], key: str) -> Any:
    """Run one SDK call (in a worker thread), its failures as RunPodAPIError."""
    runpod = _sdk()
    import requests

    try:
        return operation(runpod, key)
    except RunPodAPIError as error:
        error.message = redact(error.message, key)
        error.args = (error.message,)
        raise
    except runpod.error.AuthenticationError:
        raise RunPodAPIError(
            "RunPod refused the API key (HTTP 401)", hint=KEY_HINT, status=401
        ) from None
    except runpod.error.QueryError as error:
        raise RunPodAPIError(
            f"RunPod refused the request: {redact(str(error), key)}"
        ) from None
    except (requests.ConnectionError, requests.Timeout) as error:
        raise RunPodAPIError(
            f"cannot reach RunPod's API: {type(error).__name__}",
            hint="check the network connection (and RUNPOD_API_BASE_URL if set)",
            retryable=True,
        ) from None
    except (ValueError, KeyError, TypeError) as error:
        raise RunPodAPIError(
            f"RunPod's API answered something unexpected ({type(error).__name__})"
        ) from None


class RunPodAPI:
    """The calls podtui makes to RunPod, in threads, capped and retried."""

    def __init__(
        self,
        key: str | None = None,
        *,
        concurrency: int = MAX_CONCURRENT_CALLS,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF_START,
    ) -> None:
        self._key = key
        self._concurrency = concurrency
        self._semaphore: asyncio.Semaphore | None = None
        self.attempts = attempts
        self.backoff = backoff
        self.calls = 0
        """HTTP requests sent, retries included, for tests and benchmarks."""

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = api_key()
        return self._key

    async def list_pods(self) -> list[dict[str, Any]]:
        """Every pod of the account, as the API describes it."""
        pods = await self._call("list pods", lambda sdk, key: sdk.get_pods(api_key=key))
        return [pod for pod in pods or [] if isinstance(pod, dict)]

    async def get_pod(self, pod_id: str) -> dict[str, Any] | None:
        pod_id = checked_pod_id(pod_id)
        answer = await self._call(
            f"read pod {pod_id}", lambda sdk, key: sdk.get_pod(pod_id, api_key=key)
        )
        return answer if isinstance(answer, dict) else None

    async def stop_pod(self, pod_id: str) -> None:
        pod_id = checked_pod_id(pod_id)
        await self._mutate(
            f"stop pod {pod_id}",
            lambda m: m.generate_pod_stop_mutation(pod_id),
        )

    async def resume_pod(self, pod_id: str, gpu_count: int) -> None:
        pod_id = checked_pod_id(pod_id)
        count = int(gpu_count)
        await self._mutate(
            f"resume pod {pod_id}",
            lambda m: m.generate_pod_resume_mutation(pod_id, count),
        )

    async def terminate_pod(self, pod_id: str) -> None:
        pod_id = checked_pod_id(pod_id)
        await self._mutate(
            f"terminate pod {pod_id}",
            lambda m: m.generate_pod_terminate_mutation(pod_id),
        )

    async def _mutate(self, what: str, build: Callable[[Any], str]) -> Any:
        """Run a mutation that the SDK builds, with this API's key.

        The SDK's own stop/resume/terminate use its global key; its query
        runner takes the key per call, so two keys never get mixed up.
        """

        def operation(sdk: Any, key: str) -> Any:
            from runpod.api import graphql
            from runpod.api.mutations import pods as mutations

            return graphql.run_graphql_query(build(mutations), api_key=key)

        return await self._call(what, operation)

    async def _call(self, what: str, operation: Callable[[Any, str], Any]) -> Any:
        key = self.key
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._concurrency)
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                async with self._semaphore:
                    self.calls += 1
                    return await asyncio.to_thread(_run_sdk, operation, key)
            except RunPodAPIError as error:
                if not error.retryable or attempt == self.attempts:
                    log.warning("RunPod: %s failed: %s", what, error.message)
                    raise
                wait = delay if error.retry_after is None else error.retry_after
                wait = min(max(wait, 0.0), BACKOFF_MAX)
                log.info(
                    "RunPod: %s failed (%s); try %d in %.2fs",
                    what,
                    error.message,
                    attempt + 1,
                    wait,
                )
                await asyncio.sleep(wait)
                delay = min(delay * 2, BACKOFF_MAX)
        raise AssertionError("unreachable")


# --- from the API's pods to podtui's pods --------------------------------------


class RunPodProvider:
    """The RunPod pods of a fleet: one list call per refresh, for all environments."""

    def __init__(self, api: RunPodAPI | None = None) -> None:
        self.api = api or RunPodAPI()
        self._listing: asyncio.Future[list[dict[str, Any]]] | None = None

    def new_refresh(self) -> None:
        """Forget the listing, so the next `pods` asks the API again."""
        self._listing = None

    async def listing(self) -> list[dict[str, Any]]:
        """The account's pods for this refresh, fetched once and shared."""
        if self._listing is None:
            self._listing = asyncio.ensure_future(self.api.list_pods())
        return await asyncio.shield(self._listing)

    async def pods(self, environment: EnvironmentConfig) -> list[Pod]:
        """The pods of one runpod environment, from this refresh's listing."""
        return pods_of(environment, await self.listing())


async def pods(environment: EnvironmentConfig) -> list[Pod]:
    """The pods of one runpod environment, with a list call of its own."""
    return await RunPodProvider().pods(environment)


def pods_of(environment: EnvironmentConfig, listing: list[dict[str, Any]]) -> list[Pod]:
    """Map the API's pods to an environment: its pod ids, then its name pattern."""
    by_id = {}
    for data in listing:
        if isinstance(data.get("id"), str) and RUNPOD_ID_RE.fullmatch(data["id"]):
            by_id[data["id"]] = data
        else:
            log.warning("RunPod listed a pod with an invalid id; ignoring it")
    found = []
    for pod_config in environment.pods:
        listed = by_id.get(pod_config.pod_id or "")
        if listed is None:
            found.append(_missing_pod(environment, pod_config))
        else:
            found.append(runpod_pod(environment, listed, pod_config))
    if environment.pod_name_pattern:
        by_config = {pod_config.pod_id for pod_config in environment.pods}
        pattern = re.compile(environment.pod_name_pattern)
        matching = [
            data
            for pod_id, data in by_id.items()
            if pod_id not in by_config and pattern.search(str(data.get("name") or ""))
        ]
        matching.sort(key=lambda data: (str(data.get("name")), data["id"]))
        found.extend(runpod_pod(environment, data, None) for data in matching)
    return found


def runpod_pod(
    environment: EnvironmentConfig, data: dict[str, Any], pod_config: PodConfig | None
) -> Pod:
    """One API pod as podtui's Pod, with the truth about its status."""
    pod_id = data["id"]
    name = pod_config.name if pod_config else _pod_name(data)
    status, reason, hint = _status(data)
    ssh = None
    if status == PodStatus.RUNNING:
        ssh = _endpoint(environment, data, pod_config)
        if ssh is None:
            reason, hint = NO_PUBLIC_SSH, NO_PUBLIC_SSH_HINT
    return Pod(
        id=pod_id,
        name=name,
        environment=environment.name,
        provider="runpod",
        status=status,
        ssh=ssh,
        http_port=environment.port,
        gpu=_gpu(data),
        cost_per_hour=_number(data.get("costPerHr")),
        reason=f"{reason}; {hint}" if reason and hint else reason,
        http_url=PROXY_URL.format(pod_id=pod_id, port=environment.port)
        if environment.http_proxy
        else None,
        uptime=_number(data.get("uptimeSeconds")),
        gpu_count=_integer(data.get("gpuCount")),
    )


def _missing_pod(environment: EnvironmentConfig, pod_config: PodConfig) -> Pod:
    return Pod(
        id=pod_config.pod_id or f"runpod:{pod_config.name}",
        name=pod_config.name,
        environment=environment.name,
        provider="runpod",
        status=PodStatus.UNKNOWN,
        ssh=None,
        http_port=environment.port,
        reason=f"RunPod has no pod {pod_config.pod_id} in this account "
        "(terminated, or made with another account's key)",
    )


def _status(data: dict[str, Any]) -> tuple[PodStatus, str | None, str | None]:
    """RUNNING means the machine was given out, not that the container is up."""
    desired = str(data.get("desiredStatus") or "").upper()
    if desired == "RUNNING":
        if not _runtime_ports(data):
            return (
                PodStatus.STARTING,
                "RunPod reports the pod running, but its container is not up yet",
                None,
            )
        return PodStatus.RUNNING, None, None
    if desired in ("EXITED", "STOPPED"):
        return (
            PodStatus.STOPPED,
            "stopped on RunPod (its volume is kept)",
            "resume it with `s` in the app or `podtui resume POD`",
        )
    if desired == "TERMINATED":
        return PodStatus.STOPPED, "terminated on RunPod", None
    return PodStatus.UNKNOWN, f"RunPod reports the pod as {desired or 'unknown'}", None


def _runtime_ports(data: dict[str, Any]) -> list[dict[str, Any]]:
    runtime = data.get("runtime")
    if not isinstance(runtime, dict):
        return []
    ports = runtime.get("ports")
    return [port for port in ports or [] if isinstance(port, dict)]


def _endpoint(
    environment: EnvironmentConfig, data: dict[str, Any], pod_config: PodConfig | None
) -> SSHEndpoint | None:
    """SSH through the public IP and the public port mapped to the pod's 22."""
    for port in _runtime_ports(data):
        public = _integer(port.get("publicPort"))
        if (
            port.get("privatePort") == 22
            and port.get("isIpPublic")
            and isinstance(port.get("ip"), str)
            and public is not None
            and 1 <= public <= 65535
        ):
            key = (pod_config.key if pod_config else None) or environment.ssh_key
            return SSHEndpoint(
                host=port["ip"],
                port=public,
                user=(pod_config.user if pod_config else None)
                or environment.ssh_user
                or DEFAULT_USER,
                key_files=(key,) if key else (),
                known_hosts=(pod_config.known_hosts if pod_config else None)
                or environment.known_hosts,
            )
    return None


def _pod_name(data: dict[str, Any]) -> str:
    """A pod name safe for paths and commands, from the name given on RunPod."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(data.get("name") or "")).strip("-.")
    return name or data["id"]


def _gpu(data: dict[str, Any]) -> str | None:
    machine = data.get("machine")
    name = machine.get("gpuDisplayName") if isinstance(machine, dict) else None
    count = _integer(data.get("gpuCount"))
    if not name or not count:
        return None
    return f"{count}x {name}" if count > 1 else str(name)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
