"""Committing the served tree with its derived files: ``sync.tree.store``'s commit and
recovery with the catalog pages (``sync.catalog``) rendered from the committed entries.

The tree layer knows no renderer; every writer (pull, pull --snapshot, metadata) commits
through here, so ``index.json`` and the catalog never disagree. What a commit or a
recovery leaves out of the tree is said on stderr, one line each.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Any

from sync.catalog import Parts, write_catalog
from sync.lock import Lock
from sync.tree import Tree, store


def warn(message: str) -> None:
    print(f"plugin-sync: {message}", file=sys.stderr)


def commit(tree: Tree, lock: Lock, lock_path: Path | None, snapshot: dict[str, Any] | None = None, *,
           served: Lock | None = None, parts: Parts | None = None, links: store.Links | None = None) -> None:
    """``sync.tree.store.commit`` with the catalog: the tree serves ``served`` (default
    ``lock``), and ``lock`` is saved at ``lock_path``; ``parts``: pieces of the catalog
    page made before (``sync.catalog.Parts``); ``links``: version links made before
    (``sync.tree.store.Links``)."""
    derived = partial(write_catalog, parts=parts) if parts is not None else write_catalog
    store.commit(tree, lock, lock_path, snapshot, derived=derived, served=served, warn=warn, links=links)


def recover(tree: Tree, lock_path: Path | None) -> bool:
    """``sync.tree.store.recover`` with the catalog."""
    return store.recover(tree, lock_path, derived=write_catalog, warn=warn)
