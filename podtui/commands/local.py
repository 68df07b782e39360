"""`podtui local up|down|status`: the built-in local pods and their host."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("local", help="start, stop or list the local pods")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("up", help="create and start the config's local pods")
    actions.add_parser("down", help="stop the local pods (their disks are kept)")
    actions.add_parser("status", help="list the local pods and their ports")


def run(args: argparse.Namespace) -> int:
    from podtui.providers.local import LocalPods

    pods = LocalPods()
    if args.action == "down":
        stopped = pods.down()
        print("local pods stopped" if stopped else "local pods were not running")
        return 0
    if args.action == "up":
        from podtui.cli import load

        created = pods.up(load(args))
        if created:
            print(f"created local pods: {', '.join(created)}")
        print(f"local pods running (state in {pods.root})")
        return 0
    return show(pods)


def show(pods: Any) -> int:
    from podtui.present import render_table

    pid = pods.host_pid()
    hosted = pods.hosted_pods() if pid else set()
    rows = [
        {
            "pod": spec.name,
            "environment": spec.environment,
            "state": "up" if spec.name in hosted else "down",
            "ssh": f"127.0.0.1:{spec.ssh_port}",
            "http": f"127.0.0.1:{spec.http_port}",
            "disk": str(pods.pod_dir(spec.name)),
        }
        for spec in pods.specs().values()
    ]
    if not rows:
        print("no local pods yet: `podtui local up` creates the config's local pods")
        return 0
    columns = {
        "pod": "POD",
        "environment": "ENVIRONMENT",
        "state": "STATE",
        "ssh": "SSH",
        "http": "HTTP",
        "disk": "DISK",
    }
    print(render_table(rows, columns))
    print(f"host: {'pid ' + str(pid) if pid else 'not running'}")
    return 0
