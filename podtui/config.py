"""The configuration file: find it, load and validate it, save it back.

`config.toml` names the project, its environments and their pods. Loading
checks every key and value and reports all mistakes at once, each with the
file, the line, the dotted key and what was expected, so that a typo never
turns into a confusing failure on a pod. The parsed tomlkit document is kept
so that saving writes the user's comments and layout back unchanged.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import string
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import platformdirs
import tomlkit
from tomlkit.exceptions import ParseError, TOMLKitError

from podtui.errors import ConfigError

log = logging.getLogger(__name__)

CONFIG_ENV_VAR = "PODTUI_CONFIG"
"""Environment variable that may name the config file."""
CONFIG_FILE_NAME = "config.toml"

PROVIDERS = ("local", "runpod", "ssh")
DEPLOY_MODES = ("files", "git", "push")
RESTART_ON_SAVE = ("code", "always", "never")
START_COMMAND_PLACEHOLDERS = ("app_dir", "log_file", "port", "python", "workspace_dir")

POD_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""Pod and environment names reach file paths and commands, so they stay plain."""
RUNPOD_ID_RE = re.compile(r"[a-z0-9]+")
MODULE_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")

KeyPath = tuple[str | int, ...]
"""A key in the document, e.g. `("environments", "dev", "pods", 1, "port")`."""


@dataclass(frozen=True)
class Timeouts:
    """How long, in seconds, podtui waits for each kind of step on a pod."""

    connect: float = 10.0
    command: float = 30.0
    health: float = 5.0
    stop: float = 10.0
    start: float = 60.0
    """How long a restarted app may take to pass its health check after a deploy."""


@dataclass(frozen=True)
class PodConfig:
    """One pod as listed in the config; which fields apply depends on the provider."""

    name: str
    host: str | None = None
    """ssh provider: a hostname or an alias from `~/.ssh/config`."""
    port: int | None = None
    """ssh provider: the SSH port, when not the default."""
    user: str | None = None
    key: str | None = None
    """An identity file path, with `~` expanded."""
    pod_id: str | None = None
    """runpod provider: the RunPod pod id."""
    known_hosts: str | None = None
    """A known_hosts file for this pod's host key (default: the user's)."""


@dataclass(frozen=True)
class EnvironmentConfig:
    """One environment with its settings resolved against `[defaults]`."""

    name: str
    provider: str
    protected: bool
    app_dir: str
    workspace_dir: str
    log_file: str
    python: str
    start_command: str
    port: int
    health_path: str
    timeouts: Timeouts
    pods: tuple[PodConfig, ...]
    pod_name_pattern: str | None = None
    """runpod: take every pod whose name matches this regex instead of ids."""
    deploy_mode: str = "git"
    idle_minutes: float = 60.0
    """A running pod with no deploy, log view or hot fix for this long is idle."""
    http_proxy: bool = False
    """runpod: check health through RunPod's HTTP proxy instead of SSH."""
    ssh_user: str | None = None
    """runpod: the SSH user of pods that do not set their own (default root)."""
    ssh_key: str | None = None
    """runpod: the identity file of pods that do not set their own."""
    max_removal: float = 0.5
    """The largest share of the app's files one deploy may delete."""
    known_hosts: str | None = None
    """runpod: the known_hosts file of pods that do not set their own."""
    restart_on_save: str = "code"
    """After a hot fix is saved, restart the service: for code files, always,
    or never."""
    preload: tuple[str, ...] = ()
    """Modules a warm spare interpreter imports ahead of the next restart."""


@dataclass(frozen=True)
class ProjectConfig:
    """The local repository and what of it is deployed to the pods."""

    name: str
    repo: Path
    """Absolute; relative paths in the file are relative to the file."""
    deploy: tuple[str, ...]
    """Paths inside the repo copied into each pod's app directory."""
    requirements: str
    """The requirements file, relative to the repo."""


