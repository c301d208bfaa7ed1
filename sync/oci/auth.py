"""Registry credentials, kept per registry host as docker, oras and skopeo keep them.

``PLUGIN_SYNC_REGISTRY_USERNAME``/``_PASSWORD`` belong to one host: ``PLUGIN_SYNC_REGISTRY_HOST``,
else the host the caller names (``pull`` names the config's registry, or its ``--registry``
mirror). Every host, that one included when the variables are not set, gets what the Docker
config holds for it (``auths``, ``credHelpers``, ``credsStore``). An ``identitytoken`` there is
an OAuth2 refresh token for the registry's token service (``IdentityToken``). Credentials for a
host go to that host and to the token service its challenge names, nowhere else.

Docker config keys are matched as docker matches them: by the host they name, whatever scheme
or path they carry (``https://host/v2/``), and Docker Hub's hosts (``docker.io``,
``index.docker.io``, ``registry-1.docker.io``) by the key ``docker login`` writes for them,
``https://index.docker.io/v1/``.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Union

ENV_USER = "PLUGIN_SYNC_REGISTRY_USERNAME"
ENV_PASSWORD = "PLUGIN_SYNC_REGISTRY_PASSWORD"
ENV_HOST = "PLUGIN_SYNC_REGISTRY_HOST"
TOKEN_USER = "<token>"  # the user name docker credential helpers give an identity token


@dataclass(frozen=True)
class Basic:
    username: str
    password: str = field(repr=False)

    def header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def __repr__(self) -> str:  # never show the secret
        return f"Basic(username={self.username!r}, password='***')"


@dataclass(frozen=True)
class IdentityToken:
    """A refresh token (``docker login`` keeps one instead of the password when the token
    service offers it): exchanged for an access token with an OAuth2 POST to the realm."""

    token: str = field(repr=False)

    def __repr__(self) -> str:
        return "IdentityToken('***')"


Credentials = Union[Basic, IdentityToken]


def docker_config_path() -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json`` (as docker does)."""
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _helper(helper: str, host: str) -> Credentials | None:
    try:
        p = subprocess.run([f"docker-credential-{helper}", "get"], input=host.encode(), capture_output=True,
                           timeout=30, check=True)
        data = json.loads(p.stdout)
        user, secret = str(data["Username"]), str(data["Secret"])
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError):
        return None
    return IdentityToken(secret) if user == TOKEN_USER else Basic(user, secret)


DOCKER_HUB_KEY = "https://index.docker.io/v1/"  # where ``docker login`` keeps Docker Hub's credentials
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


def _key_host(key: str) -> str:
    """The host a Docker config key names: ``https://host/v2/`` -> ``host`` (as docker's
    ``ConvertToHostname``)."""
    for scheme in ("http://", "https://"):
        if key.startswith(scheme):
            key = key[len(scheme):]
    return key.split("/", 1)[0].lower()


def _config_key(host: str) -> str:
    """The name docker files a host's credentials under: Docker Hub's is its v1 index URL."""
    return DOCKER_HUB_KEY if host.lower() in DOCKER_HUB_HOSTS else host


def _entry(entry: object) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    if entry.get("identitytoken"):
        return IdentityToken(str(entry["identitytoken"]))
    token = entry.get("auth")
    if not token:
        return None
    try:
        user, _, password = base64.b64decode(str(token)).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return Basic(user, password)


def _from_docker_config(host: str) -> Credentials | None:
    try:
        cfg = json.loads(docker_config_path().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(cfg, dict):
        return None
    key = _config_key(host)
    helpers = cfg.get("credHelpers") or {}
    helper = helpers.get(key) or helpers.get(host) if isinstance(helpers, dict) else None
    if helper:
        return _helper(str(helper), key)
    auths = cfg.get("auths") or {}
    if not isinstance(auths, dict):
        auths = {}
    # the exact key first, then any key naming the same host (with a scheme or a path)
    want = DOCKER_HUB_HOSTS if host.lower() in DOCKER_HUB_HOSTS else {host.lower()}
    keys = [key, host, *sorted(k for k in auths if _key_host(str(k)) in want)]
    for k in keys:
        if k in auths:
            creds = _entry(auths[k])
            if creds is not None:
                return creds
    if cfg.get("credsStore"):
        return _helper(str(cfg["credsStore"]), key)
    return None


def credentials_lookup(default_host: str | None = None) -> Callable[[str], Credentials | None]:
    """A function host -> credentials (see the module doc). The environment's username and
    password are for ``PLUGIN_SYNC_REGISTRY_HOST``, else ``default_host``; with neither known
    they apply to every host, as before hosts were told apart."""
    user, password = os.environ.get(ENV_USER), os.environ.get(ENV_PASSWORD)
    scope = (os.environ.get(ENV_HOST) or default_host or "").strip().lower() or None
    cache: dict[str, Credentials | None] = {}

    def lookup(host: str) -> Credentials | None:
        if user and (scope is None or host.lower() == scope):
            return Basic(user, password or "")
        if host not in cache:
            cache[host] = _from_docker_config(host)
        return cache[host]

    return lookup
