"""`podtui restart ENV`: restart the service on pods, each gated on health."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "restart", help="restart the service on an environment's pods"
    )
    parser.add_argument("environment", metavar="ENV")
    parser.add_argument("--pod", metavar="NAME", help="only this pod")
    parser.add_argument(
        "--yes", action="store_true", help="confirm a protected environment"
    )


def run(args: argparse.Namespace) -> int:
    from podtui.commands.deploy import run_operation
    from podtui.ops.deploy import restart

    return run_operation(
        args,
        lambda fleet, sink: restart(
            fleet, args.environment, pod=args.pod, confirmed=args.yes, on_event=sink
        ),
    )