@dataclass(frozen=True)
class Config:
    """The whole configuration, validated, plus the document it came from."""

    path: Path
    project: ProjectConfig
    environments: tuple[EnvironmentConfig, ...]
    refresh_interval: float
    log_lines: int
    """Lines each log pane keeps; older ones are dropped as new ones come."""
    document: tomlkit.TOMLDocument = field(compare=False, repr=False)

    def environment(self, name: str) -> EnvironmentConfig:
        """The environment called `name`, or a ConfigError naming the known ones."""
        for environment in self.environments:
            if environment.name == name:
                return environment
        known = [environment.name for environment in self.environments]
        raise ConfigError(
            f"no environment named {name!r} in {self.path}{_suggestion(name, known)}",
            hint=f"known environments: {', '.join(known)}",
        )

    def find_pod(self, name: str) -> tuple[EnvironmentConfig, PodConfig]:
        """The pod called `name` and its environment, or a ConfigError."""
        for environment, pod in self.pods():
            if pod.name == name:
                return environment, pod
        known = [pod.name for _, pod in self.pods()]
        raise ConfigError(
            f"no pod named {name!r} in {self.path}{_suggestion(name, known)}",
            hint=f"known pods: {', '.join(known)}" if known else None,
        )

    def pods(self) -> Iterator[tuple[EnvironmentConfig, PodConfig]]:
        """Every listed pod with its environment, in file order."""
        for environment in self.environments:
            for pod in environment.pods:
                yield environment, pod


@dataclass(frozen=True)
class ConfigIssue:
    """One mistake in a config file."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        if not self.key:
            return f"{where}: {self.message}"
        return f"{where}: {self.key}: {self.message}"


class ConfigValidationError(ConfigError):
    """A config file with one or more invalid keys or values."""

    def __init__(self, file: str, issues: Sequence[ConfigIssue]) -> None:
        lines = [str(issue) for issue in issues]
        if len(lines) > 1:
            lines.insert(0, f"{file} has {len(lines)} errors:")
        super().__init__("\n".join(lines), hint=f"fix {file} and run podtui again")
        self.issues = tuple(issues)


# --- finding, loading and saving -------------------------------------------


def user_config_path() -> Path:
    """Where the per-user config file lives on this platform."""
    return Path(platformdirs.user_config_dir("podtui")) / CONFIG_FILE_NAME


def find_config_path(explicit: Path | None = None) -> Path:
    """The config file to use: --config, $PODTUI_CONFIG, ./config.toml, user dir.

    An explicit choice (the option or the variable) that does not exist is an
    error rather than a reason to look elsewhere: the user asked for it.
    """
    if explicit is not None:
        return _existing(explicit, "--config")
    from_env = os.environ.get(CONFIG_ENV_VAR)
    if from_env:
        return _existing(Path(from_env), CONFIG_ENV_VAR)

    candidates = [Path(CONFIG_FILE_NAME), user_config_path()]
    for candidate in candidates:
        if candidate.is_file():
            log.debug("using config file %s", candidate)
            return candidate
    looked = ", ".join(str(candidate) for candidate in candidates)
    raise ConfigError(
        f"no config file found (looked in {looked}; {CONFIG_ENV_VAR} is not set)",
        hint=(
            f"copy the config.toml shipped with podtui to {candidates[1]} "
            f"or to this directory, or pass --config PATH"
        ),
    )


def _existing(path: Path, source: str) -> Path:
    """`path` if it is a file, else a ConfigError naming where it came from."""
    path = path.expanduser()
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ConfigError(
            f"config file {path} (from {source}) {what}",
            hint="point it at a config.toml, e.g. a copy of the shipped one",
        )
    return path


def load_config(path: Path) -> Config:
    """Read and validate the config file at `path`."""
    try:
        # newline="" keeps CRLF line ends, so saving changes nothing unasked.
        with open(path, encoding="utf-8", newline="") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ConfigError(f"cannot read config file {path}: {reason}") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    """Validate config `text`; `path` is where it came from, for messages and
    for resolving the project's repo."""
    document = _parse_toml(text, path)
    validator = _Validator(str(path), KeyLocator(text))
    config = validator.config(document.unwrap(), path, document)
    if validator.issues:
        raise ConfigValidationError(str(path), validator.issues)
    assert config is not None
    return config


