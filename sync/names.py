"""Validation of the names that become paths: plugin names and served versions.

A served name or version is one path component under the tree. Anything that could
escape it (``..``, separators, control characters, odd Unicode) is refused here, once.
"""

from __future__ import annotations

import re

from sync.errors import ConfigError

_NAME = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,126}[a-z0-9])?")
_VERSION = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._+-]{0,126})?")


def check_name(name: object, where: str = "") -> str:
    """Return ``name`` if it is a valid served plugin name, else raise ConfigError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"{where}invalid plugin name {name!r}: use lowercase letters, digits, '-' and '_'"
        )
    return name


def check_version(version: object, where: str = "") -> str:
    """Return ``version`` if it is a valid version directory name, else raise ConfigError."""
    if isinstance(version, (int, float)) and not isinstance(version, bool):
        version = str(version)
    if (
        not isinstance(version, str)
        or not _VERSION.fullmatch(version)
        or ".." in version
    ):
        raise ConfigError(
            f"{where}invalid version {version!r}: use letters, digits, '.', '_', '+' and '-'"
        )
    return version


def is_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name))


def is_version(version: str) -> bool:
    return bool(_VERSION.fullmatch(version)) and ".." not in version
