"""How fast log lines get from pods' log files onto the screen, next to `ssh tail -F`.

Four local pods each get a writer that appends lines to the pod's log file as
fast as it can (each line carries the time it was written). Two runs read
them, one after the other, on the same pods:

- podtui: the dashboard's log panes (a headless Textual app with four panes
  side by side), fed by `LogTail` through the pod agent;
- ssh: one OpenSSH client per pod running `tail -F`, its output read by this
  process (what a person does by hand, in four terminals).

Printed per run: aggregate lines per second (all lines written until the
last one is shown, or read for ssh), latency from a line written to it shown
(p50, p95), and for podtui the longest stall of the UI's event loop and the
process's memory after 250,000 and after 1,000,000 lines.

Run: `python benchmarks/logs.py` (options: --lines-per-pod, --pods).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from textual.app import App, ComposeResult  # noqa: E402

from podtui.config import Config, parse_config  # noqa: E402
from podtui.ops.fleet import Fleet  # noqa: E402
from podtui.ops.logs import pod_tail  # noqa: E402
from podtui.providers.local import LocalPods  # noqa: E402
from podtui.remote.logs import LogBatch, TailState  # noqa: E402
from podtui.tui.log_pane import LogPane, LogPanes  # noqa: E402
from podtui.tui.log_view import LogView  # noqa: E402

CONFIG = """\
[project]
name = "voice-pipeline"
repo = "{repo}"
deploy = ["voice_pipeline"]
requirements = "voice_pipeline/requirements.txt"

[environments.bench]
provider = "local"
protected = false
{pods}
"""
WRITER = """\
import sys, time
path, pod, count, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
pad = "x" * 60
size = 500 if not rate else 50
with open(path, "ab", buffering=0) as log:
    done, start = 0, time.time()
    while done < count:
        chunk = min(size, count - done)
        if rate:
            time.sleep(max(0.0, start + done / rate - time.time()))
        stamp = f"{time.time():.6f}"
        log.write("".join(
            f"B {pod} {n:09d} {stamp} {pad}\\n" for n in range(done, done + chunk)
        ).encode())
        done += chunk
"""
SAMPLE_EVERY = 50
"""Latency is measured on one line in this many."""


def make_setup(root: Path, count: int) -> tuple[Config, LocalPods]:
    repo = root / "project"
    shutil.copytree(
        REPO / "voice_pipeline",
        repo / "voice_pipeline",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    git = ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "Initial release"], check=True)
    names = [f"logs-{i}" for i in range(1, count + 1)]
    pods = "".join(f'\n[[environments.bench.pods]]\nname = "{n}"\n' for n in names)
    path = root / "config.toml"
    path.write_text(CONFIG.format(repo=repo, pods=pods))
    config = parse_config(path.read_text(), path)
    local = LocalPods(root / "pods")
    local.up(config)
    return config, local


def log_file(local: LocalPods, name: str) -> Path:
    return local.pod_dir(name) / "logs" / "app.log"


def start_writers(
    local: LocalPods, names: list[str], lines: int, rate: float
) -> list[Any]:
    """One writer per pod: `lines` lines, at `rate` lines/s (0: flat out)."""
    return [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(log_file(local, n)), n]
            + [str(lines), str(rate)]
        )
        for n in names
    ]


def stamp_of(line: str) -> float | None:
    parts = line.split(" ", 4)
    if len(parts) == 5 and parts[0] == "B":
        return float(parts[3])
    return None


def rss_mib() -> float:
    """The resident memory of this process now, in MiB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


