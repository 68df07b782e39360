"""Start the service: `python -m voice_pipeline [--host H] [--port N] ...`.

It runs from a plain copy of the package (the pod's app directory is the
working directory), so nothing here relies on the package being installed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from voice_pipeline.engines import DISABLE_ENV, Engines, parse_disabled
from voice_pipeline.logs import setup_logging
from voice_pipeline.pipeline import DEFAULT_STAGES, PipelineConfigError, check_stages
from voice_pipeline.release import ReleaseRecord
from voice_pipeline.server import Service, serve

log = logging.getLogger("voice_pipeline")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line, with defaults that suit a pod."""
    parser = argparse.ArgumentParser(prog="python -m voice_pipeline")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--log-file", type=Path, default=Path("logs/app.log"))
    parser.add_argument(
        "--stages",
        default=",".join(DEFAULT_STAGES),
        help="the pipeline chain, comma separated",
    )
    parser.add_argument(
        "--disable",
        "--engines-disable",
        default=os.environ.get(DISABLE_ENV, ""),
        help=f"engines to disable: stt,tts,vad or all (env {DISABLE_ENV})",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=10.0,
        help="seconds active sessions get to finish after SIGTERM",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the service until it is told to stop; the exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        stages = check_stages([s.strip() for s in args.stages.split(",") if s.strip()])
        disabled = parse_disabled(args.disable)
    except (PipelineConfigError, ValueError) as error:
        print(f"voice_pipeline: {error}", file=sys.stderr)
        return 2
    setup_logging(args.log_file)
    service = Service(Engines(disabled), stages, ReleaseRecord.from_env())
    log.info(
        "starting pid=%d stages=%s disabled=%s",
        os.getpid(),
        ",".join(stages),
        ",".join(sorted(disabled)) or "-",
    )
    asyncio.run(serve(service, args.host, args.port, args.drain_timeout))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