def save_config(config: Config, path: Path | None = None) -> None:
    """Write `config.document` to `path` (default: where it was loaded from).

    The file is replaced atomically, so a crash never leaves half a config.
    """
    target = path or config.path
    text = tomlkit.dumps(config.document)
    temporary: str | None = None
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        if target.exists():
            os.chmod(temporary, target.stat().st_mode & 0o7777)
        os.replace(temporary, target)
    except OSError as error:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise ConfigError(
            f"cannot save config file {target}: {error.strerror or error}"
        ) from None
    log.info("saved config file %s", target)


def _parse_toml(text: str, path: Path) -> tomlkit.TOMLDocument:
    """Parse TOML, turning tomlkit's syntax error into a plain ConfigError."""
    try:
        return tomlkit.parse(text)
    except ParseError as error:
        raise ConfigError(
            _syntax_message(str(path), text, error),
            hint="check quotes, brackets and `key = value` syntax on that line",
        ) from None
    except TOMLKitError as error:
        # Some mistakes (a key repeated in an inline table) carry no position.
        raise ConfigError(f"{path}: invalid TOML: {error}") from None


def _syntax_message(file: str, text: str, error: ParseError) -> str:
    """`file:line: invalid TOML (column c): what`, then the line and a caret."""
    what = re.sub(r" at line \d+ col \d+$", "", str(error))
    if "\\u000a" in what:
        what = "a string is not closed before the end of the line"
    for character, meaning in (("'\\x00'", "end of file"), ("'\\n'", "end of line")):
        what = what.replace(f"character: {character}", meaning)
        what = what.replace(character, meaning)
    what = what[:1].lower() + what[1:]
    lines = text.splitlines()
    message = f"{file}:{error.line}: invalid TOML (column {error.col}): {what}"
    if 1 <= error.line <= len(lines):
        source = lines[error.line - 1]
        message += f"\n    {source}\n    {' ' * error.col}^"
    return message


# --- locating keys in the source text --------------------------------------

_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED_KEY = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_TABLE_RE = re.compile(rf"^\s*\[\s*({_DOTTED_KEY})\s*\]")
_ARRAY_TABLE_RE = re.compile(rf"^\s*\[\[\s*({_DOTTED_KEY})\s*\]\]")
_ASSIGNMENT_RE = re.compile(rf"^\s*({_DOTTED_KEY})\s*=")
_KEY_PART_RE = re.compile(_KEY_PART)


