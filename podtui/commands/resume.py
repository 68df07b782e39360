"""`podtui resume POD`: start a stopped RunPod pod again; say what it got."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from podtui.commands.stop import confirm, describe, run_on_pod
from podtui.model import Pod


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "resume", help="resume a stopped RunPod pod (it may come back without a GPU)"
    )
    parser.add_argument("pod", help="the pod's name")
    parser.add_argument("--yes", action="store_true", help="do not ask (scripts)")


def run(args: argparse.Namespace) -> int:
    from podtui.ops.power import RESUME_WARNING, resume_pod

    async def resume(fleet: Any, pod: Pod) -> str:
        confirm(f"Resume {describe(pod)}?", RESUME_WARNING, args.yes)
        resumed = await resume_pod(fleet, pod)
        if resumed.without_gpu:
            print(f"podtui: warning: {resumed.message}", file=sys.stderr)
        return resumed.message

    return run_on_pod(args, resume)
