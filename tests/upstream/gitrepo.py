"""Build real upstream-like git histories for tests: squash merges ``Title (#N)`` on main."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class UpstreamGit:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", "Upstream Dev")
        self.git("config", "user.email", "dev@example.com")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, date: str | None = None) -> str:
        env = dict(os.environ)
        if date:
            env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        out = subprocess.run(["git", "-C", str(self.path), *args], check=True, capture_output=True, env=env)
        return out.stdout.decode().strip()

    def write(self, files: dict[str, bytes | str | None]) -> None:
        for rel, data in files.items():
            p = self.path / rel
            if data is None:
                p.unlink()
                continue
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data.encode() if isinstance(data, str) else data)

    def commit(self, subject: str, files: dict[str, bytes | str | None], date: str) -> str:
        self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", subject, date=date)
        return self.git("rev-parse", "HEAD")

    def squash(self, number: int, title: str, files: dict[str, bytes | str | None], date: str) -> str:
        """What GitHub's squash merge leaves on main."""
        return self.commit(f"{title} (#{number})", files, date)

    def merge_branch(self, number: int, branch_commits: list[tuple[str, dict[str, bytes | str | None]]],
                     date: str) -> str:
        """A true merge commit (``--no-ff``) of a side branch, subject ``Title (#N)``."""
        self.git("checkout", "-q", "-b", f"side-{number}")
        for subject, files in branch_commits:
            self.commit(subject, files, date)
        self.git("checkout", "-q", "main")
        self.git("merge", "-q", "--no-ff", f"side-{number}", "-m", f"Merge feature (#{number})", date=date)
        return self.git("rev-parse", "HEAD")
