"""`podtui drift [ENV]`: the files of each pod that differ from its release.

One line per pod, then one per drifted file (changed, added or removed since
the release). The exit status is 0 even with drift: drift is information.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "drift", help="list files on pods that differ from their release"
    )
    parser.add_argument(
        "environment", metavar="ENV", nargs="?", help="only this environment"
    )


def run(args: argparse.Namespace) -> int:
    from podtui.cli import load
    from podtui.ops.drift import drift_lines

    config = load(args)
    if args.environment is not None:
        config.environment(args.environment)
    drifts = asyncio.run(measure(config, args.environment))
    for line in drift_lines(drifts):
        print(line)
    return 0


async def measure(config: Any, environment: str | None) -> list[Any]:
    from podtui.ops.drift import fleet_drift
    from podtui.ops.fleet import Fleet
    from podtui.providers.local import ensure_local_pods

    await ensure_local_pods(config)
    fleet = Fleet(config)
    try:
        return await fleet_drift(fleet, environment)
    finally:
        await fleet.close()
