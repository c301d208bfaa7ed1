"""Fixtures of the fleet tests: a served tree of modules the size of real plugins' (a few
hundred KiB to a few MiB), made the way pull makes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.lock import Lock
from sync.sample import wasm_module
from sync.tree import Tree
from sync.tree.layout import url_path
from tests.serve.trees import Module, build_tree

PLUGINS = 8


def fleet_modules(count: int = PLUGINS) -> tuple[Module, ...]:
    return tuple(Module(f"fleet-{i}", ("1.0.0",), wasm_module(300_000 + 250_000 * i, seed=100 + i, compressible=0.6))
                 for i in range(count))


def module_paths(lock: Lock) -> dict[str, str]:
    """URL path of every served module -> its sha256 in the lock."""
    return {url_path(e.name, e.version): e.sha256 for e in lock.sorted()}


@pytest.fixture(scope="package")
def fleet_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Tree, dict[str, str]]:
    """A tree of PLUGINS modules (0.3 to 2 MiB), precompressed: (tree, path -> sha256)."""
    tree, lock = build_tree(Path(tmp_path_factory.mktemp("fleet")) / "plugins", modules=fleet_modules(),
                            hand_placed=None)
    return tree, module_paths(lock)
