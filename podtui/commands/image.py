"""`podtui image build|push`: the pod image, rebuilt when dependencies change.

With a Docker engine, the commands run; without one, podtui prints exactly
what it would run. Both refuse when the image's recorded requirements hash
disagrees with what was asked.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from typing import Any

TAG_HASH = re.compile(r":req-([0-9a-f]{6,64})$")
"""Tags podtui makes carry the requirements hash they were built from."""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("image", help="build or push the pod image")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (
        ("build", "build the image for the current requirements"),
        ("push", "push the image built for the current requirements"),
    ):
        sub = actions.add_parser(action, help=text)
        sub.add_argument(
            "--tag", help="image tag (default: PROJECT:req-<requirements hash>)"
        )
        sub.add_argument(
            "--force", action="store_true", help="skip the requirements hash check"
        )


def run(args: argparse.Namespace) -> int:
    from podtui.cli import load
    from podtui.ops import image

    config = load(args)
    requirements = config.project.repo / config.project.requirements
    digest = image.requirements_hash(requirements)
    tag = args.tag or f"{config.project.name}:req-{digest[:12]}"
    if not args.force:
        check_tag(tag, digest)
    if args.action == "build":
        plan = image.plan_build(config.project.repo, requirements, tag)
    else:
        plan = image.plan_push(tag)
    if not image.docker_available():
        print("No Docker engine is reachable here; these are the commands to run:")
        for command in plan:
            print("  " + shlex.join(command))
        return 0

    def output(line: str) -> None:
        print(line, file=sys.stderr)

    if args.action == "build":
        image.build_image(
            config.project.repo, requirements, tag, force=args.force, output=output
        )
    else:
        image.push_image(requirements, tag, force=args.force, output=output)
    print(f"{args.action} done: {tag}")
    return 0


def check_tag(tag: str, digest: str) -> None:
    """Refuse a `req-<hash>` tag made for other requirements than today's."""
    from podtui.ops.image import RequirementsMismatch

    match = TAG_HASH.search(tag)
    if match and not digest.startswith(match.group(1)):
        raise RequirementsMismatch(
            f"{tag} was made for requirements {match.group(1)[:12]}, but the "
            f"requirements file now hashes to {digest[:12]}",
            hint="build a new image (`podtui image build`) or pass --force",
        )
