"""The warm spare: a restart hands the app to an interpreter that is ready."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_agent import PodAgent, process_gone, wait_for

MODULE_MAIN = (
    "import os, signal, sys\n"
    "print('ready', os.getpid(), 'json' in sys.modules, sys.argv[1:], flush=True)\n"
    "signal.pause()\n"
)


@pytest.fixture
def pod(tmp_path: Path) -> Iterator[PodAgent]:
    package = tmp_path / "app" / "spareapp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(MODULE_MAIN)
    agent = PodAgent(tmp_path)
    yield agent
    agent.run("stop", {"timeout": 5})
    agent.clean_up()
    spare = agent.state_dir / "spare.json"
    if spare.exists():
        pgid = json.loads(spare.read_text())["pgid"]
        if not process_gone(pgid):
            os.killpg(pgid, signal.SIGKILL)


def module_request(preload: list[str]) -> dict[str, Any]:
    return {
        "argv": [sys.executable, "-m", "spareapp", "--flag", "it's $(x)"],
        "cwd": "app",
        "output": "app.log",
        "preload": preload,
    }


def spare_pid(pod: PodAgent) -> int:
    path = pod.state_dir / "spare.json"
    record = wait_for(lambda: path.exists() and json.loads(path.read_text()), "a spare")
    return int(record["pid"])


def test_a_start_with_preload_leaves_a_spare_waiting(pod: PodAgent) -> None:
    started = pod.ok("start", module_request(["json"]))

    spare = spare_pid(pod)

    assert spare != started["pid"]
    assert not process_gone(spare)
    cmdline = Path(f"/proc/{spare}/cmdline").read_bytes().split(b"\0")
    assert cmdline[-5:-1] == [b"-m", b"spareapp", b"--flag", b"it's $(x)"]
    assert pod.wait_for_output("ready").split()[1] == str(started["pid"])


def test_a_restart_hands_the_app_to_the_spare(pod: PodAgent) -> None:
    pod.ok("start", module_request(["json"]))
    spare = spare_pid(pod)

    restarted = pod.ok("restart", {"timeout": 5})

    assert restarted["pid"] == spare
    line = wait_for(
        lambda: next((x for x in pod.output() if x.startswith(f"ready {spare}")), None),
        "the promoted spare to run the app",
    )
    assert line == f"ready {spare} True ['--flag', \"it's $(x)\"]"
    assert pod.record()["pid"] == spare


def test_a_changed_start_request_does_not_use_the_old_spare(pod: PodAgent) -> None:
    pod.ok("start", module_request(["json"]))
    old_spare = spare_pid(pod)
    pod.ok("stop", {"timeout": 5})

    changed = module_request(["json", "csv"])
    started = pod.ok("start", changed)

    assert started["pid"] != old_spare
    wait_for(lambda: process_gone(old_spare), "the old spare to end")


def test_stop_ends_the_spare_too(pod: PodAgent) -> None:
    pod.ok("start", module_request(["json"]))
    spare = spare_pid(pod)

    pod.ok("stop", {"timeout": 5})

    wait_for(lambda: process_gone(spare), "the spare to end")
    assert not (pod.state_dir / "spare.json").exists()


def test_without_preload_no_spare_is_made(pod: PodAgent) -> None:
    pod.ok("start", module_request([]))
    pod.wait_for_output("ready")

    assert not (pod.state_dir / "spare.json").exists()
