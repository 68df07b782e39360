"""Tests of config.toml loading, validation, saving and lookup."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from podtui.config import (
    Config,
    ConfigValidationError,
    KeyLocator,
    Timeouts,
    find_config_path,
    load_config,
    parse_config,
    save_config,
    user_config_path,
)
from podtui.errors import ConfigError

SHIPPED = Path(__file__).resolve().parent.parent / "config.toml"

MINIMAL = """\
[project]
name = "demo"
deploy = ["src"]

[environments.dev]
provider = "local"

[[environments.dev.pods]]
name = "dev-1"
"""


def write(directory: Path, text: str, name: str = "config.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def parse(text: str) -> Config:
    return parse_config(textwrap.dedent(text), Path("config.toml"))


def errors_of(text: str) -> list[str]:
    """The messages, one per mistake, that parsing `text` reports."""
    with pytest.raises(ConfigValidationError) as caught:
        parse(text)
    return [str(issue) for issue in caught.value.issues]


def only_error(text: str) -> str:
    (message,) = errors_of(text)
    return message


# --- the shipped config ------------------------------------------------------


def test_shipped_config_has_four_pods_in_three_environments() -> None:
    config = load_config(SHIPPED)

    assert [env.name for env in config.environments] == [
        "dev",
        "staging",
        "production",
    ]
    assert [pod.name for _, pod in config.pods()] == [
        "dev-1",
        "dev-2",
        "staging-1",
        "prod-1",
    ]


def test_shipped_config_protects_staging_and_production_only() -> None:
    config = load_config(SHIPPED)

    protected = {env.name: env.protected for env in config.environments}

    assert protected == {"dev": False, "staging": True, "production": True}


def test_shipped_config_uses_local_pods_everywhere() -> None:
    config = load_config(SHIPPED)

    assert {env.provider for env in config.environments} == {"local"}


def test_project_repo_is_resolved_relative_to_the_config_file() -> None:
    config = load_config(SHIPPED)

    assert config.project.repo == SHIPPED.parent
    assert config.project.deploy == ("voice_pipeline",)


def test_commented_examples_in_shipped_config_are_valid(tmp_path: Path) -> None:
    """Uncommenting the ssh and runpod examples must give a valid file."""
    text = SHIPPED.read_text(encoding="utf-8")
    settings = re.compile(r"# (\[|[a-z_]+ = )")
    lines = [line[2:] if settings.match(line) else line for line in text.splitlines()]
    path = write(tmp_path, "\n".join(lines) + "\n")

    config = load_config(path)

    assert config.environment("lab").pods[0].host == "gpu1.example.internal"
    assert config.environment("cloud").pod_name_pattern == "^voice-prod-"


# --- defaults and lookups ----------------------------------------------------


def test_environment_inherits_defaults_and_overrides_them() -> None:
    config = parse(
        MINIMAL
        + """
        [defaults]
        app_dir = "/srv/app"
        port = 9000
        [defaults.timeouts]
        connect = 3

        [environments.prod]
        provider = "local"
        port = 9100
        [environments.prod.timeouts]
        stop = 2.5
        [[environments.prod.pods]]
        name = "prod-1"
        """
    )

    dev, prod = config.environment("dev"), config.environment("prod")

    assert (dev.app_dir, dev.port) == ("/srv/app", 9000)
    assert (prod.app_dir, prod.port) == ("/srv/app", 9100)
    assert prod.timeouts == Timeouts(connect=3.0, stop=2.5)


def test_settings_missing_everywhere_take_built_in_values() -> None:
    dev = parse(MINIMAL).environment("dev")

    assert dev.timeouts == Timeouts()
    assert (dev.health_path, dev.deploy_mode, dev.protected) == (
        "/health",
        "git",
        False,
    )


def test_an_integer_is_accepted_where_a_number_of_seconds_is_expected() -> None:
    config = parse(MINIMAL + "[ui]\nrefresh_interval = 2\n")

    assert config.refresh_interval == 2.0
    assert isinstance(config.refresh_interval, float)


def test_log_lines_sets_how_many_lines_a_log_pane_keeps() -> None:
    assert parse(MINIMAL + "[ui]\nlog_lines = 5000\n").log_lines == 5000


def test_log_lines_must_be_a_positive_integer() -> None:
    message = only_error(MINIMAL + "[ui]\nlog_lines = 0\n")

    assert message == (
        "config.toml:11: ui.log_lines: expected a positive number of lines"
    )


def test_unknown_environment_lists_the_known_ones() -> None:
    config = load_config(SHIPPED)

    with pytest.raises(ConfigError) as caught:
        config.environment("stagin")

    assert "did you mean 'staging'?" in str(caught.value)
    assert "dev, staging, production" in str(caught.value)


def test_find_pod_returns_the_pod_and_its_environment() -> None:
    environment, pod = load_config(SHIPPED).find_pod("staging-1")

    assert (environment.name, pod.name) == ("staging", "staging-1")


def test_unknown_pod_suggests_the_closest_name() -> None:
    with pytest.raises(ConfigError, match="no pod named 'dev1'.*'dev-1'"):
        load_config(SHIPPED).find_pod("dev1")


def test_ssh_key_path_has_home_expanded() -> None:
    config = parse(
        MINIMAL.replace('"local"', '"ssh"')
        + 'host = "gpu1"\nkey = "~/.ssh/id_ed25519"\n'
    )

    assert not config.find_pod("dev-1")[1].key.startswith("~")  # type: ignore[union-attr]


# --- mistakes: each names file, line, key, expectation -----------------------


def test_unknown_key_suggests_the_closest_valid_key() -> None:
    message = only_error(
        MINIMAL.replace('provider = "local"', 'provider = "local"\nprotcted = true')
    )

    assert message == (
        "config.toml:7: environments.dev.protcted: unknown key; "
        "did you mean 'protected'?"
    )


def test_unknown_key_without_a_close_match_lists_the_valid_keys() -> None:
    message = only_error(MINIMAL + "colour = 3\n")

    assert message.startswith("config.toml:10: environments.dev.pods[0].colour: ")
    assert (
        "valid keys here: name, host, port, user, key, known_hosts, pod_id" in message
    )


def test_unknown_top_level_table_is_reported() -> None:
    message = only_error(MINIMAL + "[enviroments.x]\n")

    assert message == (
        "config.toml:10: enviroments: unknown key; did you mean 'environments'?"
    )


def test_string_where_an_integer_is_expected_is_reported() -> None:
    message = only_error(
        MINIMAL.replace('provider = "local"', 'provider = "local"\nport = "8000"')
    )

    assert message == (
        "config.toml:7: environments.dev.port: expected an integer, "
        "got the string '8000'"
    )


def test_boolean_is_not_an_integer() -> None:
    message = only_error(MINIMAL + "[defaults]\nport = true\n")

    assert message == (
        "config.toml:11: defaults.port: expected an integer, got the boolean true"
    )


def test_float_is_not_an_integer() -> None:
    message = only_error(MINIMAL + "[defaults]\nport = 80.5\n")

    assert "defaults.port: expected an integer, got the float 80.5" in message


def test_missing_pod_name_points_at_the_pod_table() -> None:
    text = MINIMAL + "\n[[environments.dev.pods]]\nhost = 'x'\n"

    messages = errors_of(text)

    assert (
        "config.toml:11: environments.dev.pods[1].name: missing; expected a string"
        in messages
    )


def test_ssh_pod_without_host_is_reported() -> None:
    message = only_error(MINIMAL.replace('"local"', '"ssh"'))

    assert message == (
        "config.toml:8: environments.dev.pods[0].host: missing; "
        "ssh pods need a host (name or alias)"
    )


def test_unknown_provider_suggests_the_closest_one() -> None:
    message = only_error(MINIMAL.replace('"local"', '"lcoal"'))

    assert message == (
        "config.toml:6: environments.dev.provider: unknown provider 'lcoal'; "
        "expected one of local, runpod, ssh; did you mean 'local'?"
    )


def test_missing_provider_is_reported() -> None:
    message = only_error(MINIMAL.replace('provider = "local"\n', ""))

    assert message.startswith("config.toml:5: environments.dev.provider: missing;")
    assert "local, runpod, ssh" in message


def test_provider_may_come_from_defaults() -> None:
    text = (
        MINIMAL.replace('provider = "local"\n', "") + '[defaults]\nprovider = "local"\n'
    )

    assert parse(text).environment("dev").provider == "local"


def test_port_out_of_range_is_reported() -> None:
    text = MINIMAL.replace('"local"', '"ssh"') + 'host = "h"\nport = 70000\n'

    message = only_error(text)

    assert message == (
        "config.toml:11: environments.dev.pods[0].port: "
        "expected a port number from 1 to 65535, got 70000"
    )


def test_negative_timeout_is_reported() -> None:
    message = only_error(MINIMAL + "[defaults.timeouts]\nconnect = 1\nstop = -1\n")

    assert message == (
        "config.toml:12: defaults.timeouts.stop: "
        "expected a positive number of seconds, got -1"
    )


def test_duplicate_pod_names_across_environments_are_reported() -> None:
    text = MINIMAL + '[environments.prod]\nprovider = "local"\n'
    text += '[[environments.prod.pods]]\nname = "dev-1"\n'

    message = only_error(text)

    assert message.startswith("config.toml:13: environments.prod.pods[0].name: ")
    assert "'dev-1' is already used by environments.dev.pods[0]" in message


def test_pod_name_unsafe_for_paths_is_reported() -> None:
    message = only_error(MINIMAL.replace('"dev-1"', '"../dev 1"'))

    assert message.startswith("config.toml:9: environments.dev.pods[0].name: ")
    assert "invalid pod name '../dev 1'" in message


def test_runpod_pod_id_must_be_lowercase_letters_and_digits() -> None:
    text = MINIMAL.replace('"local"', '"runpod"') + 'pod_id = "abc; rm -rf"\n'

    message = only_error(text)

    assert message.startswith("config.toml:10: environments.dev.pods[0].pod_id: ")
    assert "expected lowercase letters and digits" in message


def test_runpod_pod_without_id_is_reported() -> None:
    message = only_error(MINIMAL.replace('"local"', '"runpod"'))

    assert "environments.dev.pods[0].pod_id: missing; runpod pods need" in message


def test_local_pod_with_a_host_is_reported() -> None:
    message = only_error(MINIMAL + 'host = "example"\n')

    assert message == (
        "config.toml:10: environments.dev.pods[0].host: "
        "not used by the local provider; remove it"
    )


def test_unknown_deploy_mode_suggests_the_closest_one() -> None:
    message = only_error(MINIMAL + '[defaults]\ndeploy_mode = "gti"\n')

    assert message == (
        "config.toml:11: defaults.deploy_mode: unknown deploy mode 'gti'; "
        "expected one of files, git, push; did you mean 'git'?"
    )


def test_environment_without_pods_or_pattern_is_reported() -> None:
    text = MINIMAL + '[environments.empty]\nprovider = "local"\n'

    message = only_error(text)

    assert message.startswith("config.toml:10: environments.empty.pods: ")
    assert "no pods" in message


def test_runpod_environment_may_find_pods_by_name_pattern() -> None:
    text = MINIMAL + '[environments.cloud]\nprovider = "runpod"\n'
    text += 'pod_name_pattern = "^voice-"\n'

    cloud = parse(text).environment("cloud")

    assert (cloud.pods, cloud.pod_name_pattern) == ((), "^voice-")


def test_invalid_name_pattern_is_reported() -> None:
    text = MINIMAL + '[environments.cloud]\nprovider = "runpod"\n'
    text += 'pod_name_pattern = "voice-("\n'

    message = only_error(text)

    assert message.startswith("config.toml:12: environments.cloud.pod_name_pattern: ")
    assert "expected a regular expression" in message


def test_unknown_start_command_placeholder_is_reported() -> None:
    text = MINIMAL + '[defaults]\nstart_command = "{pyhton} -m app --port {port}"\n'

    message = only_error(text)

    assert message.startswith("config.toml:11: defaults.start_command: ")
    assert "unknown placeholder {pyhton}" in message
    assert "did you mean 'python'?" in message


def test_start_command_with_a_lone_brace_is_reported() -> None:
    message = only_error(MINIMAL + '[defaults]\nstart_command = "run {port"\n')

    assert "defaults.start_command: invalid placeholder syntax" in message


def test_deploy_path_outside_the_repository_is_reported() -> None:
    message = only_error(MINIMAL.replace('["src"]', '["src", "../secrets"]'))

    assert message.startswith("config.toml:3: project.deploy: item 1 ('../secrets')")


def test_missing_project_table_is_reported() -> None:
    message = only_error(
        MINIMAL.replace('[project]\nname = "demo"\ndeploy = ["src"]\n', "")
    )

    assert (
        message
        == "config.toml: project: missing table [project]; expected name and deploy"
    )


def test_all_mistakes_are_reported_at_once_under_a_summary() -> None:
    text = MINIMAL.replace('"local"', '"lcoal"') + "prot = 1\n"

    with pytest.raises(ConfigValidationError) as caught:
        parse(text)

    lines = str(caught.value).splitlines()
    assert lines[0] == "config.toml has 2 errors:"
    assert lines[1].startswith("config.toml:6: environments.dev.provider:")
    assert lines[2].startswith("config.toml:10: environments.dev.pods[0].prot:")


def test_toml_syntax_error_names_line_and_column() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(MINIMAL + "port = \n")

    first, source, caret = caught.value.message.splitlines()
    assert first == "config.toml:10: invalid TOML (column 7): unexpected end of line"
    assert source == "    port = "
    assert caret == "           ^"


def test_unclosed_string_is_explained_plainly() -> None:
    with pytest.raises(ConfigError, match="a string is not closed"):
        parse(MINIMAL + 'host = "abc\n')


def test_key_repeated_in_an_inline_table_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r'config.toml: invalid TOML: Key "x"'):
        parse(MINIMAL + "[defaults]\ntimeouts = {x = 1, x = 2}\n")


def test_wrong_type_for_a_whole_table_is_reported() -> None:
    message = only_error("ui = 3\n" + MINIMAL)

    assert message == "config.toml:1: ui: expected a table, got the integer 3"


def test_saving_where_the_directory_is_missing_is_a_config_error(
    tmp_path: Path,
) -> None:
    config = load_config(write(tmp_path, MINIMAL))

    with pytest.raises(ConfigError, match="cannot save config file"):
        save_config(config, tmp_path / "missing" / "config.toml")


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe not utf-8")

    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(path)


# --- the key locator ---------------------------------------------------------


def test_locator_finds_keys_in_tables_and_arrays_of_tables() -> None:
    locator = KeyLocator(
        '[a]\nx = 1\n[[a.p]]\nn = "1"\n[[a.p]]\nn = "2"\n[a.p.sub]\ny = 3\n'
    )

    assert locator.line_of(("a", "x")) == 2
    assert locator.line_of(("a", "p", 1, "n")) == 6
    assert locator.line_of(("a", "p", 1, "sub", "y")) == 8


def test_locator_falls_back_to_the_enclosing_table() -> None:
    locator = KeyLocator("[a]\nx = 1\n[a.t]\ny = {z = 1}\n")

    assert locator.line_of(("a", "t", "missing")) == 3
    assert locator.line_of(("a", "t", "y", "z")) == 4
    assert locator.line_of(("nowhere",)) is None


def test_locator_understands_dotted_and_quoted_keys() -> None:
    locator = KeyLocator('[ "a b" . c ]\nd.e = 1\n"f.g" = 2\n')

    assert locator.line_of(("a b", "c", "d", "e")) == 2
    assert locator.line_of(("a b", "c", "f.g")) == 3


def test_locator_ignores_key_like_lines_inside_multiline_strings() -> None:
    locator = KeyLocator('[a]\ns = """\nx = 1\n"""\nx = 2\n')

    assert locator.line_of(("a", "x")) == 5


# --- saving ------------------------------------------------------------------


def test_saving_the_shipped_config_leaves_it_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(SHIPPED.read_bytes())

    save_config(load_config(path))

    assert path.read_bytes() == SHIPPED.read_bytes()


def test_saving_keeps_odd_comments_spacing_and_crlf(tmp_path: Path) -> None:
    original = (
        b"# top\r\n\r\n[project]   # trailing\r\nname='demo'\r\n"
        b'deploy = [ "src" ,\r\n   # inside\r\n  "lib" ]\r\n\r\n\r\n'
        b"[environments.dev]\t# tab\r\nprovider =    'local'\r\n"
        b'  [[environments.dev.pods]]\r\n  name = "dev-1"   # the first\r\n'
    )
    path = tmp_path / "config.toml"
    path.write_bytes(original)

    save_config(load_config(path))

    assert path.read_bytes() == original


def test_saving_writes_changes_made_to_the_document(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    config = load_config(path)

    config.document["environments"]["dev"]["protected"] = True  # type: ignore[index]
    save_config(config)

    assert load_config(path).environment("dev").protected is True
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]


def test_saving_to_another_path_leaves_the_original(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    copy = tmp_path / "copy.toml"

    save_config(load_config(path), copy)

    assert copy.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


# --- finding the file --------------------------------------------------------


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, no PODTUI_CONFIG, and a private user dir."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("PODTUI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return work


def test_explicit_path_comes_first(
    isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = write(tmp_path, MINIMAL, "explicit.toml")
    monkeypatch.setenv("PODTUI_CONFIG", str(write(tmp_path, MINIMAL, "env.toml")))
    write(isolated, MINIMAL)

    assert find_config_path(explicit) == explicit


def test_environment_variable_comes_before_the_working_directory(
    isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_env = write(tmp_path, MINIMAL, "env.toml")
    monkeypatch.setenv("PODTUI_CONFIG", str(from_env))
    write(isolated, MINIMAL)

    assert find_config_path() == from_env


def test_working_directory_comes_before_the_user_config_dir(isolated: Path) -> None:
    write(isolated, MINIMAL)
    user = user_config_path()
    user.parent.mkdir(parents=True)
    user.write_text(MINIMAL, encoding="utf-8")

    assert find_config_path().resolve() == isolated / "config.toml"


def test_user_config_dir_is_the_last_resort(isolated: Path, tmp_path: Path) -> None:
    user = user_config_path()
    user.parent.mkdir(parents=True)
    user.write_text(MINIMAL, encoding="utf-8")

    assert find_config_path() == user
    assert user.is_relative_to(tmp_path)


def test_no_config_anywhere_says_where_it_looked(isolated: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        find_config_path()

    assert "config.toml" in caught.value.message
    assert str(user_config_path()) in caught.value.message
    assert "copy the config.toml shipped with podtui" in (caught.value.hint or "")


def test_explicit_path_that_does_not_exist_is_an_error(
    isolated: Path,
) -> None:
    write(isolated, MINIMAL)

    with pytest.raises(ConfigError, match=r"missing\.toml \(from --config\) does not"):
        find_config_path(Path("missing.toml"))


def test_environment_variable_naming_no_file_is_an_error(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODTUI_CONFIG", str(isolated))

    with pytest.raises(ConfigError, match=r"from PODTUI_CONFIG\) is a directory"):
        find_config_path()


# --- runpod and idle settings --------------------------------------------------


def test_runpod_settings_take_built_in_values_when_missing() -> None:
    text = MINIMAL + '[environments.cloud]\nprovider = "runpod"\n'
    text += 'pod_name_pattern = "^voice-"\n'

    cloud = parse(text).environment("cloud")

    assert (cloud.idle_minutes, cloud.http_proxy) == (60.0, False)
    assert (cloud.ssh_user, cloud.ssh_key, cloud.known_hosts) == (None, None, None)


def test_runpod_ssh_settings_have_home_expanded() -> None:
    text = MINIMAL + '[environments.cloud]\nprovider = "runpod"\n'
    text += 'pod_name_pattern = "^voice-"\nssh_user = "ubuntu"\n'
    text += 'ssh_key = "~/.ssh/id_runpod"\nknown_hosts = "~/.ssh/runpod_hosts"\n'
    text += "http_proxy = true\nidle_minutes = 15\n"

    cloud = parse(text).environment("cloud")

    assert cloud.ssh_user == "ubuntu"
    assert cloud.ssh_key == str(Path("~/.ssh/id_runpod").expanduser())
    assert cloud.known_hosts == str(Path("~/.ssh/runpod_hosts").expanduser())
    assert (cloud.http_proxy, cloud.idle_minutes) == (True, 15)


def test_idle_minutes_must_be_positive() -> None:
    text = MINIMAL + "[defaults]\nidle_minutes = 0\n"

    message = only_error(text)

    assert "environments" not in message
    assert "defaults.idle_minutes: expected a positive number of minutes" in message


def test_max_removal_defaults_to_half_and_can_be_set_per_environment() -> None:
    config = parse(MINIMAL)
    dev = parse(
        MINIMAL.replace(
            'provider = "local"\n', 'provider = "local"\nmax_removal = 0.2\n'
        )
    ).environment("dev")

    assert config.environment("dev").max_removal == 0.5
    assert dev.max_removal == 0.2


def test_max_removal_outside_zero_to_one_is_reported() -> None:
    message = only_error(MINIMAL + "[defaults]\nmax_removal = 2\n")

    assert message == (
        "config.toml:11: defaults.max_removal: expected a share from 0 to 1 "
        "(0.5 is half the app), got 2"
    )


def test_the_start_timeout_of_the_health_gate_can_be_set() -> None:
    config = parse(MINIMAL + "[defaults.timeouts]\nstart = 90\n")

    assert config.environment("dev").timeouts.start == 90.0


def test_restart_on_save_defaults_to_code_and_can_be_set_per_environment() -> None:
    dev = parse(
        MINIMAL.replace(
            'provider = "local"\n', 'provider = "local"\nrestart_on_save = "never"\n'
        )
    ).environment("dev")

    assert parse(MINIMAL).environment("dev").restart_on_save == "code"
    assert dev.restart_on_save == "never"


def test_an_unknown_restart_on_save_choice_is_reported() -> None:
    message = only_error(MINIMAL + '[defaults]\nrestart_on_save = "sometimes"\n')

    assert "defaults.restart_on_save: expected one of code, always, never" in message
