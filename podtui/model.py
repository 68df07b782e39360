"""Plain data: pods, their releases, health and statuses. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class PodStatus(StrEnum):
    """Whether a pod (the machine, not the service on it) is up."""

    RUNNING = "running"
    STOPPED = "stopped"
    STARTING = "starting"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SSHEndpoint:
    """How to reach a pod over SSH.

    `host` may be an alias from `~/.ssh/config`; anything left as None is
    taken from there (or from OpenSSH's defaults).
    """

    host: str
    port: int | None = None
    user: str | None = None
    key_files: tuple[str, ...] = ()
    known_hosts: str | None = None
    """A known_hosts file to check host keys against instead of the user's."""
    use_ssh_config: bool = True
    """Whether `~/.ssh/config` and ssh-agent apply (not for local pods)."""


@dataclass(frozen=True)
class Pod:
    """One machine that runs the app."""

    id: str
    """Unique across providers, e.g. `local:dev-1` or a RunPod pod id."""
    name: str
    environment: str
    provider: str
    status: PodStatus
    ssh: SSHEndpoint | None
    http_port: int
    """The service's port on the pod (reached through an SSH forward)."""
    gpu: str | None = None
    cost_per_hour: float | None = None
    reason: str | None = None
    """Why the pod is not running or cannot be reached, if known."""
    http_url: str | None = None
    """A public URL of the service, when the provider offers one."""
    python: str | None = None
    """The pod's Python, when the provider knows it better than the config."""
    uptime: float | None = None
    """Seconds the machine has been up, when the provider reports it."""
    gpu_count: int | None = None
    """How many GPUs the pod has, when the provider reports it."""


@dataclass(frozen=True)
class Release:
    """What a pod runs, as recorded on the pod when it was deployed."""

    commit: str | None
    dirty: bool = False
    requirements_hash: str | None = None
    deployed_at: str | None = None
    deployed_by: str | None = None

    @property
    def short(self) -> str:
        """The short commit with a `*` when the tree was dirty."""
        if not self.commit:
            return "-"
        return self.commit[:8] + ("*" if self.dirty else "")

    def to_dict(self) -> dict[str, object]:
        return {
            "commit": self.commit,
            "dirty": self.dirty,
            "requirements_hash": self.requirements_hash,
            "deployed_at": self.deployed_at,
            "deployed_by": self.deployed_by,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Release:
        def text(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value is not None else None

        return cls(
            commit=text("commit"),
            dirty=bool(data.get("dirty", False)),
            requirements_hash=text("requirements_hash"),
            deployed_at=text("deployed_at"),
            deployed_by=text("deployed_by"),
        )


@dataclass(frozen=True)
class Health:
    """The answer of the service's health endpoint."""

    healthy: bool
    status_code: int | None = None
    latency_ms: float | None = None
    detail: str = ""
    """`status` from the health JSON, or why the check failed."""
    data: dict[str, object] = field(default_factory=dict, compare=False)
    """The health JSON itself, when the service answered with JSON."""


@dataclass(frozen=True)
class AppState:
    """The app process on a pod, as the pod agent sees it."""

    running: bool
    pid: int | None = None
    uptime: float | None = None
    """Seconds since the app was started by the agent."""
    exit_code: int | None = None


@dataclass(frozen=True)
class PodReport:
    """Everything the dashboard shows about one pod after a refresh."""

    pod: Pod
    status: PodStatus
    app: AppState | None = None
    health: Health | None = None
    release: Release | None = None
    error: str | None = None
    """Why the pod could not be inspected, when it could not."""
    extra: dict[str, object] = field(default_factory=dict)
    image_requirements_hash: str | None = None
    """The requirements hash the pod's image was built with, once known (it is
    read once per pod session: it changes only when the pod is rebuilt)."""

    @property
    def healthy(self) -> bool:
        return self.health is not None and self.health.healthy


@dataclass(frozen=True)
class LocalHead:
    """The local repository as the dashboard compares pods with it."""

    commit: str | None
    dirty: bool = False
    """Tracked files have uncommitted changes."""
    requirements_hash: str | None = None
    behind: frozenset[str] = frozenset()
    """Pod release commits that are ancestors of `commit` (older releases)."""

    def relation(self, release: Release | None) -> str | None:
        """`head`, `behind` or `other` for a pod's release; None when unknown."""
        if release is None or not release.commit or not self.commit:
            return None
        if release.commit == self.commit:
            return "head"
        return "behind" if release.commit in self.behind else "other"

    def needs_image(self, report: PodReport) -> bool:
        """Whether the pod's image lacks the local requirements: a rebuild is due."""
        image = report.image_requirements_hash
        return bool(image and self.requirements_hash) and (
            image != self.requirements_hash
        )
