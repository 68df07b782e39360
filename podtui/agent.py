"""The pod agent: one stdlib-only script that podtui uploads to every pod.

podtui runs it over an SSH exec channel as ``python3 agent.py VERB`` with one
JSON request on stdin, and reads exactly one JSON answer from stdout:
``{"ok": true, ...}`` (exit 0) or ``{"ok": false, "error": "..."}`` (exit 1).
Sending data on stdin instead of pasting it into a shell command means that no
path or argument is ever interpreted by a shell on the pod.

Verbs: ``status``, ``start``, ``stop``, ``restart``, ``release``,
``manifest``, ``read``, ``write``, ``apply``, ``rollback``, ``snapshot`` and
``version``.

``tail`` is the one verb that streams: it follows a log file and writes
frames until the client goes away (see its section below).

The app is started under a small supervisor (this same file, re-executed with
the hidden verb ``_supervise`` in a session of its own). The supervisor starts
the app in the app's own session and process group, reports the app's pid back
through a pipe, waits for the app and records its exit code. The app and the
supervisor outlive the SSH session; stopping the app signals only its process
group, and only after checking that the recorded pid still is the app (same
start time in ``/proc``), so a reused pid or a look-alike process is never hit.

The pod runs whatever Python it has: this file must stay compatible with
Python 3.8 and import nothing outside the standard library.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import fnmatch
import hashlib
import json
import os
import platform
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import IO, Any, Dict  # noqa: UP035

AGENT_VERSION = "6"

DEFAULT_STATE_DIR = ".podtui"
MAX_READ_BYTES = 64 * 1024 * 1024
APP_RECORD = "app.json"
RELEASE_RECORD = "release.json"
LOCK_FILE = "app.lock"
SUPERVISE_VERB = "_supervise"
SPARE_ENV = "PODTUI_SPARE"
SPARE_BOOTSTRAP = (
    "import json, os, runpy, sys; "
    "spare = json.loads(os.environ.pop('PODTUI_SPARE')); "
    "sys.exit(runpy.run_path(spare['agent'])['run_spare'](spare))"
)
"""Runs a spare: loads this file (not as __main__) and calls `run_spare`."""
SPARE_RECORD = "spare.json"
SPARE_CHECK_INTERVAL = 5.0
SPARE_START_DELAY = 1.0
"""Seconds a new spare waits before importing, leaving the CPU to the app."""
"""Seconds between a waiting spare's checks that it is still wanted."""
EXIT_CODE_WAIT = 3.0
"""Seconds `stop` waits for the supervisor to record the app's exit code."""
KILL_WAIT = 5.0
"""Seconds `stop` waits for the process group to vanish after SIGKILL."""

# typing.Dict, not dict[...]: these aliases are evaluated, and pods may run 3.8.
Request = Dict[str, Any]  # noqa: UP006
Answer = Dict[str, Any]  # noqa: UP006


class AgentFailure(Exception):
    """A request that cannot be carried out; becomes an ``ok: false`` answer."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.extra = extra
        """Fields added to the answer next to the error, e.g. ``conflict``."""


# --- small helpers ---------------------------------------------------------


def resolve_path(path: str) -> str:
    """Expand ``~`` and make `path` absolute against the current directory."""
    return os.path.abspath(os.path.expanduser(path))


def state_dir_of(request: Request) -> str:
    """The agent's record directory for `request`, created 0700 if missing."""
    path = resolve_path(text_field(request, "state_dir", DEFAULT_STATE_DIR))
    if not os.path.isdir(path):
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o700)
    return path


def text_field(request: Request, key: str, default: str | None = None) -> str:
    """A string field of `request`; missing means `default` or a failure."""
    value = request.get(key, default)
    if not isinstance(value, str) or not value:
        raise AgentFailure(f"{key!r} must be a non-empty string")
    return value


def sha256_file(path: str) -> str:
    """The sha256 hex digest of the file at `path`, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: str) -> None:
    """Flush a directory entry change (a rename) to disk, where supported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str, data: bytes, mode: int) -> None:
    """Replace `path` with `data` so readers see the old or the new file only.

    The temp file lives in the same directory so that `os.replace` is a
    rename within one file system.
    """
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".podtui-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fchmod(stream.fileno(), mode)
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_dir(directory)


def write_json_atomic(path: str, data: Any) -> None:
    """Write a record as JSON, readable by the owner only."""
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True).encode(), 0o600)


def read_json(path: str) -> Any | None:
    """A JSON record, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def record_lock(state_dir: str) -> Iterator[None]:
    """Serialise changes to the app record between agents and supervisors."""
    fd = os.open(os.path.join(state_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll `condition` with short waits until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


# --- processes, as /proc sees them -----------------------------------------


def proc_stat(pid: int) -> list[str] | None:
    """Fields 3 onwards of /proc/PID/stat (state first), or None if gone.

    The command name (field 2) may contain spaces and parentheses, so the
    fields are split after its last closing parenthesis.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            content = f.read()
    except OSError:
        return None
    return content[content.rfind(")") + 2 :].split()


def proc_start_time(pid: int) -> int | None:
    """The start time of `pid` in clock ticks since boot (stat field 22)."""
    fields = proc_stat(pid)
    return int(fields[19]) if fields else None


def is_app_alive(record: Request) -> bool:
    """Whether the recorded app process is alive and really is the app.

    A pid whose start time differs from the recorded one was reused by
    another process, and a zombie has already exited.
    """
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    fields = proc_stat(pid)
    if fields is None:
        return not os.path.isdir("/proc") and pid_exists(pid)
    if fields[0] in ("Z", "X"):
        return False
    return int(fields[19]) == record.get("start_ticks")


def pid_exists(pid: int) -> bool:
    """Whether a process with `pid` exists (for systems without /proc)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_alive(pgid: int) -> bool:
    """Whether any live (not zombie) process is left in group `pgid`.

    Zombies are ignored because an orphan's zombie may linger until init
    reaps it, long after it stopped running.
    """
    try:
        entries = os.listdir("/proc")
    except OSError:
        return group_signalable(pgid)
    for entry in entries:
        if entry.isdigit():
            fields = proc_stat(int(entry))
            if fields and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
                return True
    return False


def group_signalable(pgid: int) -> bool:
    """Whether the kernel still knows process group `pgid`."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, signum: int) -> None:
    """Send `signum` to group `pgid`; a group that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


# --- the app ----------------------------------------------------------------


def load_app_record(state_dir: str) -> Request | None:
    """The record of the last app started by the agent, if any."""
    record = read_json(os.path.join(state_dir, APP_RECORD))
    return record if isinstance(record, dict) else None


def app_state(state_dir: str) -> Answer:
    """The app's state as `status`, `start` and `restart` answer it."""
    record = load_app_record(state_dir) or {}
    running = bool(record) and is_app_alive(record)
    started_at = record.get("started_at")
    uptime = None
    if running and isinstance(started_at, (int, float)):
        uptime = max(0.0, time.time() - started_at)
    return {
        "running": running,
        "pid": record.get("pid"),
        "pgid": record.get("pgid"),
        "started_at": started_at,
        "uptime": uptime,
        "argv": record.get("argv"),
        "exit_code": None if running else record.get("exit_code"),
    }


