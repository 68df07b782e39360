"""A one-file change deployed to three local pods: podtui against the manual steps.

The manual tier-2 workflow is scripted with the OpenSSH client, one `ssh` per
step and pod, as a person would type it: `git pull --ff-only` in the pod's
checkout, `cp -r` of the package into the app directory, `pkill` of the
service, start it again, and `curl` until `/health` answers. podtui runs
`deploy` (git mode: the pods pull) on the same pods, twice per run: as the
command line does (connecting first) and as the app does (its SSH
connections already open). They alternate in one process, each run deploying
a new one-file commit; between runs the script waits until the pod agents
have their spare interpreters ready, as they are after a few seconds of
editing. It prints the medians, their ratios, podtui's median time per step, and how many
bytes a no-op deploy sends to each pod (counted by a TCP relay in front of
each pod's SSH port).

With `--rtt-ms`, podtui and the manual steps reach the pods through relays
that delay traffic like a network of that round-trip time (real pods are
tens of milliseconds away).

Run: `python benchmarks/deploy.py [--runs N] [--rtt-ms MS]`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
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

from benchmarks.network import DelayRelay, far_pod  # noqa: E402
from podtui.config import load_config  # noqa: E402
from podtui.model import Pod  # noqa: E402
from podtui.ops.deploy import DeployOptions, deploy  # noqa: E402
from podtui.ops.fleet import Fleet  # noqa: E402
from podtui.providers.local import LocalPods  # noqa: E402

PODS = ("bench-1", "bench-2", "bench-3")
CONFIG = """\
[project]
name = "voice-pipeline"
repo = "{repo}"
deploy = ["voice_pipeline"]
requirements = "voice_pipeline/requirements.txt"

[defaults]
deploy_mode = "git"
# As shipped: the pod agent keeps a spare interpreter with these imported.
preload = ["aiohttp", "numpy", "soxr", "pocketsphinx"]

[defaults.timeouts]
command = 60.0
start = 60.0

