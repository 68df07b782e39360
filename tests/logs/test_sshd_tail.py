"""Log tails over a real OpenSSH sshd, as on real pods.

Besides every line arriving exactly once, these check that the agent's tail
on the pod ends when its channel closes or its connection dies, since
OpenSSH does not kill what a session left running.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podtui.config import parse_config
from podtui.model import Release
from podtui.ops.fleet import Fleet, PodSession
from podtui.ops.logs import pod_tail
from podtui.remote.logs import TailState
from tests.conftest import REPO_ROOT, SSHD, ssh_config_text
from tests.logs.conftest import DEADLINE, TailReader, append, numbered, numbered_only

pytestmark = pytest.mark.sshd


@pytest.fixture
async def session(
    sshd: SSHD, project_repo: Path, tmp_path: Path
) -> AsyncIterator[PodSession]:
    """The sshd pod, with an empty log file of its own for each test."""
    path = tmp_path / "config.toml"
    path.write_text(ssh_config_text(sshd, project_repo))
    fleet = Fleet(parse_config(path.read_text(), path))
    (pod,) = await fleet.pods()
    log = sshd.root / "pod" / "logs" / "app.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    for old in log.parent.glob("app.log*"):
        old.unlink()
    log.touch()
    yield fleet.session(pod)
    await fleet.close()


def log_of(sshd: SSHD) -> Path:
    return sshd.root / "pod" / "logs" / "app.log"


async def process_ended(pid: int) -> None:
    """Wait for process `pid` to end, woken by the kernel through a pidfd."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    ended = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(pidfd, ended.set)
    try:
        async with asyncio.timeout(DEADLINE):
            await ended.wait()
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


def kill_sessions(sshd: SSHD) -> None:
    """Kill sshd's per-connection processes: the connections die at once."""
    assert sshd.process is not None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2 :].split()[1]) == sshd.process.pid:
            os.kill(int(entry), signal.SIGKILL)


async def test_rotation_by_rename_over_openssh_loses_no_line(
    sshd: SSHD, session: PodSession
) -> None:
    log = log_of(sshd)
    reader = TailReader(pod_tail(session, lines=0))
    await reader.read_state(TailState.LIVE)
    append(log, 0, 1000)

    log.rename(log.with_name("app.log.1"))
    append(log, 1000, 1000)
    await reader.read_lines(2000, numbered=True)
    await reader.aclose()

    assert reader.lines == numbered(0, 2000)


async def test_rotation_by_copy_truncate_over_openssh_loses_no_line(
    sshd: SSHD, session: PodSession
) -> None:
    log = log_of(sshd)
    reader = TailReader(pod_tail(session, lines=0))
    await reader.read_state(TailState.LIVE)
    append(log, 0, 1000)
    await reader.read_lines(1000)

    append(log, 1000, 1000)
    shutil.copyfile(log, log.with_name("app.log.1"))
    os.truncate(log, 0)
    append(log, 2000, 1000)
    await reader.read_lines(3000, numbered=True)
    await reader.aclose()

    assert reader.lines == numbered(0, 3000)


async def test_a_killed_openssh_connection_resumes_and_ends_the_old_agent(
    sshd: SSHD, session: PodSession
) -> None:
    log = log_of(sshd)
    tail = pod_tail(session, lines=0)
    reader = TailReader(tail)
    await reader.read_state(TailState.LIVE)
    append(log, 0, 1000)
    await reader.read_lines(10)
    old_agent = tail.agent_pid
    assert old_agent is not None

    kill_sessions(sshd)
    append(log, 1000, 1000)
    await reader.read_lines(2000, numbered=True)
    await reader.aclose()
    await process_ended(old_agent)

    assert TailState.RECONNECTING in reader.states
    assert reader.lines == numbered(0, 2000)


async def test_closing_the_tail_ends_the_agent_on_an_openssh_pod(
    session: PodSession,
) -> None:
    tail = pod_tail(session, lines=0)
    reader = TailReader(tail)
    await reader.read_state(TailState.LIVE)
    assert tail.agent_pid is not None

    await reader.aclose()

    await process_ended(tail.agent_pid)


async def test_a_service_restart_over_openssh_keeps_the_tail_going(
    sshd: SSHD, session: PodSession
) -> None:
    log = log_of(sshd)
    app_dir = sshd.root / "pod" / "app" / "src"
    shutil.copytree(
        REPO_ROOT / "voice_pipeline", app_dir / "voice_pipeline", dirs_exist_ok=True
    )
    await session.set_release(Release(commit="ab" * 20, dirty=False))
    await session.start_app()
    reader = TailReader(pod_tail(session, lines=0))
    await reader.read_state(TailState.LIVE)
    append(log, 0, 300)

    await session.restart_app()
    append(log, 300, 300)
    await reader.read_lines(600, numbered=True)
    await reader.aclose()
    await session.stop_app()

    assert numbered_only(reader.lines) == numbered(0, 600)
