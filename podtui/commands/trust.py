"""`podtui trust POD`: record a pod's host key after the user checks it.

An unknown host key is a question for the user, never accepted silently: this
shows the key's fingerprint and records it in the pod's known_hosts file only
when the user says yes. A key that differs from a recorded one is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podtui.errors import HostKeyError, PodtuiError, UnreachableError

if TYPE_CHECKING:
    from podtui.config import Config
    from podtui.model import Pod


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "trust", help="check and record a pod's host key (ssh and runpod pods)"
    )
    parser.add_argument("pod", help="the pod's name in the config")
    parser.add_argument(
        "--yes", action="store_true", help="record the key without asking (scripts)"
    )


def run(args: argparse.Namespace) -> int:
    from podtui.cli import load

    config = load(args)
    environment, _ = config.find_pod(args.pod)
    if environment.provider == "local":
        raise PodtuiError(
            f"{args.pod} is a local pod; podtui pins its host keys itself"
        )
    pod = asyncio.run(listed_pod(config, args.pod))
    if pod.ssh is None:
        raise PodtuiError(f"{pod.name} has no SSH endpoint now", hint=pod.reason)
    host, port = pod.ssh.host, pod.ssh.port or 22
    known_hosts = Path(pod.ssh.known_hosts or "~/.ssh/known_hosts").expanduser()
    key = asyncio.run(fetch_host_key(pod.name, host, port))
    entry = host_entry(host, port)
    recorded = recorded_keys(known_hosts, host, port)
    public = key.export_public_key().decode().split()[:2]
    fingerprint = key.get_fingerprint("sha256")
    if recorded and " ".join(public) not in recorded:
        raise HostKeyError(
            pod.name,
            f"{entry} offers {fingerprint}, which differs from the key recorded in "
            f"{known_hosts}; refusing",
            hint=f"if the pod was rebuilt, remove the old key with "
            f"`ssh-keygen -R '{entry}' -f {known_hosts}` first",
        )
    if recorded:
        print(f"{entry} is already trusted ({fingerprint})")
        return 0
    print(f"{pod.name} ({entry}) offers the host key {public[0]} {fingerprint}")
    if not args.yes and not confirm("Is this the pod's key? Record it? [y/N] "):
        print("not recorded")
        return 1
    known_hosts.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(known_hosts, "a") as file:
        file.write(f"{entry} {' '.join(public)}\n")
    print(f"recorded in {known_hosts}")
    return 0


async def listed_pod(config: Config, name: str) -> Pod:
    """The pod as its provider lists it now (RunPod ports change on resume)."""
    from podtui.ops.fleet import Fleet

    fleet = Fleet(config)
    try:
        for pod in await fleet.pods():
            if pod.name == name:
                return pod
    finally:
        await fleet.close()
    problems = "; ".join(fleet.provider_errors.values())
    raise PodtuiError(f"{name} is not listed by its provider", hint=problems or None)


async def fetch_host_key(name: str, host: str, port: int) -> Any:
    import asyncssh

    try:
        key = await asyncio.wait_for(asyncssh.get_server_host_key(host, port), 15)
    except (OSError, asyncssh.Error, TimeoutError) as error:
        raise UnreachableError(name, f"cannot reach {host}:{port}: {error}") from None
    if key is None:
        raise UnreachableError(name, f"{host}:{port} offered no host key")
    return key


def host_entry(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def recorded_keys(known_hosts: Path, host: str, port: int) -> set[str]:
    """The `type base64` keys recorded for a host, from a plain known_hosts."""
    import asyncssh

    try:
        entries = asyncssh.read_known_hosts(str(known_hosts))
    except (OSError, ValueError):
        return set()
    trusted, *_ = entries.match(host, "", port)
    return {" ".join(k.export_public_key().decode().split()[:2]) for k in trusted}


def confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise PodtuiError(
            "not asking: standard input is not a terminal",
            hint="check the fingerprint, then run again with --yes",
        )
    return input(question).strip().lower() in ("y", "yes")
