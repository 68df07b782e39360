"""A deploy path that is one file, not a folder, deploys in every mode."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from podtui.config import load_config
from podtui.ops.deploy import DeployOptions, deploy
from podtui.ops.fleet import Fleet
from tests.conftest import start_local_pods
from tests.deploy.conftest import DeployWorld, commit_file, git, make_repo

SETTINGS = "settings.toml"

SINGLE_FILE_CONFIG = """\
[project]
name = "voice-pipeline"
repo = "{repo}"
deploy = ["voice_pipeline", "{settings}"]
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
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployWorld]:
    root = tmp_path_factory.mktemp("single-file")
    repo = make_repo(root)
    commit_file(repo, SETTINGS, "level = 1\n", "Add settings")
    config_path = root / "config.toml"
    config_path.write_text(SINGLE_FILE_CONFIG.format(repo=repo, settings=SETTINGS))
    config = load_config(config_path)
    pods = start_local_pods(root / "home", config)
    yield DeployWorld(repo, config, pods)
    pods.down()


@pytest.fixture
async def fleet(world: DeployWorld) -> AsyncIterator[Fleet]:
    fleet = Fleet(world.config, local_pods=world.pods)
    yield fleet
    await fleet.close()


def settings_on_pod(world: DeployWorld) -> Path:
    return world.app_dir("dev-1") / SETTINGS


async def test_a_committed_change_to_a_single_file_path_deploys_with_git(
    world: DeployWorld, fleet: Fleet
) -> None:
    commit_file(world.repo, SETTINGS, "level = 2\n", "Raise the level")

    result = await deploy(fleet, "dev", options=DeployOptions(mode="git"))

    assert result.ok, [o.error for o in result.outcomes]
    assert settings_on_pod(world).read_text() == "level = 2\n"
    assert result.outcomes[0].written == (SETTINGS,)


async def test_an_unpushed_change_to_a_single_file_path_deploys_with_push(
    world: DeployWorld, fleet: Fleet
) -> None:
    commit_file(world.repo, SETTINGS, "level = 3\n", "Raise the level again")

    result = await deploy(fleet, "dev", options=DeployOptions(mode="push"))

    assert result.ok, [o.error for o in result.outcomes]
    assert settings_on_pod(world).read_text() == "level = 3\n"
    assert result.outcomes[0].release is not None
    assert result.outcomes[0].release.commit == git(world.repo, "rev-parse", "HEAD")


async def test_a_single_file_path_gone_from_the_commit_is_removed_from_the_pod(
    world: DeployWorld, fleet: Fleet
) -> None:
    git(world.repo, "rm", "-q", SETTINGS)
    git(world.repo, "commit", "-qm", "Drop the settings")

    result = await deploy(fleet, "dev", options=DeployOptions(mode="push"))

    assert result.ok, [o.error for o in result.outcomes]
    assert not settings_on_pod(world).exists()
    assert result.outcomes[0].deleted == (SETTINGS,)
