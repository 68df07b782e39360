"""Releases: what the local repository would deploy, and what a pod runs.

A release record (commit, dirty tree, requirements hash, when and by whom) is
kept on each pod in `.podtui/release.json`, with the manifest of the app
directory as released (`.podtui/manifest.json`: relative path to sha256).
Drift is the difference between that manifest and the app directory now.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

from podtui.config import Config
from podtui.model import Release
from podtui.remote.service import MANIFEST_FILE, RELEASE_FILE

__all__ = ["MANIFEST_FILE", "RELEASE_FILE", "head_of", "local_release", "manifest_of"]

SKIPPED_DIRS = frozenset({"__pycache__", ".git"})


def requirements_hash(path: Path) -> str | None:
    """The sha256 of a requirements file, or None when there is none."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def head_of(repo: Path) -> tuple[str | None, bool]:
    """The HEAD commit of a repository and whether its tracked files changed.

    Blocking (GitPython runs git): call it in a thread from async code.
    """
    import git

    try:
        repository = git.Repo(repo)
        commit = repository.head.commit.hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return None, False
    return commit, repository.is_dirty(untracked_files=False)


def local_release(config: Config) -> Release:
    """The release the local working tree would deploy now."""
    commit, dirty = head_of(config.project.repo)
    return Release(
        commit=commit,
        dirty=dirty,
        requirements_hash=requirements_hash(
            config.project.repo / config.project.requirements
        ),
        deployed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        deployed_by=f"{getpass.getuser()}@{socket.gethostname()}",
    )


def manifest_of(root: Path) -> dict[str, str]:
    """Relative posix path to sha256 of every file under `root`, as the agent does."""
    files = {}
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS)
        for name in names:
            if name.endswith(".pyc"):
                continue
            path = Path(directory) / name
            if path.is_symlink() or not path.is_file():
                continue
            files[path.relative_to(root).as_posix()] = hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
    return dict(sorted(files.items()))
