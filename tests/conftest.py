"""Fixtures for real parts: local pods, a project repository, a real sshd.

The session's local pods are real SSH servers running the real service. They
live in a temporary PODTUI_HOME so tests never touch the user's own pods.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from podtui.config import Config, load_config
from podtui.providers.local import LocalPods

REPO_ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

LOCAL_CONFIG = """\
[project]
name = "voice-pipeline"
repo = "{repo}"
deploy = ["voice_pipeline"]
requirements = "voice_pipeline/requirements.txt"

[ui]
refresh_interval = 1.0

[defaults]
python = "python3"

[defaults.timeouts]
connect = 5.0
command = 15.0
health = 3.0
stop = 5.0

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


def require_tool(name: str) -> str:
    """The path of a tool the test needs: skip without it, but fail in CI."""
    path = shutil.which(name) or (f"/usr/sbin/{name}" if name == "sshd" else None)
    if path and os.path.exists(path):
        return path
    message = f"{name} is not installed"
    if IN_CI:
        pytest.fail(f"{message} (CI must install it: see .ci/run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def project_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real git repository holding a copy of the service, one commit deep."""
    repo = tmp_path_factory.mktemp("project")
    shutil.copytree(
        REPO_ROOT / "voice_pipeline",
        repo / "voice_pipeline",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git[:3], "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "Initial release"], check=True)
    return repo


@pytest.fixture(scope="session")
def podtui_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A PODTUI_HOME of its own for the whole test session."""
    home = tmp_path_factory.mktemp("podtui-home")
    previous = os.environ.get("PODTUI_HOME")
    os.environ["PODTUI_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("PODTUI_HOME", None)
    else:
        os.environ["PODTUI_HOME"] = previous


@pytest.fixture(scope="session")
def config_path(project_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "config.toml"
    path.write_text(LOCAL_CONFIG.format(repo=project_repo))
    return path


@pytest.fixture(scope="session")
def local_config(config_path: Path) -> Config:
    return load_config(config_path)


@pytest.fixture(scope="session")
def local_pods(podtui_home: Path, local_config: Config) -> Iterator[LocalPods]:
    """The four local pods of the test config, up for the whole session."""
    pods = LocalPods(podtui_home)
    pods.up(local_config)
    yield pods
    pods.down()
