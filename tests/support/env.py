"""What the tests take away from, and pin in, the environment they inherit.

A developer's shell or a CI runner may hold settings that change what the code under test
does: a GitHub Actions context and token, plugin-sync settings, Docker or registry
credentials, a reproducible-build clock, git's repository, identity and configuration, or a
proxy that would carry loopback traffic elsewhere. The root ``tests/conftest.py`` removes
them all and pins the few the tests need fixed.
"""

from __future__ import annotations

from typing import MutableMapping

DROPPED_PREFIXES = (
    "GITHUB_", "RUNNER_", "ACTIONS_",  # a GitHub Actions runner's context, outputs and tokens
    "PLUGIN_SYNC_", "PLUGIN_SERVER_",  # this project's own settings
    "GIT_",  # git: repository, work tree, index, identity, dates, configuration, tracing
)
DROPPED = frozenset({
    "GH_TOKEN", "GH_HOST", "GH_ENTERPRISE_TOKEN",  # the GitHub CLI's token
    "SOURCE_DATE_EPOCH",  # the reproducible-build clock a pull stamps
    "DOCKER_HOST", "DOCKER_AUTH_CONFIG", "REGISTRY_AUTH_FILE",  # registry credentials
    "HIGRESS_SOURCE_COMMIT", "GATEWAY_VERSION", "SNAPSHOT_SHA256",  # image build arguments
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",  # loopback servers are reached directly
    "http_proxy", "https_proxy", "all_proxy", "no_proxy",
})
PINNED = {
    "DOCKER_CONFIG": "/nonexistent-docker-config",  # no ~/.docker/config.json credentials
    "NETRC": "/dev/null",  # no ~/.netrc credentials for requests
    "GIT_CONFIG_GLOBAL": "/dev/null",  # no ~/.gitconfig
    "GIT_CONFIG_NOSYSTEM": "1",  # no /etc/gitconfig
}


def leaks(name: str) -> bool:
    """Whether an inherited variable ``name`` is taken away."""
    return name in DROPPED or name.startswith(DROPPED_PREFIXES)


def isolate(env: MutableMapping[str, str]) -> None:
    """Remove from ``env`` what could leak in, and pin ``PINNED``."""
    for name in [n for n in env if leaks(n)]:
        del env[name]
    env.update(PINNED)
