"""The files of a plugin-server checkout that ``propose`` publishes, by repository path.

Tracked: ``plugins.yaml``, the lock, the upstream cursor and the files of every hand-placed
plugin (lock entries with ``source: local``, whose version directory is a real directory
in the tree). Pulled artifacts are not committed: the image pulls them from the lock.

``head_holds`` tells, with the git CLI, whether the checkout's HEAD holds a commit (the base
branch's head): a checkout behind the base would publish the base's newer files as they were.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sync.errors import UsageError
from sync.lock import Lock
from sync.tree.layout import Tree


@dataclass(frozen=True)
class Checkout:
    """Where the tracked files are, inside the local checkout of the plugin-server repo."""

    root: Path
    config: Path
    lock: Path
    cursor: Path
    tree: Tree

    def rel(self, path: Path, what: str) -> str:
        """``path`` as a repository path (``a/b/c``); refuses paths outside the checkout."""
        try:
            rel = path.resolve().relative_to(self.root.resolve())
        except ValueError:
            raise UsageError(f"{what} {path} is outside the checkout {self.root}") from None
        if not rel.parts:
            raise UsageError(f"{what} {path} is the checkout itself")
        return rel.as_posix()

    def _git(self, *args: str) -> subprocess.CompletedProcess[bytes] | None:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        try:
            return subprocess.run(["git", "-C", str(self.root), *args], capture_output=True, env=env,
                                  check=False, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None

    def head(self) -> str | None:
        """The checkout's HEAD commit; None when it is no git checkout (or git is missing)."""
        proc = self._git("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        return proc.stdout.decode().strip() if proc is not None and proc.returncode == 0 else None

    def head_holds(self, commit: str) -> bool | None:
        """Whether ``commit`` is HEAD or an ancestor of it; None when that cannot be told (no
        git checkout). A commit the checkout does not have is not held."""
        head = self.head()
        if head is None:
            return None
        if head == commit:
            return True
        proc = self._git("merge-base", "--is-ancestor", commit, "HEAD")
        return None if proc is None else proc.returncode == 0

    def hand_placed_dirs(self, *locks: Lock) -> dict[str, str]:
        """Repository paths of the version directories of hand-placed entries -> plugin name."""
        out = {}
        for lock in locks:
            for e in lock.sorted():
                if e.is_local:
                    out[self.rel(self.tree.version_dir(e.name, e.version), "hand-placed plugin")] = e.name
        return out

    def tracked(self, local_lock: Lock) -> dict[str, bytes]:
        """Repository path -> bytes of every tracked file present locally (the cursor excluded)."""
        files: dict[str, bytes] = {}
        for path, what in ((self.config, "config"), (self.lock, "lock")):
            if path.is_file():
                files[self.rel(path, what)] = path.read_bytes()
        for e in local_lock.sorted():
            if not e.is_local:
                continue
            vdir = self.tree.version_dir(e.name, e.version)
            if vdir.is_symlink() or not vdir.is_dir():
                raise UsageError(f"hand-placed plugin {e.name}/{e.version}: {vdir} is not a directory")
            for f in _walk(vdir):
                files[self.rel(f, "hand-placed file")] = f.read_bytes()
        return files


def _walk(directory: Path) -> list[Path]:
    """Regular files under ``directory``, sorted; hidden names (temporaries) are skipped."""
    out = []
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=False):
        base = Path(dirpath)
        for d in list(dirnames):
            if (base / d).is_symlink():
                raise UsageError(f"{base / d}: a hand-placed plugin may not hold symlinks")
            if d.startswith("."):
                dirnames.remove(d)
        for name in filenames:
            if name.startswith("."):
                continue
            p = base / name
            if p.is_symlink():
                raise UsageError(f"{p}: a hand-placed plugin may not hold symlinks")
            out.append(p)
    return sorted(out)
