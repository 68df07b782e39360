"""Copy-back: a file hot-fixed on a pod, brought into the local working tree.

A pod's app directory mirrors the project's deploy paths, so a file's path in
the app directory is its path in the repository. Copy-back compares three
versions: the *base* (the file as the editor opened it, or as it was
released), the *pod* version just saved, and the *local* file now:

- no local file: it is created;
- the local file is the base (or the released content): it is replaced;
- the local file changed too: nothing is written until the user chooses a
  three-way merge (`git merge-file`, conflict markers where both sides
  changed the same lines) or keeping both (the pod's version beside the
  local file as `name.pod-<pod>.ext`).

Either way no edit is lost on either side. Everything here is blocking
local file and git work: call it in a thread from async code.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import subprocess
import tempfile
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from podtui.config import Config
from podtui.errors import PodtuiError
from podtui.ops.repo import git

log = logging.getLogger(__name__)

BINARY_SNIFF_BYTES = 8192
"""How much of a file is looked at to tell text from binary."""


class CopyBackError(PodtuiError):
    """A pod file cannot be copied back as asked."""


class BinaryFileError(CopyBackError):
    """Hot fixes are for text files; binary files are refused."""


class CopyBackStatus(StrEnum):
    """What copy-back did to the local file."""

    CREATED = "created"
    REPLACED = "replaced"
    UNCHANGED = "unchanged"
    """The local file already had the pod's content."""
    CONFLICT = "conflict"
    """Changed on both sides: nothing written, the user must choose."""
    MERGED = "merged"
    MERGED_WITH_CONFLICTS = "merged with conflicts"
    KEPT_BOTH = "kept both"


@dataclass(frozen=True)
class CopyBack:
    """One copy-back: the three versions and what was done with them."""

    pod: str
    relpath: str
    """The path in the app directory, which is the path in the repository."""
    local: Path
    status: CopyBackStatus
    pod_data: bytes
    before: bytes | None
    """The local file before copy-back (None: there was none)."""
    base: bytes | None
    """The common ancestor: content at open time or as released, if known."""
    after: bytes | None = None
    """The local file after copy-back (None: not written)."""
    kept: Path | None = None
    """Where the pod's version was put beside the local file (keep both)."""
    conflicts: int = 0
    """How many conflict hunks a merge left marked in the local file."""

    @property
    def needs_choice(self) -> bool:
        return self.status == CopyBackStatus.CONFLICT

    @property
    def written(self) -> tuple[Path, ...]:
        """The local files copy-back wrote, for a commit of the hot fix."""
        paths = [self.local] if self.after is not None else []
        return tuple(paths + ([self.kept] if self.kept is not None else []))

    @property
    def diff(self) -> str:
        """What copy-back did, as a unified diff of the local file(s)."""
        if self.kept is not None:
            return unified_diff(
                self.before, self.pod_data, f"local/{self.relpath}", str(self.kept)
            )
        if self.after is None:
            return ""
        return unified_diff(
            self.before, self.after, f"local/{self.relpath}", f"local/{self.relpath}"
        )

    @property
    def local_diff(self) -> str:
        """How the local file differs from the base: the local edits."""
        return unified_diff(
            self.base, self.before, f"base/{self.relpath}", f"local/{self.relpath}"
        )

    @property
    def pod_diff(self) -> str:
        """How the pod's file differs from the base: the hot fix."""
        return unified_diff(
            self.base,
            self.pod_data,
            f"base/{self.relpath}",
            f"{self.pod}/{self.relpath}",
        )

    def summary(self) -> str:
        """One line: `voice_pipeline/x.py: replaced (+2 -1)`."""
        where = f"{self.relpath}: {self.status.value}"
        if self.kept is not None:
            return f"{where}, the pod's version is at {self.kept.name}"
        if self.conflicts:
            return f"{where} ({self.conflicts} conflict(s) marked)"
        return where


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_binary(data: bytes) -> bool:
    """Whether content looks binary: a NUL byte, or not UTF-8 text."""
    head = data[:BINARY_SNIFF_BYTES]
    if b"\x00" in head:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def require_text(relpath: str, data: bytes) -> str:
    """The text of a file, or a BinaryFileError saying hot fixes need text."""
    if is_binary(data):
        raise BinaryFileError(
            f"{relpath} is a binary file ({len(data)} bytes): hot fixes edit and "
            "copy back text files only",
            hint="change binary files in the repository and deploy them",
        )
    return data.decode("utf-8")


