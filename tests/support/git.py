"""Real git repositories for tests, isolated from the user's git configuration.

``GitRepo`` writes files, commits, tags and merges with a fixed identity and fixed dates: no
``~/.gitconfig`` or ``/etc/gitconfig`` is read (no signing, hooks or aliases of the machine),
and commits without an explicit date get one from the repository's own clock, one minute
apart from ``EPOCH``. ``squash`` and ``merge_branch`` write what GitHub leaves on an
upstream's main branch.
"""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sync.lock import Lock

IDENTITY = ("Git Test", "git-test@example.invalid")
EPOCH = datetime(2025, 1, 1, tzinfo=timezone.utc)
ISOLATED = {
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "TZ": "UTC",  # commit times in +0000, as the fake GitHub server writes them
}
GIT_ENV = {
    "GIT_AUTHOR_NAME": IDENTITY[0],
    "GIT_AUTHOR_EMAIL": IDENTITY[1],
    "GIT_COMMITTER_NAME": IDENTITY[0],
    "GIT_COMMITTER_EMAIL": IDENTITY[1],
    **ISOLATED,
}

Files = dict[str, bytes | str | None]  # path -> content, None deletes


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._ticks = 0
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def _next_date(self) -> str:
        self._ticks += 1
        return (EPOCH + timedelta(minutes=self._ticks)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def git(self, *args: str, date: str | None = None) -> str:
        env = {**os.environ, **GIT_ENV}
        if date:
            env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        out = subprocess.run(["git", "-C", str(self.path), *args], check=True, capture_output=True, env=env)
        return out.stdout.decode().strip()

    def write(self, rel: str, data: str | bytes) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)

    def write_files(self, files: Files) -> None:
        for rel, data in files.items():
            if data is None:
                (self.path / rel).unlink()
            else:
                self.write(rel, data)

    def write_lock(self, lock: Lock, rel: str = "plugins.lock.json") -> None:
        self.write(rel, lock.dumps())

    def commit(self, message: str, *paths: str, files: Files | None = None, date: str | None = None) -> str:
        """Commit ``paths`` (everything when none is named) after writing ``files``."""
        if files is not None:
            self.write_files(files)
            self.git("add", "-A")
        else:
            self.git("add", "-f", *(paths or (".",)))
        self.git("commit", "-q", "--allow-empty", "-m", message, date=date or self._next_date())
        return self.head()

    def squash(self, number: int, title: str, files: Files, date: str) -> str:
        """What GitHub's squash merge leaves on main."""
        return self.commit(f"{title} (#{number})", files=files, date=date)

    def merge_branch(self, number: int, branch_commits: list[tuple[str, Files]], date: str) -> str:
        """A true merge commit (``--no-ff``) of a side branch, subject ``Title (#N)``."""
        self.git("checkout", "-q", "-b", f"side-{number}")
        for subject, files in branch_commits:
            self.commit(subject, files=files, date=date)
        self.git("checkout", "-q", "main")
        self.git("merge", "-q", "--no-ff", f"side-{number}", "-m", f"Merge feature (#{number})", date=date)
        return self.head()

    def tag(self, name: str, annotated: bool = False, rev: str = "HEAD") -> None:
        if annotated:
            self.git("tag", "-a", "-m", name, name, rev, date=self._next_date())
        else:
            self.git("tag", name, rev)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def raw(self, kind: str, sha: str) -> bytes:
        """The raw body of a git object (``git cat-file KIND SHA``)."""
        return subprocess.run(["git", "-C", str(self.path), "cat-file", kind, sha], check=True,
                              capture_output=True, env={**os.environ, **ISOLATED}).stdout


@pytest.fixture
def git_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixed identity for git run by the code under test (``git tag -a``, commits)."""
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)
