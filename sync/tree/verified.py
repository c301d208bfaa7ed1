"""What a run verified of the store: a stamp per store directory, so that the next run
need not read every byte again, and a no-op's work grows with what changed, not with the
tree.

A stamp is taken when a store directory's content has just been checked against its lock
entry (downloaded and verified, or read and hashed). It holds what the entry expects (a
digest of its sha256, its small files and the text of ``plugin.wasm.sha256`` and
``metadata.txt``) and, for every file the check read, the file's size, inode, and
modification and change times in nanoseconds. Writing a file moves its change time, which
no program can set back, so a file whose stamp is unchanged has not been written since it
was checked. This is the trust git gives its index; ``plugin-sync verify`` still reads
every byte, and a stamp never stands for a check that was not made.

As git does for its "racily clean" entries, a file changed less than ``SETTLE`` seconds
before its stamp would be taken gets none: on a file system that keeps times in whole
seconds, a write within the same second could leave its times as they were. Such a store
is read again by the next run, which stamps it then.

Kept in ``<root>/.verified.json`` (a dotfile: never served), written atomically and only
when it changes, under the tree's writer lock. It is a cache: a file that is missing,
damaged or of another version is ignored, and the stores are read again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Iterable

from sync.fsutil import write_if_changed
from sync.lock import LockEntry
from sync.tree.files import metadata_text, sha256_file_text
from sync.tree.layout import METADATA, SHA256_FILE, WASM, Tree

FORMAT = 1
SETTLE = 2.0  # seconds: see the module's text

Stamp = list[object]  # [key, [[file, size, inode, mtime_ns, ctime_ns], ...]]


def _key(entry: LockEntry) -> str:
    """What ``entry`` expects a store directory to hold, as one digest."""
    what = [entry.sha256, sorted(entry.files.items()), sha256_file_text(entry), metadata_text(entry)]
    return hashlib.sha256(json.dumps(what).encode("utf-8")).hexdigest()


def _checked_files(entry: LockEntry) -> list[str]:
    """The files ``sync.tree.store.store_matches`` reads for ``entry``."""
    return sorted({WASM, SHA256_FILE, METADATA, *entry.files})


def stamp(store: Path, entry: LockEntry, now: float | None = None) -> Stamp | None:
    """The stamp of ``store`` for ``entry`` as its files are now; None where a file is
    missing or changed too recently to be stamped (``SETTLE``)."""
    limit = ((time.time() if now is None else now) - SETTLE) * 1e9
    files: list[object] = []
    for name in _checked_files(entry):
        try:
            st = os.stat(store / name, follow_symlinks=False)
        except OSError:
            return None
        if max(st.st_mtime_ns, st.st_ctime_ns) > limit:
            return None
        files.append([name, st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns])
    return [_key(entry), files]


class Stamps:
    """The stamps of one tree, read when a run starts and saved when it ends."""

    def __init__(self, tree: Tree, stamps: dict[str, Stamp]) -> None:
        self.tree = tree
        self.stamps = stamps

    @classmethod
    def load(cls, tree: Tree) -> "Stamps":
        try:
            data = json.loads(tree.verified.read_bytes())
            stamps = data["stores"] if data.get("format") == FORMAT else {}
            if not isinstance(stamps, dict):
                stamps = {}
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            stamps = {}
        return cls(tree, stamps)

    def _id(self, store: Path) -> str:
        return store.relative_to(self.tree.root).as_posix()

    def fresh(self, store: Path, entry: LockEntry) -> bool:
        """``store`` was checked for ``entry`` and no file it holds was written since."""
        kept = self.stamps.get(self._id(store))
        return kept is not None and kept == stamp(store, entry)

    def save(self, checked: Iterable[tuple[Path, LockEntry]]) -> bool:
        """Keep the stamps of the store directories in ``checked`` (their content checked in
        this run, or a stamp of theirs found fresh) and forget every other. Returns True if
        the file was written."""
        now = time.time()
        stamps: dict[str, Stamp] = {}
        for store, entry in checked:
            s = stamp(store, entry, now)
            if s is not None:
                stamps[self._id(store)] = s
        self.stamps = stamps
        text = json.dumps({"format": FORMAT, "stores": dict(sorted(stamps.items()))}, separators=(",", ":"))
        return write_if_changed(self.tree.verified, text + "\n")