def start_spec(request: Request) -> Request:
    """The validated app description of a `start` request."""
    argv = request.get("argv")
    if (
        not isinstance(argv, list)
        or not argv
        or not all(isinstance(arg, str) for arg in argv)
    ):
        raise AgentFailure("'argv' must be a non-empty list of strings")
    env = request.get("env") or {}
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise AgentFailure("'env' must map strings to strings")
    preload = request.get("preload") or []
    if not isinstance(preload, list) or not all(isinstance(m, str) for m in preload):
        raise AgentFailure("'preload' must be a list of module names")
    return {
        "argv": argv,
        "cwd": resolve_path(text_field(request, "cwd", ".")),
        "env": env,
        "output": resolve_path(text_field(request, "output")),
        "preload": preload,
    }


def start_app(request: Request) -> Answer:
    """Start the app under a supervisor unless it is already running."""
    state_dir = state_dir_of(request)
    spec = start_spec(request)
    with record_lock(state_dir):
        current = app_state(state_dir)
        if current["running"]:
            current["already_running"] = True
            return current
        record = promote_spare(spec, state_dir)
        if record is None:
            record = dict(spec)
            record.update(spawn_supervisor(spec, state_dir))
        record["exit_code"] = None
        write_json_atomic(os.path.join(state_dir, APP_RECORD), record)
    if spare_module(spec) is not None:
        spawn_spare(spec, state_dir)
    return app_state(state_dir)


# --- the warm spare ------------------------------------------------------------
#
# Dependencies change only with a new image, so the interpreter that runs the
# next release can import them ahead of time. When the start command is
# `PYTHON -m MODULE ...` and the request names modules to preload, the agent
# keeps one spare process that has imported them and waits for SIGUSR1; the
# next start hands it the app (which it then imports fresh from the app
# directory), and a new spare is made in the background.


def spare_module(spec: Request) -> str | None:
    """The module a spare would run, or None when this start has no spare."""
    argv = spec["argv"]
    if spec.get("preload") and len(argv) >= 3 and argv[1] == "-m":
        return str(argv[2])
    return None


def spare_key(spec: Request) -> str:
    """What must match for a spare to stand in for a start."""
    fields = {k: spec.get(k) for k in ("argv", "cwd", "env", "output", "preload")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def spawn_spare(spec: Request, state_dir: str) -> None:
    """Start a spare under its own supervisor, without waiting for it."""
    request = dict(spec, state_dir=state_dir, spare=spare_key(spec))
    supervisor = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), SUPERVISE_VERB],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert supervisor.stdin is not None
    supervisor.stdin.write(json.dumps(request).encode())
    supervisor.stdin.close()


def promote_spare(spec: Request, state_dir: str) -> Request | None:
    """Hand the app to a waiting spare made for this spec; its app record."""
    spare = read_json(os.path.join(state_dir, SPARE_RECORD))
    if not isinstance(spare, dict):
        return None
    discard_spare(state_dir, kill=spare.get("key") != spare_key(spec))
    if spare.get("key") != spare_key(spec) or not is_app_alive(spare):
        return None
    os.kill(int(spare["pid"]), signal.SIGUSR1)
    record = dict(spec)
    for field in ("pid", "pgid", "start_ticks", "supervisor_pid"):
        record[field] = spare[field]
    record["started_at"] = time.time()
    return record


def discard_spare(state_dir: str, kill: bool = True) -> None:
    """Forget the spare record, ending the spare unless it is being promoted."""
    path = os.path.join(state_dir, SPARE_RECORD)
    spare = read_json(path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    if kill and isinstance(spare, dict) and is_app_alive(spare):
        signal_group(int(spare["pgid"]), signal.SIGKILL)


def record_spare(state_dir: str, spare: Request) -> bool:
    """Record a new spare, unless one is waiting already or the app was stopped."""
    with record_lock(state_dir):
        current = read_json(os.path.join(state_dir, SPARE_RECORD))
        if isinstance(current, dict) and is_app_alive(current):
            return False
        if not app_state(state_dir)["running"]:
            return False
        write_json_atomic(os.path.join(state_dir, SPARE_RECORD), spare)
        return True


def run_spare(spare: Request) -> int:
    """Import the dependencies, wait for SIGUSR1, then run `python -m module`.

    A spare that is no longer the one on record (its app was stopped, its
    pod's state is gone) ends by itself instead of waiting forever.
    """
    import importlib
    import runpy

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    for name in spare["preload"]:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing extra only costs speed
            pass
    with os.fdopen(spare["ready_fd"], "w") as ready:
        ready.write("ready\n")
    while not signal.sigtimedwait({signal.SIGUSR1}, SPARE_CHECK_INTERVAL):
        record = read_json(os.path.join(spare["state_dir"], SPARE_RECORD))
        if not isinstance(record, dict) or record.get("pid") != os.getpid():
            return 0
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
    module, args = spare["module"], spare["args"]
    sys.argv = [module, *args]
    sys.path[0] = os.getcwd()
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


def spawn_supervisor(spec: Request, state_dir: str) -> Request:
    """Start the supervisor and wait for its one-line report on a pipe.

    The supervisor gets the spec on stdin and no other tie to this process:
    its stdio is /dev/null, so the SSH channel can close while it runs.
    """
    read_fd, write_fd = os.pipe()
    request = dict(spec, state_dir=state_dir, report_fd=write_fd)
    try:
        supervisor = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), SUPERVISE_VERB],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd, "r", encoding="utf-8") as reports:
        assert supervisor.stdin is not None
        supervisor.stdin.write(json.dumps(request).encode())
        supervisor.stdin.close()
        line = reports.readline()
    try:
        report = json.loads(line)
    except ValueError:
        raise AgentFailure(
            "the app supervisor exited before starting the app"
        ) from None
    if not report.get("ok"):
        raise AgentFailure(f"cannot start the app: {report.get('error')}")
    del report["ok"]
    return report


