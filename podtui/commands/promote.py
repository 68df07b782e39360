"""`podtui promote ENV`: deploy the release healthy on ENV to the next environment."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "promote",
        help="deploy the release healthy on ENV to the next environment "
        "(dev to staging, staging to production)",
    )
    parser.add_argument("environment", metavar="ENV")
    from podtui.commands.deploy import add_common

    add_common(parser)


def run(args: argparse.Namespace) -> int:
    from podtui.commands.deploy import run_operation
    from podtui.ops.deploy import DeployOptions, promote

    options = DeployOptions(
        allow_requirements_change=args.allow_requirements_change, confirmed=args.yes
    )
    return run_operation(
        args,
        lambda fleet, sink: promote(
            fleet, args.environment, options=options, on_event=sink
        ),
    )