[environments.bench]
provider = "local"
protected = false
{pods}
"""
MARKER = "voice_pipeline/bench_marker.py"


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@b", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def make_project(root: Path) -> Path:
    repo = root / "project"
    shutil.copytree(
        REPO / "voice_pipeline",
        repo / "voice_pipeline",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Initial release")
    return repo


def commit_change(repo: Path, run: int) -> str:
    (repo / MARKER).write_text(f"RUN = {run}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"Change {run}")
    return git(repo, "rev-parse", "HEAD")


class ManualSteps:
    """The tier-2 steps by hand, through the OpenSSH client."""

    def __init__(
        self, pods: LocalPods, ssh_ports: dict[str, int], known_hosts: Path
    ) -> None:
        self.pods = pods
        self.specs = pods.specs()
        self.ssh_ports = ssh_ports
        self.known_hosts = known_hosts

    def ssh(self, name: str, command: str) -> None:
        subprocess.run(
            [
                "ssh",
                "-q",
                "-F",
                "/dev/null",
                "-p",
                str(self.ssh_ports[name]),
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
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )

    def deploy(self, name: str) -> None:
        port = self.specs[name].http_port
        python = shlex.quote(sys.executable)
        # `[v]` keeps pkill from matching the shell that runs it.
        pattern = shlex.quote(f"[v]oice_pipeline --host 127.0.0.1 --port {port} ")
        self.ssh(name, "cd workspace/voice-pipeline && git pull -q --ff-only")
        self.ssh(
            name,
            "cp -r workspace/voice-pipeline/voice_pipeline/* app/src/voice_pipeline/",
        )
        self.ssh(name, f"pkill -f {pattern}; while pgrep -f {pattern}; do :; done")
        self.ssh(
            name,
            f"cd app/src && PODTUI_RELEASE_FILE=$HOME/.podtui/release.json "
            f"nohup {python} -m voice_pipeline --host 127.0.0.1 --port {port} "
            f"--log-file $HOME/logs/app.log >> $HOME/logs/app.out 2>&1 &",
        )
        self.ssh(
            name,
            f"until curl -sf http://127.0.0.1:{port}/health; do sleep 0.05; done",
        )

    def hand_back(self, name: str) -> None:
        """Put the service back under the pod agent (not timed)."""
        port = self.specs[name].http_port
        pattern = shlex.quote(f"[v]oice_pipeline --host 127.0.0.1 --port {port} ")
        self.ssh(name, f"pkill -f {pattern}; while pgrep -f {pattern}; do :; done")


class FarFleet(Fleet):
    """A fleet whose pods are reached across the simulated network."""

    far: list[Pod]

    async def pods(self) -> list[Pod]:
        return self.far


def fleet_for(config: Any, pods: LocalPods, far: list[Pod] | None) -> Fleet:
    """A new fleet, reaching the pods directly or across the network."""
    if far is None:
        return Fleet(config, local_pods=pods)
    fleet = FarFleet(config, local_pods=pods)
    fleet.far = far
    return fleet


async def podtui_run(
    config: Any,
    pods: LocalPods,
    *,
    force: bool = False,
    fleet: Fleet | None = None,
    far: list[Pod] | None = None,
) -> tuple[float, dict[str, float]]:
    """One deploy; with `fleet`, over its open connections (as in the app)."""
    own = fleet is None
    fleet = fleet or fleet_for(config, pods, far)
    started = time.perf_counter()
    try:
        result = await deploy(fleet, "bench", options=DeployOptions(force=force))
    finally:
        if own:
            await fleet.close()
    seconds = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"podtui deploy failed: {[o.error for o in result.outcomes]}")
    steps: dict[str, list[float]] = {}
    for outcome in result.outcomes:
        for step, value in outcome.timings.items():
            steps.setdefault(step, []).append(value)
    return seconds, {step: statistics.median(v) for step, v in steps.items()}


def manual_run(manual: ManualSteps, pods: LocalPods) -> float:
    started = time.perf_counter()
    for name in PODS:
        manual.deploy(name)
    seconds = time.perf_counter() - started
    for name in PODS:
        manual.hand_back(name)
    return seconds


class CountingRelay:
    """A TCP relay in front of one pod's SSH port that counts bytes each way."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.sent = 0
        self.received = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def handle(self, reader: Any, writer: Any) -> None:
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        await asyncio.gather(
            self.pipe(reader, up_writer, "sent"),
            self.pipe(up_reader, writer, "received"),
        )

    async def pipe(self, reader: Any, writer: Any, counter: str) -> None:
        try:
            while data := await reader.read(65536):
                setattr(self, counter, getattr(self, counter) + len(data))
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


class RelayedFleet(Fleet):
    """A fleet whose pods are reached through counting relays."""

    relayed: list[Pod]

    async def pods(self) -> list[Pod]:
        return self.relayed


async def noop_bytes(config: Any, pods: LocalPods, root: Path) -> list[CountingRelay]:
    """Bytes a no-op deploy exchanges with each pod, the SSH handshake included."""
    fleet = RelayedFleet(config, local_pods=pods)
    relays = []
    relayed = []
    known_hosts = root / "relay_known_hosts"
    lines = []
    for pod in await Fleet(config, local_pods=pods).pods():
        assert pod.ssh is not None and pod.ssh.port is not None
        relay = CountingRelay(pod.ssh.port)
        port = await relay.start()
        key = pods.known_hosts.read_text().split(f"]:{pod.ssh.port} ")[1].split("\n")[0]
        lines.append(f"[127.0.0.1]:{port} {key}\n")
        ssh = dataclasses.replace(pod.ssh, port=port, known_hosts=str(known_hosts))
        relayed.append(dataclasses.replace(pod, ssh=ssh))
        relays.append(relay)
    known_hosts.write_text("".join(lines))
    fleet.relayed = relayed
    try:
        result = await deploy(fleet, "bench")
    finally:
        await fleet.close()
    assert result.ok and not any(o.changed for o in result.outcomes)
    for relay in relays:
        relay.server.close()
    return relays


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


