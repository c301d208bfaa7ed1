"""Served trees for the serve tests, made the way pull makes them: store directories,
lock entries and one commit; plus a hand-placed directory and precompressed modules."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from sync.fsutil import write_atomic
from sync.lock import LOCAL, Lock, LockEntry
from sync.sample import wasm_module
from sync.served import commit
from sync.tree import Tree
from sync.tree.files import metadata_text, sha256_file_text
from sync.tree.layout import METADATA, SHA256_FILE, WASM
from sync.tree.precompress import precompress
from sync.tree.store import finish_staging, new_staging

SPEC = """apiVersion: 1.0.0
info:
  category: auth
  name: basic-auth
  title: Basic Auth
  version: 1.0.0
spec:
  phase: AUTHN
  priority: 320
"""


@dataclass(frozen=True)
class Module:
    name: str
    versions: tuple[str, ...]
    data: bytes
    spec: str | None = None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pulled(tree: Tree, m: Module) -> list[LockEntry]:
    files = {"spec.yaml": _sha(m.spec.encode())} if m.spec else {}
    digest = "sha256:" + _sha(m.name.encode() + m.data)
    base = LockEntry(
        name=m.name, version="-", source=f"oci://registry.example/plugins/{m.name}:{m.versions[0]}",
        digest=digest, format="tar+gzip", sha256=_sha(m.data), md5=hashlib.md5(m.data).hexdigest(),
        size=len(m.data), files=files, created="2025-01-01T00:00:00Z", pulled="2025-01-02T00:00:00Z",
        category="auth",
    )
    staging = new_staging(tree, m.name)
    (staging / WASM).write_bytes(m.data)
    if m.spec:
        (staging / "spec.yaml").write_text(m.spec, encoding="utf-8")
    finish_staging(tree, staging, base)
    return [replace(base, version=v) for v in m.versions]


def _hand_placed(tree: Tree, name: str, version: str, data: bytes) -> LockEntry:
    entry = LockEntry(name=name, version=version, source=LOCAL, digest=None, format=LOCAL,
                      sha256=_sha(data), md5=hashlib.md5(data).hexdigest(), size=len(data))
    d = tree.version_dir(name, version)
    d.mkdir(parents=True)
    write_atomic(d / WASM, data)
    write_atomic(d / SHA256_FILE, sha256_file_text(entry))
    write_atomic(d / METADATA, metadata_text(entry))
    return entry


# the standard tree: an alias (two versions of one artifact), a bigger module, a hand-placed one
MODULES = (
    Module("basic-auth", ("1.0.0", "2.0.0"), wasm_module(4096, seed=1), SPEC),
    Module("key-auth", ("2.0.0",), wasm_module(200_000, seed=2, compressible=0.8)),
)
HAND_PLACED = ("my-filter", "0.1.0", wasm_module(1024, seed=3))


def build_tree(root: Path, gzip: bool = True, modules: tuple[Module, ...] = MODULES,
               hand_placed: tuple[str, str, bytes] | None = HAND_PLACED) -> tuple[Tree, Lock]:
    tree = Tree(root)
    entries: list[LockEntry] = []
    for m in modules:
        entries += _pulled(tree, m)
    if hand_placed:
        entries.append(_hand_placed(tree, *hand_placed))
    lock = Lock.from_entries(entries)
    commit(tree, lock, root.parent / "plugins.lock.json")
    if gzip:
        precompress(tree, lock, 2)
    return tree, lock