def supervise(request: Request) -> Answer:
    """Run the app as a child, report its pid, then record its exit code."""
    if request.get("spare"):
        return supervise_spare(request)
    report = os.fdopen(int(request["report_fd"]), "w", encoding="utf-8")
    try:
        app = launch_app(request)
    except (OSError, ValueError, subprocess.SubprocessError) as error:
        report.write(json.dumps({"ok": False, "error": str(error)}) + "\n")
        report.close()
        return {}
    start_ticks = proc_start_time(app.pid)
    report.write(
        json.dumps(
            {
                "ok": True,
                "pid": app.pid,
                "pgid": app.pid,
                "start_ticks": start_ticks,
                "started_at": time.time(),
                "supervisor_pid": os.getpid(),
            }
        )
        + "\n"
    )
    report.close()
    exit_code = app.wait()
    record_exit(request["state_dir"], app.pid, start_ticks, exit_code)
    return {"exit_code": exit_code}


def supervise_spare(request: Request) -> Answer:
    """Run a spare; once promoted, record its exit code like any app's.

    The spare is recorded only after it says it is ready (SIGUSR1 blocked,
    modules imported): until then the signal would simply kill it.
    """
    state_dir = request["state_dir"]
    # Let the app this spare may replace start first: importing the spare's
    # modules at the same moment would slow that start down.
    time.sleep(SPARE_START_DELAY)
    if not app_state(state_dir)["running"]:
        return {}
    read_fd, write_fd = os.pipe()
    try:
        app = launch_app(dict(request, ready_fd=write_fd))
    except (OSError, ValueError, subprocess.SubprocessError):
        return {}
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd, "r", encoding="utf-8") as ready:
        said_ready = ready.readline() == "ready\n"
    start_ticks = proc_start_time(app.pid)
    spare = {
        "key": request["spare"],
        "pid": app.pid,
        "pgid": app.pid,
        "start_ticks": start_ticks,
        "supervisor_pid": os.getpid(),
    }
    if not said_ready or not record_spare(state_dir, spare):
        signal_group(app.pid, signal.SIGKILL)
    exit_code = app.wait()
    record_exit(state_dir, app.pid, start_ticks, exit_code)
    return {"exit_code": exit_code}


