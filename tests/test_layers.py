"""The core never depends on the front ends: ops, remote and providers stay headless."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

CORE = ["ops", "remote", "providers"]
CORE_FILES = ["agent.py", "config.py", "model.py", "errors.py", "present.py"]


def core_sources() -> list[Path]:
    package = REPO_ROOT / "podtui"
    files = [package / name for name in CORE_FILES]
    for folder in CORE:
        files.extend(sorted((package / folder).glob("*.py")))
    return files


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_core_module_imports_textual_or_the_tui() -> None:
    offenders = {
        str(path.relative_to(REPO_ROOT)): sorted(
            name
            for name in imported_modules(path)
            if name.split(".")[0] == "textual" or name.startswith("podtui.tui")
        )
        for path in core_sources()
    }

    assert {file: names for file, names in offenders.items() if names} == {}


def test_the_pod_agent_uses_only_the_standard_library() -> None:
    names = imported_modules(REPO_ROOT / "podtui" / "agent.py")

    outside = {
        name
        for name in names
        if name.split(".")[0] not in sys.stdlib_module_names | {"__future__"}
    }
    assert outside == set()


def test_importing_the_core_loads_neither_textual_nor_runpod() -> None:
    code = (
        "import sys, podtui.ops.fleet, podtui.ops.health, podtui.remote.files, "
        "podtui.providers.local, podtui.providers.ssh, podtui.cli; "
        "print(sorted(m for m in ('textual', 'runpod') if m in sys.modules))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
