"""Building and pushing the pod image (tier 3: new dependencies).

The image records the hash of `voice_pipeline/requirements.txt` it was built
from (a label), so podtui can refuse what would put the wrong dependencies
on the pods: pushing an image built from other requirements, or reusing a
tag that already names such an image. Plans are plain lists of commands, so
a machine without a docker engine can still show what would run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from podtui.errors import PodtuiError

log = logging.getLogger(__name__)

HASH_LABEL = "podtui.requirements-hash"
"""The image label holding the requirements hash it was built from."""
DOCKER = "docker"
ENGINE_TIMEOUT = 10.0
"""Seconds `docker info` may take before the engine counts as unreachable."""


class ImageError(PodtuiError):
    """Building or pushing the pod image failed or was refused."""


class RequirementsMismatch(ImageError):
    """The image's requirements are not the ones the user is working with."""


@dataclass(frozen=True)
class ImageInfo:
    """What `docker image inspect` says about a local image."""

    tag: str
    requirements_hash: str | None
    """The hash label, None for an image not built by podtui."""


Inspect = Callable[[str], ImageInfo | None]
"""Looks a tag up locally; None when no image has that tag."""
Output = Callable[[str], None]
"""Receives each output line of a running command."""


def requirements_hash(path: Path) -> str:
    """The sha256 (hex) of a requirements file's content."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        raise ImageError(
            f"cannot read the requirements file {path}: {error.strerror}",
            hint="run podtui from the project checkout",
        ) from None


def plan_build(repo: Path, requirements: Path, tag: str) -> list[list[str]]:
    """The docker commands that build the pod image from `repo` as `tag`."""
    digest = requirements_hash(requirements)
    return [
        [
            DOCKER,
            "build",
            "--file",
            str(repo / "Dockerfile"),
            "--build-arg",
            f"REQUIREMENTS_HASH={digest}",
            "--label",
            f"{HASH_LABEL}={digest}",
            "--tag",
            tag,
            str(repo),
        ]
    ]


def plan_push(tag: str) -> list[list[str]]:
    """The docker commands that push `tag` to its registry."""
    return [[DOCKER, "push", tag]]


def docker_available() -> bool:
    """True when a docker engine answers (not merely a client installed)."""
    try:
        done = subprocess.run(
            [DOCKER, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=ENGINE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        log.info("docker engine unavailable: %s", error)
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def inspect_image(tag: str) -> ImageInfo | None:
    """The local image named `tag` and its requirements label, if any."""
    done = subprocess.run(
        [DOCKER, "image", "inspect", "--format", "{{json .Config.Labels}}", tag],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    labels = json.loads(done.stdout.strip() or "null") or {}
    return ImageInfo(tag, labels.get(HASH_LABEL) or None)


def check_build(
    tag: str, current: str, existing: ImageInfo | None, force: bool
) -> None:
    """Refuse to move `tag` off an image built from other requirements."""
    if existing is None or existing.requirements_hash == current or force:
        return
    built = _short(existing.requirements_hash)
    raise RequirementsMismatch(
        f"{tag} already names an image built from other requirements "
        f"({built}, now {_short(current)})",
        hint="choose a new tag, or pass --force to move this tag",
    )


def check_push(tag: str, current: str, image: ImageInfo | None, force: bool) -> None:
    """Refuse to push an image missing here or built from other requirements."""
    if image is None:
        raise ImageError(
            f"there is no local image {tag} to push",
            hint=f"build it first: podtui image build --tag {tag}",
        )
    if image.requirements_hash == current or force:
        return
    raise RequirementsMismatch(
        f"{tag} was built from other requirements "
        f"({_short(image.requirements_hash)}, now {_short(current)})",
        hint="rebuild it with podtui image build, or pass --force to push it anyway",
    )


def _short(digest: str | None) -> str:
    return digest[:12] if digest else "no requirements label"


def run_commands(commands: list[list[str]], output: Output | None = None) -> None:
    """Run each command in turn, lines to `output`; ImageError on failure."""
    for command in commands:
        log.info("running %s", command)
        try:
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        except OSError as error:
            raise ImageError(f"cannot run {command[0]}: {error.strerror}") from None
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                if output is not None:
                    output(line.rstrip("\n"))
        if process.wait() != 0:
            raise ImageError(
                f"{' '.join(command[:2])} failed with exit code {process.returncode}",
                hint="see the output above",
            )


def build_image(
    repo: Path,
    requirements: Path,
    tag: str,
    *,
    force: bool = False,
    inspect: Inspect = inspect_image,
    output: Output | None = None,
) -> list[list[str]]:
    """Check, then build the image; the commands that ran."""
    check_build(tag, requirements_hash(requirements), inspect(tag), force)
    commands = plan_build(repo, requirements, tag)
    run_commands(commands, output)
    return commands


def push_image(
    requirements: Path,
    tag: str,
    *,
    force: bool = False,
    inspect: Inspect = inspect_image,
    output: Output | None = None,
) -> list[list[str]]:
    """Check, then push the image; the commands that ran."""
    check_push(tag, requirements_hash(requirements), inspect(tag), force)
    commands = plan_push(tag)
    run_commands(commands, output)
    return commands