class KeyLocator:
    """Finds the line on which a key is defined in TOML source text.

    tomlkit keeps no line numbers, so this scans the text once, following
    table headers (`[a.b]`, and `[[a.b]]` counted per array) and `key =`
    lines. A key it cannot see (inside an inline table, or missing) falls
    back to the line of the nearest enclosing table or key.
    """

    def __init__(self, text: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        self._array_index: dict[KeyPath, int] = {}
        self._scan(text)

    def line_of(self, path: KeyPath) -> int | None:
        """The 1-based line of `path` or of its nearest located ancestor."""
        for end in range(len(path), 0, -1):
            line = self._lines.get(path[:end])
            if line is not None:
                return line
        return None

    def _scan(self, text: str) -> None:
        table: KeyPath = ()
        in_multiline = False
        for number, line in enumerate(text.splitlines(), start=1):
            if in_multiline:
                in_multiline = _toggles_multiline(line, in_multiline)
                continue
            if match := _ARRAY_TABLE_RE.match(line):
                table = self._array_header(_split_key(match.group(1)))
                self._record(table, number)
            elif match := _TABLE_RE.match(line):
                table = self._resolve(_split_key(match.group(1)))
                self._record(table, number)
            elif match := _ASSIGNMENT_RE.match(line):
                self._record(table + _split_key(match.group(1)), number)
                in_multiline = _toggles_multiline(line[match.end() :], False)

    def _array_header(self, parts: KeyPath) -> KeyPath:
        """The path of the new element that a `[[parts]]` header starts."""
        array = self._resolve(parts[:-1]) + parts[-1:]
        index = self._array_index.get(array, -1) + 1
        self._array_index[array] = index
        return array + (index,)

    def _resolve(self, parts: KeyPath) -> KeyPath:
        """Insert the current element index after every array-of-tables prefix."""
        resolved: KeyPath = ()
        for part in parts:
            resolved += (part,)
            if resolved in self._array_index:
                resolved += (self._array_index[resolved],)
        return resolved

    def _record(self, path: KeyPath, number: int) -> None:
        for end in range(1, len(path) + 1):
            self._lines.setdefault(path[:end], number)


def _split_key(dotted: str) -> KeyPath:
    """`a."b.c".d` -> ("a", "b.c", "d")."""
    parts = []
    for part in _KEY_PART_RE.findall(dotted):
        if part[0] == '"':
            part = part[1:-1].encode().decode("unicode_escape")
        elif part[0] == "'":
            part = part[1:-1]
        parts.append(part)
    return tuple(parts)


def _toggles_multiline(text: str, inside: bool) -> bool:
    """Whether a multi-line string is open after `text`, given it was before."""
    for quote in ('"""', "'''"):
        if text.count(quote) % 2:
            inside = not inside
    return inside


def format_key(path: KeyPath) -> str:
    """The dotted form of a key path: `environments.dev.pods[1].port`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        name = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else f'"{part}"'
        text += f".{name}" if text else name
    return text


# --- validation --------------------------------------------------------------

_MISSING = object()

DEFAULT_LOG_LINES = 20_000
"""Lines a log pane keeps when [ui] log_lines is not set."""

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "table": "a table",
    "strings": "an array of strings",
    "tables": "an array of tables",
}

_BUILTIN_SETTINGS: dict[str, object] = {
    "protected": False,
    "app_dir": "app/src",
    "workspace_dir": "workspace",
    "log_file": "logs/app.log",
    "python": "python3",
    "start_command": (
        "{python} -m voice_pipeline --host 127.0.0.1 --port {port} "
        "--log-file {log_file}"
    ),
    "port": 8000,
    "health_path": "/health",
    "deploy_mode": "git",
    "max_removal": 0.5,
    "idle_minutes": 60.0,
    "http_proxy": False,
    "restart_on_save": "code",
    "preload": (),
}

_SETTING_TYPES = {
    "provider": "string",
    "protected": "boolean",
    "app_dir": "string",
    "workspace_dir": "string",
    "log_file": "string",
    "python": "string",
    "start_command": "string",
    "port": "integer",
    "health_path": "string",
    "deploy_mode": "string",
    "max_removal": "number",
    "timeouts": "table",
    "idle_minutes": "number",
    "http_proxy": "boolean",
    "ssh_user": "string",
    "ssh_key": "string",
    "known_hosts": "string",
    "restart_on_save": "string",
    "preload": "strings",
}
_ENVIRONMENT_KEYS = (*_SETTING_TYPES, "pods", "pod_name_pattern")
_TIMEOUT_KEYS = ("connect", "command", "health", "stop", "start")
_POD_TYPES = {
    "name": "string",
    "host": "string",
    "port": "integer",
    "user": "string",
    "key": "string",
    "known_hosts": "string",
    "pod_id": "string",
}
_POD_KEYS_NOT_USED = {
    "local": ("host", "port", "user", "key", "known_hosts", "pod_id"),
    "ssh": ("pod_id",),
    "runpod": ("host", "port"),
}


def _describe(value: object) -> str:
    """How a TOML value reads in a message: `the string '22'`."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        kind = "integer" if isinstance(value, int) else "float"
        return f"the {kind} {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a date or time ({value})"


def _has_type(value: object, kind: str) -> bool:
    """Whether `value` is of `kind`; a bool is no number, an int is a number."""
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    checks: dict[str, bool] = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int),
        "number": isinstance(value, int | float),
        "boolean": isinstance(value, bool),
        "table": isinstance(value, dict),
        "strings": isinstance(value, list)
        and all(isinstance(item, str) for item in value),
        "tables": isinstance(value, list)
        and all(isinstance(item, dict) for item in value),
    }
    return checks[kind]


