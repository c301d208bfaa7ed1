"""Registry credentials: environment first, then the Docker config (via oras), per host."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Callable

import oras.auth.utils
import oras.utils

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


def _from_docker_config(host: str) -> Basic | None:
    if not oras.utils.find_docker_config():
        return None
    try:
        cfg = oras.auth.utils.load_configs()
    except (OSError, ValueError):
        return None
    auths = cfg.get("auths", {})
    for key in (host, f"https://{host}", f"http://{host}"):
        entry = auths.get(key) or {}
        token = entry.get("auth")
        if token:
            try:
                user, _, password = base64.b64decode(token).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            return Basic(user, password)
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
