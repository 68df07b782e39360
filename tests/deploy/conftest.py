"""Fixtures for deploy tests: a project repository and local pods of their own.

Deploys change pods and commit to the project, so each test module gets its
own repository (a copy of the service, one commit deep) and its own local
pods, never the session's shared ones.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from podtui.config import Config, load_config
from podtui.model import Pod
from podtui.ops.fleet import Fleet
from podtui.providers.local import LocalPods
from tests.conftest import REPO_ROOT, start_local_pods

DEPLOY_CONFIG = """\
[project]
name = "voice-pipeline"
repo = "{repo}"
deploy = ["voice_pipeline"]
requirements = "voice_pipeline/requirements.txt"

[defaults]
python = "python3"
deploy_mode = "git"

[defaults.timeouts]
connect = 5.0
command = 20.0
health = 3.0
stop = 5.0
start = 20.0

[environments.dev]
provider = "local"
protected = false

[[environments.dev.pods]]
name = "dev-1"

[[environments.dev.pods]]
name = "dev-2"

[environments.staging]
provider = "local"
protected = true

[[environments.staging.pods]]
name = "staging-1"

[environments.production]
provider = "local"
protected = true

[[environments.production.pods]]
name = "prod-1"
"""


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` as a fixed author; its output."""
    result = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def make_repo(root: Path) -> Path:
    """A git repository holding a copy of the service, one commit deep."""
    repo = root / "project"
    shutil.copytree(
        REPO_ROOT / "voice_pipeline",
        repo / "voice_pipeline",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Initial release")
    return repo


def commit_file(repo: Path, relpath: str, text: str, message: str) -> str:
    """Write one file in the repo, commit it, and return the new HEAD."""
    path = repo / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_hashes(root: Path) -> dict[str, str]:
    """Relative path to sha256 of every file under `root`, bytecode left out."""
    return {
        path.relative_to(root).as_posix(): sha256(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@dataclass
class DeployWorld:
    """A project repository and local pods deployed from it."""

    repo: Path
    config: Config
    pods: LocalPods

    def app_dir(self, pod: str) -> Path:
        return self.pods.pod_dir(pod) / "app" / "src"

    def checkout(self, pod: str) -> Path:
        return self.pods.pod_dir(pod) / "workspace" / "voice-pipeline"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployWorld]:
    root = tmp_path_factory.mktemp("deploy")
    repo = make_repo(root)
    config_path = root / "config.toml"
    config_path.write_text(DEPLOY_CONFIG.format(repo=repo))
    config = load_config(config_path)
    pods = start_local_pods(root / "home", config)
    yield DeployWorld(repo, config, pods)
    pods.down()


@pytest.fixture
async def fleet(world: DeployWorld) -> AsyncIterator[Fleet]:
    fleet = Fleet(world.config, local_pods=world.pods)
    yield fleet
    await fleet.close()


async def pod_named(fleet: Fleet, name: str) -> Pod:
    return next(pod for pod in await fleet.pods() if pod.name == name)


async def version_of(fleet: Fleet, name: str) -> dict[str, object]:
    """What the service of pod `name` answers on /version."""
    from podtui.ops.deploy import base_url

    session = fleet.session(await pod_named(fleet, name))
    response = await fleet.http.get(await base_url(session) + "/version")
    data: dict[str, object] = response.json()
    return data