class Figures:
    """Lines counted, latency samples and timings of one run."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.lines = 0
        self.latencies: list[float] = []
        self.started = 0.0
        self.finished = 0.0
        self.stall = 0.0
        self.memory: dict[int, float] = {}

    def take(self, lines: list[str], shown: float) -> None:
        """Count lines shown at `shown`; sample their latency."""
        before = self.lines
        for index in range(-before % SAMPLE_EVERY, len(lines), SAMPLE_EVERY):
            stamp = stamp_of(lines[index])
            if stamp is not None:
                self.latencies.append(shown - stamp)
        # Counted in C (join, count): the count must not stall the UI it measures.
        self.lines += ("\n" + "\n".join(lines)).count("\nB ")
        for mark in (250_000, 1_000_000):
            if before < mark <= self.lines:
                self.memory[mark] = rss_mib()
        if self.lines >= self.expected and not self.finished:
            self.finished = shown

    def row(self, name: str) -> dict[str, str]:
        rate = self.lines / (self.finished - self.started) if self.finished else 0.0
        cuts = (
            statistics.quantiles(self.latencies, n=20) if self.latencies else [0] * 19
        )
        return {
            "run": name,
            "lines/s": f"{rate:,.0f}",
            "p50 ms": f"{statistics.median(self.latencies) * 1000:.0f}",
            "p95 ms": f"{cuts[18] * 1000:.0f}",
            "stall ms": f"{self.stall * 1000:.0f}" if self.stall else "-",
            "MiB @250k": f"{self.memory.get(250_000, 0):.0f}",
            "MiB @1M": f"{self.memory.get(1_000_000, 0):.0f}",
        }


class BenchApp(App[None]):
    """Four log panes side by side, as in the dashboard, with a stall meter."""

    def __init__(self, figures: Figures) -> None:
        super().__init__()
        self.figures = figures
        self.pending: dict[LogView, list[list[str]]] = {}

    def compose(self) -> ComposeResult:
        yield LogPanes(id="logs")

    def on_mount(self) -> None:
        self.run_worker(self.stall_meter(), exit_on_error=False)

    async def stall_meter(self) -> None:
        """The longest time the event loop was busy beyond a 10 ms wait."""
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            late = time.perf_counter() - before - 0.01
            if self.figures.started and not self.figures.finished:
                self.figures.stall = max(self.figures.stall, late)

    def listen(self, pane: LogPane) -> None:
        """Count a pane's batches once the view draws them."""
        forward = pane.listener

        def listener(source: LogPane, batch: LogBatch) -> None:
            self.pending.setdefault(source.view, []).append(batch.lines)
            if forward is not None:
                forward(source, batch)

        pane.listener = listener

    def drawn(self, view: LogView) -> None:
        now = time.time()
        for lines in self.pending.pop(view, []):
            self.figures.take(lines, now)


def instrument_drawing(app: BenchApp) -> Callable[[], None]:
    """Tell the app when a view draws; returns the undo."""
    original = LogView.render_lines

    def render_lines(view: LogView, crop: Any) -> Any:
        result = original(view, crop)
        app.drawn(view)
        return result

    LogView.render_lines = render_lines  # type: ignore[method-assign]
    return lambda: setattr(LogView, "render_lines", original)


async def podtui_run(
    config: Config, local: LocalPods, names: list[str], lines: int, rate: float
) -> Figures:
    figures = Figures(lines * len(names))
    fleet = Fleet(config, local_pods=local)
    pods = {pod.name: pod for pod in await fleet.pods()}
    app = BenchApp(figures)
    undo = instrument_drawing(app)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            panes = app.query_one(LogPanes)
            opened = []
            for name in names:
                tail = pod_tail(fleet.session(pods[name]), lines=0)
                opened.append(await panes.open_pane(name, tail))
                app.listen(opened[-1])
            while not all(p.status.state is TailState.LIVE for p in opened):
                await pilot.pause(0.05)
            figures.started = time.time()
            writers = start_writers(local, names, lines, rate)
            while not figures.finished:
                await pilot.pause(0.1)
            for writer in writers:
                writer.wait()
    finally:
        undo()
        await fleet.close()
    return figures


