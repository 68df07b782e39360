"""`podtui logs`: the service logs of one or more pods, each line marked by pod.

Lines of several pods interleave as they arrive, each prefixed with its pod's
name (coloured on a terminal), so the output reads like one log and greps
like one. With `-f` it follows until interrupted, riding out dropped
connections and log rotations.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from typing import IO, Any

from podtui.config import Config
from podtui.errors import PodError, PodtuiError
from podtui.model import Pod
from podtui.ops.logs import LineFilter
from podtui.remote.logs import LogBatch, TailState, TailStatus

COLOURS = ("36", "33", "35", "32", "34", "31", "96", "93", "95", "92", "94", "91")
"""ANSI colours given to pods in turn."""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "logs", help="print the service log of pods, each line prefixed by its pod"
    )
    parser.add_argument("pods", nargs="+", metavar="POD", help="pod names")
    parser.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new lines"
    )
    parser.add_argument(
        "-n",
        "--lines",
        type=int,
        default=10,
        metavar="N",
        help="existing lines to print first, per pod (default 10)",
    )
    parser.add_argument(
        "--grep", metavar="REGEX", help="only lines matching this regular expression"
    )
    parser.add_argument(
        "--invert", action="store_true", help="with --grep: lines NOT matching"
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour pod names (auto: only on a terminal)",
    )


def run(args: argparse.Namespace) -> int:
    from podtui.cli import load

    config = load(args)
    if args.lines < 0:
        raise PodtuiError("-n must be 0 or more")
    line_filter = LineFilter.parse(args.grep, invert=args.invert) if args.grep else None
    colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    printer = LinePrinter(args.pods, sys.stdout, colour=colour, line_filter=line_filter)
    try:
        return asyncio.run(follow_pods(config, args.pods, args, printer))
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, like other tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


class LinePrinter:
    """Writes batches of lines with a pod prefix, one write per batch."""

    def __init__(
        self,
        names: list[str],
        stream: IO[str],
        *,
        colour: bool,
        line_filter: LineFilter | None,
    ) -> None:
        width = max(len(name) for name in names)
        self.stream = stream
        self.line_filter = line_filter
        self.prefixes = {
            name: prefix(name, width, COLOURS[i % len(COLOURS)] if colour else None)
            for i, name in enumerate(names)
        }

    def print(self, pod: str, lines: list[str]) -> None:
        if self.line_filter is not None:
            lines = self.line_filter.apply(lines)
        if lines:
            start = self.prefixes[pod]
            self.stream.write("".join(f"{start}{line}\n" for line in lines))
            self.stream.flush()


def prefix(name: str, width: int, colour: str | None) -> str:
    """`dev-1  | `, the name in `colour` (an ANSI code) when given."""
    padded = name.ljust(width)
    if colour is not None:
        padded = f"\x1b[{colour}m{padded}\x1b[0m"
    return f"{padded} | "


async def follow_pods(
    config: Config, names: list[str], args: argparse.Namespace, printer: LinePrinter
) -> int:
    """Tail every named pod at once; 1 if any tail ended with an error."""
    from podtui.ops.fleet import Fleet
    from podtui.providers.local import ensure_local_pods

    await ensure_local_pods(config)
    fleet = Fleet(config)
    try:
        pods = await find_pods(fleet, config, names)
        results = await asyncio.gather(
            *(follow_pod(fleet, pod, args, printer) for pod in pods)
        )
    finally:
        await fleet.close()
    return 0 if all(results) else 1


async def find_pods(fleet: Any, config: Config, names: list[str]) -> list[Pod]:
    """The named pods, in the order given; unknown or stopped ones are errors."""
    pods = {pod.name: pod for pod in await fleet.pods()}
    found = []
    for name in names:
        pod = pods.get(name)
        if pod is None:
            config.find_pod(name)
            raise PodtuiError(f"pod {name!r} is not available right now")
        if pod.ssh is None:
            raise PodError(name, pod.reason or "has no SSH endpoint yet")
        found.append(pod)
    return found


async def follow_pod(
    fleet: Any, pod: Pod, args: argparse.Namespace, printer: LinePrinter
) -> bool:
    """Print one pod's lines until its tail ends; False if it ended in error."""
    from podtui.ops.logs import pod_tail

    tail = pod_tail(fleet.session(pod), lines=args.lines, follow=args.follow)
    async with contextlib.aclosing(tail.events()) as events:
        async for event in events:
            if isinstance(event, LogBatch):
                printer.print(pod.name, event.lines)
            elif not report(pod.name, event):
                return False
    return True


def report(pod: str, status: TailStatus) -> bool:
    """Tell stderr about reconnects and failures; False for a failed end."""
    if status.state is TailState.RECONNECTING:
        print(f"podtui: {pod}: {status.describe()}", file=sys.stderr)
    if status.state is TailState.ENDED and status.detail:
        print(f"podtui: {pod}: {status.describe()}", file=sys.stderr)
        return False
    return True
