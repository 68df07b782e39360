"""Real parts for hot-fix tests: a project repository and local pods of their own.

Hot fixes change pods and the working tree, so each test module gets its own
repository (a copy of the service, one commit deep) and its own local pods.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from podtui.config import Config, load_config
from podtui.model import Pod
from podtui.ops.fleet import Fleet
from podtui.providers.local import LocalPods
from tests.conftest import REPO_ROOT, start_local_pods

HOTFIX_CONFIG = """\
[project]
name = "voice-pipeline"
repo = "{repo}"
deploy = ["voice_pipeline"]
requirements = "voice_pipeline/requirements.txt"

[defaults]
python = "python3"
deploy_mode = "files"

[defaults.timeouts]
connect = 5.0
command = 30.0
health = 3.0
stop = 5.0
start = 30.0

[environments.dev]
provider = "local"
protected = false

[[environments.dev.pods]]
name = "dev-1"

[environments.production]
provider = "local"
protected = true

[[environments.production.pods]]
name = "prod-1"
"""


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def make_repo(root: Path) -> Path:
    """A git repository with a copy of the service and an identity to commit as."""
    repo = root / "project"
    shutil.copytree(
        REPO_ROOT / "voice_pipeline",
        repo / "voice_pipeline",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    git(repo, "config", "user.name", "Hot Fixer")
    git(repo, "config", "user.email", "fixer@example.invalid")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Initial release")
    return repo


@dataclass
class HotfixWorld:
    """A project repository and local pods seeded from it."""

    root: Path
    repo: Path
    config: Config
    config_path: Path
    pods: LocalPods

    def app_dir(self, pod: str) -> Path:
        return self.pods.pod_dir(pod) / "app" / "src"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HotfixWorld]:
    root = tmp_path_factory.mktemp("hotfix")
    repo = make_repo(root)
    config_path = root / "config.toml"
    config_path.write_text(HOTFIX_CONFIG.format(repo=repo))
    config = load_config(config_path)
    pods = start_local_pods(root / "home", config)
    yield HotfixWorld(root, repo, config, config_path, pods)
    pods.down()


async def pod_named(fleet: Fleet, name: str) -> Pod:
    return next(pod for pod in await fleet.pods() if pod.name == name)
