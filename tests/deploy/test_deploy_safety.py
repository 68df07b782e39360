"""Deploys that must not hurt a pod: a dropped connection and a look-alike process."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from pathlib import Path

from podtui.ops.deploy import DeployOptions, deploy, restart
from podtui.ops.events import Phase, StepEvent
from podtui.ops.fleet import Fleet
from tests.deploy.conftest import DeployWorld, git, pod_named, tree_hashes

DECOY_MAIN = "import signal\nprint('ready', flush=True)\nsignal.pause()\n"


async def test_a_connection_killed_mid_deploy_leaves_the_old_or_the_new_release(
    world: DeployWorld, fleet: Fleet
) -> None:
    app_dir = world.app_dir("dev-1")
    old = tree_hashes(app_dir)
    big = world.repo / "voice_pipeline" / "assets"
    big.mkdir()
    for index in range(3):
        (big / f"model-{index}.bin").write_bytes(bytes([index]) * 3_000_000)
    new = {
        path: digest
        for path, digest in tree_hashes(world.repo).items()
        if path.startswith("voice_pipeline/")
    }
    pod = await pod_named(fleet, "dev-1")
    loop = asyncio.get_running_loop()
    journal = world.pods.pod_dir("dev-1") / ".podtui" / "apply"

    def cut_when_applying() -> None:
        deadline = time.monotonic() + 20
        while not journal.exists() and time.monotonic() < deadline:
            pass  # poll hard: the apply may take only milliseconds
        conn = fleet.session(pod).connection._conn
        if conn is not None:
            loop.call_soon_threadsafe(conn.abort)

    def on_event(event: StepEvent) -> None:
        if event.step == "sync" and event.phase == Phase.STARTED:
            threading.Thread(target=cut_when_applying, daemon=True).start()

    try:
        result = await deploy(
            fleet,
            "dev",
            pod="dev-1",
            options=DeployOptions(mode="files"),
            on_event=on_event,
        )
        # The next agent call settles whatever the cut left half done.
        await fleet.session(pod).agent.call("snapshot", {"root": "app/src"})
    finally:
        git(world.repo, "clean", "-qfd")

    now = tree_hashes(app_dir)
    assert now in (old, new)
    assert not result.outcomes[0].ok or now == new
    await deploy(fleet, "dev", pod="dev-1")
    assert tree_hashes(app_dir) == old


async def test_a_look_alike_python_process_survives_every_restart(
    world: DeployWorld, fleet: Fleet, tmp_path: Path
) -> None:
    session = fleet.session(await pod_named(fleet, "dev-2"))
    request = await session.start_request()
    fake = tmp_path / "voice_pipeline"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(DECOY_MAIN)
    decoy = subprocess.Popen(
        request["argv"], cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        assert decoy.stdout is not None and decoy.stdout.readline() == "ready\n"
        cmdline = Path(f"/proc/{decoy.pid}/cmdline").read_bytes()
        assert cmdline == "\0".join(request["argv"]).encode() + b"\0"

        restarted = await restart(fleet, "dev", pod="dev-2")
        forced = await deploy(
            fleet, "dev", pod="dev-2", options=DeployOptions(force=True)
        )

        assert restarted.ok and forced.ok
        assert forced.outcomes[0].restarted
        assert decoy.poll() is None
    finally:
        decoy.kill()
        decoy.wait()
