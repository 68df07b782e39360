"""A hot fix on a local pod: podtui's save against the manual tier-1 steps.

podtui: `save_hotfix` on a file the service imports: atomic write verified by
hash, copy-back into the local repository, restart through the pod agent and
the health gate. Manual: the same edit done with the OpenSSH client, one
`ssh` per step as a person would type it: write the file over ssh, `pkill`
the service, start it again, `curl` until `/health` answers. Both end on a
healthy service started after the edit, so it runs the new code. The two
alternate on the same pod; the script prints their medians, the ratio and
podtui's median time per step (copy-back included). With `--rtt-ms`, both
reach the pod through a relay that delays traffic like a network of that
round-trip time (real pods are tens of milliseconds away).

Run: `python benchmarks/hotfix.py [--runs N] [--rtt-ms MS]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.network import far_pod  # noqa: E402
from podtui.config import load_config  # noqa: E402
from podtui.model import Pod  # noqa: E402
from podtui.ops.fleet import Fleet  # noqa: E402
from podtui.ops.hotfix import open_file, save_hotfix  # noqa: E402
from podtui.providers.local import LocalPods  # noqa: E402

POD = "bench-1"
FILE = "voice_pipeline/responder.py"
CONFIG = """\
[project]
name = "voice-pipeline"
repo = "{repo}"
deploy = ["voice_pipeline"]
requirements = "voice_pipeline/requirements.txt"

[defaults]
# As shipped: the pod agent keeps a spare interpreter with these imported.
preload = ["aiohttp", "numpy", "soxr", "pocketsphinx"]

[defaults.timeouts]
command = 60.0
start = 60.0

[environments.bench]
provider = "local"
protected = false

