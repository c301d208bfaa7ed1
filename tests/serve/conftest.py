from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from sync.tree import Tree
from tests.serve.trees import build_tree
from tests.support.nginx import NginxServer, running_nginx


@pytest.fixture(scope="module")
def served_tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    """The standard tree (see trees.py), precompressed, shared by a test module."""
    tree, _ = build_tree(tmp_path_factory.mktemp("served") / "plugins")
    return tree


@pytest.fixture(scope="module")
def server(served_tree: Tree) -> Iterator[NginxServer]:
    with running_nginx(served_tree.root) as s:
        yield s


@pytest.fixture(scope="module")
def index(served_tree: Tree) -> list[dict[str, Any]]:
    return list(json.loads(served_tree.index_json.read_text())["plugins"])


@pytest.fixture
def fresh_tree(tmp_path: Path) -> Tree:
    """A tree of the test's own, free to change."""
    tree, _ = build_tree(tmp_path / "plugins")
    return tree
