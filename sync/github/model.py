"""What the GitHub edge reads and writes, as plain values: a file change of a commit (by
git blob id) and a pull request of the sync branch."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def blob_sha(data: bytes) -> str:
    """The git blob id of ``data`` (what GitHub's trees list)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class FileChange:
    path: str
    data: bytes | None  # None: delete

    @property
    def sha(self) -> str | None:
        return blob_sha(self.data) if self.data is not None else None


@dataclass(frozen=True)
class PullInfo:
    number: int
    state: str  # open | closed
    merged: bool
    body: str | None
    url: str
    created: str = ""
