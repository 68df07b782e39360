"""How fast podtui shows a full dashboard, and how fast it refreshes many pods.

1. Start to full dashboard: from launching `podtui` to the moment every pod of
   the shipped config shows its health, on local pods that are already up
   (median of several runs). The app is launched in a pseudo-terminal with
   PODTUI_READY_FILE set: once every pod shows healthy it writes the seconds
   since its process started (the kernel's record) and quits. The time of the
   whole run, start to exit, is printed too.
2. Refresh of 50 pods: one refresh (list, agent status, health) of 50 local
   pods, first with new connections, then with the connections reused.

Compared with the manual way: `ssh POD curl -s localhost:PORT/health` per pod,
one after the other, as people check pods by hand.

Run: python benchmarks/startup.py [--runs N] [--pods N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from podtui.config import load_config, parse_config  # noqa: E402
from podtui.ops.fleet import Fleet, wait_healthy  # noqa: E402
from podtui.providers.local import LocalPods  # noqa: E402


def many_pods_config(count: int, repo: Path, path: Path) -> str:
    pods = "".join(
        f'\n[[environments.bench.pods]]\nname = "bench-{i:02d}"\n' for i in range(count)
    )
    return (
        f'[project]\nname = "bench"\nrepo = "{repo}"\ndeploy = ["voice_pipeline"]\n'
        'requirements = "voice_pipeline/requirements.txt"\n\n'
        '[environments.bench]\nprovider = "local"\nprotected = false\n' + pods
    )


def startup_runs(config: Path, runs: int) -> tuple[list[float], list[float]]:
    """Seconds to a full dashboard, and to the process's exit, per run."""
    ready, whole = [], []
    with tempfile.TemporaryDirectory() as scratch:
        ready_file = Path(scratch) / "ready"
        env = {
            **os.environ,
            "PODTUI_READY_FILE": str(ready_file),
            "TERM": "xterm-256color",
        }
        for _ in range(runs):
            ready_file.unlink(missing_ok=True)
            started = time.perf_counter()
            subprocess.run(
                [
                    "script",
                    "-qec",
                    f"{sys.executable} -m podtui --config {config}",
                    "/dev/null",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                check=True,
                timeout=60,
            )
            whole.append(time.perf_counter() - started)
            ready.append(float(ready_file.read_text()))
    return ready, whole


async def refresh_times(
    config_path: Path, local: LocalPods, rounds: int
) -> dict[str, float]:
    config = load_config(config_path)
    warmup = Fleet(config, local_pods=local)
    pods = await warmup.pods()
    await asyncio.gather(*(wait_healthy(warmup, p, timeout=120) for p in pods))
    await warmup.close()

    fleet = Fleet(config, local_pods=local)
    started = time.perf_counter()
    reports = await asyncio.gather(*(fleet.inspect(p) for p in await fleet.pods()))
    cold = time.perf_counter() - started
    assert all(r.healthy for r in reports), [r.error for r in reports if not r.healthy]
    warm = []
    for _ in range(rounds):
        started = time.perf_counter()
        reports = await asyncio.gather(*(fleet.inspect(p) for p in await fleet.pods()))
        warm.append(time.perf_counter() - started)
    await fleet.close()
    return {"pods": len(reports), "cold": cold, "warm": statistics.median(warm)}


def manual_checks(local: LocalPods, names: list[str]) -> float:
    """`ssh pod curl /health`, pod after pod, with the OpenSSH client."""
    specs = local.specs()
    started = time.perf_counter()
    for name in names:
        spec = specs[name]
        subprocess.run(
            [
                "ssh",
                "-q",
                "-p",
                str(spec.ssh_port),
                "-i",
                str(local.client_key),
                "-o",
                f"UserKnownHostsFile={local.known_hosts}",
                "-o",
                "BatchMode=yes",
                "127.0.0.1",
                "python3",
                "-c",
                f"'import urllib.request as u; print(u.urlopen(\"http://127.0.0.1:{spec.http_port}/health\").status)'",
            ],
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pods", type=int, default=50)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="podtui-bench-") as home:
        os.environ["PODTUI_HOME"] = home
        shipped = ROOT / "config.toml"
        LocalPods().up(load_config(shipped))
        startup_runs(shipped, 1)  # the first run also waits for the services
        ready, whole = startup_runs(shipped, args.runs)
        print(
            f"start to full dashboard (4 local pods, every pod healthy): median "
            f"{statistics.median(ready):.3f} s (min {min(ready):.3f}, max "
            f"{max(ready):.3f}, {args.runs} runs); whole run to exit: median "
            f"{statistics.median(whole):.3f} s"
        )
        LocalPods().down()

        many = Path(home) / "many.toml"
        many.write_text(many_pods_config(args.pods, ROOT, many))
        parse_config(many.read_text(), many)
        local = LocalPods(Path(home) / "many")
        local.up(load_config(many))
        try:
            figures = asyncio.run(refresh_times(many, local, args.runs))
            names = sorted(local.specs())
            manual = manual_checks(local, names)
        finally:
            local.down()
        print(
            f"refresh of {figures['pods']} pods: {figures['cold']:.3f} s with new "
            f"connections, median {figures['warm']:.3f} s reusing them"
        )
        print(
            f"manual (ssh + curl per pod, one after another): {manual:.3f} s "
            f"-> podtui is {manual / figures['warm']:.1f}x faster"
        )


if __name__ == "__main__":
    main()
