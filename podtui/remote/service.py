"""The service on a pod: how the pod agent starts it.

Shared by the local pod host (which boots its pods the way a container's
start command would) and by everything that restarts a service over SSH.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from podtui.config import EnvironmentConfig

RELEASE_FILE = ".podtui/release.json"
"""The release record on a pod, relative to its home."""
MANIFEST_FILE = ".podtui/manifest.json"
"""The app directory's manifest as released: relative path to sha256."""


def start_request(
    environment: EnvironmentConfig, *, home: str, port: int, python: str
) -> dict[str, Any]:
    """The pod agent's `start` request for the service of one pod.

    Paths from the config may be relative to the pod's home; the service runs
    in the app directory, so everything it is given is made absolute here.
    """

    def absolute(path: str) -> str:
        return path if os.path.isabs(path) else os.path.join(home, path)

    app_dir = absolute(environment.app_dir)
    log_file = absolute(environment.log_file)
    command = environment.start_command.format(
        python=shlex.quote(python),
        port=port,
        log_file=shlex.quote(log_file),
        app_dir=shlex.quote(app_dir),
        workspace_dir=shlex.quote(absolute(environment.workspace_dir)),
    )
    return {
        "argv": shlex.split(command),
        "cwd": app_dir,
        "env": {"PODTUI_RELEASE_FILE": absolute(RELEASE_FILE)},
        "output": os.path.join(os.path.dirname(log_file), "app.out"),
        "preload": list(environment.preload),
    }
