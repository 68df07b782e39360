"""`podtui terminate POD`: delete a RunPod pod, volume and all, after the user
types its name."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from podtui.commands.stop import describe, run_on_pod
from podtui.errors import PodtuiError
from podtui.model import Pod


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "terminate", help="delete a RunPod pod with its volume (asks for its name)"
    )
    parser.add_argument("pod", help="the pod's name")
    parser.add_argument(
        "--confirm",
        metavar="NAME",
        help="the pod's name again, to terminate without asking (scripts)",
    )


def run(args: argparse.Namespace) -> int:
    from podtui.ops.power import TERMINATE_WARNING, terminate_pod

    async def terminate(fleet: Any, pod: Pod) -> str:
        print(TERMINATE_WARNING, file=sys.stderr)
        typed = args.confirm if args.confirm is not None else ask_name(pod)
        await terminate_pod(fleet, pod, typed)
        return f"{pod.name}: terminated"

    return run_on_pod(args, terminate)


def ask_name(pod: Pod) -> str:
    if not sys.stdin.isatty():
        raise PodtuiError(
            "not asking: standard input is not a terminal",
            hint=f"run again with --confirm {pod.name}",
        )
    return input(f"Type {pod.name} to terminate {describe(pod)}: ").strip()
