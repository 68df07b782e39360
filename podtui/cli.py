"""The `podtui` command: the app with no subcommand, headless workflows with one.

Each subcommand lives in `podtui/commands/` and exposes `add_parser` and
`run`. Expected failures print their message (and hint) to stderr and exit
non-zero without a traceback: 2 for a bad config or usage, 1 for a failed
operation.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from podtui import __version__
from podtui.errors import ConfigError, PodtuiError

if TYPE_CHECKING:
    from podtui.config import Config

COMMANDS = (
    "status",
    "local",
    "trust",
    "image",
    "stop",
    "resume",
    "terminate",
    "logs",
    "deploy",
    "restart",
    "promote",
    "hotfix",
    "drift",
)
"""Modules of `podtui.commands`, one per subcommand group."""

EXIT_FAILED = 1
EXIT_USAGE = 2


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    parser = argparse.ArgumentParser(
        prog="podtui",
        description="Run a Python service on GPU pods: dashboard, logs, hot fixes, "
        "deploys. With no command, opens the app.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="config file (default: $PODTUI_CONFIG, "
        "./config.toml, then the user config directory)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    parser.add_argument("--version", action="version", version=f"podtui {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name in COMMANDS:
        module = importlib.import_module(f"podtui.commands.{name}")
        module.add_parser(subparsers)
        modules[name] = module
    return parser, modules


def main(argv: Sequence[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(
            level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
        )
    try:
        if args.command is None:
            return open_app(args)
        result: int = modules[args.command].run(args)
        return result
    except ConfigError as error:
        print(f"podtui: {error}", file=sys.stderr)
        return EXIT_USAGE
    except PodtuiError as error:
        print(f"podtui: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("podtui: interrupted", file=sys.stderr)
        return 130


def load(args: argparse.Namespace) -> Config:
    """The config named by the command line (or found in the usual places)."""
    from podtui.config import find_config_path, load_config

    return load_config(find_config_path(args.config))


def open_app(args: argparse.Namespace) -> int:
    config = load(args)
    from podtui.tui.app import PodtuiApp
    from podtui.tui.hangup import exit_on_hangup

    exit_on_hangup(sys.__stdin__.fileno() if sys.__stdin__ else 0)
    ready_file = os.environ.get("PODTUI_READY_FILE")
    PodtuiApp(config, ready_file=Path(ready_file) if ready_file else None).run()
    return 0