def checked_relpath(relpath: str) -> str:
    """An app-directory path that stays inside it: relative, no `..`."""
    parts = relpath.split("/")
    if (
        not relpath
        or "\x00" in relpath
        or relpath.startswith("/")
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise CopyBackError(f"{relpath!r} is not a path inside the app directory")
    return relpath


def local_path(config: Config, relpath: str) -> Path:
    """The local file of an app-directory path: the same path in the repo."""
    checked_relpath(relpath)
    deploy = config.project.deploy
    if not any(
        relpath == d.rstrip("/") or relpath.startswith(d.rstrip("/") + "/")
        for d in deploy
    ):
        raise CopyBackError(
            f"{relpath} is not under the project's deploy paths "
            f"({', '.join(deploy)}), so it has no place in the repository",
            hint="add its directory to [project] deploy in config.toml",
        )
    repo = config.project.repo.resolve()
    path = repo / relpath
    if not path.resolve().is_relative_to(repo):
        raise CopyBackError(f"{relpath} leads outside {repo} through a symlink")
    return path


def read_local(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def copy_back(
    config: Config,
    pod: str,
    relpath: str,
    pod_data: bytes,
    *,
    base: bytes | None,
    released_sha256: str | None = None,
) -> CopyBack:
    """Bring a pod's file into the working tree, or stop at a conflict."""
    require_text(relpath, pod_data)
    path = local_path(config, relpath)
    before = read_local(path)
    copy = CopyBack(pod, relpath, path, CopyBackStatus.CONFLICT, pod_data, before, base)
    if before == pod_data:
        return replace(copy, status=CopyBackStatus.UNCHANGED)
    if before is None:
        write_local(path, pod_data)
        return replace(copy, status=CopyBackStatus.CREATED, after=pod_data)
    if before == base or (released_sha256 and sha256(before) == released_sha256):
        write_local(path, pod_data)
        return replace(copy, status=CopyBackStatus.REPLACED, after=pod_data)
    log.info("%s: %s changed locally and on the pod", pod, relpath)
    return copy


def resolve_conflict(copy: CopyBack, choice: str) -> CopyBack:
    """Settle a conflict by `merge` (three-way) or `keep-both`."""
    if not copy.needs_choice:
        return copy
    if read_local(copy.local) != copy.before:
        raise CopyBackError(
            f"{copy.relpath} changed locally again while you chose: nothing written",
            hint="copy it back again to see the new differences",
        )
    if choice == "merge":
        merged, conflicts = merge_three_way(copy)
        write_local(copy.local, merged)
        status = (
            CopyBackStatus.MERGED_WITH_CONFLICTS if conflicts else CopyBackStatus.MERGED
        )
        return replace(copy, status=status, after=merged, conflicts=conflicts)
    if choice == "keep-both":
        kept = kept_path(copy.local, copy.pod, copy.pod_data)
        write_local(kept, copy.pod_data)
        return replace(copy, status=CopyBackStatus.KEPT_BOTH, kept=kept)
    raise CopyBackError(f"unknown choice {choice!r}: merge or keep-both")


def merge_three_way(copy: CopyBack) -> tuple[bytes, int]:
    """`git merge-file` of local, base and pod: the result and its conflicts."""
    assert copy.before is not None
    with tempfile.TemporaryDirectory(prefix="podtui-merge-") as directory:
        files = []
        for name, data in (
            ("local", copy.before),
            ("base", copy.base or b""),
            ("pod", copy.pod_data),
        ):
            path = Path(directory) / name
            path.write_bytes(data)
            files.append(str(path))
        result = subprocess.run(
            ["git", "merge-file", "-p"]
            + ["-L", "local", "-L", "base", "-L", copy.pod]
            + files,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    if result.returncode < 0 or result.returncode > 127:
        raise CopyBackError(
            f"git merge-file failed on {copy.relpath}: "
            f"{result.stderr.decode(errors='replace').strip()}"
        )
    return result.stdout, result.returncode


def kept_path(local: Path, pod: str, data: bytes) -> Path:
    """A free name beside `local` for the pod's version: `x.pod-dev-1.py`."""
    stem, suffix = local.stem, local.suffix
    if local.name.startswith(".") and not suffix:
        stem = local.name
    candidate = local.with_name(f"{stem}.pod-{pod}{suffix}")
    number = 2
    while candidate.exists() and candidate.read_bytes() != data:
        candidate = local.with_name(f"{stem}.pod-{pod}-{number}{suffix}")
        number += 1
    return candidate


def write_local(path: Path, data: bytes) -> None:
    """Replace a local file atomically, keeping its permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def unified_diff(
    old: bytes | None, new: bytes | None, old_label: str, new_label: str
) -> str:
    """A unified diff of two text contents (None reads as no file)."""
    old_lines = (old or b"").decode("utf-8", "replace").splitlines(keepends=True)
    new_lines = (new or b"").decode("utf-8", "replace").splitlines(keepends=True)
    lines = difflib.unified_diff(
        old_lines,
        new_lines,
        "/dev/null" if old is None else old_label,
        "/dev/null" if new is None else new_label,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def commit_hotfix(repo: Path, pod: str, paths: list[Path]) -> str:
    """Commit the copied-back files, naming the pod and files; never pushes.

    Only these paths are committed, whatever else is staged. Returns the new
    commit's sha.
    """
    if not paths:
        raise CopyBackError("nothing was copied back, so there is nothing to commit")
    relpaths = sorted(
        {str(path.resolve().relative_to(repo.resolve())) for path in paths}
    )
    git(repo, "add", "--", *relpaths)
    if not git(
        repo, "diff", "--cached", "--quiet", "--", *relpaths, check=False
    ).returncode:
        raise CopyBackError(
            "the copied-back files are already committed: nothing to commit"
        )
    message = f"Hot fix from {pod}: {', '.join(relpaths)}"
    git(repo, "commit", "-q", "-m", message, "--", *relpaths)
    sha = git(repo, "rev-parse", "HEAD").stdout.strip()
    log.info("committed the hot fix of %s as %s", pod, sha[:12])
    return sha
