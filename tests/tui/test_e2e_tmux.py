"""podtui in a real terminal (tmux), started and quit as a person would."""

from __future__ import annotations

import contextlib
import os
import re
import select
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from podtui.providers.local import LocalPods
from tests.conftest import REPO_ROOT, require_tool

POD_NAMES = ("dev-1", "dev-2", "staging-1", "prod-1")
DEADLINE = 60.0
EXIT_MARK = "podtui exit status: "
"""What the pane's shell prints once podtui has ended, before its status.

The shell, not tmux, reports the status: tmux 3.3 sometimes never reaps a
pane's Python process when it exits (the pane stays a zombie with no status
until tmux gets another SIGCHLD), so its pane-died hook cannot be relied on.
"""
EXIT_STATUS = re.compile(re.escape(EXIT_MARK) + r"(\d+)")


class Terminal:
    """A tmux server of its own (its own socket) running one program.

    Everything the program draws is also copied into a FIFO, so waiting for
    the screen to change is waiting for output, not polling on a timer.
    """

    def __init__(self, tmux: str, socket_name: str, fifo: Path) -> None:
        self.tmux = tmux
        self.socket_name = socket_name
        os.mkfifo(fifo)
        self.fifo = fifo
        self._output = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        # Our own writer keeps the FIFO open, so it never reads as ended.
        self._keep_open = os.open(fifo, os.O_WRONLY)

    def run(self, *args: str) -> str:
        command = [self.tmux, "-L", self.socket_name, *args]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        return done.stdout

    def start(self, command: str, env: dict[str, str], cwd: Path) -> None:
        """Run `command` in a shell that prints its exit status when it ends."""
        settings = [a for key, value in env.items() for a in ("-e", f"{key}={value}")]
        shell = f"{command}; echo {shlex.quote(EXIT_MARK)}$?; exec cat"
        self.run(
            "start-server", ";", "set-option", "-g", "history-limit", "20000",
            ";", "new-session", "-d", "-s", "podtui", "-x", "160", "-y", "48",
            "-c", str(cwd), *settings, shell,
            ";", "pipe-pane", "-t", "podtui", f"cat >> {shlex.quote(str(self.fifo))}",
        )  # fmt: skip

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "podtui")

    def pane(self, field: str) -> str:
        return self.run(
            "display-message", "-p", "-t", "podtui", f"#{{{field}}}"
        ).strip()

    def wait_for_screen(self, condition: Callable[[str], bool], what: str) -> None:
        """Wait, output by output, until the screen satisfies `condition`."""
        deadline = time.monotonic() + DEADLINE
        while not condition(self.screen()):
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {what} within {DEADLINE:g}s; screen:\n{self.screen()}")
            if select.select([self._output], [], [], left)[0]:
                os.read(self._output, 1 << 16)

    def wait_for_exit(self) -> int:
        """Wait for the program to end; its exit status, as its shell saw it."""
        try:
            self.wait_for_screen(
                lambda _: EXIT_STATUS.search(self.history()) is not None, "exit"
            )
        except pytest.fail.Exception:
            pytest.fail(f"podtui still running; its threads:\n{self.stacks()}")
        found = EXIT_STATUS.search(self.history())
        assert found is not None
        return int(found.group(1))

    def stacks(self) -> str:
        """Make the program print every thread's stack (it runs with Python's
        fault handler on) and return the screen that shows them."""
        shell = int(self.pane("pane_pid"))
        children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
        for program in map(int, children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(program, signal.SIGABRT)
        self.wait_for_screen(lambda _: "Fatal Python error" in self.history(), "stacks")
        return self.history()

    def history(self) -> str:
        return self.run("capture-pane", "-p", "-S", "-", "-t", "podtui")

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket_name, "kill-server"])
        os.close(self._output)
        os.close(self._keep_open)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    tmux = require_tool("tmux")
    terminal = Terminal(tmux, f"podtui-test-{os.getpid()}", tmp_path / "output")
    yield terminal
    terminal.close()


def every_pod_healthy(screen: str) -> bool:
    rows = [line for line in screen.splitlines() if "running" in line]
    healthy = sum("✓" in row for row in rows)
    return all(name in screen for name in POD_NAMES) and healthy == len(POD_NAMES)


def test_podtui_shows_every_pod_healthy_in_a_terminal_and_quits_on_q(
    terminal: Terminal, local_pods: LocalPods, podtui_home: Path, config_path: Path
) -> None:
    env = {
        "PODTUI_HOME": str(podtui_home),
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONFAULTHANDLER": "1",
    }
    command = f"{shlex.quote(sys.executable)} -m podtui --config {config_path}"
    terminal.start(command, env, REPO_ROOT)

    terminal.wait_for_screen(every_pod_healthy, "four healthy pods")
    terminal.run("send-keys", "-t", "podtui", "q")

    assert terminal.wait_for_exit() == 0
    assert local_pods.host_pid() is not None
