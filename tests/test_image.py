"""The pod image: requirements hash, build and push plans, refusals, and the
image's start script run with sh against a temporary pod tree."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from podtui.ops.image import (
    HASH_LABEL,
    ImageError,
    ImageInfo,
    RequirementsMismatch,
    build_image,
    docker_available,
    plan_build,
    plan_push,
    push_image,
    requirements_hash,
    run_commands,
)
from tests.conftest import REPO_ROOT

REPO = Path(__file__).resolve().parents[1]
START = REPO / "docker" / "start.sh"
AGENT = REPO / "podtui" / "agent.py"
DEADLINE = 20.0


@pytest.fixture
def requirements(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("aiohttp>=3.9\nnumpy>=1.26\n")
    return path


def no_image(tag: str) -> ImageInfo | None:
    return None


def test_requirements_hash_is_the_sha256_of_the_file(requirements: Path) -> None:
    expected = hashlib.sha256(requirements.read_bytes()).hexdigest()
    assert requirements_hash(requirements) == expected


def test_missing_requirements_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="cannot read the requirements file"):
        requirements_hash(tmp_path / "nope.txt")


def test_build_plan_labels_the_image_with_the_requirements_hash(
    requirements: Path,
) -> None:
    digest = requirements_hash(requirements)
    [command] = plan_build(REPO, requirements, "registry.example/pod:v2")
    assert command[:2] == ["docker", "build"]
    assert f"REQUIREMENTS_HASH={digest}" in command
    assert f"{HASH_LABEL}={digest}" in command
    assert command[command.index("--tag") + 1] == "registry.example/pod:v2"
    assert command[-1] == str(REPO)


def test_push_plan_pushes_the_tag() -> None:
    assert plan_push("pod:v2") == [["docker", "push", "pod:v2"]]


def test_docker_available_answers_a_boolean() -> None:
    assert docker_available() in (True, False)


def test_building_over_a_tag_of_other_requirements_is_refused(
    requirements: Path,
) -> None:
    def other(tag: str) -> ImageInfo:
        return ImageInfo(tag, "0" * 64)

    with pytest.raises(RequirementsMismatch, match="already names an image") as info:
        build_image(REPO, requirements, "pod:v1", inspect=other)
    assert "--force" in (info.value.hint or "")


def test_pushing_an_image_built_from_other_requirements_is_refused(
    requirements: Path,
) -> None:
    def other(tag: str) -> ImageInfo:
        return ImageInfo(tag, "f" * 64)

    with pytest.raises(RequirementsMismatch, match="built from other requirements"):
        push_image(requirements, "pod:v1", inspect=other)


def test_pushing_a_tag_that_does_not_exist_locally_is_refused(
    requirements: Path,
) -> None:
    with pytest.raises(ImageError, match="no local image pod:v9"):
        push_image(requirements, "pod:v9", inspect=no_image)


def test_pushing_an_image_without_the_label_is_refused(requirements: Path) -> None:
    def unlabelled(tag: str) -> ImageInfo:
        return ImageInfo(tag, None)

    with pytest.raises(RequirementsMismatch, match="no requirements label"):
        push_image(requirements, "pod:v1", inspect=unlabelled)


def test_failed_command_raises_with_its_exit_code() -> None:
    lines: list[str] = []
    command = [sys.executable, "-c", "print('step'); raise SystemExit(3)"]
    with pytest.raises(ImageError, match="exit code 3"):
        run_commands([command], lines.append)
    assert lines == ["step"]


# The start script, run with sh against a temporary pod tree.


@pytest.fixture
def pod(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A pod tree: app dir with the package, workspace, state and log dirs."""
    app = tmp_path / "app" / "src"
    shutil.copytree(
        REPO / "voice_pipeline",
        app / "voice_pipeline",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    env = {
        "PATH": os.environ["PATH"],
        "APP_DIR": str(app),
        "WORKSPACE": str(tmp_path / "workspace"),
        "STATE_DIR": str(tmp_path / "state"),
        "SSH_DIR": str(tmp_path / "ssh"),
        "AGENT": str(AGENT),
        "PYTHON": sys.executable,
        "HOST": "127.0.0.1",
        "PORT": "0",
        "START_SSHD": "0",
        "KEEP_ALIVE": "0",
        "START_APP": "0",
    }
    yield env
    stop = json.dumps({"state_dir": env["STATE_DIR"]})
    subprocess.run(
        [sys.executable, str(AGENT), "stop"],
        input=stop,
        text=True,
        capture_output=True,
        timeout=DEADLINE,
        check=False,
    )


def run_start(env: dict[str, str], **extra: str) -> str:
    """Run the start script with sh; its output."""
    done = subprocess.run(
        ["sh", str(START)],
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=True,
    )
    return done.stdout


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_start_copies_a_changed_checkout_into_the_app_dir(pod: dict[str, str]) -> None:
    checkout = Path(pod["WORKSPACE"]) / "voice-pipeline"
    shutil.copytree(
        Path(pod["APP_DIR"]) / "voice_pipeline", checkout / "voice_pipeline"
    )
    changed = checkout / "voice_pipeline" / "responder.py"
    changed.write_text(changed.read_text() + "\n# hot fix from the checkout\n")
    (Path(pod["APP_DIR"]) / "voice_pipeline" / "stale.py").write_text("")

    output = run_start(pod)

    app = Path(pod["APP_DIR"]) / "voice_pipeline"
    assert "copied" in output
    assert (app / "responder.py").read_text() == changed.read_text()
    assert not (app / "stale.py").exists()


def test_start_without_a_checkout_leaves_the_app_dir_untouched(
    pod: dict[str, str],
) -> None:
    before = files_of(Path(pod["APP_DIR"]))

    output = run_start(pod)

    assert "no checkout" in output
    assert files_of(Path(pod["APP_DIR"])) == before


def test_start_clones_the_project_into_a_new_volume_from_repo_url(
    pod: dict[str, str], tmp_path: Path
) -> None:
    origin = tmp_path / "origin"
    shutil.copytree(Path(pod["APP_DIR"]) / "voice_pipeline", origin / "voice_pipeline")
    marker = origin / "voice_pipeline" / "cloned_marker.py"
    marker.write_text("CLONED = True\n")
    git = ["git", "-C", str(origin), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(origin)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "Project"], check=True)

    output = run_start(pod, REPO_URL=str(origin))

    checkout = Path(pod["WORKSPACE"]) / "voice-pipeline"
    assert "cloned" in output
    assert (checkout / ".git").is_dir()
    app = Path(pod["APP_DIR"]) / "voice_pipeline"
    assert (app / "cloned_marker.py").read_text() == "CLONED = True\n"


