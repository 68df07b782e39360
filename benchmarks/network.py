"""A pod far away: a TCP relay that delays traffic like a real network.

Real pods are tens of milliseconds away, and every `ssh` by hand pays its
handshake in round trips. Benchmarks put this relay in front of a local
pod's SSH port so that podtui and the manual steps both cross the same
simulated network.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

from podtui.model import Pod
from podtui.providers.local import LocalPods


class DelayRelay:
    """Relays one port, holding each chunk `delay` seconds in each direction."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port = target_port
        self.delay = delay
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    def close(self) -> None:
        if self.server is not None:
            self.server.close()

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        await asyncio.gather(self.pipe(reader, up_writer), self.pipe(up_reader, writer))

    async def pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Copy in order, each chunk released `delay` after it arrived."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def release() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    writer.close()
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        releasing = asyncio.create_task(release())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((time.monotonic() + self.delay, data))
        except ConnectionError:
            pass
        queue.put_nowait((time.monotonic() + self.delay, b""))
        try:
            await releasing
        except ConnectionError:
            pass


async def far_pod(
    pod: Pod, pods: LocalPods, rtt: float, known_hosts: Path
) -> tuple[Pod, DelayRelay]:
    """The pod as seen across a network of round-trip time `rtt` seconds."""
    assert pod.ssh is not None and pod.ssh.port is not None
    relay = DelayRelay(pod.ssh.port, rtt / 2)
    port = await relay.start()
    line = next(
        line
        for line in pods.known_hosts.read_text().splitlines()
        if line.startswith(f"[127.0.0.1]:{pod.ssh.port} ")
    )
    key = line.split(" ", 1)[1]
    with known_hosts.open("a") as file:
        file.write(f"[127.0.0.1]:{port} {key}\n")
    ssh = dataclasses.replace(pod.ssh, port=port, known_hosts=str(known_hosts))
    return dataclasses.replace(pod, ssh=ssh), relay
