"""The headless command: status as a table and JSON, and errors without tracebacks."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from podtui.config import Config
from podtui.ops.fleet import Fleet, wait_healthy
from podtui.providers.local import LocalPods


def podtui(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podtui", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


async def all_healthy(config: Config) -> None:
    fleet = Fleet(config)
    pods = await fleet.pods()
    await asyncio.gather(*(wait_healthy(fleet, pod, timeout=30) for pod in pods))
    await fleet.close()


def test_status_json_has_one_object_per_pod(
    local_pods: LocalPods, local_config: Config, config_path: Path
) -> None:
    asyncio.run(all_healthy(local_config))

    result = podtui("--config", str(config_path), "status", "--json")

    assert result.returncode == 0, result.stderr
    pods = json.loads(result.stdout)
    assert [(p["environment"], p["pod"]) for p in pods] == [
        ("dev", "dev-1"),
        ("dev", "dev-2"),
        ("staging", "staging-1"),
        ("production", "prod-1"),
    ]
    assert all(p["status"] == "running" and p["healthy"] is True for p in pods)
    assert all(len(p["release"]) == 40 for p in pods)


def test_status_prints_a_table_of_the_chosen_environment(
    local_pods: LocalPods, local_config: Config, config_path: Path
) -> None:
    result = podtui("--config", str(config_path), "status", "dev")

    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stderr
    assert lines[0].split()[:5] == [
        "ENVIRONMENT",
        "POD",
        "PROVIDER",
        "STATUS",
        "HEALTH",
    ]
    assert [line.split()[1] for line in lines[1:]] == ["dev-1", "dev-2"]


def test_a_typo_in_the_config_exits_2_naming_line_key_and_suggestion(
    tmp_path: Path, config_path: Path
) -> None:
    broken = tmp_path / "config.toml"
    broken.write_text(
        config_path.read_text().replace("protected = false", "protcted = false")
    )

    result = podtui("--config", str(broken), "status")

    assert result.returncode == 2
    assert "config.toml:" in result.stderr
    assert "environments.dev.protcted" in result.stderr
    assert "did you mean 'protected'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_environment_is_a_clear_error(config_path: Path) -> None:
    result = podtui("--config", str(config_path), "status", "qa")

    assert result.returncode == 2
    assert "qa" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_config_anywhere_says_where_it_looked(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "podtui", "status"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "PYTHONPATH": str(Path(__file__).parent.parent),
        },
        check=False,
    )

    assert result.returncode == 2
    assert "config.toml" in result.stderr
    assert "Traceback" not in result.stderr
