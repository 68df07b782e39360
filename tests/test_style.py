"""The code reads as the project says it should: formatted, linted, typed."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT

SOURCES = ["podtui", "voice_pipeline", "tests", "benchmarks"]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=REPO_ROOT, capture_output=True, text=True
    )


def test_the_code_is_formatted() -> None:
    result = run("ruff", "format", "--check", *SOURCES)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linter_finds_nothing() -> None:
    result = run("ruff", "check", *SOURCES)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_type_checker_finds_nothing() -> None:
    result = run("mypy", "podtui", "voice_pipeline")

    assert result.returncode == 0, result.stdout + result.stderr
