"""Error types. Every error carries a one-line message and an exit code."""

from __future__ import annotations


class SyncError(Exception):
    """A failure that is reported as one line, never as a traceback."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self)


class UsageError(SyncError):
    """Bad command line or bad input file: exit 2."""

    exit_code = 2


class ConfigError(UsageError):
    """plugins.yaml, a properties file or the lock is invalid."""


class RegistryError(SyncError):
    """The registry could not be reached or answered an error."""


class NotFound(RegistryError):
    """A tag, manifest or blob does not exist."""


class AuthError(RegistryError):
    """The registry refused our credentials."""


class ArtifactError(SyncError):
    """An artifact has an unexpected shape or failed a check."""


class IntegrityError(ArtifactError):
    """Bytes did not match their digest or size (truncated, too long, corrupted): worth a retry."""


class LockedTreeError(SyncError):
    """Another plugin-sync holds the tree."""


def error_text(e: BaseException) -> str:
    """What to say of ``e`` in one line: a SyncError's message, else its type and text."""
    return e.message if isinstance(e, SyncError) else " ".join(f"{type(e).__name__}: {e}".split())
