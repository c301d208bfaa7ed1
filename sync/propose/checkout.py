"""The files of a plugin-server checkout that ``propose`` publishes, by repository path.

Tracked: ``plugins.yaml``, the lock, the upstream cursor and the files of every hand-placed
plugin (lock entries with ``source: local``, whose version directory is a real directory
in the tree). Pulled artifacts are not committed: the image pulls them from the lock.
"""

from __future__ import annotations

import os
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
