"""Reading upstream merges from a local clone with the git CLI (``detect --git PATH``).

Upstream squash-merges every PR, so each first-parent commit of the branch whose subject
ends in ``(#N)`` is the merge of PR N; its diff against its first parent is what the PR
changed. No API quota is spent.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from sync.config import RENAMED
from sync.errors import SyncError, UsageError
from sync.times import utc_iso
from sync.upstream.model import Merge, Position, SinceRef, pr_of_subject, title_of_subject


@dataclass(frozen=True)
class _Commit:
    sha: str
    parents: tuple[str, ...]
    committed: str
    subject: str


class GitReader:
    def __init__(self, path: Path, upstream: str, branch: str = "HEAD", server_url: str = "https://github.com") -> None:
        self.path = path
        self.upstream = self.canonical(upstream)
        self.branch = branch
        self.server_url = server_url.rstrip("/")
        if not path.is_dir():
            raise UsageError(f"--git {path}: no such directory")
        if self._run("rev-parse", "--verify", "--quiet", f"{branch}^{{commit}}", check=False) is None:
            raise UsageError(f"--git {path}: not a git repository with a branch {branch!r}")
        self._log: list[_Commit] | None = None

    def _run(self, *args: str, check: bool = True) -> bytes | None:
        try:
            p = subprocess.run(
                ["git", "-C", str(self.path), *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                check=False,
            )
        except FileNotFoundError:
            raise SyncError("git is not installed") from None
        if p.returncode != 0:
            if not check:
                return None
            lines = p.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SyncError(f"git {args[0]} in {self.path} failed: {lines[-1] if lines else p.returncode}")
        return p.stdout

    @staticmethod
    def canonical(name: str) -> str:
        """The repository's current name: a clone cannot ask GitHub, so known moves are used."""
        return RENAMED.get(name.lower(), name)

    def first_parent_log(self) -> list[_Commit]:
        """The branch's first-parent chain, newest first."""
        if self._log is None:
            out = self._run("log", "--first-parent", "--format=%H%x00%P%x00%cI%x00%s%x1e", self.branch) or b""
            log = []
            for record in out.decode("utf-8", "replace").split("\x1e"):
                record = record.strip("\n")
                if not record:
                    continue
                sha, parents, committed, subject = record.split("\x00", 3)
                log.append(_Commit(sha, tuple(parents.split()), utc_iso(committed), subject))
            self._log = log
        return self._log

    def url(self, number: int) -> str:
        return f"{self.server_url}/{self.upstream}/pull/{number}"

    def resolve(self, ref: SinceRef) -> Position:
        if ref.kind == "time":
            return Position(ref.value)
        if ref.kind == "pr":
            number = int(ref.value)
            for c in self.first_parent_log():
                if pr_of_subject(c.subject) == number:
                    return Position(c.committed, number, c.sha)
            raise UsageError(f"--since #{number}: no first-parent commit of {self.branch} ends in (#{number})")
        out = self._run("rev-parse", "--verify", "--quiet", f"{ref.value}^{{commit}}", check=False)
        if out is None:
            raise UsageError(f"--since {ref.value}: no such commit in {self.path}")
        sha = out.decode().strip()
        shown = (self._run("show", "-s", "--format=%cI%x00%s", sha) or b"").decode("utf-8", "replace").strip()
        committed, subject = shown.split("\x00", 1)
        return Position(utc_iso(committed), pr_of_subject(subject), sha)

    def changed_paths(self, commit: _Commit) -> tuple[str, ...]:
        if commit.parents:
            args = ["diff-tree", "-r", "--no-commit-id", "--no-renames", "--name-only", "-z", commit.parents[0], commit.sha]
        else:
            args = ["diff-tree", "-r", "--no-commit-id", "--no-renames", "--name-only", "-z", "--root", commit.sha]
        out = self._run(*args) or b""
        return tuple(sorted(p for p in out.decode("utf-8", "replace").split("\x00") if p))

    def merges_after(self, position: Position | None) -> list[Merge]:
        merges = []
        for c in self.first_parent_log():
            if position is not None and position.sha and c.sha.startswith(position.sha):
                break  # everything older was handled
            number = pr_of_subject(c.subject)
            if number is None:
                continue
            if position is not None and not position.precedes(c.committed, number, c.sha):
                continue
            merges.append(Merge(number, title_of_subject(c.subject), self.url(number), c.committed, c.sha,
                                self.changed_paths(c)))
        return sorted(merges, key=lambda m: m.order)

    def read_file(self, sha: str, path: str) -> bytes | None:
        return self._run("cat-file", "blob", f"{sha}:{path}", check=False)
