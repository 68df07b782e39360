"""SSH pods: machines listed in the config by host, port, user and key.

Any machine with OpenSSH and Python can be managed this way today. The host
may be an alias from `~/.ssh/config`; ssh-agent and identity files apply as
they do for the `ssh` command.
"""

from __future__ import annotations

from podtui.config import EnvironmentConfig
from podtui.model import Pod, PodStatus, SSHEndpoint


def ssh_pods(environment: EnvironmentConfig) -> list[Pod]:
    """The pods of an `ssh` environment; whether they are up is found on inspection."""
    pods = []
    for pod_config in environment.pods:
        assert pod_config.host is not None, "validated by the config"
        endpoint = SSHEndpoint(
            host=pod_config.host,
            port=pod_config.port,
            user=pod_config.user,
            key_files=(pod_config.key,) if pod_config.key else (),
            known_hosts=pod_config.known_hosts,
        )
        pods.append(
            Pod(
                id=f"ssh:{pod_config.name}",
                name=pod_config.name,
                environment=environment.name,
                provider="ssh",
                status=PodStatus.UNKNOWN,
                ssh=endpoint,
                http_port=environment.port,
            )
        )
    return pods
