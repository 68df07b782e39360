"""The RunPod provider through the real SDK against the fake API: mapping pods
to environments, the truth about their status, the API key and every fault."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from podtui.config import Config, parse_config
from podtui.errors import ProviderError
from podtui.model import PodStatus
from podtui.ops.fleet import Fleet
from podtui.providers.runpod import RunPodAPI, RunPodProvider, api_key
from tests.conftest import REPO_ROOT
from tests.runpod_provider.conftest import API_KEY, FakeRunPod

CONFIG = """\
[project]
name = "demo"
deploy = ["src"]

[environments.cloud]
provider = "runpod"
pod_name_pattern = "^voice-"
ssh_key = "/keys/runpod"
known_hosts = "/keys/known_hosts"

[[environments.cloud.pods]]
name = "main-gpu"
pod_id = "{listed_id}"
user = "ubuntu"
"""


def config(listed_id: str = "abc123", extra: str = "") -> Config:
    text = CONFIG.format(listed_id=listed_id) + textwrap.dedent(extra)
    return parse_config(text, Path("config.toml"))


async def cloud_pods(provider: RunPodProvider, cfg: Config) -> dict[str, object]:
    pods = await provider.pods(cfg.environment("cloud"))
    return {pod.name: pod for pod in pods}


async def test_pods_matching_the_name_pattern_come_with_gpu_cost_and_uptime(
    fake_runpod: FakeRunPod, provider: RunPodProvider
) -> None:
    pod_id = fake_runpod.add_pod("voice-a", 2201, gpu_count=2, cost=0.52)
    fake_runpod.add_pod("other", 2202)

    pods = await cloud_pods(provider, config())

    pod = pods["voice-a"]
    assert set(pods) == {"main-gpu", "voice-a"}
    assert (pod.id, pod.provider, pod.status) == (pod_id, "runpod", "running")
    assert (pod.gpu, pod.gpu_count, pod.cost_per_hour) == (
        "2x NVIDIA RTX A5000",
        2,
        0.52,
    )
    assert pod.uptime == 3600


async def test_a_pod_reaches_ssh_through_its_public_ip_and_port_22_mapping(
    fake_runpod: FakeRunPod, provider: RunPodProvider
) -> None:
    fake_runpod.add_pod("voice-a", 2201)

    pod = (await cloud_pods(provider, config()))["voice-a"]

    assert pod.ssh is not None
    assert (pod.ssh.host, pod.ssh.port, pod.ssh.user) == ("127.0.0.1", 2201, "root")
    assert pod.ssh.key_files == ("/keys/runpod",)
    assert pod.ssh.known_hosts == "/keys/known_hosts"


async def test_a_pod_listed_by_id_takes_its_name_and_user_from_the_config(
    fake_runpod: FakeRunPod, provider: RunPodProvider
) -> None:
    pod_id = fake_runpod.add_pod("whatever-runpod-calls-it", 2203)

    pods = await cloud_pods(provider, config(pod_id))

    assert pods["main-gpu"].id == pod_id
    assert pods["main-gpu"].ssh.user == "ubuntu"  # type: ignore[attr-defined]


async def test_a_listed_pod_missing_from_the_account_says_so(
    fake_runpod: FakeRunPod, provider: RunPodProvider
) -> None:
    pod = (await cloud_pods(provider, config("gone42")))["main-gpu"]

    assert pod.status == PodStatus.UNKNOWN
    assert pod.ssh is None
    assert "RunPod has no pod gone42" in str(pod.reason)


async def test_a_running_pod_without_runtime_shows_as_starting(
    fake_runpod: FakeRunPod, provider: RunPodProvider
) -> None:
    fake_runpod.add_pod("voice-new", 2204, polls=2)

    pod = (await cloud_pods(provider, config()))["voice-new"]

    assert pod.status == PodStatus.STARTING
    assert pod.ssh is None
    assert "container is not up yet" in str(pod.reason)


async def test_a_pod_without_a_public_ssh_port_says_what_to_change(
    fake_runpod: FakeRunPod, provider: RunPodProvider
) -> None:
    fake_runpod.add_pod("voice-proxied", None)

    pod = (await cloud_pods(provider, config()))["voice-proxied"]

    assert (pod.status, pod.ssh) == (PodStatus.RUNNING, None)
    assert "basic SSH proxy" in str(pod.reason)
    assert "no file transfer" in str(pod.reason)
    assert "Expose TCP Ports" in str(pod.reason)


async def test_a_stopped_pod_shows_as_stopped(
    fake_runpod: FakeRunPod, provider: RunPodProvider
) -> None:
    pod_id = fake_runpod.add_pod("voice-a", 2201)
    fake_runpod.pods[pod_id].desired = "EXITED"

    pod = (await cloud_pods(provider, config()))["voice-a"]

    assert (pod.status, pod.ssh) == (PodStatus.STOPPED, None)


async def test_http_proxy_setting_checks_health_at_runpods_proxy_url(
    fake_runpod: FakeRunPod, provider: RunPodProvider
) -> None:
    pod_id = fake_runpod.add_pod("voice-a", 2201)
    cfg = config(extra="")
    text = CONFIG.format(listed_id="abc123").replace(
        'pod_name_pattern = "^voice-"',
        'pod_name_pattern = "^voice-"\nhttp_proxy = true',
    )
    cfg = parse_config(text, Path("config.toml"))

    pod = (await cloud_pods(provider, cfg))["voice-a"]

    assert pod.http_url == f"https://{pod_id}-8000.proxy.runpod.net"


async def test_one_list_call_serves_every_runpod_environment_of_a_refresh(
    fake_runpod: FakeRunPod, provider: RunPodProvider
) -> None:
    fake_runpod.add_pod("voice-a", 2201)
    fake_runpod.add_pod("batch-a", 2202)
    cfg = config(
        extra="""
        [environments.batch]
        provider = "runpod"
        pod_name_pattern = "^batch-"
        """
    )
    fleet = Fleet(cfg, runpod=provider)

    first = await fleet.pods()
    second = await fleet.pods()

    assert [pod.name for pod in first] == ["main-gpu", "voice-a", "batch-a"]
    assert len(second) == 3
    assert fake_runpod.count("list") == 2


async def test_pod_ids_are_checked_before_they_reach_a_query(
    fake_runpod: FakeRunPod, api: RunPodAPI
) -> None:
    hostile = 'x"}) { id } myself { pods { env } } #'

    with pytest.raises(ProviderError, match="invalid RunPod pod id"):
        await api.stop_pod(hostile)

    assert fake_runpod.queries == []


async def test_a_pod_with_an_invalid_id_in_the_listing_is_ignored(
    fake_runpod: FakeRunPod, provider: RunPodProvider
) -> None:
    pod_id = fake_runpod.add_pod("voice-a", 2201)
    fake_runpod.pods[pod_id].id = "BAD ID"

    pods = await cloud_pods(provider, config())

    assert set(pods) == {"main-gpu"}


# --- the API key ---------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home directory of its own and no key in the environment."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    return tmp_path


def test_the_key_comes_from_the_sdks_config_file(home: Path) -> None:
    (home / ".runpod").mkdir()
    (home / ".runpod" / "config.toml").write_text('[default]\napi_key = "sdk-key"\n')

    assert api_key() == "sdk-key"


def test_the_key_comes_from_runpodctls_config_file(home: Path) -> None:
    (home / ".runpod").mkdir()
    (home / ".runpod" / "config.toml").write_text(
        "apikey = 'ctl-key'\napiurl = 'https://api.runpod.io/graphql'\n"
    )

    assert api_key() == "ctl-key"


def test_the_environment_variable_wins_over_the_file(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / ".runpod").mkdir()
    (home / ".runpod" / "config.toml").write_text('[default]\napi_key = "sdk-key"\n')
    monkeypatch.setenv("RUNPOD_API_KEY", "env-key")

    assert api_key() == "env-key"


def test_a_damaged_key_file_is_reported_without_its_content(home: Path) -> None:
    (home / ".runpod").mkdir()
    (home / ".runpod" / "config.toml").write_text('api_key = "half-a-secret\n')

    with pytest.raises(ProviderError) as caught:
        api_key()

    assert "not a readable TOML file" in str(caught.value)
    assert "half-a-secret" not in str(caught.value)


async def test_no_key_is_a_clear_message_in_the_fleets_provider_errors(
    fake_runpod: FakeRunPod, home: Path
) -> None:
    fleet = Fleet(config(), runpod=RunPodProvider(RunPodAPI(backoff=0.01)))

    pods = await fleet.pods()

    assert pods == []
    assert "no RunPod API key found" in fleet.provider_errors["cloud"]
    assert "RUNPOD_API_KEY" in fleet.provider_errors["cloud"]
    assert fake_runpod.queries == []


# --- faults ------------------------------------------------------------------


async def failure(api: RunPodAPI) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await api.list_pods()
    return caught.value


async def test_a_401_says_the_key_was_refused(
    fake_runpod: FakeRunPod, api: RunPodAPI
) -> None:
    fake_runpod.fail("401")

    error = await failure(api)

    assert "RunPod refused the API key (HTTP 401)" in str(error)
    assert api.calls == 1


async def test_a_wrong_key_is_refused_and_never_shown(
    fake_runpod: FakeRunPod, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNPOD_API_KEY", "rpa_WRONGKEY")
    api = RunPodAPI(backoff=0.01)

    error = await failure(api)

    assert "refused the API key" in str(error)
    assert "rpa_WRONGKEY" not in str(error)


async def test_a_429_is_retried_and_then_succeeds(
    fake_runpod: FakeRunPod, api: RunPodAPI
) -> None:
    fake_runpod.add_pod("voice-a", 2201)
    fake_runpod.fail("429", "429")

    pods = await api.list_pods()

    assert [pod["name"] for pod in pods] == ["voice-a"]
    assert api.calls == 3


async def test_a_lasting_429_says_the_api_is_rate_limited(
    fake_runpod: FakeRunPod, api: RunPodAPI
) -> None:
    fake_runpod.fail(*["429"] * api.attempts)

    error = await failure(api)

    assert "limiting the rate of API calls (HTTP 429)" in str(error)
    assert api.calls == api.attempts


async def test_a_500_is_retried_and_then_reported(
    fake_runpod: FakeRunPod, api: RunPodAPI
) -> None:
    fake_runpod.fail(*["500"] * api.attempts)

    error = await failure(api)

    assert "RunPod's API failed (HTTP 500)" in str(error)
    assert api.calls == api.attempts


async def test_a_502_html_page_names_the_page(
    fake_runpod: FakeRunPod, api: RunPodAPI
) -> None:
    fake_runpod.fail(*["502html"] * api.attempts)

    error = await failure(api)

    assert "HTTP 502" in str(error)
    assert "'502 Bad Gateway'" in str(error)


async def test_an_html_page_instead_of_json_is_explained(
    fake_runpod: FakeRunPod, api: RunPodAPI
) -> None:
    fake_runpod.fail("html")

    error = await failure(api)

    assert "web page" in str(error)
    assert "'Sign in to the network'" in str(error)
    assert "proxy or captive portal" in str(error)
    assert api.calls == 1


async def test_the_key_is_never_in_an_error_or_the_log(
    fake_runpod: FakeRunPod, api: RunPodAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_runpod.fail("echo")

    error = await failure(api)

    assert "[api key] may not read pods" in str(error)
    assert API_KEY not in str(error)
    assert API_KEY not in caplog.text


async def test_a_failing_runpod_api_leaves_other_providers_working(
    fake_runpod: FakeRunPod, api: RunPodAPI
) -> None:
    fake_runpod.fail(*["500"] * api.attempts)
    cfg = config(
        extra="""
        [environments.lab]
        provider = "ssh"

        [[environments.lab.pods]]
        name = "lab-1"
        host = "127.0.0.1"
        """
    )
    fleet = Fleet(cfg, runpod=RunPodProvider(api))

    pods = await fleet.pods()

    assert [pod.name for pod in pods] == ["lab-1"]
    assert "HTTP 500" in fleet.provider_errors["cloud"]


def test_importing_the_sdk_leaves_the_logging_setup_alone() -> None:
    script = (
        "import logging\n"
        "from podtui.providers.runpod import _sdk\n"
        "_sdk()\n"
        "root = logging.getLogger()\n"
        "print(len(root.handlers), logging.getLevelName(root.level))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )

    assert result.stdout.split() == ["0", "WARNING"]
