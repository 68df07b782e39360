"""`podtui logs`: lines of several pods, prefixed by pod, grep and follow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from podtui.providers.local import LocalPods
from tests.logs.conftest import DEADLINE


def podtui(config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podtui", "--config", str(config_path), "logs", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_logs_prints_the_last_lines_of_each_pod_with_its_name(
    local_pods: LocalPods, config_path: Path
) -> None:
    result = podtui(config_path, "dev-1", "dev-2", "-n", "2")

    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stderr
    assert sorted(line.split(" | ")[0] for line in lines) == [
        "dev-1",
        "dev-1",
        "dev-2",
        "dev-2",
    ]
    assert "\x1b[" not in result.stdout


def test_logs_grep_keeps_only_matching_lines(
    local_pods: LocalPods, config_path: Path
) -> None:
    result = podtui(config_path, "dev-1", "-n", "1000", "--grep", "listening|started")

    assert result.returncode == 0, result.stderr
    assert result.stdout
    assert all("listening" in x or "started" in x for x in result.stdout.splitlines())


def test_logs_of_an_unknown_pod_says_which_pods_exist(
    local_pods: LocalPods, config_path: Path
) -> None:
    result = podtui(config_path, "dev-9")

    assert result.returncode == 2
    assert "dev-9" in result.stderr and "dev-1" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_grep_expression_is_explained(
    local_pods: LocalPods, config_path: Path
) -> None:
    result = podtui(config_path, "dev-1", "--grep", "([")

    assert result.returncode == 1
    assert "not a valid regular expression" in result.stderr


def test_logs_follow_prints_new_lines_as_they_are_written(
    local_pods: LocalPods, config_path: Path
) -> None:
    log = local_pods.pod_dir("dev-2") / "logs" / "app.log"
    marker = f"follow marker {os.getpid()}"
    command = [sys.executable, "-m", "podtui", "--config", str(config_path)]
    with log.open("a") as stream:
        stream.write(f"{marker} 1\n")
    with subprocess.Popen(
        [*command, "logs", "dev-2", "-f", "-n", "5", "--grep", marker],
        stdout=subprocess.PIPE,
        text=True,
    ) as follower:
        assert follower.stdout is not None
        first = follower.stdout.readline()
        with log.open("a") as stream:
            stream.write(f"{marker} 2\n")
        second = follower.stdout.readline()
        follower.terminate()
        follower.wait(timeout=DEADLINE)

    assert first == f"dev-2 | {marker} 1\n"
    assert second == f"dev-2 | {marker} 2\n"
