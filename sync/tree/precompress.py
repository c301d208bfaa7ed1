"""Precompressed ``plugin.wasm.gz`` files for nginx's gzip_static, made on all cores.

Only the image build and ``plugin-sync serve`` ask for them: they cost more CPU than the
rest of a pull together. Store directories never change once complete, so a ``.gz``
there is current; for hand-placed directories it must be newer than the module.
``precompress`` writes into the tree: call it under the tree's writer lock.
"""

from __future__ import annotations

import gzip
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sync.fsutil import CHUNK, tmp_name
from sync.lock import Lock
from sync.tree.layout import WASM, WASM_GZ, Tree

LEVEL = 6


def _needs(wasm: Path, gz: Path, local: bool) -> bool:
    try:
        g = gz.stat()
    except FileNotFoundError:
        return True
    return local and g.st_mtime_ns < wasm.stat().st_mtime_ns


def _compress(wasm: Path, gz: Path) -> int:
    tmp = tmp_name(gz)
    try:
        with open(wasm, "rb") as src, open(tmp, "wb") as raw:
            # mtime=0 and no file name: the same module always gives the same bytes
            with gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=LEVEL, mtime=0) as out:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, gz)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return gz.stat().st_size


def pending(tree: Tree, lock: Lock) -> dict[Path, Path]:
    """The modules whose ``.gz`` is missing or stale, each with the ``.gz`` to write (versions
    sharing a store directory are listed once)."""
    todo: dict[Path, Path] = {}
    for e in lock.sorted():
        d = tree.version_dir(e.name, e.version).resolve()
        wasm, gz = d / WASM, d / WASM_GZ
        if wasm.is_file() and _needs(wasm, gz, e.is_local):
            todo[wasm] = gz
    return todo


def precompress(tree: Tree, lock: Lock, jobs: int | None = None) -> int:
    """Write missing ``.gz`` files for every served module, removing what a killed run left
    half-written beside them. Returns how many were written."""
    todo = pending(tree, lock)
    if not todo:
        return 0
    for gz in todo.values():
        for leftover in gz.parent.glob(f".{gz.name}.tmp-*"):
            leftover.unlink(missing_ok=True)
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        list(pool.map(lambda kv: _compress(*kv), todo.items()))
    return len(todo)
