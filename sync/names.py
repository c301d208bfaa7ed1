"""Validation of the names that become paths: plugin names, served versions and digests.

A served name or version is one path component under the tree. Anything that could
escape it (``..``, separators, control characters, odd Unicode) is refused here, once.
"""

from __future__ import annotations

import re

from sync.errors import ConfigError

_NAME = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,126}[a-z0-9])?")
_VERSION = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._+-]{0,126})?")
# the one digest syntax this project accepts (a store directory and a blob path are built from it)
# a registry host[:port] (or [IPv6]:port) and an OCI repository path, as references write them
HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::[0-9]{1,5})?")
REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
HEX64 = re.compile(r"[0-9a-f]{64}")  # a bare sha256, as the lock and the snapshot files write it


def is_digest(value: object) -> bool:
    """``value`` is ``sha256:`` and 64 lowercase hex digits."""
    return isinstance(value, str) and DIGEST.fullmatch(value) is not None


def is_sha256(value: object) -> bool:
    """``value`` is 64 lowercase hex digits."""
    return isinstance(value, str) and HEX64.fullmatch(value) is not None


def check_name(name: object, where: str = "") -> str:
    """Return ``name`` if it is a valid served plugin name, else raise ConfigError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"{where}invalid plugin name {name!r}: use lowercase letters, digits, '-' and '_'"
        )
    return name


def check_version(version: object, where: str = "") -> str:
    """Return ``version`` if it is a valid version directory name, else raise ConfigError.
    Only a string is a version: the number 1.1 is not the text "1.10" it may have been read from."""
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
