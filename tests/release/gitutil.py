"""Real git repositories for release tests: write files, commit, tag."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sync.lock import Lock

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Release Test",
    "GIT_AUTHOR_EMAIL": "release-test@example.invalid",
    "GIT_COMMITTER_NAME": "Release Test",
    "GIT_COMMITTER_EMAIL": "release-test@example.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "TZ": "UTC",  # commit times in +0000, as the fake GitHub server writes them
}


class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.path), *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    def write(self, rel: str, data: str | bytes) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        (p.write_bytes if isinstance(data, bytes) else p.write_text)(data)  # type: ignore[operator]

    def write_lock(self, lock: Lock, rel: str = "plugins.lock.json") -> None:
        self.write(rel, lock.dumps())

    def commit(self, message: str, *paths: str) -> str:
        self.git("add", "-f", *(paths or (".",)))
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def tag(self, name: str, annotated: bool = False, rev: str = "HEAD") -> None:
        if annotated:
            self.git("tag", "-a", "-m", name, name, rev)
        else:
            self.git("tag", name, rev)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def raw(self, kind: str, sha: str) -> bytes:
        """The raw body of a git object (``git cat-file KIND SHA``)."""
        return subprocess.run(["git", "-C", str(self.path), "cat-file", kind, sha], check=True,
                              capture_output=True).stdout


@pytest.fixture
def git_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)
