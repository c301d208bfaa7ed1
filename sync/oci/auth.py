"""Registry credentials: environment first, then the Docker config (and its helpers), per host."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Callable

import json
import subprocess
from pathlib import Path

ENV_USER = "PLUGIN_SYNC_REGISTRY_USERNAME"
ENV_PASSWORD = "PLUGIN_SYNC_REGISTRY_PASSWORD"


@dataclass(frozen=True)
class Basic:
    username: str
    password: str = field(repr=False)

    def header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def __repr__(self) -> str:  # never show the secret
        return f"Basic(username={self.username!r}, password='***')"


def docker_config_path() -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json`` (as docker does)."""
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _helper(helper: str, host: str) -> Basic | None:
    try:
        p = subprocess.run([f"docker-credential-{helper}", "get"], input=host.encode(), capture_output=True,
                           timeout=30, check=True)
        data = json.loads(p.stdout)
        return Basic(str(data["Username"]), str(data["Secret"]))
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return None


def _from_docker_config(host: str) -> Basic | None:
    try:
        cfg = json.loads(docker_config_path().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(cfg, dict):
        return None
    helper = (cfg.get("credHelpers") or {}).get(host)
    if helper:
        return _helper(str(helper), host)
    auths = cfg.get("auths") or {}
    for key in (host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/"):
        token = (auths.get(key) or {}).get("auth")
        if token:
            try:
                user, _, password = base64.b64decode(token).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            return Basic(user, password)
    if cfg.get("credsStore"):
        return _helper(str(cfg["credsStore"]), host)
    return None


def credentials_lookup() -> Callable[[str], Basic | None]:
    """A function host -> credentials. Environment variables apply to every host."""
    user, password = os.environ.get(ENV_USER), os.environ.get(ENV_PASSWORD)
    cache: dict[str, Basic | None] = {}

    def lookup(host: str) -> Basic | None:
        if user:
            return Basic(user, password or "")
        if host not in cache:
            cache[host] = _from_docker_config(host)
        return cache[host]

    return lookup
