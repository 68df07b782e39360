"""How fast a dashboard refresh shows 50 RunPod pods, and how many API calls it makes.

Sets up, on this machine: a fake RunPod GraphQL API on 127.0.0.1 (the one the
tests use) listing 50 pods in 5 environments, reached through the real
`runpod` SDK; behind each environment's pods, the SSH server of one local pod
running the real service. Then measures:

- a refresh as the dashboard does it (list the pods, then every pod's status
  and health over its SSH connection): the first one (SDK import, SSH
  connects) and the steady state (median of several), until every pod's
  status and health is known;
- the RunPod API calls per refresh: one list call shared by all environments;
- the same pod data read with one API call per pod instead, for comparison;
- the manual way for comparison: `ssh POD curl .../health` to each pod in
  turn, as a shell loop would.

Run: `python benchmarks/refresh.py` (options: --pods, --hosts, --runs).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from podtui.config import Config, parse_config  # noqa: E402
from podtui.model import PodReport  # noqa: E402
from podtui.ops.fleet import Fleet  # noqa: E402
from podtui.providers.local import LocalPods  # noqa: E402
from podtui.providers.runpod import RunPodAPI, RunPodProvider  # noqa: E402
from tests.runpod_provider.conftest import API_KEY, FakeRunPod, FakeServer  # noqa: E402

PROJECT = """\
[project]
name = "voice-pipeline"
repo = "{repo}"
deploy = ["voice_pipeline"]
requirements = "voice_pipeline/requirements.txt"

[defaults]
python = "{python}"

[defaults.timeouts]
connect = 30.0
command = 60.0
health = 30.0
"""
HOST = """
[environments.hosts{index}]
provider = "local"

[[environments.hosts{index}.pods]]
name = "host-{index}"
"""
CLOUD = """
[environments.cloud{index}]
provider = "runpod"
port = {http_port}
ssh_user = "{user}"
ssh_key = "{key}"
known_hosts = "{known_hosts}"
pod_name_pattern = "^cloud{index}-"
"""


def host_config(root: Path, hosts: int) -> Config:
    text = PROJECT.format(repo=REPO, python=sys.executable)
    text += "".join(HOST.format(index=index) for index in range(hosts))
    path = root / "hosts.toml"
    path.write_text(text)
    return parse_config(text, path)


def cloud_config(root: Path, local: LocalPods, hosts: int) -> Config:
    specs = local.specs()
    text = PROJECT.format(repo=REPO, python=sys.executable)
    for index in range(hosts):
        text += CLOUD.format(
            index=index,
            http_port=specs[f"host-{index}"].http_port,
            user=getpass.getuser(),
            key=local.client_key,
            known_hosts=local.known_hosts,
        )
    path = root / "cloud.toml"
    path.write_text(text)
    return parse_config(text, path)


async def refresh(fleet: Fleet) -> tuple[float, float, list[PodReport]]:
    """One dashboard refresh: seconds to the pod list, to every pod's health."""
    started = time.perf_counter()
    pods = await fleet.pods()
    listed = time.perf_counter() - started
    reports = await asyncio.gather(*(fleet.inspect(pod) for pod in pods))
    return listed, time.perf_counter() - started, list(reports)


async def measure(config: Config, fake: FakeRunPod, runs: int) -> dict[str, float]:
    api = RunPodAPI()
    fleet = Fleet(config, runpod=RunPodProvider(api))
    try:
        _, first, reports = await refresh(fleet)
        check(reports, fleet)
        lists, calls = fake.count("list"), api.calls
        listed, whole = [], []
        for _ in range(runs):
            list_time, total, reports = await refresh(fleet)
            check(reports, fleet)
            listed.append(list_time)
            whole.append(total)
        per_refresh_lists = (fake.count("list") - lists) / runs
        per_refresh_calls = (api.calls - calls) / runs
        ids = [pod.id for pod in await fleet.pods()]
        started = time.perf_counter()
        await asyncio.gather(*(api.get_pod(pod_id) for pod_id in ids))
        per_pod_reads = time.perf_counter() - started
    finally:
        await fleet.close()
    return {
        "pods": len(reports),
        "first": first,
        "listed": statistics.median(listed),
        "refresh": statistics.median(whole),
        "lists": per_refresh_lists,
        "calls": per_refresh_calls,
        "per_pod_reads": per_pod_reads,
    }


def check(reports: list[PodReport], fleet: Fleet) -> None:
    unhealthy = [r.pod.name for r in reports if not r.healthy]
    if unhealthy or fleet.provider_errors:
        raise SystemExit(f"unhealthy: {unhealthy[:5]} errors: {fleet.provider_errors}")


def manual_loop(local: LocalPods, hosts: int, pods: int) -> float:
    """`for pod in ...; do ssh pod curl -s localhost:PORT/health; done`."""
    specs = local.specs()
    started = time.perf_counter()
    for number in range(pods):
        spec = specs[f"host-{number % hosts}"]
        subprocess.run(
            [
                "ssh",
                "-q",
                "-F",
                "/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                f"UserKnownHostsFile={local.known_hosts}",
                "-i",
                str(local.client_key),
                "-p",
                str(spec.ssh_port),
                f"{getpass.getuser()}@127.0.0.1",
                f"curl -s http://127.0.0.1:{spec.http_port}/health",
            ],
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="podtui-refresh-"))
    os.environ["PODTUI_HOME"] = str(root)
    local = LocalPods(root)
    fake = FakeRunPod()
    server = FakeServer(fake)
    try:
        local.up(host_config(root, args.hosts))
        server.start()
        os.environ["RUNPOD_API_BASE_URL"] = fake.url
        os.environ["RUNPOD_API_KEY"] = API_KEY
        specs = local.specs()
        for number in range(args.pods):
            index = number % args.hosts
            port = specs[f"host-{index}"].ssh_port
            fake.add_pod(f"cloud{index}-{number:02d}", port)
        config = cloud_config(root, local, args.hosts)
        figures = asyncio.run(measure(config, fake, args.runs))
        manual = manual_loop(local, args.hosts, args.pods) if shutil.which("ssh") else 0
    finally:
        server.stop()
        local.down()
        shutil.rmtree(root, ignore_errors=True)
    report(figures, manual, args)


def report(figures: dict[str, float], manual: float, args: argparse.Namespace) -> None:
    pods = int(figures["pods"])
    print(
        f"{pods} RunPod pods in {args.hosts} environments "
        f"(fake API on 127.0.0.1, real runpod SDK, real SSH)"
    )
    print(
        f"first refresh (SDK import, SSH connects): {figures['first']:.2f} s "
        "until every pod's status and health shows"
    )
    print(
        f"steady refresh, median of {args.runs}: pod list {figures['listed']:.3f} s, "
        f"every pod's status and health {figures['refresh']:.3f} s"
    )
    print(
        f"RunPod API calls per refresh: {figures['calls']:g} "
        f"({figures['lists']:g} list call for all {args.hosts} environments, "
        "0 per pod)"
    )
    print(
        f"reading the {pods} pods one API call each instead: "
        f"{figures['per_pod_reads']:.3f} s and {pods} calls, "
        f"{figures['per_pod_reads'] / figures['listed']:.1f}x the list call's time"
    )
    if manual:
        print(
            f"manual loop `ssh POD curl .../health` over the {pods} pods: "
            f"{manual:.2f} s, {manual / figures['refresh']:.1f}x podtui's steady "
            "refresh (and it shows health only)"
        )


if __name__ == "__main__":
    main()
