"""Tails of local pods' logs over SSH: every line arrives exactly once.

Each test writes numbered lines into a pod's log file (its own directory)
while the service writes its own lines there too, and checks the numbered
ones arrive once each, in order, through rotations, restarts and drops.
"""

from __future__ import annotations

import os
import shutil

from podtui.ops.fleet import Fleet
from podtui.ops.logs import pod_tail
from podtui.providers.local import LocalPods
from podtui.remote.logs import TailState
from tests.logs.conftest import (
    TailReader,
    append,
    numbered,
    numbered_only,
    session_of,
)


def log_of(own_pods: tuple[object, LocalPods], name: str) -> os.PathLike[str]:
    return own_pods[1].pod_dir(name) / "logs" / "app.log"


async def test_a_pod_log_tail_goes_live_and_shows_new_lines(
    fleet: Fleet, own_pods: tuple[object, LocalPods]
) -> None:
    log = log_of(own_pods, "logs-1")
    reader = TailReader(pod_tail(await session_of(fleet, "logs-1"), lines=0))
    await reader.read_state(TailState.LIVE)

    append(log, 0, 500)
    await reader.read_lines(500, numbered=True)
    await reader.aclose()

    assert reader.states[:2] == [TailState.CONNECTING, TailState.LIVE]
    assert numbered_only(reader.lines) == numbered(0, 500)


async def test_rotation_by_rename_loses_and_repeats_no_line(
    fleet: Fleet, own_pods: tuple[object, LocalPods]
) -> None:
    log = log_of(own_pods, "logs-1")
    reader = TailReader(pod_tail(await session_of(fleet, "logs-1"), lines=0))
    await reader.read_state(TailState.LIVE)
    append(log, 0, 1000)

    os.rename(log, f"{log}.1")
    append(log, 1000, 1000)
    await reader.read_lines(2000, numbered=True)
    await reader.aclose()

    assert numbered_only(reader.lines) == numbered(0, 2000)


async def test_rotation_by_copy_truncate_loses_and_repeats_no_line(
    fleet: Fleet, own_pods: tuple[object, LocalPods]
) -> None:
    log = log_of(own_pods, "logs-2")
    reader = TailReader(pod_tail(await session_of(fleet, "logs-2"), lines=0))
    await reader.read_state(TailState.LIVE)
    append(log, 0, 1000)
    await reader.read_lines(1000)

    append(log, 1000, 1000)
    shutil.copyfile(log, f"{log}.1")
    os.truncate(log, 0)
    append(log, 2000, 1000)
    await reader.read_lines(3000, numbered=True)
    await reader.aclose()

    assert numbered_only(reader.lines) == numbered(0, 3000)


async def test_a_service_restart_keeps_the_tail_going(
    fleet: Fleet, own_pods: tuple[object, LocalPods]
) -> None:
    log = log_of(own_pods, "logs-2")
    session = await session_of(fleet, "logs-2")
    reader = TailReader(pod_tail(session, lines=0))
    await reader.read_state(TailState.LIVE)
    append(log, 0, 300)

    await session.restart_app()
    append(log, 300, 300)
    await reader.read_lines(600, numbered=True)
    await reader.aclose()

    assert numbered_only(reader.lines) == numbered(0, 600)


async def test_a_killed_connection_resumes_at_its_offset(
    fleet: Fleet, own_pods: tuple[object, LocalPods]
) -> None:
    log = log_of(own_pods, "logs-1")
    session = await session_of(fleet, "logs-1")
    tail = pod_tail(session, lines=0)
    reader = TailReader(tail)
    await reader.read_state(TailState.LIVE)
    append(log, 0, 1000)
    await reader.read_lines(10)

    (await session.connection.connection()).abort()
    append(log, 1000, 1000)
    await reader.read_state(TailState.LIVE)
    await reader.read_lines(2000, numbered=True)
    await reader.aclose()

    assert TailState.RECONNECTING in reader.states
    assert tail.connects == 2
    assert numbered_only(reader.lines) == numbered(0, 2000)
    assert tail.cursor.duplicates == 0
