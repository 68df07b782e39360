"""`podtui deploy ENV`: sync, restart and health-gate the pods of an environment.

One line per step of each pod as it happens, then a summary; the exit status
is non-zero when any pod failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

EXIT_FAILED = 1


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "deploy", help="deploy the local release to an environment's pods"
    )
    parser.add_argument("environment", metavar="ENV")
    parser.add_argument("--pod", metavar="NAME", help="only this pod")
    parser.add_argument(
        "--mode",
        choices=("git", "push", "files"),
        help="git: pods pull; push: send local commits; files: the working tree "
        "(default: the environment's deploy_mode)",
    )
    add_common(parser)
    parser.add_argument(
        "--force", action="store_true", help="restart even when nothing changed"
    )


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options shared by deploy and promote."""
    parser.add_argument(
        "--yes", action="store_true", help="confirm a protected environment"
    )
    parser.add_argument(
        "--allow-requirements-change",
        action="store_true",
        help="deploy although the pods' image has other requirements",
    )


def run(args: argparse.Namespace) -> int:
    from podtui.ops.deploy import DeployOptions, deploy

    options = DeployOptions(
        mode=args.mode,
        force=args.force,
        allow_requirements_change=args.allow_requirements_change,
        confirmed=args.yes,
    )
    return run_operation(
        args,
        lambda fleet, sink: deploy(
            fleet, args.environment, pod=args.pod, options=options, on_event=sink
        ),
    )


def run_operation(
    args: argparse.Namespace,
    operation: Callable[[Any, Any], Awaitable[Any]],
) -> int:
    """Load the config, run a deploy-like operation, print its lines and summary."""
    from podtui.cli import load

    config = load(args)
    result = asyncio.run(with_fleet(config, operation))
    from podtui.ops.deploy import summary_lines

    for line in summary_lines(result):
        print(line)
    return 0 if result.ok else EXIT_FAILED


async def with_fleet(
    config: Any, operation: Callable[[Any, Any], Awaitable[Any]]
) -> Any:
    from podtui.ops.events import StepEvent, event_line
    from podtui.ops.fleet import Fleet
    from podtui.providers.local import ensure_local_pods

    def print_event(event: StepEvent) -> None:
        print(event_line(event), flush=True)

    await ensure_local_pods(config)
    fleet = Fleet(config)
    try:
        return await operation(fleet, print_event)
    finally:
        await fleet.close()
        sys.stdout.flush()