def _suggestion(word: str, choices: Sequence[str]) -> str:
    """`; did you mean 'x'?` for the closest choice, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _inside_repo(value: str) -> bool:
    """Whether `value` is a relative path that stays inside the repository."""
    path = PurePosixPath(value)
    return bool(value.strip()) and not path.is_absolute() and ".." not in path.parts


class _Validator:
    """Checks the unwrapped document and builds a Config, collecting issues."""

    def __init__(self, file: str, locator: KeyLocator) -> None:
        self.file = file
        self.locator = locator
        self.issues: list[ConfigIssue] = []
        self._pod_names: dict[str, KeyPath] = {}
        self._provider_in_defaults = False

    def error(self, path: KeyPath, message: str) -> None:
        """Record one issue at `path`, with the line it is on."""
        line = self.locator.line_of(path)
        self.issues.append(ConfigIssue(self.file, line, format_key(path), message))

    def known_keys(
        self, table: Mapping[str, object], path: KeyPath, allowed: Sequence[str]
    ) -> None:
        """Report every key of `table` not in `allowed`, with the closest one."""
        for key in table:
            if key not in allowed:
                hint = _suggestion(key, allowed) or (
                    f"; valid keys here: {', '.join(allowed)}"
                )
                self.error(path + (key,), f"unknown key{hint}")

    def value(
        self,
        table: Mapping[str, object],
        path: KeyPath,
        key: str,
        kind: str,
        *,
        required: bool = False,
    ) -> object:
        """`table[key]` if present and of `kind`, else `_MISSING` (reported)."""
        value = table.get(key, _MISSING)
        if value is _MISSING:
            if required:
                self.error(path + (key,), f"missing; expected {_TYPE_NAMES[kind]}")
            return _MISSING
        if not _has_type(value, kind):
            self.error(
                path + (key,),
                f"expected {_TYPE_NAMES[kind]}, got {_describe(value)}",
            )
            return _MISSING
        return value

    def table(self, data: Mapping[str, object], key: str) -> dict[str, object]:
        """The top-level table `key`, or an empty one (reported if not a table)."""
        value = self.value(data, (), key, "table")
        return value if isinstance(value, dict) else {}

    # -- the file ------------------------------------------------------------

    def config(
        self, data: dict[str, object], path: Path, document: tomlkit.TOMLDocument
    ) -> Config | None:
        """The Config, or None when any issue was found."""
        self.known_keys(data, (), ("project", "ui", "defaults", "environments"))
        project = self.project(data, path)
        ui = self.table(data, "ui")
        self.known_keys(ui, ("ui",), ("refresh_interval", "log_lines"))
        refresh_interval = self.refresh_interval(ui)
        log_lines = self.log_lines(ui)
        defaults = self.defaults(self.table(data, "defaults"))
        environments = self.environments(data, defaults)
        if project is None or self.issues:
            return None
        return Config(
            path=path.resolve(),
            project=project,
            environments=environments,
            refresh_interval=refresh_interval,
            log_lines=log_lines,
            document=document,
        )

    def project(self, data: dict[str, object], path: Path) -> ProjectConfig | None:
        """[project]: the repo, resolved next to the config file at `path`."""
        if "project" not in data:
            self.error(
                ("project",), "missing table [project]; expected name and deploy"
            )
            return None
        table = self.table(data, "project")
        where: KeyPath = ("project",)
        self.known_keys(table, where, ("name", "repo", "deploy", "requirements"))
        name = self.value(table, where, "name", "string", required=True)
        repo = self.value(table, where, "repo", "string")
        deploy = self.value(table, where, "deploy", "strings", required=True)
        requirements = self.value(table, where, "requirements", "string")
        if isinstance(deploy, list):
            self.deploy_paths(deploy, where + ("deploy",))
        if isinstance(requirements, str) and not _inside_repo(requirements):
            self.error(
                where + ("requirements",),
                "expected a path inside the repository, relative to it",
            )
        if not isinstance(name, str) or not isinstance(deploy, list):
            return None
        repo_path = Path(repo if isinstance(repo, str) else ".").expanduser()
        return ProjectConfig(
            name=name,
            repo=(path.resolve().parent / repo_path).resolve(),
            deploy=tuple(deploy),
            requirements=(
                requirements if isinstance(requirements, str) else "requirements.txt"
            ),
        )

    def deploy_paths(self, deploy: list[str], path: KeyPath) -> None:
        """Deployed paths must stay inside the repo: they are copied to pods."""
        if not deploy:
            self.error(path, "expected at least one path of the repository to deploy")
        for index, item in enumerate(deploy):
            if not _inside_repo(item):
                self.error(
                    path,
                    f"item {index} ({item!r}): expected a path inside the "
                    "repository, relative to it",
                )

    def refresh_interval(self, table: dict[str, object]) -> float:
        """[ui] refresh_interval, in seconds."""
        where: KeyPath = ("ui",)
        value = self.value(table, where, "refresh_interval", "number")
        if value is _MISSING:
            return 5.0
        assert isinstance(value, int | float)
        if value <= 0:
            self.error(
                where + ("refresh_interval",), "expected a positive number of seconds"
            )
        return float(value)

    def log_lines(self, table: dict[str, object]) -> int:
        """[ui] log_lines: how many lines a log pane keeps (bounds its memory)."""
        value = self.value(table, ("ui",), "log_lines", "integer")
        if value is _MISSING:
            return DEFAULT_LOG_LINES
        assert isinstance(value, int)
        if value <= 0:
            self.error(("ui", "log_lines"), "expected a positive number of lines")
        return value

    # -- settings shared by [defaults] and each environment ------------------

    def defaults(self, table: dict[str, object]) -> dict[str, object]:
        """The valid settings of [defaults], which every environment inherits."""
        self.known_keys(table, ("defaults",), tuple(_SETTING_TYPES))
        self._provider_in_defaults = "provider" in table
        return self.settings(table, ("defaults",))

    def settings(self, table: dict[str, object], path: KeyPath) -> dict[str, object]:
        """The valid settings of `table`; timeouts as a dict of the valid ones."""
        found: dict[str, object] = {}
        for key, kind in _SETTING_TYPES.items():
            value = self.value(table, path, key, kind)
            if value is _MISSING:
                continue
            if key == "timeouts":
                assert isinstance(value, dict)
                found[key] = self.timeouts(value, path + (key,))
            elif self.setting_ok(key, value, path + (key,)):
                if key in ("ssh_key", "known_hosts"):
                    value = os.path.expanduser(str(value))
                found[key] = value
        return found

    def setting_ok(self, key: str, value: object, path: KeyPath) -> bool:
        """Check one setting's value beyond its type; report and say if valid."""
        problem = _setting_problem(key, value)
        if problem:
            self.error(path, problem)
        return not problem

    def timeouts(self, table: dict[str, object], path: KeyPath) -> dict[str, float]:
        """The valid timeouts of `table`, each a positive number of seconds."""
        self.known_keys(table, path, _TIMEOUT_KEYS)
        found = {}
        for key in _TIMEOUT_KEYS:
            value = self.value(table, path, key, "number")
            if value is _MISSING:
                continue
            assert isinstance(value, int | float)
            if value <= 0:
                self.error(
                    path + (key,),
                    f"expected a positive number of seconds, got {value}",
                )
                continue
            found[key] = float(value)
        return found

    # -- environments and pods -----------------------------------------------

    def environments(
        self, data: dict[str, object], defaults: dict[str, object]
    ) -> tuple[EnvironmentConfig, ...]:
        """Every valid [environments.NAME] table, in file order."""
        if "environments" not in data:
            self.error(
                ("environments",),
                "missing; expected at least one [environments.NAME] table",
            )
            return ()
        table = self.table(data, "environments")
        if not table and isinstance(data["environments"], dict):
            self.error(("environments",), "expected at least one environment")
        found = []
        for name, value in table.items():
            environment = self.environment(name, value, defaults)
            if environment is not None:
                found.append(environment)
        return tuple(found)

    def environment(
        self, name: str, value: object, defaults: dict[str, object]
    ) -> EnvironmentConfig | None:
        """One environment, its settings resolved against `defaults`."""
        path: KeyPath = ("environments", name)
        if not isinstance(value, dict):
            self.error(path, f"expected a table, got {_describe(value)}")
            return None
        if not POD_NAME_RE.fullmatch(name):
            self.error(
                path,
                "environment names may hold only letters, digits, '.', '_' and "
                "'-', starting with a letter or digit",
            )
        self.known_keys(value, path, _ENVIRONMENT_KEYS)
        settings = self.merged(defaults, self.settings(value, path))
        provider = settings.get("provider")
        if "provider" not in value and not self._provider_in_defaults:
            self.error(
                path + ("provider",),
                f"missing; expected one of {', '.join(PROVIDERS)} "
                "(here or in [defaults])",
            )
        pattern = self.pod_name_pattern(value, path, provider)
        pods = self.pods(value, path, provider)
        if provider is None:
            return None
        return EnvironmentConfig(
            name=name,
            pods=pods,
            pod_name_pattern=pattern,
            **settings,  # type: ignore[arg-type]
        )

    def merged(
        self, defaults: dict[str, object], own: dict[str, object]
    ) -> dict[str, object]:
        """Built-in settings, overridden by [defaults], overridden by `own`."""
        settings = {**_BUILTIN_SETTINGS, **defaults, **own}
        timeouts: dict[str, float] = {
            **defaults.get("timeouts", {}),  # type: ignore[dict-item]
            **own.get("timeouts", {}),  # type: ignore[dict-item]
        }
        settings["timeouts"] = Timeouts(**timeouts)
        settings["preload"] = tuple(settings.get("preload", ()))  # type: ignore[arg-type]
        return settings

    def pod_name_pattern(
        self, table: dict[str, object], path: KeyPath, provider: object
    ) -> str | None:
        """The runpod name pattern, if set and a valid regular expression."""
        value = self.value(table, path, "pod_name_pattern", "string")
        if not isinstance(value, str):
            return None
        where = path + ("pod_name_pattern",)
        if provider is not None and provider != "runpod":
            self.error(where, "only the runpod provider finds pods by name pattern")
        try:
            re.compile(value)
        except re.error as error:
            self.error(where, f"expected a regular expression: {error}")
            return None
        return value

    def pods(
        self,
        table: dict[str, object],
        path: KeyPath,
        provider: object,
    ) -> tuple[PodConfig, ...]:
        """The valid pods of an environment; an environment needs some."""
        items = self.value(table, path, "pods", "tables")
        if items is _MISSING or not items:
            if "pods" in table and items is _MISSING:
                return ()
            if "pod_name_pattern" not in table:
                self.error(
                    path + ("pods",),
                    f"environment has no pods; add a [[{format_key(path)}.pods]] "
                    "table with a name"
                    + (" or set pod_name_pattern" if provider == "runpod" else ""),
                )
            return ()
        assert isinstance(items, list)
        pods = []
        for index, item in enumerate(items):
            pod = self.pod(item, path + ("pods", index), provider)
            if pod is not None:
                pods.append(pod)
        return tuple(pods)

    def pod(
        self, table: dict[str, object], path: KeyPath, provider: object
    ) -> PodConfig | None:
        """One [[...pods]] table, checked against its provider."""
        self.known_keys(table, path, tuple(_POD_TYPES))
        values = {
            key: self.value(table, path, key, kind, required=key == "name")
            for key, kind in _POD_TYPES.items()
        }
        for key, value in values.items():
            problem = _pod_problem(key, value, provider)
            if problem:
                self.error(path + (key,), problem)
        self.provider_keys(table, path, provider)

        name = values["name"]
        if not isinstance(name, str):
            return None
        self.unique_pod_name(name, path)
        found = {key: v for key, v in values.items() if v is not _MISSING}
        for path_key in ("key", "known_hosts"):
            value = found.get(path_key)
            if isinstance(value, str):
                found[path_key] = os.path.expanduser(value)
        return PodConfig(**found)  # type: ignore[arg-type]

    def provider_keys(
        self, table: dict[str, object], path: KeyPath, provider: object
    ) -> None:
        """Report keys that the pod's provider needs and the pod lacks."""
        if provider == "ssh" and "host" not in table:
            self.error(
                path + ("host",), "missing; ssh pods need a host (name or alias)"
            )
        if provider == "runpod" and "pod_id" not in table:
            self.error(path + ("pod_id",), "missing; runpod pods need their pod_id")

    def unique_pod_name(self, name: str, path: KeyPath) -> None:
        """Pod names identify pods everywhere, so they are unique overall."""
        first = self._pod_names.setdefault(name, path)
        if first != path:
            self.error(
                path + ("name",),
                f"pod name {name!r} is already used by {format_key(first)}; "
                "pod names must be unique across environments",
            )


