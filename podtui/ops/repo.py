"""The local git repository: what a deploy sends from it.

Blocking (git runs as a subprocess): call these in a thread from async code.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from pathlib import Path

from podtui.errors import PodtuiError

log = logging.getLogger(__name__)


class RepoError(PodtuiError):
    """The local repository cannot give what a deploy needs."""


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run git in `repo`; a failure is a RepoError with git's own message."""
    result = subprocess.run(
        ["git", "-C", str(repo), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise RepoError(
            f"git {args[0]} failed in {repo}: {result.stderr.strip() or 'no message'}"
        )
    return result


def resolve_commit(repo: Path, revision: str = "HEAD") -> str:
    """The full sha of `revision` in the local repository."""
    result = git(
        repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", check=False
    )
    if result.returncode != 0:
        raise RepoError(
            f"{revision} is not a commit of {repo}",
            hint="commit first, or check the repository in config.toml",
        )
    return result.stdout.strip()


def has_commit(repo: Path, commit: str) -> bool:
    """Whether the local repository knows `commit`."""
    return (
        git(repo, "cat-file", "-e", f"{commit}^{{commit}}", check=False).returncode == 0
    )


def is_ancestor(repo: Path, older: str, newer: str) -> bool:
    """Whether `older` is `newer` or one of its ancestors."""
    result = git(repo, "merge-base", "--is-ancestor", older, newer, check=False)
    return result.returncode == 0


def bundle_for(repo: Path, commit: str, pod_head: str | None) -> bytes:
    """A git bundle that brings a checkout at `pod_head` up to `commit`.

    The bundle carries local HEAD and everything the pod lacks; empty bytes
    when the pod already has `commit`. `commit` must be HEAD or an ancestor
    of it, since a bundle can only name refs.
    """
    head = resolve_commit(repo)
    if not is_ancestor(repo, commit, head):
        raise RepoError(
            f"commit {commit[:12]} is not on the local branch (HEAD is {head[:12]})",
            hint="check out a branch that contains it, then deploy again",
        )
    exclude: list[str] = []
    if pod_head is not None and has_commit(repo, pod_head):
        if is_ancestor(repo, commit, pod_head):
            return b""
        if not is_ancestor(repo, head, pod_head):
            exclude = [f"^{pod_head}"]
    with tempfile.TemporaryDirectory(prefix="podtui-bundle-") as directory:
        path = Path(directory) / "deploy.bundle"
        git(repo, "bundle", "create", "-q", str(path), "HEAD", *exclude)
        data = path.read_bytes()
    log.info("bundle of %s for a pod at %s: %d bytes", commit[:12], pod_head, len(data))
    return data
