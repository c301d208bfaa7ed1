"""``plugin-sync verify``: the whole tree against the lock and index.json, file by file."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.fsutil import CHUNK, hash_file, sha256_file
from sync.lock import Lock, LockEntry
from sync.names import is_name, is_version
from sync.tree.files import index_document, metadata_text, sha256_file_text
from sync.tree.layout import (
    CATALOG_FILES, INDEX_JSON, INVENTORY, JOURNAL, LOCK_FILE, METADATA, SHA256_FILE, SNAPSHOT_STATE, STORE, VERIFIED,
    VERSION_FILES, WASM, WASM_GZ, Tree,
)


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _gunzip_sha(path: Path) -> str | None:
    sha = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                sha.update(chunk)
    except (OSError, EOFError, zlib.error):
        return None
    return sha.hexdigest()


def _check_entry(tree: Tree, e: LockEntry) -> list[Problem]:
    d = tree.version_dir(e.name, e.version)
    rel = f"{e.name}/{e.version}"
    if not d.is_dir():
        # a pull that could not fetch it keeps it in the lock, unserved, for the next pull
        return [Problem(rel, "missing" if e.is_local else "missing: not served; 'plugin-sync pull' fetches it")]
    if not e.is_local and not d.is_symlink():
        return [Problem(rel, "should be a pulled entry (a link into the store) but is a directory")]
    if d.is_symlink():
        target = os.path.realpath(d)
        if os.path.dirname(target) != os.path.realpath(tree.store(e.name)):
            return [Problem(rel, f"links outside its store: {os.readlink(d)}")]
    out: list[Problem] = []
    wasm = d / WASM
    if not wasm.is_file():
        return [Problem(f"{rel}/{WASM}", "missing")]
    sha, md5, size = hash_file(wasm)
    if size != e.size:
        out.append(Problem(f"{rel}/{WASM}", f"size {size}, lock says {e.size}"))
    if sha != e.sha256:
        out.append(Problem(f"{rel}/{WASM}", f"sha256 {sha}, lock says {e.sha256}"))
    if md5 != e.md5:
        out.append(Problem(f"{rel}/{WASM}", f"md5 {md5}, lock says {e.md5}"))
    expected = {SHA256_FILE: sha256_file_text(e).encode()}
    if not e.is_local:
        expected[METADATA] = metadata_text(e).encode()
    for fname, text in expected.items():
        try:
            if (d / fname).read_bytes() != text:
                out.append(Problem(f"{rel}/{fname}", "content does not match the lock"))
        except FileNotFoundError:
            out.append(Problem(f"{rel}/{fname}", "missing"))
    if e.is_local:
        try:
            meta = (d / METADATA).read_text()
            if f"SHA256: {e.sha256}" not in meta or f"MD5: {e.md5}" not in meta:
                out.append(Problem(f"{rel}/{METADATA}", "does not match the module"))
        except FileNotFoundError:
            out.append(Problem(f"{rel}/{METADATA}", "missing"))
    for fname, fsha in e.files.items():
        p = d / fname
        if not p.is_file():
            out.append(Problem(f"{rel}/{fname}", "missing"))
        elif sha256_file(p) != fsha:
            out.append(Problem(f"{rel}/{fname}", "sha256 does not match the lock"))
    gz = d / WASM_GZ
    if gz.exists() and _gunzip_sha(gz) != e.sha256:
        out.append(Problem(f"{rel}/{WASM_GZ}", "does not decompress to the module"))
    allowed = {WASM, WASM_GZ, SHA256_FILE, METADATA, *e.files}
    for child in sorted(os.listdir(d)):
        if child not in allowed:
            out.append(Problem(f"{rel}/{child}", "stray file" if child in VERSION_FILES else "unexpected file"))
    return out


# what a writer killed mid-way leaves: temporaries of sync.fsutil.tmp_name (hidden, so never
# served) and store directories no version links to yet; the next writer removes them
_LEFTOVER = re.compile(r"\..+\.(?:tmp|link|old)-[0-9a-f]{8}")


def _unserved(path: Path) -> bool:
    """A directory holding only hidden entries (a store nothing links to yet)."""
    return all(c.startswith(".") for c in os.listdir(path))


def _strays(tree: Tree, lock: Lock) -> list[Problem]:
    out: list[Problem] = []
    if not tree.root.is_dir():
        return [Problem(str(tree.root), "tree missing")]
    known_root = {INDEX_JSON, *CATALOG_FILES, LOCK_FILE, VERIFIED, "README.md"}
    if tree.snapshot_state.exists():
        known_root |= {INVENTORY, SNAPSHOT_STATE}
    names = set(lock.names())
    for child in sorted(os.listdir(tree.root)):
        p = tree.root / child
        if child in known_root or child == JOURNAL or _LEFTOVER.fullmatch(child):
            continue
        if child.startswith("."):
            out.append(Problem(child, "unexpected hidden file"))
        elif not (p.is_dir() and not p.is_symlink() and is_name(child)):
            out.append(Problem(child, "unexpected file"))
        elif child not in names:
            if not _unserved(p):
                out.append(Problem(child, "plugin not in the lock"))
        else:
            for v in sorted(os.listdir(p)):
                if v == STORE or _LEFTOVER.fullmatch(v):
                    continue
                if v.startswith(".") or not is_version(v) or lock.get(child, v) is None:
                    out.append(Problem(f"{child}/{v}", "version not in the lock"))
    return out


def _check_inventory(tree: Tree, lock: Lock, snapshot: dict[str, Any]) -> list[Problem]:
    """snapshot-inventory.json is what the snapshot build committed, and every key in it is
    served with the digest and module it names."""
    from sync.tree.store import inventory_text

    try:
        if tree.inventory.read_text(encoding="utf-8") != inventory_text(snapshot):
            return [Problem(INVENTORY, "does not match the snapshot build's state")]
    except FileNotFoundError:
        return [Problem(INVENTORY, "missing")]
    out: list[Problem] = []
    for key, item in sorted(snapshot["inventory"].items()):
        e = lock.get(key, item["version"])
        if e is None or (e.digest, e.sha256) != (item["digest"], item["wasmSha256"]):
            out.append(Problem(f"{INVENTORY}: {key}", "not served as the inventory says"))
    return out


def verify(tree: Tree, lock: Lock, jobs: int | None = None, snapshot: dict[str, Any] | None = None) -> list[Problem]:
    """Every problem found; an empty list means the tree serves exactly the lock (and, for a
    tree built from a snapshot, the inventory that ``snapshot`` holds)."""
    problems: list[Problem] = []
    if snapshot is not None:
        problems += _check_inventory(tree, lock, snapshot)
    with ThreadPoolExecutor(max_workers=jobs or (os.cpu_count() or 2)) as pool:
        for found in pool.map(lambda e: _check_entry(tree, e), lock.sorted()):
            problems += found
    # versions reported missing above: index.json rightly leaves them out
    absent = {e.key for e in lock.sorted() if not tree.version_dir(e.name, e.version).is_dir()}
    problems += _strays(tree, lock)
    if tree.journal.exists():
        problems.append(Problem(JOURNAL, "a commit was interrupted and is unfinished; the next pull finishes it"))
    try:
        served = json.loads(tree.index_json.read_text()).get("plugins")
        claimed = index_document([e for e in lock.sorted() if e.key not in absent])["plugins"]
        if served != claimed and served != index_document(lock.sorted())["plugins"]:
            problems.append(Problem(INDEX_JSON, "does not match the lock"))
    except FileNotFoundError:
        if lock.entries:  # a tree no pull has committed to yet serves nothing and claims nothing
            problems.append(Problem(INDEX_JSON, "missing"))
    except (ValueError, AttributeError):
        problems.append(Problem(INDEX_JSON, "not a valid index"))
    return problems