async def main(runs: int, rtt_ms: float) -> None:
    root = Path(tempfile.mkdtemp(prefix="podtui-bench-deploy-"))
    os.environ["PODTUI_HOME"] = str(root / "home")
    repo = make_project(root)
    pods_text = "".join(f'\n[[environments.bench.pods]]\nname = "{n}"\n' for n in PODS)
    (root / "config.toml").write_text(CONFIG.format(repo=repo, pods=pods_text))
    config = load_config(root / "config.toml")
    pods = LocalPods(root / "home")
    await asyncio.to_thread(pods.up, config)
    far: list[Pod] | None = None
    relays: list[DelayRelay] = []
    known_hosts = pods.known_hosts
    near = await Fleet(config, local_pods=pods).pods()
    ssh_ports = {pod.name: pods.specs()[pod.name].ssh_port for pod in near}
    if rtt_ms > 0:
        known_hosts = root / "far_known_hosts"
        far = []
        for pod in near:
            far_one, relay = await far_pod(pod, pods, rtt_ms / 1000, known_hosts)
            assert far_one.ssh is not None and far_one.ssh.port is not None
            far.append(far_one)
            relays.append(relay)
            ssh_ports[pod.name] = far_one.ssh.port
    manual = ManualSteps(pods, ssh_ports, known_hosts)
    try:
        await podtui_run(config, pods, far=far)  # upload the agent, warm the pods
        await asyncio.to_thread(spares_ready, pods, list(PODS))
        podtui_times, app_times, manual_times, step_times = [], [], [], []
        dashboard = fleet_for(config, pods, far)
        await podtui_run(config, pods, force=True, fleet=dashboard)
        await asyncio.to_thread(spares_ready, pods, list(PODS))
        for run in range(runs):
            commit_change(repo, 3 * run)
            seconds, steps = await podtui_run(config, pods, far=far)
            podtui_times.append(seconds)
            step_times.append(steps)
            await asyncio.to_thread(spares_ready, pods, list(PODS))
            commit_change(repo, 3 * run + 1)
            app_times.append((await podtui_run(config, pods, fleet=dashboard))[0])
            commit_change(repo, 3 * run + 2)
            manual_times.append(await asyncio.to_thread(manual_run, manual, pods))
            await podtui_run(config, pods, force=True, far=far)  # back under the agent
            await asyncio.to_thread(spares_ready, pods, list(PODS))
        await dashboard.close()
        byte_relays = await noop_bytes(config, pods, root)
    finally:
        for relay in relays:
            relay.close()
        await asyncio.to_thread(pods.down)
        shutil.rmtree(root, ignore_errors=True)
    report(podtui_times, app_times, manual_times, step_times, byte_relays, rtt_ms)


def report(
    podtui_times: list[float],
    app_times: list[float],
    manual_times: list[float],
    step_times: list[dict[str, float]],
    relays: list[CountingRelay],
    rtt_ms: float,
) -> None:
    podtui_median = statistics.median(podtui_times)
    app_median = statistics.median(app_times)
    manual_median = statistics.median(manual_times)
    where = f"{rtt_ms:g} ms round trip away" if rtt_ms else "on loopback"
    print(
        f"one-file change to {len(PODS)} local pods ({where}), "
        f"{len(podtui_times)} runs each"
    )
    print(f"  podtui deploy, command line (git mode): median {podtui_median:.2f}s")
    print(f"  podtui deploy, from the app (open SSH): median {app_median:.2f}s")
    print(f"  manual ssh/git/cp/pkill:                median {manual_median:.2f}s")
    print(
        f"  podtui is {manual_median / podtui_median:.1f}x faster from the command "
        f"line, {manual_median / app_median:.1f}x from the app (goal: 5x)"
    )
    print("  podtui per step (median over runs of the per-pod median):")
    for step in step_times[0]:
        values = [steps[step] for steps in step_times if step in steps]
        print(f"    {step:<13} {statistics.median(values) * 1000:7.0f} ms")
    print(
        "no-op deploy, bytes per pod (SSH handshake included; goal: under 10 KB sent):"
    )
    for name, relay in zip(PODS, relays, strict=True):
        print(f"    {name}: sent {relay.sent} B, received {relay.received} B")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--rtt-ms", type=float, default=0, help="simulated network round trip"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.rtt_ms))
