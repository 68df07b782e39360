"""podtui leaves when its terminal hangs up, even when no SIGHUP reaches it.

The pseudo-terminal here is nobody's controlling terminal, so closing it
sends no signal at all: as under `make run`, only podtui itself can notice.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from podtui.providers.local import LocalPods
from tests.conftest import REPO_ROOT

DEADLINE = 60.0


def read_until(master: int, text: bytes) -> bytes:
    """Read the terminal's output until it holds `text`, or fail at the deadline."""
    seen = b""
    deadline = time.monotonic() + DEADLINE
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"never saw {text!r}; saw {seen[-500:]!r}"
        if select.select([master], [], [], left)[0]:
            seen += os.read(master, 1 << 16)
    return seen


def test_podtui_exits_when_its_terminal_hangs_up(
    local_pods: LocalPods, podtui_home: Path, config_path: Path
) -> None:
    master, terminal = os.openpty()
    env = dict(os.environ, PODTUI_HOME=str(podtui_home), TERM="xterm-256color")
    program = subprocess.Popen(
        [sys.executable, "-m", "podtui", "--config", str(config_path)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=REPO_ROOT,
        env=env,
    )
    os.close(terminal)
    try:
        read_until(master, b"dev-1")
        os.close(master)

        status = program.wait(timeout=DEADLINE)
    finally:
        if program.poll() is None:
            program.kill()
            program.wait()

    assert status == -1 or status == 129
