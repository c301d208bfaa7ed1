"""Hand-placed plugins: modules a maintainer put into the tree by hand.

``plugin-sync metadata`` writes their ``metadata.txt`` and ``plugin.wasm.sha256`` and
records them in the lock as local, so ``pull`` never overwrites them.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from sync.artifact import WASM_HEADER
from sync.errors import UsageError
from sync.filenames import EXTRA_FILES
from sync.fsutil import hash_file, sha256_file, write_atomic
from sync.lock import LOCAL, Lock, LockEntry
from sync.names import is_name, is_version
from sync.times import iso_time
from sync.tree.files import metadata_text, sha256_file_text
from sync.tree.layout import METADATA, SHA256_FILE, WASM, Tree


def find(tree: Tree, paths: list[Path]) -> list[tuple[str, str]]:
    """The (name, version) hand-placed entries named by ``paths`` (all of them if none)."""
    root = tree.root.resolve()
    if not paths:
        return [(n, v) for n, v in tree.served() if tree.is_hand_placed(n, v) and (tree.wasm(n, v)).is_file()]
    found: list[tuple[str, str]] = []
    for p in paths:
        full = p.resolve() if p.is_absolute() or p.exists() else (tree.root / p).resolve()
        if full.name == WASM:
            full = full.parent
        try:
            rel = full.relative_to(root).parts
        except ValueError:
            raise UsageError(f"{p}: not inside the tree {tree.root}") from None
        if len(rel) == 1 and is_name(rel[0]):
            found += [(n, v) for n, v in tree.served() if n == rel[0] and tree.is_hand_placed(n, v)]
            continue
        if len(rel) != 2 or not is_name(rel[0]) or not is_version(rel[1]):
            raise UsageError(f"{p}: expected <name>/<version>[/plugin.wasm] inside the tree")
        name, version = rel
        if tree.is_pulled(name, version):
            raise UsageError(f"{name}/{version} was pulled from a registry; hand-placed plugins are real directories")
        if not tree.wasm(name, version).is_file():
            raise UsageError(f"{name}/{version}: no {WASM} there")
        found.append((name, version))
    return sorted(set(found))


def hand_placed_entry(tree: Tree, name: str, version: str, old: LockEntry | None, now: str) -> LockEntry:
    """The lock entry for a hand-placed module; refuses a file that is not Wasm."""
    path = tree.wasm(name, version)
    with open(path, "rb") as f:
        if f.read(8) != WASM_HEADER:
            raise UsageError(f"{name}/{version}/{WASM}: not a WebAssembly module")
    sha, md5, size = hash_file(path)
    extras = {f: sha256_file(path.parent / f) for f in EXTRA_FILES if (path.parent / f).is_file()}
    entry = LockEntry(name, version, LOCAL, None, LOCAL, sha, md5, size, extras,
                      None, now, old.category if old else None)
    if old is not None and old.is_local and old.same_content(entry):
        entry = replace(entry, pulled=old.pulled)
    return entry


def write_files(tree: Tree, entry: LockEntry) -> None:
    d = tree.version_dir(entry.name, entry.version)
    write_atomic(d / SHA256_FILE, sha256_file_text(entry))
    modified = iso_time(os.stat(d / WASM).st_mtime)
    write_atomic(d / METADATA, metadata_text(replace(entry, pulled=modified, created=entry.pulled)))


def register(tree: Tree, lock: Lock, targets: list[tuple[str, str]], now: str) -> tuple[Lock, list[LockEntry]]:
    """Describe and record every target; returns the new lock and the entries written."""
    new = Lock(dict(lock.entries))
    written = []
    for name, version in targets:
        entry = hand_placed_entry(tree, name, version, lock.get(name, version), now)
        write_files(tree, entry)
        new.put(entry)
        written.append(entry)
    return new, written