[[environments.bench.pods]]
name = "{pod}"
"""


def make_project(root: Path) -> Path:
    repo = root / "project"
    shutil.copytree(
        REPO / "voice_pipeline",
        repo / "voice_pipeline",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    git = ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "Initial release"], check=True)
    return repo


class ManualSteps:
    """The tier-1 steps by hand, through the OpenSSH client."""

    def __init__(self, pods: LocalPods, ssh_port: int, known_hosts: Path) -> None:
        self.pods = pods
        self.spec = pods.specs()[POD]
        self.ssh_port = ssh_port
        self.known_hosts = known_hosts

    def ssh(self, command: str, data: bytes | None = None) -> None:
        subprocess.run(
            [
                "ssh",
                "-q",
                "-F",
                "/dev/null",
                "-p",
                str(self.ssh_port),
                "-i",
                str(self.pods.client_key),
                "-o",
                f"UserKnownHostsFile={self.known_hosts}",
                "-o",
                "BatchMode=yes",
                "127.0.0.1",
                command,
            ],
            check=True,
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )

    def pattern(self) -> str:
        # `[v]` keeps pkill from matching the shell that runs it.
        port = self.spec.http_port
        return shlex.quote(f"[v]oice_pipeline --host 127.0.0.1 --port {port} ")

    def hot_fix(self, data: bytes) -> None:
        port = self.spec.http_port
        python = shlex.quote(sys.executable)
        self.ssh(f"cat > app/src/{FILE}", data)
        pattern = self.pattern()
        self.ssh(f"pkill -f {pattern}; while pgrep -f {pattern}; do :; done")
        self.ssh(
            f"cd app/src && PODTUI_RELEASE_FILE=$HOME/.podtui/release.json "
            f"nohup {python} -m voice_pipeline --host 127.0.0.1 --port {port} "
            f"--log-file $HOME/logs/app.log >> $HOME/logs/app.out 2>&1 &",
        )
        self.ssh(f"until curl -sf http://127.0.0.1:{port}/health; do sleep 0.05; done")

    def hand_back(self) -> None:
        """Stop the hand-started service so the agent runs it again (not timed)."""
        pattern = self.pattern()
        self.ssh(f"pkill -f {pattern}; while pgrep -f {pattern}; do :; done")


async def podtui_run(fleet: Fleet, run: int) -> tuple[float, dict[str, float]]:
    (pod,) = await fleet.pods()
    opened = await open_file(fleet.session(pod), FILE)
    data = opened.data + f"# hot fix {run}\n".encode()
    started = time.perf_counter()
    outcome = await save_hotfix(fleet, opened, data)
    seconds = time.perf_counter() - started
    copy = outcome.copy_back
    if not outcome.ok or copy is None or copy.status.value != "replaced":
        raise SystemExit(f"podtui hot fix failed: {outcome.error or copy}")
    return seconds, dict(outcome.timings)


def manual_run(manual: ManualSteps, repo: Path, data: bytes) -> float:
    started = time.perf_counter()
    manual.hot_fix(data)
    seconds = time.perf_counter() - started
    # The copy by hand into the local file (not timed), so the next copy-back
    # starts from a local file that matches the pod's.
    (repo / FILE).write_bytes(data)
    manual.hand_back()
    return seconds


def spares_ready(pods: LocalPods, names: list[str], timeout: float = 30.0) -> None:
    """Wait until each pod's agent has its spare interpreter ready.

    Between two saves or deploys a person spends seconds editing; in that
    time the pod agent prepares the interpreter the next restart will use.
    The benchmark waits for that instead of restarting back to back.
    """
    deadline = time.monotonic() + timeout
    for name in names:
        record = pods.pod_dir(name) / ".podtui" / "spare.json"
        while not record.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


class FarFleet(Fleet):
    """A fleet whose one pod is reached across the simulated network."""

    far: Pod

    async def pods(self) -> list[Pod]:
        return [self.far]


async def main(runs: int, rtt_ms: float) -> None:
    root = Path(tempfile.mkdtemp(prefix="podtui-bench-hotfix-"))
    os.environ["PODTUI_HOME"] = str(root / "home")
    repo = make_project(root)
    (root / "config.toml").write_text(CONFIG.format(repo=repo, pod=POD))
    config = load_config(root / "config.toml")
    pods = LocalPods(root / "home")
    await asyncio.to_thread(pods.up, config)
    (near,) = await Fleet(config, local_pods=pods).pods()
    assert near.ssh is not None and near.ssh.port is not None
    relay = None
    ssh_port, known_hosts = near.ssh.port, pods.known_hosts
    fleet = Fleet(config, local_pods=pods)
    if rtt_ms > 0:
        known_hosts = root / "far_known_hosts"
        far, relay = await far_pod(near, pods, rtt_ms / 1000, known_hosts)
        assert far.ssh is not None and far.ssh.port is not None
        ssh_port = far.ssh.port
        fleet = FarFleet(config, local_pods=pods)
        fleet.far = far
    manual = ManualSteps(pods, ssh_port, known_hosts)
    original = (repo / FILE).read_bytes()
    podtui_times: list[float] = []
    manual_times: list[float] = []
    steps: list[dict[str, float]] = []
    try:
        await podtui_run(fleet, -1)  # upload the agent, open the connection
        await asyncio.to_thread(spares_ready, pods, [POD])
        for run in range(runs):
            seconds, timings = await podtui_run(fleet, 2 * run)
            podtui_times.append(seconds)
            steps.append(timings)
            data = original + f"# manual fix {run}\n".encode()
            manual_times.append(await asyncio.to_thread(manual_run, manual, repo, data))
            (pod,) = await fleet.pods()
            await fleet.session(pod).restart_app()  # back under the agent
            await asyncio.to_thread(spares_ready, pods, [POD])
    finally:
        await fleet.close()
        if relay is not None:
            relay.close()
        await asyncio.to_thread(pods.down)
        shutil.rmtree(root, ignore_errors=True)
    report(podtui_times, manual_times, steps, rtt_ms)


def report(
    podtui_times: list[float],
    manual_times: list[float],
    steps: list[dict[str, Any]],
    rtt_ms: float,
) -> None:
    podtui_median = statistics.median(podtui_times)
    manual_median = statistics.median(manual_times)
    where = f"{rtt_ms:g} ms round trip away" if rtt_ms else "on loopback"
    print(
        f"hot fix of {FILE} on one local pod ({where}), {len(podtui_times)} runs each"
    )
    print(
        f"  podtui save (write, copy-back, restart, health): median {podtui_median:.2f}s"
    )
    print(
        f"  manual ssh write/pkill/start/curl:               median {manual_median:.2f}s"
    )
    print(f"  podtui is {manual_median / podtui_median:.1f}x faster (goal: 5x)")
    print("  podtui per step (median over runs):")
    for step in steps[0]:
        values = [timings[step] for timings in steps if step in timings]
        print(f"    {step:<10} {statistics.median(values) * 1000:7.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--rtt-ms", type=float, default=0, help="simulated network round trip"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.rtt_ms))