def _setting_problem(key: str, value: object) -> str | None:
    """What is wrong with a setting's (well-typed) value, if anything."""
    if key == "provider" and value not in PROVIDERS:
        return (
            f"unknown provider {value!r}; expected one of {', '.join(PROVIDERS)}"
            + _suggestion(str(value), PROVIDERS)
        )
    if key == "deploy_mode" and value not in DEPLOY_MODES:
        return (
            f"unknown deploy mode {value!r}; expected one of "
            f"{', '.join(DEPLOY_MODES)}" + _suggestion(str(value), DEPLOY_MODES)
        )
    if key == "restart_on_save" and value not in RESTART_ON_SAVE:
        return (
            f"expected one of {', '.join(RESTART_ON_SAVE)}, got {value!r}"
            + _suggestion(str(value), RESTART_ON_SAVE)
        )
    if key == "preload":
        bad = [m for m in value if not MODULE_NAME_RE.fullmatch(m)]  # type: ignore[attr-defined]
        if bad:
            return f"expected Python module names, got {', '.join(map(repr, bad))}"
    if key == "port" and not 1 <= value <= 65535:  # type: ignore[operator]
        return f"expected a port number from 1 to 65535, got {value}"
    if key == "max_removal" and not 0 <= value <= 1:  # type: ignore[operator]
        return f"expected a share from 0 to 1 (0.5 is half the app), got {value}"
    if key == "health_path" and not str(value).startswith("/"):
        return f"expected a URL path starting with '/', got {value!r}"
    if key == "start_command":
        return _start_command_problem(str(value))
    if key == "idle_minutes" and value <= 0:  # type: ignore[operator]
        return f"expected a positive number of minutes, got {value}"
    if isinstance(value, str) and not value.strip():
        return "expected a non-empty string"
    return None


