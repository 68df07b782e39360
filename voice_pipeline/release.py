"""The release record podtui writes on the pod: what this service runs."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RELEASE_ENV = "PODTUI_RELEASE_FILE"
FIELDS = ("commit", "dirty", "requirements_hash", "deployed_at", "deployed_by")


class ReleaseRecord:
    """Reads the release file, re-reading it only when it changed on disk.

    A hot fix may rewrite the record while the service runs, so each request
    checks the file's modification time (a cheap `stat`) instead of trusting
    what was read at start.
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = Path(path) if path else None
        self._stamp: tuple[int, int] | None = None
        self._data: dict[str, Any] = dict.fromkeys(FIELDS)

    @classmethod
    def from_env(cls) -> ReleaseRecord:
        """The record named by `PODTUI_RELEASE_FILE`, if set."""
        return cls(os.environ.get(RELEASE_ENV) or None)

    def read(self) -> dict[str, Any]:
        """The release fields; every field is None when there is no record."""
        if self.path is None:
            return dict.fromkeys(FIELDS)
        try:
            stat = self.path.stat()
        except OSError:
            self._stamp = None
            return dict.fromkeys(FIELDS)
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._data = self._load()
            self._stamp = stamp
        return dict(self._data)

    def _load(self) -> dict[str, Any]:
        assert self.path is not None
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            log.warning("release unreadable path=%s error=%s", self.path, error)
            return dict.fromkeys(FIELDS)
        if not isinstance(raw, dict):
            return dict.fromkeys(FIELDS)
        return {name: raw.get(name) for name in FIELDS}
