"""`podtui status`: every pod's status, health and release, as a table or JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from podtui.config import Config

COLUMNS = {
    "environment": "ENVIRONMENT",
    "pod": "POD",
    "provider": "PROVIDER",
    "status": "STATUS",
    "health": "HEALTH",
    "release": "RELEASE",
    "uptime": "UPTIME",
    "gpu": "GPU",
    "cost": "$/HR",
}


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("status", help="print every pod's status and health")
    parser.add_argument("environments", nargs="*", metavar="ENV", help="only these")
    parser.add_argument(
        "--json", action="store_true", help="a JSON list, one object per pod"
    )


def run(args: argparse.Namespace) -> int:
    from podtui.cli import load

    config = load(args)
    for name in args.environments:
        config.environment(name)
    reports, provider_errors = asyncio.run(collect(config, args.environments))
    if args.json:
        from podtui.present import report_json

        print(json.dumps([report_json(r) for r in reports], indent=2))
    else:
        from podtui.present import render_table, report_fields

        print(render_table([report_fields(r) for r in reports], COLUMNS))
        for report in reports:
            if report.error:
                print(f"{report.pod.name}: {report.error}", file=sys.stderr)
    for environment, message in provider_errors.items():
        print(f"podtui: {environment}: {message}", file=sys.stderr)
    return 0


async def collect(config: Config, only: list[str]) -> tuple[list[Any], dict[str, str]]:
    """Inspect every pod (of `only`, if given) concurrently."""
    from podtui.ops.fleet import Fleet
    from podtui.providers.local import ensure_local_pods

    await ensure_local_pods(config)
    fleet = Fleet(config)
    try:
        pods = [p for p in await fleet.pods() if not only or p.environment in only]
        reports = await asyncio.gather(*(fleet.inspect(pod) for pod in pods))
        return list(reports), dict(fleet.provider_errors)
    finally:
        await fleet.close()