def test_start_goes_on_with_the_images_app_when_the_clone_fails(
    pod: dict[str, str], tmp_path: Path
) -> None:
    before = files_of(Path(pod["APP_DIR"]))

    output = run_start(pod, REPO_URL=str(tmp_path / "no-such-repository"))

    assert "could not clone" in output
    assert not (Path(pod["WORKSPACE"]) / "voice-pipeline").exists()
    assert files_of(Path(pod["APP_DIR"])) == before


def test_start_authorizes_the_public_key_once(pod: dict[str, str]) -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample pod@test"

    run_start(pod, PUBLIC_KEY=key)
    run_start(pod, PUBLIC_KEY=key)

    keys = (Path(pod["SSH_DIR"]) / "authorized_keys").read_text().splitlines()
    assert keys == [key]


async def test_start_runs_the_service_under_the_agent(pod: dict[str, str]) -> None:
    output = await asyncio.to_thread(run_start, pod, START_APP="1")
    answer = json.loads(output.strip().splitlines()[-1])
    url = await wait_for_log(Path(pod["WORKSPACE"]) / "logs" / "app.log")

    async with httpx.AsyncClient() as client:
        health = await client.get(f"{url}/health")

    assert answer["ok"] and answer["running"]
    assert health.json()["engines"]["vad"]["available"] is True


async def wait_for_log(log_file: Path) -> str:
    """The service's URL once its log says it is listening (deadline-bound)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while loop.time() < deadline:
        if log_file.exists():
            for line in log_file.read_text().splitlines():
                if "listening url=" in line:
                    return line.split("listening url=")[1].strip()
        await asyncio.sleep(0.05)  # polling a file with a deadline
    raise AssertionError(f"the service never logged that it listens: {log_file}")


def test_image_build_prints_the_docker_commands_where_no_engine_runs(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    from podtui.ops.image import docker_available

    if docker_available():
        pytest.skip("a Docker engine is reachable: the commands would run")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "podtui",
            "--config",
            str(REPO_ROOT / "config.toml"),
            "image",
            "build",
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "No Docker engine" in result.stdout
    assert "docker build" in result.stdout
    assert "voice-pipeline:req-" in result.stdout


def test_image_push_refuses_a_tag_made_for_other_requirements() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "podtui",
            "--config",
            str(REPO_ROOT / "config.toml"),
            "image",
            "push",
            "--tag",
            "voice-pipeline:req-000000000000",
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert "made for requirements 000000000000" in result.stderr
    assert "Traceback" not in result.stderr
