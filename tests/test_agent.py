"""Tests of the pod agent, driven as podtui drives it: a subprocess per verb.

Each test gets a fresh home directory, runs ``python agent.py VERB`` there
with the request on stdin, and starts small real Python programs as the app.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from podtui import agent as agent_module

AGENT = Path(agent_module.__file__)

PAUSE_APP = "import signal; print('ready', flush=True); signal.pause()"
CHILD_APP = (
    "import signal, subprocess, sys\n"
    "pause = 'import signal; signal.pause()'\n"
    "child = subprocess.Popen([sys.executable, '-c', pause])\n"
    "print('child', child.pid, flush=True)\n"
    "signal.pause()\n"
)
STUBBORN_APP = (
    "import signal\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "signal.pause()\n"
)
ENV_APP = (
    "import os, signal\n"
    "print(os.environ['GREETING'], os.getcwd(), flush=True)\n"
    "signal.pause()\n"
)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Poll `condition` until it returns something truthy, or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")


def process_gone(pid: int) -> bool:
    """Whether `pid` no longer runs (absent, or a zombie waiting to be reaped)."""
    try:
        content = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return content[content.rfind(")") + 2] in "ZX"


def start_ticks(pid: int) -> int:
    """The start time of `pid` from /proc, field 22."""
    content = Path(f"/proc/{pid}/stat").read_text()
    return int(content[content.rfind(")") + 2 :].split()[19])


class PodAgent:
    """The agent as podtui calls it, in one pod's home directory."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.state_dir = home / ".podtui"
        self.decoys: list[subprocess.Popen[str]] = []

    def run(
        self, verb: str, request: dict[str, Any] | None = None, *, raw: str = ""
    ) -> tuple[int, dict[str, Any]]:
        """Run one verb and return its exit code and its one JSON answer."""
        stdin = json.dumps(request) if request is not None else raw
        done = subprocess.run(
            [sys.executable, str(AGENT), verb],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=self.home,
            env=dict(os.environ, HOME=str(self.home)),
            timeout=30,
        )
        assert done.stdout.count("\n") == 1, done.stdout + done.stderr
        return done.returncode, json.loads(done.stdout)

    def ok(self, verb: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a verb that must succeed."""
        code, answer = self.run(verb, request if request is not None else {})
        assert code == 0 and answer["ok"] is True, answer
        return answer

    def fail(self, verb: str, request: dict[str, Any]) -> dict[str, Any]:
        """Run a verb that must be refused."""
        code, answer = self.run(verb, request)
        assert code == 1 and answer["ok"] is False, answer
        assert answer["error"]
        return answer

    def start(self, program: str, output: str = "app.log") -> dict[str, Any]:
        """Start a Python program as the app."""
        return self.ok("start", app_request(program, output))

    def output(self, name: str = "app.log") -> list[str]:
        """The lines the app wrote so far."""
        path = self.home / name
        return path.read_text().splitlines() if path.exists() else []

    def wait_for_output(self, prefix: str, name: str = "app.log") -> str:
        """Wait for the app to write a line starting with `prefix`."""

        def line() -> str | None:
            return next((x for x in self.output(name) if x.startswith(prefix)), None)

        return wait_for(line, f"{prefix!r} in {name}")

    def decoy(self, program: str) -> subprocess.Popen[str]:
        """A process the agent did not start, with the app's command line."""
        process = subprocess.Popen(
            [sys.executable, "-c", program],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.decoys.append(process)
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
        return process

    def record(self) -> dict[str, Any]:
        """The agent's app record."""
        return json.loads((self.state_dir / "app.json").read_text())

    def write_record(self, record: dict[str, Any]) -> None:
        """Plant an app record, as left by an earlier run of the agent."""
        self.state_dir.mkdir(mode=0o700, exist_ok=True)
        (self.state_dir / "app.json").write_text(json.dumps(record))

    def clean_up(self) -> None:
        """Kill every process this test started, whatever the agent did."""
        for process in self.decoys:
            process.kill()
            process.wait()
        record_path = self.state_dir / "app.json"
        if record_path.exists():
            pgid = json.loads(record_path.read_text()).get("pgid")
            if pgid and not process_gone(pgid):
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def app_request(program: str, output: str = "app.log") -> dict[str, Any]:
    """A start request for a Python program."""
    return {"argv": [sys.executable, "-c", program], "output": output}


@pytest.fixture
def pod(tmp_path: Path) -> Iterator[PodAgent]:
    agent = PodAgent(tmp_path)
    yield agent
    agent.clean_up()


# --- protocol ---------------------------------------------------------------


def test_version_answers_the_agent_version(pod: PodAgent) -> None:
    assert pod.ok("version")["version"] == agent_module.AGENT_VERSION


def test_an_empty_stdin_is_an_empty_request(pod: PodAgent) -> None:
    code, answer = pod.run("version", raw="")
    assert code == 0 and answer["version"] == agent_module.AGENT_VERSION


def test_bad_json_is_refused_with_a_message(pod: PodAgent) -> None:
    code, answer = pod.run("status", raw="{not json")
    assert code == 1
    assert answer["ok"] is False
    assert "not valid JSON" in answer["error"]


def test_a_request_that_is_not_an_object_is_refused(pod: PodAgent) -> None:
    code, answer = pod.run("status", raw="[1, 2]")
    assert code == 1
    assert "JSON object" in answer["error"]


def test_an_unknown_verb_is_refused_naming_the_known_verbs(pod: PodAgent) -> None:
    answer = pod.fail("frobnicate", {})
    assert "'frobnicate'" in answer["error"]
    assert "status" in answer["error"] and "_supervise" not in answer["error"]


def test_an_unexpected_error_becomes_an_answer_not_a_traceback(
    pod: PodAgent,
) -> None:
    (pod.home / "plain").write_text("a file, not a directory")
    answer = pod.fail("write", {"path": "plain/inside.txt", "data": ""})
    assert "Error" in answer["error"] and "Traceback" not in answer["error"]


def test_main_can_be_called_in_process(tmp_path: Path) -> None:
    stdout = io.StringIO()
    assert agent_module.main(["version"], io.StringIO(""), stdout) == 0
    assert json.loads(stdout.getvalue()) == {
        "ok": True,
        "version": agent_module.AGENT_VERSION,
    }


def test_the_agent_parses_as_python_3_8() -> None:
    ast.parse(AGENT.read_text(), feature_version=(3, 8))


# --- status -----------------------------------------------------------------


def test_status_without_an_app_reports_it_not_running(pod: PodAgent) -> None:
    answer = pod.ok("status")
    assert answer["app"]["running"] is False
    assert answer["app"]["pid"] is None and answer["app"]["exit_code"] is None
    assert answer["release"] is None
    assert answer["hostname"] and answer["python"]
    assert abs(answer["time"] - time.time()) < 60


def test_the_state_dir_is_created_private(pod: PodAgent) -> None:
    pod.ok("status", {"state_dir": "~/records/agent"})
    state_dir = pod.home / "records" / "agent"
    assert state_dir.is_dir()
    assert state_dir.stat().st_mode & 0o777 == 0o700


def test_status_reports_the_running_app(pod: PodAgent) -> None:
    started = pod.start(PAUSE_APP)
    app = pod.ok("status")["app"]
    assert app["running"] is True
    assert app["pid"] == started["pid"] and app["pgid"] == started["pid"]
    assert app["argv"] == [sys.executable, "-c", PAUSE_APP]
    assert app["uptime"] >= 0 and app["exit_code"] is None


# --- start ------------------------------------------------------------------


def test_start_runs_the_app_with_its_output_in_the_file(pod: PodAgent) -> None:
    started = pod.start(PAUSE_APP, output="logs/deep/app.log")
    assert started["running"] is True and started["pid"] > 0
    pod.wait_for_output("ready", "logs/deep/app.log")


def test_start_gives_the_app_its_env_and_cwd(pod: PodAgent) -> None:
    (pod.home / "app dir").mkdir()
    request = app_request(ENV_APP)
    request.update(cwd="app dir", env={"GREETING": "hello pod"})
    pod.ok("start", request)
    line = pod.wait_for_output("hello pod")
    assert line == f"hello pod {pod.home / 'app dir'}"


def test_the_app_runs_in_its_own_session_detached_from_the_agent(
    pod: PodAgent,
) -> None:
    pid = pod.start(PAUSE_APP)["pid"]
    pod.wait_for_output("ready")
    assert os.getpgid(pid) == pid and os.getsid(pid) == pid
    assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"


def test_start_records_the_process_start_time(pod: PodAgent) -> None:
    pid = pod.start(PAUSE_APP)["pid"]
    record = pod.record()
    assert record["pid"] == pid
    assert record["start_ticks"] == start_ticks(pid)
    assert record["cwd"] == str(pod.home)


def test_starting_a_running_app_answers_already_running(pod: PodAgent) -> None:
    first = pod.start(PAUSE_APP)
    second = pod.start(PAUSE_APP)
    assert second["already_running"] is True
    assert second["pid"] == first["pid"]


def test_start_of_a_missing_program_fails_with_the_reason(pod: PodAgent) -> None:
    answer = pod.fail("start", {"argv": ["no-such-program-here"], "output": "o"})
    assert "cannot start the app" in answer["error"]
    assert "no-such-program-here" in answer["error"]


def test_start_of_an_argv_with_a_null_byte_fails_with_the_reason(
    pod: PodAgent,
) -> None:
    answer = pod.fail("start", {"argv": ["python\x00"], "output": "app.log"})
    assert "null byte" in answer["error"]


def test_start_without_argv_is_refused(pod: PodAgent) -> None:
    answer = pod.fail("start", {"argv": [], "output": "app.log"})
    assert "argv" in answer["error"]


def test_the_exit_code_of_an_app_that_exits_is_recorded(pod: PodAgent) -> None:
    pod.start("import sys; sys.exit(3)")

    def exited() -> dict[str, Any] | None:
        app = pod.ok("status")["app"]
        return app if app["exit_code"] is not None else None

    app = wait_for(exited, "the exit code")
    assert app["running"] is False and app["exit_code"] == 3


# --- stop ---------------------------------------------------------------------


def test_stop_terminates_the_app_with_sigterm(pod: PodAgent) -> None:
    pid = pod.start(PAUSE_APP)["pid"]
    pod.wait_for_output("ready")
    answer = pod.ok("stop", {"timeout": 5})
    assert answer == {
        "ok": True,
        "was_running": True,
        "signal": "SIGTERM",
        "exit_code": -signal.SIGTERM,
    }
    assert process_gone(pid)


def test_stop_kills_the_children_of_the_app(pod: PodAgent) -> None:
    pod.start(CHILD_APP)
    child = int(pod.wait_for_output("child").split()[1])
    pod.ok("stop", {"timeout": 5})
    wait_for(lambda: process_gone(child), "the app's child to die")


def test_stop_sends_sigkill_when_sigterm_is_ignored(pod: PodAgent) -> None:
    pid = pod.start(STUBBORN_APP)["pid"]
    pod.wait_for_output("ready")
    answer = pod.ok("stop", {"timeout": 0.3})
    assert answer["signal"] == "SIGKILL"
    assert answer["exit_code"] == -signal.SIGKILL
    assert process_gone(pid)


def test_stop_without_a_running_app_signals_nothing(pod: PodAgent) -> None:
    answer = pod.ok("stop")
    assert answer["was_running"] is False
    assert answer["signal"] is None and answer["exit_code"] is None


def test_a_record_whose_pid_was_reused_is_not_signalled(pod: PodAgent) -> None:
    other = pod.decoy(PAUSE_APP)
    pod.write_record(
        {"pid": other.pid, "pgid": other.pid, "start_ticks": start_ticks(other.pid) - 1}
    )
    assert pod.ok("status")["app"]["running"] is False
    assert pod.ok("stop", {"timeout": 1})["was_running"] is False
    assert other.poll() is None


def test_a_record_whose_process_is_gone_is_not_signalled(pod: PodAgent) -> None:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    pod.write_record({"pid": finished.pid, "pgid": finished.pid, "start_ticks": 1})
    answer = pod.ok("stop", {"timeout": 1})
    assert answer["was_running"] is False and answer["signal"] is None


def test_a_decoy_with_the_apps_command_line_survives_stop_and_restart(
    pod: PodAgent,
) -> None:
    decoy = pod.decoy(PAUSE_APP)
    pod.start(PAUSE_APP)
    pod.wait_for_output("ready")
    pod.ok("stop", {"timeout": 5})
    pod.ok("restart", {"timeout": 5})
    pod.ok("restart", {"timeout": 5})
    assert decoy.poll() is None


# --- restart ------------------------------------------------------------------


def test_restart_reuses_the_recorded_argv(pod: PodAgent) -> None:
    first = pod.start(PAUSE_APP)
    pod.wait_for_output("ready")
    second = pod.ok("restart", {"timeout": 5})
    assert second["running"] is True and second["pid"] != first["pid"]
    assert second["argv"] == first["argv"]
    assert process_gone(first["pid"])
    wait_for(lambda: pod.output().count("ready") == 2, "the second start")


def test_restart_with_argv_starts_the_new_app(pod: PodAgent) -> None:
    pod.start(PAUSE_APP)
    request = app_request(ENV_APP)
    request.update(env={"GREETING": "again"}, timeout=5)
    answer = pod.ok("restart", request)
    assert answer["argv"] == request["argv"]
    pod.wait_for_output("again")


def test_restart_without_any_earlier_start_says_what_to_give(pod: PodAgent) -> None:
    answer = pod.fail("restart", {})
    assert "argv" in answer["error"]


# --- release ------------------------------------------------------------------


def test_the_release_record_round_trips(pod: PodAgent) -> None:
    release = {"commit": "abc123", "dirty": True, "deployed_by": "ana"}
    assert pod.ok("release", {"set": release})["release"] == release
    assert pod.ok("release")["release"] == release
    assert pod.ok("status")["release"] == release


def test_the_release_record_is_replaced_not_rewritten_in_place(
    pod: PodAgent,
) -> None:
    pod.ok("release", {"set": {"commit": "old"}})
    path = pod.state_dir / "release.json"
    with path.open() as old_reader:
        pod.ok("release", {"set": {"commit": "new"}})
        assert json.loads(old_reader.read()) == {"commit": "old"}
    assert json.loads(path.read_text()) == {"commit": "new"}
    assert sorted(p.name for p in pod.state_dir.iterdir()) == ["release.json"]


def test_a_release_that_is_not_an_object_is_refused(pod: PodAgent) -> None:
    assert "'set'" in pod.fail("release", {"set": [1]})["error"]


# --- manifest -----------------------------------------------------------------


def make_tree(root: Path, files: dict[str, bytes]) -> None:
    """Create files (posix relative paths) under root."""
    for relpath, data in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_manifest_hashes_every_regular_file(pod: PodAgent) -> None:
    make_tree(pod.home / "src", {"b.py": b"b", "a/z.py": b"z", "a/c d.txt": b""})
    files = pod.ok("manifest", {"root": "src"})["files"]
    assert files == {"a/c d.txt": sha(b""), "a/z.py": sha(b"z"), "b.py": sha(b"b")}
    assert list(files) == sorted(files)


def test_manifest_skips_bytecode_and_excluded_globs(pod: PodAgent) -> None:
    files = {
        "main.py": b"m",
        "__pycache__/main.cpython-311.pyc": b"x",
        "pkg/__pycache__/x.py": b"x",
        "old.pyc": b"x",
        "debug.log": b"x",
        "data/big.bin": b"x",
    }
    make_tree(pod.home / "src", files)
    request = {"root": "src", "exclude": ["*.log", "data"]}
    assert pod.ok("manifest", request)["files"] == {"main.py": sha(b"m")}


def test_manifest_does_not_follow_symlinks(pod: PodAgent) -> None:
    make_tree(pod.home / "outside", {"secret.txt": b"s"})
    make_tree(pod.home / "src", {"real.txt": b"r"})
    (pod.home / "src" / "link.txt").symlink_to(pod.home / "outside" / "secret.txt")
    (pod.home / "src" / "linkdir").symlink_to(pod.home / "outside")
    files = pod.ok("manifest", {"root": "src"})["files"]
    assert files == {"real.txt": sha(b"r")}


def test_manifest_of_a_missing_root_is_empty(pod: PodAgent) -> None:
    answer = pod.ok("manifest", {"root": "nowhere"})
    assert answer["files"] == {} and answer["exists"] is False


# --- read and write -----------------------------------------------------------


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_binary_data_round_trips_through_write_and_read(pod: PodAgent) -> None:
    data = bytes(range(256)) * 3
    written = pod.ok("write", {"path": "new/dir/blob.bin", "data": encode(data)})
    assert written["sha256"] == sha(data)
    read = pod.ok("read", {"path": "new/dir/blob.bin"})
    assert base64.b64decode(read["data"]) == data
    assert read["sha256"] == sha(data) and read["size"] == len(data)


def test_tilde_in_a_path_means_the_home_directory(pod: PodAgent) -> None:
    (pod.home / "notes.txt").write_bytes(b"hi")
    assert base64.b64decode(pod.ok("read", {"path": "~/notes.txt"})["data"]) == b"hi"


def test_names_with_spaces_quotes_and_substitutions_stay_plain_names(
    pod: PodAgent,
) -> None:
    name = 'dir $(touch pwned)/it\'s a "file" `touch pwned2`.txt'
    pod.ok("write", {"path": name, "data": encode(b"safe")})
    assert (pod.home / name).read_bytes() == b"safe"
    assert base64.b64decode(pod.ok("read", {"path": name})["data"]) == b"safe"
    assert not (pod.home / "pwned").exists() and not (pod.home / "pwned2").exists()


def test_write_keeps_the_mode_of_the_old_file(pod: PodAgent) -> None:
    script = pod.home / "run.sh"
    script.write_text("old")
    script.chmod(0o750)
    pod.ok("write", {"path": "run.sh", "data": encode(b"new")})
    assert script.stat().st_mode & 0o7777 == 0o750
    assert pod.ok("read", {"path": "run.sh"})["mode"] == 0o750


def test_write_applies_a_given_mode(pod: PodAgent) -> None:
    pod.ok("write", {"path": "tool", "data": encode(b"x"), "mode": 0o700})
    assert (pod.home / "tool").stat().st_mode & 0o7777 == 0o700


def test_write_with_the_expected_hash_replaces_the_file(pod: PodAgent) -> None:
    (pod.home / "app.py").write_bytes(b"v1")
    request = {"path": "app.py", "data": encode(b"v2"), "expected_sha256": sha(b"v1")}
    assert pod.ok("write", request)["sha256"] == sha(b"v2")
    assert (pod.home / "app.py").read_bytes() == b"v2"


def test_write_refuses_when_the_file_changed_since_it_was_read(
    pod: PodAgent,
) -> None:
    (pod.home / "app.py").write_bytes(b"edited on the pod")
    request = {"path": "app.py", "data": encode(b"mine"), "expected_sha256": sha(b"a")}
    answer = pod.fail("write", request)
    assert answer["conflict"] is True
    assert answer["sha256"] == sha(b"edited on the pod")
    assert (pod.home / "app.py").read_bytes() == b"edited on the pod"


def test_write_expecting_no_file_refuses_when_one_exists(pod: PodAgent) -> None:
    (pod.home / "app.py").write_bytes(b"there")
    request = {"path": "app.py", "data": encode(b"mine"), "expected_sha256": None}
    assert pod.fail("write", request)["conflict"] is True


def test_write_expecting_a_file_refuses_when_it_is_missing(pod: PodAgent) -> None:
    request = {"path": "gone.py", "data": encode(b"x"), "expected_sha256": sha(b"a")}
    answer = pod.fail("write", request)
    assert answer["conflict"] is True and answer["sha256"] is None
    assert not (pod.home / "gone.py").exists()


def test_write_of_invalid_base64_is_refused(pod: PodAgent) -> None:
    answer = pod.fail("write", {"path": "x", "data": "not base64!"})
    assert "base64" in answer["error"]


def test_read_of_a_missing_file_is_refused(pod: PodAgent) -> None:
    assert "no such file" in pod.fail("read", {"path": "nothing.txt"})["error"]


def test_read_refuses_files_over_64_mib(pod: PodAgent) -> None:
    with (pod.home / "huge.bin").open("wb") as stream:
        stream.truncate(64 * 1024 * 1024 + 1)
    assert "64 MiB" in pod.fail("read", {"path": "huge.bin"})["error"]


# --- apply, rollback and snapshot ----------------------------------------------


def tree_of(root: Path) -> dict[str, bytes]:
    """Every file under root, by posix relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def write_specs(files: dict[str, bytes]) -> dict[str, Any]:
    return {relpath: {"data": encode(data)} for relpath, data in files.items()}


@pytest.fixture
def app(pod: PodAgent) -> Path:
    """An app directory of four files, as released."""
    root = pod.home / "app"
    make_tree(root, {"a.py": b"a1", "b.py": b"b1", "pkg/c.py": b"c1", "d.txt": b"d1"})
    return root


def test_apply_writes_new_files_deletes_stale_ones_and_records_the_release(
    pod: PodAgent, app: Path
) -> None:
    answer = pod.ok(
        "apply",
        {
            "root": "app",
            "write": write_specs({"a.py": b"a2", "new dir/e f.py": b"e"}),
            "delete": ["pkg/c.py"],
            "release": {"commit": "abc"},
        },
    )

    assert answer["written"] == 2 and answer["deleted"] == 1
    assert tree_of(app) == {
        "a.py": b"a2",
        "b.py": b"b1",
        "d.txt": b"d1",
        "new dir/e f.py": b"e",
    }
    assert not (app / "pkg").exists()
    assert json.loads((pod.state_dir / "release.json").read_text()) == {"commit": "abc"}
    recorded = json.loads((pod.state_dir / "manifest.json").read_text())
    assert recorded == {k: sha(v) for k, v in tree_of(app).items()}


def test_apply_refuses_to_delete_more_than_the_allowed_share(
    pod: PodAgent, app: Path
) -> None:
    before = tree_of(app)

    answer = pod.fail(
        "apply",
        {"root": "app", "delete": ["a.py", "b.py", "d.txt"], "max_removal": 0.5},
    )

    assert answer["removal_refused"] is True
    assert "3 of the 4 files" in answer["error"]
    assert tree_of(app) == before


@pytest.mark.parametrize("relpath", ["../escape.py", "/etc/x", "a/../../b", ""])
def test_apply_refuses_paths_that_leave_the_app_directory(
    pod: PodAgent, app: Path, relpath: str
) -> None:
    pod.fail("apply", {"root": "app", "write": write_specs({relpath: b"x"})})

    assert not (pod.home / "escape.py").exists()


def test_apply_refuses_content_that_does_not_match_its_hash(
    pod: PodAgent, app: Path
) -> None:
    spec = {"data": encode(b"a2"), "sha256": sha(b"other")}

    pod.fail("apply", {"root": "app", "write": {"a.py": spec}})

    assert tree_of(app)["a.py"] == b"a1"
    assert not (pod.state_dir / "apply").exists()


def test_an_apply_killed_while_staging_is_rolled_back_by_the_next_call(
    pod: PodAgent, app: Path
) -> None:
    before = tree_of(app)
    fifo = pod.home / "never-written"
    os.mkfifo(fifo)
    request = {
        "root": "app",
        "write": {
            "a.py": {"data": encode(b"a2")},
            "zz.py": {"source": str(fifo)},
        },
    }
    agent = subprocess.Popen(
        [sys.executable, str(AGENT), "apply"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=pod.home,
        env=dict(os.environ, HOME=str(pod.home)),
    )
    assert agent.stdin is not None
    agent.stdin.write(json.dumps(request).encode())
    agent.stdin.close()
    wait_for(lambda: list(app.glob(".podtui-stage-*")), "a staged file")
    agent.kill()
    agent.wait()

    answer = pod.ok("snapshot", {"root": "app"})

    assert answer["recovered"] == "rolled back"
    assert tree_of(app) == before
    assert not (pod.state_dir / "apply").exists()


def test_an_apply_interrupted_after_its_commit_is_completed_by_the_next_call(
    pod: PodAgent, app: Path
) -> None:
    state_dir = str(pod.state_dir)
    os.makedirs(state_dir, exist_ok=True)
    plan = agent_module.apply_plan(
        {"write": write_specs({"a.py": b"a2", "b.py": b"b2"}), "delete": ["d.txt"]},
        str(app),
    )
    journal = dict(plan, phase="commit", release={"commit": "new"})
    os.makedirs(os.path.join(state_dir, "apply"))
    agent_module.stage(journal, os.path.join(state_dir, "apply"))
    agent_module.save_journal(os.path.join(state_dir, "apply"), journal)
    first = journal["writes"][0]
    os.replace(first["temp"], app / first["path"])  # the crash came after one rename

    answer = pod.ok("snapshot", {"root": "app"})

    assert answer["recovered"] == "completed"
    assert tree_of(app) == {"a.py": b"a2", "b.py": b"b2", "pkg/c.py": b"c1"}
    assert answer["release"] == {"commit": "new"}


def test_rollback_puts_the_previous_files_and_release_back(
    pod: PodAgent, app: Path
) -> None:
    pod.ok("release", {"set": {"commit": "old"}})
    before = tree_of(app)
    pod.ok(
        "apply",
        {
            "root": "app",
            "write": write_specs({"a.py": b"a2", "added.py": b"n"}),
            "delete": ["d.txt"],
            "release": {"commit": "new"},
        },
    )

    answer = pod.ok("rollback", {})

    assert tree_of(app) == before
    assert answer["release"] == {"commit": "old"}
    assert pod.ok("release")["release"] == {"commit": "old"}


def test_rollback_without_a_previous_release_says_so(pod: PodAgent, app: Path) -> None:
    assert "no previous release" in pod.fail("rollback", {})["error"]


def test_snapshot_reports_the_app_release_image_hash_and_checkout(
    pod: PodAgent, app: Path
) -> None:
    pod.ok("release", {"set": {"commit": "c1"}})
    (pod.state_dir / "image.json").write_text('{"requirements_hash": "r1"}')
    checkout = pod.home / "checkout"
    git = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()

    answer = pod.ok("snapshot", {"root": "app", "checkout": str(checkout)})

    assert answer["files"]["a.py"] == sha(b"a1")
    assert answer["release"] == {"commit": "c1"}
    assert answer["image_requirements_hash"] == "r1"
    assert answer["checkout_head"] == head
    assert answer["recovered"] is None


def test_snapshot_reads_the_image_hash_from_a_requirements_sha256_file(
    pod: PodAgent, app: Path
) -> None:
    (pod.home / "requirements.sha256").write_text("r2\n")

    answer = pod.ok(
        "snapshot", {"root": "app", "image_files": ["missing", "requirements.sha256"]}
    )

    assert answer["image_requirements_hash"] == "r2"
