"""The agent's `tail` verb, run as a subprocess and read as podtui reads it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.logs.conftest import agent_tail, append, numbered


async def test_it_sends_the_last_lines_first_then_new_ones(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, 0, 50)
    async with agent_tail(path=str(log), lines=5) as tail:
        assert await tail.read_lines(5) == numbered(45, 5)

        append(log, 50, 3)

        assert await tail.read_lines(8) == numbered(45, 8)


async def test_it_waits_for_a_log_that_does_not_exist_yet(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    async with agent_tail(path=str(log), lines=5) as tail:
        await tail.read_until("missing")

        append(log, 0, 3)

        assert await tail.read_lines(3) == numbered(0, 3)


async def test_a_renamed_log_is_drained_and_the_new_one_followed(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    append(log, 0, 10)
    async with agent_tail(path=str(log), lines=10) as tail:
        await tail.read_lines(10)

        append(log, 10, 90)
        log.rename(tmp_path / "app.log.1")
        append(log, 100, 100)

        assert await tail.read_lines(200) == numbered(0, 200)


async def test_lines_a_writer_adds_to_a_renamed_log_still_arrive(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    append(log, 0, 10)
    async with agent_tail(path=str(log), lines=10) as tail:
        await tail.read_lines(10)
        with log.open("a") as old_writer:
            log.rename(tmp_path / "app.log.1")
            log.touch()
            await tail.read_until("file")
            old_writer.write("".join(line + "\n" for line in numbered(10, 5)))

        await tail.read_lines(15)
        append(log, 15, 5)

        assert sorted(await tail.read_lines(20)) == numbered(0, 20)


async def test_a_copy_truncated_log_loses_no_line_and_repeats_none(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    async with agent_tail(path=str(log), lines=0) as tail:
        await tail.read_until("missing")
        append(log, 0, 100)
        await tail.read_lines(100)

        append(log, 100, 100)
        shutil.copyfile(log, tmp_path / "app.log.1")
        os.truncate(log, 0)
        append(log, 200, 100)

        assert await tail.read_lines(300) == numbered(0, 300)


async def test_resuming_after_a_copy_truncate_recovers_lines_from_the_copy(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    append(log, 0, 50)
    async with agent_tail(path=str(log), lines=50) as first:
        await first.read_lines(50)
        cursor = first.cursor.as_request()
    append(log, 50, 50)
    shutil.copyfile(log, tmp_path / "app.log.1")
    os.truncate(log, 0)
    append(log, 100, 50)

    async with agent_tail(path=str(log), cursor=cursor) as second:
        assert await second.read_lines(100) == numbered(50, 100)


async def test_resuming_after_a_rename_reads_the_rest_of_the_old_log_first(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    append(log, 0, 50)
    async with agent_tail(path=str(log), lines=50) as first:
        await first.read_lines(50)
        cursor = first.cursor.as_request()
    append(log, 50, 50)
    log.rename(tmp_path / "app.log.1")
    append(log, 100, 50)

    async with agent_tail(path=str(log), cursor=cursor) as second:
        assert await second.read_lines(100) == numbered(50, 100)


async def test_without_follow_it_sends_what_is_there_and_ends(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, 0, 20)
    async with agent_tail(path=str(log), lines=3, follow=False) as tail:
        await tail.read_until("end")

        assert tail.lines == numbered(17, 3)
        assert await tail.process.wait() == 0


async def test_it_exits_when_the_client_closes_its_input(tmp_path: Path) -> None:
    async with agent_tail(path=str(tmp_path / "app.log")) as tail:
        await tail.read_until("hello")

        assert await tail.close() == 0


async def test_it_exits_when_nobody_reads_its_output_any_more(tmp_path: Path) -> None:
    async with agent_tail(path=str(tmp_path / "app.log")) as tail:
        await tail.read_until("hello")
        transport = tail.process._transport  # the pipe ends only: stdin stays open
        transport.get_pipe_transport(1).close()  # type: ignore[union-attr]

        assert await tail.process.wait() == 0


async def test_a_directory_as_the_log_ends_with_an_error_frame(tmp_path: Path) -> None:
    async with agent_tail(path=str(tmp_path)) as tail:
        frame = await tail.read_until("error")

        assert "Error" in frame["error"]
        assert await tail.process.wait() == 1
