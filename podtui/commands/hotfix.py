"""`podtui hotfix pull POD PATH`: copy one pod file back into the working tree.

PATH is relative to the pod's app directory (which mirrors the repository).
The local file is replaced only when it is unchanged since the pod's
release; when both sides changed, both diffs are shown and nothing is
written unless `--merge` (three-way, conflict markers where they clash) or
`--keep-both` (the pod's version beside the local file) says how.
`--commit` then commits the copied-back files, naming the pod; never pushes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from podtui.errors import PodtuiError

EXIT_CONFLICT = 3


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("hotfix", help="copy hot fixes back from pods")
    verbs = parser.add_subparsers(dest="hotfix_command", metavar="VERB", required=True)
    pull = verbs.add_parser(
        "pull", help="copy one pod file back into the local working tree"
    )
    pull.add_argument("pod", metavar="POD")
    pull.add_argument("path", metavar="PATH", help="relative to the app directory")
    choice = pull.add_mutually_exclusive_group()
    choice.add_argument(
        "--merge",
        dest="choice",
        action="store_const",
        const="merge",
        help="when both sides changed: three-way merge, conflicts marked",
    )
    choice.add_argument(
        "--keep-both",
        dest="choice",
        action="store_const",
        const="keep-both",
        help="when both sides changed: put the pod's version beside the local file",
    )
    pull.add_argument(
        "--commit", action="store_true", help="commit the copied-back file(s)"
    )


def run(args: argparse.Namespace) -> int:
    from podtui.cli import load

    config = load(args)
    copy = asyncio.run(pull(config, args.pod, args.path, args.choice))
    if copy.needs_choice:
        print(f"{args.path} changed both locally and on {args.pod}: nothing written")
        print("local changes since the release:")
        print(copy.local_diff or "    (base unknown: the whole file)")
        print(f"changes on {args.pod}:")
        print(copy.pod_diff)
        print("run again with --merge or --keep-both", file=sys.stderr)
        return EXIT_CONFLICT
    print(copy.summary())
    if copy.diff:
        print(copy.diff, end="")
    if args.commit:
        from podtui.ops.copyback import commit_hotfix

        if not copy.written:
            raise PodtuiError("nothing was written, so there is nothing to commit")
        sha = commit_hotfix(config.project.repo, args.pod, list(copy.written))
        print(f"committed {sha[:12]} (not pushed)")
    return 0


async def pull(config: Any, pod_name: str, path: str, choice: str | None) -> Any:
    from podtui.ops.fleet import Fleet
    from podtui.ops.hotfix import pull_file
    from podtui.providers.local import ensure_local_pods

    await ensure_local_pods(config)
    fleet = Fleet(config)
    try:
        pods = [pod for pod in await fleet.pods() if pod.name == pod_name]
        if not pods:
            raise PodtuiError(
                f"pod {pod_name} is not listed by its provider",
                hint="check that it is running (podtui status)",
            )
        return await pull_file(fleet, pods[0], path, choice=choice)
    finally:
        await fleet.close()
