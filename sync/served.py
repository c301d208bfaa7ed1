"""Committing the served tree with its derived files: ``sync.tree.store``'s commit and
recovery with the catalog pages (``sync.catalog``) rendered from the committed entries.

The tree layer knows no renderer; every writer (pull, pull --snapshot, metadata) commits
through here, so ``index.json`` and the catalog never disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sync.catalog import write_catalog
from sync.lock import Lock
from sync.tree import Tree, store


def commit(tree: Tree, lock: Lock, lock_path: Path | None, snapshot: dict[str, Any] | None = None) -> None:
    """``sync.tree.store.commit`` with the catalog."""
    store.commit(tree, lock, lock_path, snapshot, derived=write_catalog)


def recover(tree: Tree, lock_path: Path | None) -> bool:
    """``sync.tree.store.recover`` with the catalog."""
    return store.recover(tree, lock_path, derived=write_catalog)
