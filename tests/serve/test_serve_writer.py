"""`plugin-sync serve` writes into the tree (the precompressed modules): it does so as a
writer, under the tree's lock, and what a killed writer left beside a module is cleaned."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sync.tree.layout import WASM_GZ
from sync.tree.store import collect_garbage, writer_lock
from tests.serve.trees import build_tree

# what a `pull --gzip` or `serve` killed while it compresses leaves (sync.fsutil.tmp_name)
LEFTOVER = "." + WASM_GZ + ".tmp-0badc0de"


def _cli(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sync", "--root", str(root), "--lock", str(root.parent / "plugins.lock.json"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PATH": "/nonexistent"},
    )


def _run(root: Path, *args: str) -> tuple[int, str]:
    p = _cli(root, *args)
    out, err = p.communicate(timeout=60)
    return p.returncode, out + err


def _leave_leftovers(root: Path) -> list[Path]:
    """A half-written .gz in a store directory and in a hand-placed version directory."""
    store = next(root.glob("key-auth/.store/*"))
    made = [store / LEFTOVER, root / "my-filter" / "0.1.0" / LEFTOVER]
    for p in made:
        p.write_bytes(b"\x1f\x8b\x08\x00 cut short")
    return made


def test_garbage_collection_removes_a_killed_compressions_leftovers(tmp_path: Path) -> None:
    tree, lock = build_tree(tmp_path / "plugins")
    leftovers = _leave_leftovers(tree.root)
    code, out = _run(tree.root, "verify")
    assert code == 1 and LEFTOVER in out
    collect_garbage(tree, lock)
    assert not any(p.exists() for p in leftovers)
    assert all((tree.version_dir(e.name, e.version) / WASM_GZ).is_file() for e in lock.sorted())  # the real ones stay
    code, out = _run(tree.root, "verify")
    assert code == 0, out


def test_serve_cleans_its_own_killed_compressions_leftovers(tmp_path: Path) -> None:
    tree, lock = build_tree(tmp_path / "plugins", gzip=False)  # killed before any .gz was renamed in place
    leftovers = _leave_leftovers(tree.root)
    code, out = _run(tree.root, "serve", "--prepare-only")
    assert code == 0, out
    assert not any(p.exists() for p in leftovers)
    code, out = _run(tree.root, "verify")
    assert code == 0, out


def test_prepare_only_refuses_clearly_while_a_writer_holds_the_tree(tmp_path: Path) -> None:
    tree, _ = build_tree(tmp_path / "plugins", gzip=False)
    with writer_lock(tree):
        code, out = _run(tree.root, "serve", "--prepare-only", "--wait", "0.3")
    assert code == 1, out
    assert out.strip().splitlines() == [
        "waiting for another plugin-sync writing this tree ...",
        f"plugin-sync: error: {tree.root}: another plugin-sync is writing this tree; try again when it ends"]
    assert not list(tree.root.rglob(WASM_GZ))  # nothing written under another writer


def test_prepare_only_waits_for_the_writer_then_precompresses(tmp_path: Path) -> None:
    tree, lock = build_tree(tmp_path / "plugins", gzip=False)
    with writer_lock(tree):
        proc = _cli(tree.root, "serve", "--prepare-only")
        assert proc.stderr is not None
        line = proc.stderr.readline()  # told before it waits
        assert "waiting for another plugin-sync writing this tree" in line, line
        time.sleep(0.3)
        assert proc.poll() is None and not list(tree.root.rglob(WASM_GZ))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert all((tree.version_dir(e.name, e.version) / WASM_GZ).is_file() for e in lock.sorted())


def test_serving_a_tree_with_nothing_to_compress_takes_no_lock(tmp_path: Path) -> None:
    """An already precompressed tree may be read-only: serve writes nothing, so it needs no
    writer's lock, and a writer holding it does not delay it."""
    tree, _ = build_tree(tmp_path / "plugins")
    with writer_lock(tree):
        code, out = _run(tree.root, "serve", "--prepare-only", "--wait", "0.3")
    assert code == 0, out
