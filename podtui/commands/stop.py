"""`podtui stop POD`: stop a RunPod pod's machine; its volume is kept.

Also the shared steps of `resume` and `terminate`: find the pod as RunPod
sees it now, say what the operation costs, and ask before doing it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from podtui.errors import PodtuiError
from podtui.model import Pod

Action = Callable[[Any, Pod], Awaitable[str]]
"""Does the operation on a pod with a fleet; the line to print."""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stop", help="stop a RunPod pod (its volume is kept, its container disk lost)"
    )
    parser.add_argument("pod", help="the pod's name")
    parser.add_argument("--yes", action="store_true", help="do not ask (scripts)")


def run(args: argparse.Namespace) -> int:
    from podtui.ops.power import STOP_WARNING, stop_pod

    async def stop(fleet: Any, pod: Pod) -> str:
        confirm(f"Stop {describe(pod)}?", STOP_WARNING, args.yes)
        after = await stop_pod(fleet, pod)
        return f"{after.name}: {after.status.value}"

    return run_on_pod(args, stop)


def run_on_pod(args: argparse.Namespace, action: Action) -> int:
    """Load the config, find `args.pod` and run `action` on it."""
    from podtui.cli import load

    config = load(args)
    print(asyncio.run(_on_pod(config, args.pod, action)))
    return 0


async def _on_pod(config: Any, name: str, action: Action) -> str:
    from podtui.ops.fleet import Fleet
    from podtui.ops.power import find_pod

    fleet = Fleet(config)
    try:
        pod = await find_pod(fleet, name)
        return await action(fleet, pod)
    finally:
        await fleet.close()


def describe(pod: Pod) -> str:
    """`voice-1 (1x RTX A5000, $0.26/hr)`."""
    parts = [part for part in (pod.gpu, _cost(pod)) if part]
    return f"{pod.name} ({', '.join(parts)})" if parts else pod.name


def _cost(pod: Pod) -> str | None:
    return f"${pod.cost_per_hour:.2f}/hr" if pod.cost_per_hour is not None else None


def confirm(question: str, warning: str, yes: bool) -> None:
    """Show the warning and ask, unless `yes`; a PodtuiError if not confirmed."""
    print(warning, file=sys.stderr)
    if yes:
        return
    if not sys.stdin.isatty():
        raise PodtuiError(
            "not asking: standard input is not a terminal",
            hint="run again with --yes",
        )
    if input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
        raise PodtuiError("cancelled; nothing was changed")
