"""The git edge of releases: release tags, the lock at a tag, paths changed since it.

Everything is read from commits (never the working tree), with the git CLI, so the release of
HEAD does not depend on uncommitted files.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from sync.errors import ConfigError, SyncError, UsageError
from sync.lock import Lock, parse_lock
from sync.release.version import History, Release, tag_version


def _git(repo: Path, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, env=env, check=False)
    except FileNotFoundError:
        raise SyncError("git is not installed (release reads tags and the lock with the git CLI)") from None
    if proc.returncode not in ok:
        err = " ".join(proc.stderr.decode("utf-8", "replace").split()) or f"exit {proc.returncode}"
        raise SyncError(f"git {args[0]} failed: {err}")
    return proc


def repo_root(start: Path) -> Path:
    """The top of the git checkout holding ``start``."""
    start = start if start.is_dir() else start.parent
    proc = _git(start, "rev-parse", "--show-toplevel", ok=(0, 128))
    if proc.returncode:
        raise UsageError(f"{start}: not inside a git checkout (release compares git tags with HEAD)")
    return Path(proc.stdout.decode().strip())


def relative(repo: Path, path: Path) -> str:
    """``path`` as a POSIX path relative to the checkout's top."""
    try:
        return path.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        raise UsageError(f"{path}: outside the git checkout {repo}") from None


def head_commit(repo: Path) -> str:
    proc = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", ok=(0, 1))
    if proc.returncode:
        raise UsageError(f"{repo}: no commit yet, nothing to release")
    return proc.stdout.decode().strip()


def _tags(repo: Path, *extra: str) -> dict[str, str]:
    """Release tag name -> commit, for tags matching vX.Y.Z[-pre]."""
    fmt = "%(refname:strip=2)%00%(objectname)%00%(*objectname)"
    out = _git(repo, "for-each-ref", f"--format={fmt}", *extra, "refs/tags/").stdout.decode()
    tags: dict[str, str] = {}
    for line in out.splitlines():
        name, obj, peeled = (line.split("\0") + ["", ""])[:3]
        if tag_version(name) is not None:
            tags[name] = peeled or obj
    return tags


def release_history(repo: Path) -> History:
    """Every release tag, split into those reachable from HEAD and the others."""
    head = head_commit(repo)
    every = _tags(repo)
    merged = _tags(repo, "--merged", head)

    def release(name: str) -> Release:
        version = tag_version(name)
        assert version is not None  # filtered by _tags
        return Release(version, every[name])

    return History(
        head=head,
        merged=tuple(release(n) for n in sorted(merged)),
        others=tuple(release(n) for n in sorted(set(every) - set(merged))),
    )


def read_at(repo: Path, rev: str, path: str) -> bytes | None:
    """The bytes of ``path`` at ``rev``, or None when it does not exist there."""
    listed = _git(repo, "ls-tree", "-z", "--full-tree", rev, "--", path).stdout
    if not listed:
        return None
    return _git(repo, "cat-file", "blob", f"{rev}:{path}").stdout


def lock_at(repo: Path, rev: str, path: str, label: str | None = None) -> Lock:
    """The lock committed at ``rev`` (named ``label`` in errors); an absent file is an empty lock."""
    where = f"{path} at {label or rev}: "
    data = read_at(repo, rev, path)
    if data is None:
        return Lock()
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{where}not valid JSON: {e}") from None
    return parse_lock(raw, where)


def changed_paths(repo: Path, base: str | None, head: str) -> list[str]:
    """Paths that differ between ``base`` and ``head``; every path of ``head`` without a base."""
    if base is None:
        out = _git(repo, "ls-tree", "-r", "-z", "--name-only", "--full-tree", head).stdout
    else:
        out = _git(repo, "diff", "--name-only", "--no-renames", "-z", base, head, "--").stdout
    return sorted(p for p in out.decode("utf-8", "surrogateescape").split("\0") if p)