async def ssh_run(
    local: LocalPods, names: list[str], lines: int, rate: float
) -> Figures:
    figures = Figures(lines * len(names))
    specs = local.specs()
    clients = []
    for name in names:
        command = [
            "ssh", "-q", "-F", "/dev/null", "-p", str(specs[name].ssh_port),
            "-i", str(local.client_key),
            "-o", f"UserKnownHostsFile={local.known_hosts}",
            "-o", "BatchMode=yes", "127.0.0.1",
            "tail -F -n 0 logs/app.log",
        ]  # fmt: skip
        clients.append(
            await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.PIPE, limit=2**20
            )
        )
    for client, name in zip(clients, names, strict=True):
        await wait_for_marker(client, log_file(local, name))
    figures.started = time.time()
    writers = start_writers(local, names, lines, rate)
    await asyncio.gather(*(read_lines(c, figures, lines) for c in clients))
    for writer in writers:
        writer.wait()
    for client in clients:
        client.terminate()
        await client.wait()
    return figures


async def wait_for_marker(client: asyncio.subprocess.Process, log: Path) -> None:
    """Append a marker until `tail -F` shows it: then it is surely following."""
    assert client.stdout is not None
    while True:
        with log.open("a") as stream:
            stream.write("marker\n")
        try:
            line = await asyncio.wait_for(client.stdout.readline(), 0.5)
        except TimeoutError:
            continue
        if line == b"marker\n":
            return


async def read_lines(
    client: asyncio.subprocess.Process, figures: Figures, lines: int
) -> None:
    """Read one client's output until its pod's `lines` lines have come."""
    assert client.stdout is not None
    seen = 0
    while seen < lines:
        data = await client.stdout.read(2**18)
        if not data:
            raise RuntimeError("ssh tail -F ended early")
        if not data.endswith(b"\n"):
            data += await client.stdout.readline()
        batch = [x for x in data.decode().splitlines() if x.startswith("B ")]
        seen += len(batch)
        figures.take(batch, time.time())


def report(rows: list[dict[str, str]], pods: int, lines: int, rate: float) -> None:
    print(f"{pods} local pods; flat out: {lines:,} lines each ({pods * lines:,});")
    print(f"paced: {rate:,.0f} lines/s per pod ({pods * rate:,.0f} in all).")
    print("latency = line written to line shown (podtui) or read (ssh)")
    print()
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in keys}
    print("  ".join(k.rjust(widths[k]) for k in keys))
    for row in rows:
        print("  ".join(row[k].rjust(widths[k]) for k in keys))

    def rate_of(row: dict[str, str]) -> float:
        return float(row["lines/s"].replace(",", ""))

    print()
    print(f"podtui / ssh tail -F, flat out: {rate_of(rows[0]) / rate_of(rows[1]):.2f}x")
    print("goals: >= 100,000 lines/s, p95 < 150 ms, stall < 100 ms, memory flat")


async def main(pod_count: int, lines: int, rate: float) -> None:
    with tempfile.TemporaryDirectory(prefix="podtui-logs-bench-") as temp:
        root = Path(temp)
        config, local = await asyncio.to_thread(make_setup, root, pod_count)
        names = [f"logs-{i}" for i in range(1, pod_count + 1)]
        paced = int(rate * 4)
        try:
            rows = [
                (await podtui_run(config, local, names, lines, 0)).row(
                    "podtui flat out"
                ),
                (await ssh_run(local, names, lines, 0)).row("ssh -F flat out"),
                (await podtui_run(config, local, names, paced, rate)).row(
                    "podtui paced"
                ),
                (await ssh_run(local, names, paced, rate)).row("ssh -F paced"),
            ]
        finally:
            await asyncio.to_thread(local.down)
    report(rows, pod_count, lines, rate)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=4)
    parser.add_argument("--lines-per-pod", type=int, default=250_000)
    parser.add_argument(
        "--rate", type=float, default=25_000, help="paced lines/s per pod"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.pods, arguments.lines_per_pod, arguments.rate))