def _start_command_problem(command: str) -> str | None:
    """Unknown or malformed `{placeholders}` in a start command."""
    if not command.strip():
        return "expected a non-empty command"
    try:
        fields = [
            name
            for _, name, _, _ in string.Formatter().parse(command)
            if name is not None
        ]
    except ValueError as error:
        return f"invalid placeholder syntax ({error}); write {{{{ and }}}} for braces"
    for name in fields:
        if name not in START_COMMAND_PLACEHOLDERS:
            return (
                f"unknown placeholder {{{name}}}; expected one of "
                + ", ".join(f"{{{known}}}" for known in START_COMMAND_PLACEHOLDERS)
                + _suggestion(name, START_COMMAND_PLACEHOLDERS)
            )
    return None


def _pod_problem(key: str, value: object, provider: object) -> str | None:
    """What is wrong with a pod's (well-typed) value for its provider."""
    if value is _MISSING:
        return None
    if key in _POD_KEYS_NOT_USED.get(str(provider), ()):
        return f"not used by the {provider} provider; remove it"
    if key == "name" and not POD_NAME_RE.fullmatch(str(value)):
        return (
            f"invalid pod name {value!r}; expected letters, digits, '.', '_' and "
            "'-', starting with a letter or digit"
        )
    if key == "pod_id" and not RUNPOD_ID_RE.fullmatch(str(value)):
        return f"invalid RunPod pod id {value!r}; expected lowercase letters and digits"
    if key == "preload":
        bad = [m for m in value if not MODULE_NAME_RE.fullmatch(m)]  # type: ignore[attr-defined]
        if bad:
            return f"expected Python module names, got {', '.join(map(repr, bad))}"
    if key == "port" and not 1 <= value <= 65535:  # type: ignore[operator]
        return f"expected a port number from 1 to 65535, got {value}"
    if isinstance(value, str) and not value.strip():
        return "expected a non-empty string"
    return None