def launch_app(request: Request) -> subprocess.Popen:
    """Start the app in a new session, its output appended to the output file."""
    output = request["output"]
    os.makedirs(os.path.dirname(output), exist_ok=True)
    env = dict(os.environ)
    env.update(request["env"])
    argv = request["argv"]
    ready_fd = request.get("ready_fd")
    if request.get("spare"):
        spare = {
            "module": spare_module(request),
            "args": argv[3:],
            "preload": request.get("preload") or [],
            "ready_fd": ready_fd,
            "state_dir": os.path.abspath(request["state_dir"]),
        }
        # The spare's command line is the app's own (`-m module args` after a
        # short bootstrap), so that `ps` and `pgrep -f` see what it will be.
        env[SPARE_ENV] = json.dumps(dict(spare, agent=os.path.abspath(__file__)))
        argv = [argv[0], "-c", SPARE_BOOTSTRAP, *argv[1:]]
    with open(output, "ab") as stream:
        return subprocess.Popen(
            argv,
            pass_fds=(ready_fd,) if ready_fd is not None else (),
            cwd=request["cwd"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def record_exit(
    state_dir: str, pid: int, start_ticks: int | None, exit_code: int
) -> None:
    """Add the exit code to the app record if it still describes this app.

    A negative code is the number of the signal that ended the app.
    """
    with record_lock(state_dir):
        record = load_app_record(state_dir)
        if not record or record.get("pid") != pid:
            return
        if record.get("start_ticks") != start_ticks:
            return
        record["exit_code"] = exit_code
        record["exited_at"] = time.time()
        write_json_atomic(os.path.join(state_dir, APP_RECORD), record)


def stop_app(request: Request, wait_for_exit_code: bool = True) -> Answer:
    """Stop the app's process group: SIGTERM, then SIGKILL after a timeout."""
    state_dir = state_dir_of(request)
    timeout = request.get("timeout", 10.0)
    if not isinstance(timeout, (int, float)) or timeout < 0:
        raise AgentFailure("'timeout' must be a number of seconds")
    record = load_app_record(state_dir)
    if not record or not is_app_alive(record):
        exit_code = record.get("exit_code") if record else None
        return {"was_running": False, "signal": None, "exit_code": exit_code}
    pgid = int(record["pgid"])
    signal_group(pgid, signal.SIGTERM)
    sent = "SIGTERM"
    if not wait_until(lambda: not group_alive(pgid), float(timeout)):
        signal_group(pgid, signal.SIGKILL)
        sent = "SIGKILL"
        wait_until(lambda: not group_alive(pgid), KILL_WAIT)
    return {
        "was_running": True,
        "signal": sent,
        "exit_code": exit_code_of(state_dir, record) if wait_for_exit_code else None,
    }


def stop_all(request: Request) -> Answer:
    """The `stop` verb: the app, and its spare, which must not outlive it."""
    answer = stop_app(request)
    with record_lock(state_dir_of(request)):
        discard_spare(state_dir_of(request))
    return answer


def exit_code_of(state_dir: str, record: Request) -> int | None:
    """Wait briefly for the supervisor to record the stopped app's exit code."""
    found: list[int | None] = [None]
    supervisor = record.get("supervisor_pid")

    def recorded() -> bool:
        # Look at the supervisor first: once it is gone, its record is final.
        fields = proc_stat(supervisor) if isinstance(supervisor, int) else None
        supervisor_gone = fields is None or fields[0] in ("Z", "X")
        latest = load_app_record(state_dir)
        if latest and latest.get("pid") == record["pid"]:
            found[0] = latest.get("exit_code")
        return found[0] is not None or supervisor_gone

    wait_until(recorded, EXIT_CODE_WAIT)
    return found[0]


def restart_app(request: Request) -> Answer:
    """Stop the app, then start it with the request or the last start's spec."""
    state_dir = state_dir_of(request)
    start_request = dict(request)
    if "argv" not in request:
        record = load_app_record(state_dir)
        if not record:
            raise AgentFailure("no app was started before: give 'argv' to start one")
        for key in ("argv", "cwd", "env", "output", "preload"):
            start_request.setdefault(key, record.get(key))
    start_spec(start_request)
    stop_app(request, wait_for_exit_code=False)
    return start_app(start_request)


# --- release, files ---------------------------------------------------------


def release(request: Request) -> Answer:
    """Read the release record, or replace it with ``set`` and return it."""
    path = os.path.join(state_dir_of(request), RELEASE_RECORD)
    if "set" in request:
        new = request["set"]
        if not isinstance(new, dict):
            raise AgentFailure("'set' must be a JSON object")
        write_json_atomic(path, new)
    current = read_json(path)
    return {"release": current if isinstance(current, dict) else None}


def manifest(request: Request) -> Answer:
    """Hash every regular file under ``root``, without following symlinks."""
    root = resolve_path(text_field(request, "root"))
    excludes = request.get("exclude") or []
    if not isinstance(excludes, list) or not all(isinstance(p, str) for p in excludes):
        raise AgentFailure("'exclude' must be a list of glob patterns")
    if not os.path.isdir(root):
        return {"files": {}, "exists": False}
    files = {}
    for directory, dirnames, filenames in os.walk(root):
        base = os.path.relpath(directory, root).replace(os.sep, "/")
        prefix = "" if base == "." else base + "/"
        dirnames[:] = [
            name
            for name in dirnames
            if name != "__pycache__" and not excluded(prefix + name, excludes)
        ]
        for name in filenames:
            relpath = prefix + name
            path = os.path.join(directory, name)
            if name.endswith(".pyc") or name.startswith(".podtui-"):
                continue
            if excluded(relpath, excludes):
                continue
            if stat.S_ISREG(os.lstat(path).st_mode):
                files[relpath] = sha256_file(path)
    return {"files": dict(sorted(files.items())), "exists": True}


def excluded(relpath: str, patterns: list[str]) -> bool:
    """Whether a glob matches the relative path or the entry's own name."""
    name = relpath.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatchcase(relpath, pattern) or fnmatch.fnmatchcase(name, pattern)
        for pattern in patterns
    )


def read_file(request: Request) -> Answer:
    """The content of one file, base64-encoded, with its hash and mode."""
    path = resolve_path(text_field(request, "path"))
    info = file_info(path)
    if info is None:
        raise AgentFailure(f"no such file: {path}")
    if not stat.S_ISREG(info.st_mode):
        raise AgentFailure(f"not a regular file: {path}")
    if info.st_size > MAX_READ_BYTES:
        raise AgentFailure(
            f"{path} is {info.st_size} bytes, over the agent's limit of "
            f"{MAX_READ_BYTES // (1024 * 1024)} MiB: copy it another way"
        )
    with open(path, "rb") as stream:
        data = stream.read()
    return {
        "data": base64.b64encode(data).decode("ascii"),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "mode": stat.S_IMODE(info.st_mode),
    }


def file_info(path: str) -> os.stat_result | None:
    """`os.stat` of `path`, or None when nothing is there."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def write_file(request: Request) -> Answer:
    """Write one file atomically, refusing if it changed since it was read."""
    path = resolve_path(text_field(request, "path"))
    data = decode_data(request.get("data"))
    info = file_info(path)
    current = sha256_file(path) if info is not None else None
    if "expected_sha256" in request and request["expected_sha256"] != current:
        raise AgentFailure(
            f"{path} changed on the pod since it was read: reload it before writing",
            conflict=True,
            sha256=current,
        )
    write_atomic(path, data, file_mode(request, info))
    written = sha256_file(path)
    if written != hashlib.sha256(data).hexdigest():
        raise AgentFailure(f"{path} did not read back as written: disk full?")
    return {"sha256": written}


def decode_data(data: Any) -> bytes:
    """The bytes of a base64 ``data`` field."""
    if not isinstance(data, str):
        raise AgentFailure("'data' must be a base64 string")
    try:
        return base64.b64decode(data.encode("ascii"), validate=True)
    except ValueError as error:
        raise AgentFailure(f"'data' is not valid base64: {error}") from None


def file_mode(request: Request, info: os.stat_result | None) -> int:
    """The mode for a written file: given, else the old file's, else the default."""
    mode = request.get("mode")
    if mode is not None:
        if not isinstance(mode, int) or not 0 <= mode <= 0o7777:
            raise AgentFailure("'mode' must be a permission number such as 420")
        return mode
    if info is not None:
        return stat.S_IMODE(info.st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# --- apply: change a set of files, all or nothing -----------------------------
#
# An apply is a small transaction kept in a journal directory in the state
# dir. It first backs up every file it will replace or delete into the
# journal, and stages every new file under a temporary name beside its
# target; only then does it mark the journal committed and rename the staged
# files into place. An apply interrupted before that mark is rolled back
# (staged files removed) and one interrupted after it is completed (the
# remaining renames done), by the next `snapshot`, `apply` or `rollback`.
# The finished journal is kept as the previous release, which `rollback`
# applies in reverse.

APPLY_DIR = "apply"
PREVIOUS_DIR = "previous-release"
JOURNAL = "journal.json"
APPLY_LOCK = "apply.lock"
MANIFEST_RECORD = "manifest.json"
IMAGE_RECORD = "image.json"
STAGE_PREFIX = ".podtui-stage-"
DEFAULT_MAX_REMOVAL = 0.5
"""The largest share of the app's files one apply may delete, by default."""


@contextlib.contextmanager
def apply_lock(state_dir: str) -> Iterator[None]:
    """Serialise applies, rollbacks and their recovery on one pod."""
    fd = os.open(os.path.join(state_dir, APPLY_LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def checked_relpath(relpath: Any) -> str:
    """A relative path that stays inside its root: no `..`, no absolute path."""
    if not isinstance(relpath, str) or not relpath or "\x00" in relpath:
        raise AgentFailure(f"invalid file path {relpath!r}")
    if relpath.startswith("/") or any(
        part in ("", ".", "..") for part in relpath.split("/")
    ):
        raise AgentFailure(f"file path {relpath!r} must stay inside the app directory")
    return relpath


def target_of(root: str, relpath: str) -> str:
    """The absolute path of `relpath`, refusing symlinked directories that leave root."""
    path = os.path.join(root, relpath)
    parent = os.path.realpath(os.path.dirname(path))
    real_root = os.path.realpath(root)
    if parent != real_root and not parent.startswith(real_root + os.sep):
        raise AgentFailure(f"{relpath!r} leads outside {root} through a symlink")
    return path


def file_count(root: str) -> int:
    """How many regular files the app directory holds now."""
    return len(manifest({"root": root})["files"])


def apply_plan(request: Request, root: str) -> Request:
    """The validated writes and deletes of an `apply` request."""
    writes = request.get("write") or {}
    deletes = request.get("delete") or []
    if not isinstance(writes, dict) or not isinstance(deletes, list):
        raise AgentFailure("'write' must be an object and 'delete' a list")
    entries = []
    for index, (relpath, spec) in enumerate(sorted(writes.items())):
        if not isinstance(spec, dict) or ("data" in spec) == ("source" in spec):
            raise AgentFailure(f"{relpath!r}: give exactly one of 'data' or 'source'")
        path = target_of(root, checked_relpath(relpath))
        entries.append(
            {
                "path": relpath,
                "temp": os.path.join(
                    os.path.dirname(path), f"{STAGE_PREFIX}{index}.tmp"
                ),
                "spec": spec,
            }
        )
    removed = [checked_relpath(relpath) for relpath in deletes]
    for relpath in removed:
        target_of(root, relpath)
    return {"root": root, "writes": entries, "deletes": removed}


def guard_removal(plan: Request, share: Any) -> None:
    """Refuse an apply that would delete more than `share` of the app's files."""
    if not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise AgentFailure("'max_removal' must be a share from 0 to 1")
    count = file_count(plan["root"])
    if plan["deletes"] and len(plan["deletes"]) > share * max(count, 1):
        raise AgentFailure(
            f"this would delete {len(plan['deletes'])} of the {count} files in "
            f"{plan['root']}, more than the {share:.0%} allowed: check the deploy "
            "paths, or raise the environment's max_removal in the config",
            removal_refused=True,
        )


def stage(journal: Request, journal_dir: str) -> None:
    """Back up what will change and write every new file under its temp name."""
    old_dir = os.path.join(journal_dir, "old")
    os.makedirs(old_dir, exist_ok=True)
    backups: list[str] = []

    def back_up(relpath: str) -> str | None:
        path = os.path.join(journal["root"], relpath)
        if not os.path.isfile(path) or os.path.islink(path):
            return None
        name = str(len(backups))
        shutil.copy2(path, os.path.join(old_dir, name))
        backups.append(name)
        return name

    for entry in journal["writes"]:
        backup = back_up(entry["path"])
        if backup is not None:
            entry["backup"] = backup
    delete_backups = {}
    for relpath in journal["deletes"]:
        backup = back_up(relpath)
        if backup is not None:
            delete_backups[relpath] = backup
    journal["delete_backups"] = delete_backups
    for entry in journal["writes"]:
        stage_file(journal["root"], entry)
    fsync_dir(old_dir)


def stage_file(root: str, entry: Request) -> None:
    """Write one new file's content to its temp name, flushed and verified."""
    spec = entry["spec"]
    target = os.path.join(root, entry["path"])
    if "source" in spec:
        source = resolve_path(text_field(spec, "source"))
        with open(source, "rb") as stream:
            data = stream.read()
        mode = stat.S_IMODE(os.stat(source).st_mode)
    else:
        data = decode_data(spec["data"])
        mode = file_mode(spec, file_info(target))
    expected = spec.get("sha256")
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise AgentFailure(f"{entry['path']}: content does not match its sha256")
    os.makedirs(os.path.dirname(entry["temp"]), exist_ok=True)
    with open(entry["temp"], "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fchmod(stream.fileno(), mode)
        os.fsync(stream.fileno())


def save_journal(journal_dir: str, journal: Request) -> None:
    """Record the journal; specs with file data are left out, they are staged."""
    record = dict(journal)
    record["writes"] = [
        {key: value for key, value in entry.items() if key != "spec"}
        for entry in journal["writes"]
    ]
    write_json_atomic(os.path.join(journal_dir, JOURNAL), record)


def run_apply(state_dir: str, plan: Request, release_record: Any) -> Answer:
    """Stage, commit and finish one apply; the caller holds the apply lock."""
    journal_dir = os.path.join(state_dir, APPLY_DIR)
    journal = dict(
        plan,
        phase="staging",
        release=release_record,
        old_release=read_json(os.path.join(state_dir, RELEASE_RECORD)),
        old_manifest=read_json(os.path.join(state_dir, MANIFEST_RECORD)),
    )
    os.makedirs(journal_dir)
    save_journal(journal_dir, journal)
    try:
        stage(journal, journal_dir)
    except BaseException:
        roll_back_journal(state_dir, journal)
        raise
    journal["phase"] = "commit"
    save_journal(journal_dir, journal)
    return finish_journal(state_dir, journal)


def finish_journal(state_dir: str, journal: Request) -> Answer:
    """Move staged files into place and delete stale ones; safe to repeat."""
    root = journal["root"]
    for entry in journal["writes"]:
        if os.path.lexists(entry["temp"]):
            os.replace(entry["temp"], os.path.join(root, entry["path"]))
    for relpath in journal["deletes"]:
        path = os.path.join(root, relpath)
        if os.path.lexists(path):
            os.unlink(path)
        prune_empty_dirs(root, os.path.dirname(path))
    for directory in {os.path.dirname(e["temp"]) for e in journal["writes"]}:
        fsync_dir(directory)
    if journal.get("release") is not None:
        write_json_atomic(os.path.join(state_dir, RELEASE_RECORD), journal["release"])
    files = manifest({"root": root})["files"]
    write_json_atomic(os.path.join(state_dir, MANIFEST_RECORD), files)
    keep_as_previous(state_dir)
    return {
        "written": len(journal["writes"]),
        "deleted": len(journal["deletes"]),
        "files": len(files),
    }


def prune_empty_dirs(root: str, directory: str) -> None:
    """Remove directories left empty by deletes, up to (not including) root."""
    real_root = os.path.realpath(root)
    while os.path.realpath(directory).startswith(real_root + os.sep):
        try:
            os.rmdir(directory)
        except OSError:
            return
        directory = os.path.dirname(directory)


def keep_as_previous(state_dir: str) -> None:
    """Keep the finished journal as the previous release, for `rollback`."""
    previous = os.path.join(state_dir, PREVIOUS_DIR)
    if os.path.isdir(previous):
        shutil.rmtree(previous)
    os.rename(os.path.join(state_dir, APPLY_DIR), previous)
    fsync_dir(state_dir)


def roll_back_journal(state_dir: str, journal: Request) -> None:
    """Undo an apply that never reached its commit: remove what it staged."""
    for entry in journal["writes"]:
        with contextlib.suppress(OSError):
            os.unlink(entry["temp"])
    shutil.rmtree(os.path.join(state_dir, APPLY_DIR), ignore_errors=True)


def recover(state_dir: str) -> str | None:
    """Settle an apply that was interrupted: finish it or undo it."""
    journal_dir = os.path.join(state_dir, APPLY_DIR)
    if not os.path.isdir(journal_dir):
        return None
    journal = read_json(os.path.join(journal_dir, JOURNAL))
    if not isinstance(journal, dict) or journal.get("phase") != "commit":
        if isinstance(journal, dict):
            roll_back_journal(state_dir, journal)
        shutil.rmtree(journal_dir, ignore_errors=True)
        return "rolled back"
    finish_journal(state_dir, journal)
    return "completed"


def apply_files(request: Request) -> Answer:
    """Write and delete a set of files under ``root`` as one change.

    ``write`` maps relative paths to ``{"data": base64}`` or ``{"source":
    path on the pod}`` (optionally with ``sha256`` and ``mode``); ``delete``
    lists relative paths; ``release`` is recorded as the new release once the
    files are in place, with the app directory's new manifest.
    """
    state_dir = state_dir_of(request)
    root = resolve_path(text_field(request, "root"))
    with apply_lock(state_dir):
        recovered = recover(state_dir)
        plan = apply_plan(request, root)
        guard_removal(plan, request.get("max_removal", DEFAULT_MAX_REMOVAL))
        os.makedirs(root, exist_ok=True)
        answer = run_apply(state_dir, plan, request.get("release"))
    answer["recovered"] = recovered
    return answer


def rollback(request: Request) -> Answer:
    """Put the previous release back: the last apply, applied in reverse."""
    state_dir = state_dir_of(request)
    with apply_lock(state_dir):
        recovered = recover(state_dir)
        previous = os.path.join(state_dir, PREVIOUS_DIR)
        journal = read_json(os.path.join(previous, JOURNAL))
        if not isinstance(journal, dict):
            raise AgentFailure("no previous release is kept on this pod")
        writes, deletes = reverse_of(journal, os.path.join(previous, "old"))
        plan = apply_plan({"write": writes, "delete": deletes}, journal["root"])
        answer = run_apply(state_dir, plan, journal.get("old_release"))
    answer["recovered"] = recovered
    answer["release"] = journal.get("old_release")
    return answer


def reverse_of(journal: Request, old_dir: str) -> tuple[Request, list[str]]:
    """The writes and deletes that undo an apply, from its backups."""
    writes: Request = {}
    deletes = []
    for entry in journal["writes"]:
        if "backup" in entry:
            writes[entry["path"]] = {"source": os.path.join(old_dir, entry["backup"])}
        else:
            deletes.append(entry["path"])
    for relpath in journal["deletes"]:
        backup = journal.get("delete_backups", {}).get(relpath)
        if backup is not None:
            writes[relpath] = {"source": os.path.join(old_dir, backup)}
    return writes, deletes


def image_hash(state_dir: str, candidates: Any) -> str | None:
    """The requirements hash the pod's image was built with, if recorded."""
    record = read_json(os.path.join(state_dir, IMAGE_RECORD))
    if isinstance(record, dict) and isinstance(record.get("requirements_hash"), str):
        return record["requirements_hash"]
    for path in candidates if isinstance(candidates, list) else []:
        try:
            with open(resolve_path(str(path)), encoding="utf-8") as stream:
                text = stream.read().split()
        except OSError:
            continue
        if text:
            return text[0]
    return None


def checkout_head(path: Any) -> str | None:
    """The HEAD commit of a git checkout on the pod, or None."""
    if not isinstance(path, str) or not path:
        return None
    try:
        result = subprocess.run(
            ["git", "-C", resolve_path(path), "rev-parse", "--verify", "HEAD"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    head = result.stdout.decode(errors="replace").strip()
    return head if result.returncode == 0 and head else None


def snapshot(request: Request) -> Answer:
    """What a deploy needs to know of a pod, in one call.

    Settles an interrupted apply first, then answers the app directory's
    manifest, the release record, the image's requirements hash and,
    given ``checkout``, the HEAD of the pod's git checkout.
    """
    state_dir = state_dir_of(request)
    with apply_lock(state_dir):
        recovered = recover(state_dir)
    answer = manifest(request)
    answer.update(
        recovered=recovered,
        release=release({"state_dir": state_dir})["release"],
        image_requirements_hash=image_hash(state_dir, request.get("image_files")),
        checkout_head=checkout_head(request.get("checkout")),
        has_previous=os.path.isdir(os.path.join(state_dir, PREVIOUS_DIR)),
    )
    return answer


# --- tail: follow a log file by byte offset -----------------------------------
#
# `tail` is the one streaming verb: it reads one JSON request line on stdin,
# then writes frames to stdout until the client goes away (EOF on stdin, or a
# write that fails because the channel closed). A frame is one JSON header
# line; a ``data`` header is followed by exactly ``n`` raw bytes of the file,
# whole lines only, starting at byte ``off`` of the file ``dev``/``ino``. The
# client keeps those positions as its cursor and sends them back after a
# dropped connection, so the tail resumes exactly where it stopped.
#
# A renamed log (rotation by rename) is drained and followed on under its new
# name until its writer has moved on; a truncated log (copy-truncate) is
# recovered from the copy beside it when the copy holds bytes not yet sent.

TAIL_VERB = "tail"
TAIL_POLL = 0.05
"""Seconds between looks at a quiet log file."""
TAIL_POLL_BUSY = 0.015
"""Seconds before the next look after one that found lines: more likely follow."""
TAIL_HEARTBEAT = 1.0
"""Seconds of silence after which a ``beat`` frame tells the client we live."""
TAIL_CHUNK = 256 * 1024
"""The most bytes read from one file per look; a full read looks again at once."""
TAIL_SIGNATURE = 64
"""Bytes before the offset that identify a file's content when resuming."""
RETIRE_QUIET = 2.0
"""Seconds a renamed log must stay quiet, once its successor has lines, to be let go."""
RETIRE_MAX = 30.0
"""Seconds a renamed log must stay quiet to be let go in any case."""


class ClientGone(Exception):
    """The tail's client closed the channel: nothing more to do."""


class FrameWriter:
    """Frames to a raw file descriptor, written in full or not at all."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending: list[bytes] = []
        self.last_write = time.monotonic()

    def add(self, header: Request, data: bytes = b"") -> None:
        """Queue one frame; `flush` writes the queued frames in one go."""
        self.pending.append(json.dumps(header, separators=(",", ":")).encode())
        self.pending.append(b"\n" + data)

    def flush(self) -> None:
        if not self.pending:
            return
        view = memoryview(b"".join(self.pending))
        self.pending = []
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError as error:  # EPIPE and friends: the channel is gone
            raise ClientGone() from error
        self.last_write = time.monotonic()


class FollowedFile:
    """One open log file and how far it has been sent."""

    def __init__(self, fd: int, offset: int, signature: bytes = b"") -> None:
        info = os.fstat(fd)
        self.fd = fd
        self.dev = info.st_dev
        self.ino = info.st_ino
        self.offset = offset
        self.signature = signature
        self.quiet_since = time.monotonic()

    @property
    def key(self) -> tuple[int, int]:
        return (self.dev, self.ino)

    def position(self) -> Request:
        return {"dev": self.dev, "ino": self.ino, "off": self.offset}

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def truncated(self) -> bool:
        """Whether the bytes before the offset are no longer what was sent."""
        size = self.size()
        if size < self.offset:
            return True
        if not self.signature:
            return False
        start = self.offset - len(self.signature)
        return os.pread(self.fd, len(self.signature), start) != self.signature

    def read(self, out: FrameWriter, whole: bool = False) -> int:
        """Send what was added since the offset; `whole` sends a last part line too.

        Returns the number of bytes sent; only complete lines are sent unless
        a line is longer than a chunk or `whole` is set.
        """
        data = os.pread(self.fd, TAIL_CHUNK, self.offset)
        if not whole and len(data) < TAIL_CHUNK:
            data = data[: data.rfind(b"\n") + 1]
        if not data:
            return 0
        out.add(dict(self.position(), t="data", n=len(data)), data)
        self.offset += len(data)
        self.signature = (self.signature + data)[-TAIL_SIGNATURE:]
        self.quiet_since = time.monotonic()
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def open_log(path: str) -> int | None:
    """A read-only descriptor of `path`, or None while it does not exist."""
    try:
        return os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None


def offset_of_last_lines(fd: int, count: int) -> int:
    """The offset where the last `count` lines of the open file begin."""
    size = os.fstat(fd).st_size
    if count <= 0 or size == 0:
        return size
    needed = count if os.pread(fd, 1, size - 1) == b"\n" else count - 1
    position = size
    while position > 0:
        start = max(0, position - TAIL_CHUNK)
        block = os.pread(fd, position - start, start)
        index = len(block)
        while True:
            index = block.rfind(b"\n", 0, index)
            if index < 0:
                break
            needed -= 1
            if needed < 0:
                return start + index + 1
        position = start
    return 0


def sibling_logs(path: str) -> Iterator[str]:
    """Files beside the log whose names start with its name (``app.log.1``)."""
    directory, base = os.path.split(path)
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return
    for name in names:
        if name != base and name.startswith(base):
            yield os.path.join(directory, name)


def find_by_inode(path: str, dev: int, ino: int) -> str | None:
    """The log or its renamed sibling that is the file `dev`/`ino`."""
    for candidate in [path, *sibling_logs(path)]:
        with contextlib.suppress(OSError):
            info = os.stat(candidate)
            if (info.st_dev, info.st_ino) == (dev, ino):
                return candidate
    return None


class LogFollower:
    """Follows one log path across renames, truncations and restarts."""

    def __init__(self, path: str, out: FrameWriter) -> None:
        self.path = path
        self.out = out
        self.current: FollowedFile | None = None
        self.renamed: list[FollowedFile] = []
        """Rotated-away files, still read while their writer may add to them."""
        self.missing_told = False

    def start(self, lines: int) -> None:
        """Begin with the last `lines` lines of the log, if it exists yet."""
        fd = open_log(self.path)
        if fd is not None:
            self.follow(FollowedFile(fd, offset_of_last_lines(fd, lines)), "start")

    def resume(self, cursor: list[Request]) -> None:
        """Continue from the client's positions: renamed files first, log last."""
        for position in cursor:
            found = self.reopen(position)
            if found is None:
                self.out.add(dict(position, t="lost"))
            elif (found.dev, found.ino) == self.stat_key():
                self.follow(found, "resume")
            else:
                self.renamed.append(found)

    def reopen(self, position: Request) -> FollowedFile | None:
        """The file a cursor position names, opened at its offset, if it is left."""
        try:
            dev, ino = int(position["dev"]), int(position["ino"])
            offset = int(position["off"])
            signature = base64.b64decode(str(position.get("sig", "")))
        except (KeyError, TypeError, ValueError):
            raise AgentFailure("'cursor' must list {dev, ino, off, sig}") from None
        path = find_by_inode(self.path, dev, ino)
        fd = open_log(path) if path else None
        if fd is None:
            return None
        found = FollowedFile(fd, offset, signature)
        if found.key != (dev, ino):  # replaced between the stat and the open
            found.close()
            return None
        return found

    def stat_key(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return (info.st_dev, info.st_ino)

    def follow(self, followed: FollowedFile, reason: str) -> None:
        self.current = followed
        self.missing_told = False
        self.out.add(dict(followed.position(), t="file", reason=reason))

    def poll(self, whole: bool = False) -> int:
        """One look at every followed file; the number of bytes sent."""
        sent = sum(f.read(self.out, whole) for f in self.renamed)
        self.retire_quiet()
        sent += self.check_current(whole)
        return sent

    def check_current(self, whole: bool) -> int:
        key = self.stat_key()
        current = self.current
        if current is None:
            return self.open_new("start") if key else self.note_missing()
        if key is not None and key != current.key:
            sent = current.read(self.out, whole)
            self.renamed.append(current)
            return sent + self.open_new("rename")
        if current.truncated():
            self.recover_copy(current)
            current.offset, current.signature = 0, b""
            self.out.add(dict(current.position(), t="file", reason="truncate"))
        return current.read(self.out, whole)

    def open_new(self, reason: str) -> int:
        fd = open_log(self.path)
        if fd is None:
            return self.note_missing()
        self.follow(FollowedFile(fd, 0), reason)
        assert self.current is not None
        return self.current.read(self.out)

    def note_missing(self) -> int:
        if not self.missing_told:
            self.out.add({"t": "missing", "path": self.path})
            self.missing_told = True
        return 0

    def recover_copy(self, truncated: FollowedFile) -> None:
        """Send what a copy-truncate copied away before it was read.

        The copy is the sibling whose bytes before the offset match what was
        sent (the signature) and that is longer than the offset.
        """
        for path in sibling_logs(self.path):
            fd = open_log(path)
            if fd is None:
                continue
            copy = FollowedFile(fd, truncated.offset, truncated.signature)
            try:
                if copy.key != truncated.key and not copy.truncated():
                    while copy.read(self.out, whole=True):
                        self.out.flush()
                    self.out.add(dict(copy.position(), t="retire"))
                    return
            finally:
                copy.close()

    def retire_quiet(self) -> None:
        """Let go of renamed files whose writer has moved on to the new log."""
        now = time.monotonic()
        successor_has_lines = self.current is not None and self.current.size() > 0
        for followed in list(self.renamed):
            quiet = now - followed.quiet_since
            if quiet >= RETIRE_MAX or (successor_has_lines and quiet >= RETIRE_QUIET):
                followed.read(self.out, whole=True)
                self.out.add(dict(followed.position(), t="retire"))
                followed.close()
                self.renamed.remove(followed)


def tail(request: Request, out: FrameWriter, stdin_fd: int) -> None:
    """Stream the log named by `request` until the client goes away.

    Request fields: ``path``; ``lines`` (how many existing lines to send
    first, default 10); ``cursor`` (positions from an earlier tail, instead of
    ``lines``); ``follow`` (default true; false sends what is there and ends).
    """
    path = resolve_path(text_field(request, "path"))
    lines = request.get("lines", 10)
    cursor = request.get("cursor") or []
    if not isinstance(lines, int) or not isinstance(cursor, list):
        raise AgentFailure("'lines' must be a number and 'cursor' a list")
    follower = LogFollower(path, out)
    out.add({"t": "hello", "pid": os.getpid(), "path": path})
    if cursor:
        follower.resume(cursor)
    else:
        follower.start(lines)
    if not request.get("follow", True):
        while follower.poll(whole=True) >= TAIL_CHUNK:
            out.flush()
        out.add({"t": "end"})
        out.flush()
        return
    follow_until_gone(follower, out, stdin_fd)


def follow_until_gone(follower: LogFollower, out: FrameWriter, stdin_fd: int) -> None:
    """Poll the log, sending frames, until stdin closes or a write fails."""
    while True:
        sent = follower.poll()
        if not sent and time.monotonic() - out.last_write >= TAIL_HEARTBEAT:
            out.add({"t": "beat"})
        out.flush()
        if sent >= TAIL_CHUNK:
            continue
        wait = TAIL_POLL_BUSY if sent else TAIL_POLL
        readable, _, _ = select.select([stdin_fd], [], [], wait)
        if readable and not os.read(stdin_fd, 4096):
            raise ClientGone()


def read_request_line(stdin_fd: int) -> bytes:
    """The first line of stdin, read without buffering past it."""
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(stdin_fd, 1)
        if not byte:
            break
        line += byte
    return line


def run_tail(stdin_fd: int = 0, stdout_fd: int = 1) -> int:
    """The `tail` verb's command line: frames out until the client leaves."""
    out = FrameWriter(stdout_fd)
    try:
        request = parse_request(read_request_line(stdin_fd).decode("utf-8"))
        tail(request, out, stdin_fd)
    except ClientGone:
        return 0
    except AgentFailure as failure:
        return tail_failed(out, str(failure))
    except Exception as error:  # noqa: BLE001 - the client expects a frame
        return tail_failed(out, f"{type(error).__name__}: {error}")
    return 0


def tail_failed(out: FrameWriter, message: str) -> int:
    """End the stream with an ``error`` frame that the client shows."""
    out.pending = []
    out.add({"t": "error", "error": message})
    with contextlib.suppress(ClientGone):
        out.flush()
    return 1


STREAMING_VERBS: dict[str, Callable[[int, int], int]] = {TAIL_VERB: run_tail}
"""Verbs that stream frames instead of answering once: fds in, exit code out."""


# --- the command line ---------------------------------------------------------


def status(request: Request) -> Answer:
    """The app, the release and a little about the pod itself."""
    state_dir = state_dir_of(request)
    return {
        "app": app_state(state_dir),
        "release": release({"state_dir": state_dir})["release"],
        "hostname": socket.gethostname(),
        "time": time.time(),
        "python": platform.python_version(),
    }


def version(request: Request) -> Answer:
    """The agent's version, so podtui knows when to upload a new one."""
    return {"version": AGENT_VERSION}


VERBS: dict[str, Callable[[Request], Answer]] = {
    "status": status,
    "start": start_app,
    "stop": stop_all,
    "restart": restart_app,
    "release": release,
    "manifest": manifest,
    "read": read_file,
    "write": write_file,
    "version": version,
    "apply": apply_files,
    "rollback": rollback,
    "snapshot": snapshot,
    SUPERVISE_VERB: supervise,
}


def parse_request(raw: str) -> Request:
    """The JSON object on stdin; an empty stdin is an empty request."""
    if not raw.strip():
        return {}
    try:
        request = json.loads(raw)
    except ValueError as error:
        raise AgentFailure(f"the request is not valid JSON: {error}") from None
    if not isinstance(request, dict):
        raise AgentFailure("the request must be a JSON object")
    return request


def handle(argv: list[str], raw: str) -> Answer:
    """Answer one request; failures become ``ok: false`` answers."""
    try:
        if len(argv) != 1:
            raise AgentFailure("usage: agent.py VERB < request.json")
        verb = VERBS.get(argv[0])
        if verb is None:
            known = ", ".join(sorted(v for v in VERBS if not v.startswith("_")))
            raise AgentFailure(f"unknown verb {argv[0]!r}: use one of {known}")
        answer = verb(parse_request(raw))
    except AgentFailure as failure:
        return dict({"ok": False, "error": str(failure)}, **failure.extra)
    except Exception as error:  # noqa: BLE001 - the caller expects JSON, always
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
    return dict({"ok": True}, **answer)


SERVE_VERB = "serve"


def serve(stdin: IO[str], stdout: IO[str]) -> int:
    """Answer requests one per line until stdin closes.

    Each line is `{"verb": ..., "request": {...}}`; each answer is one line.
    podtui keeps one such agent per pod so that a call costs a round trip
    instead of a Python start-up. Streaming and internal verbs are refused.
    """
    for line in stdin:
        try:
            message = json.loads(line)
            verb = str(message["verb"])
            request = message.get("request") or {}
        except (ValueError, KeyError, TypeError):
            answer: Answer = {"ok": False, "error": "serve: bad request line"}
        else:
            if verb.startswith("_") or verb in STREAMING_VERBS or verb == SERVE_VERB:
                answer = {"ok": False, "error": f"serve: {verb!r} is not served"}
            else:
                answer = handle([verb], json.dumps(request))
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()
    return 0


def main(
    argv: list[str] | None = None,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
) -> int:
    """Run one verb: `argv` without the program name, JSON in and out."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0] in STREAMING_VERBS:
        return STREAMING_VERBS[argv[0]](0, 1)
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    if argv == [SERVE_VERB]:
        return serve(stdin, stdout)
    try:
        raw = stdin.read()
    except (OSError, UnicodeDecodeError) as error:
        answer: Answer = {"ok": False, "error": f"cannot read the request: {error}"}
    else:
        answer = handle(argv, raw)
    stdout.write(json.dumps(answer) + "\n")
    stdout.flush()
    return 0 if answer["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
