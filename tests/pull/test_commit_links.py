"""Version links made while the downloads run (``sync.tree.store.Links``): the commit renames
them into place instead of creating them after the last byte; none is served before the
commit, and none is left behind by a commit that fails or does not serve its version, or by
a pull stopped before its commit."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from sync.config import load_config
from sync.lock import Lock, LockEntry
from sync.pull.report import PluginResult
from sync.pull.run import PullOptions, run_pull
from sync.served import commit
from sync.tree import Tree
from sync.tree.store import Links
from sync.sample import wasm_module
from tests.serve.trees import MODULES, Module, _pulled
from tests.support.workspace import Workspace, artifact


def _hidden_links(tree: Tree) -> list[str]:
    return sorted(p.name for p in tree.root.glob("*/.*.link-*"))


def _fresh(tmp_path: Path) -> tuple[Tree, list[LockEntry]]:
    tree = Tree(tmp_path / "plugins")
    entries = [e for m in MODULES for e in _pulled(tree, m)]
    return tree, entries


def test_the_commit_renames_the_links_made_before_it_into_place(tmp_path: Path) -> None:
    tree, entries = _fresh(tmp_path)
    links = Links()
    links.prepare(tree, entries)
    made = {e.key: os.lstat(links.made[e.key][1]).st_ino for e in entries}
    assert len(_hidden_links(tree)) == len(entries)
    assert tree.served() == []  # made, not served: nothing is served before the commit

    commit(tree, Lock.from_entries(entries), None, links=links)

    for e in entries:
        link = tree.version_dir(e.name, e.version)
        assert os.readlink(link) == tree.link_target(e.name, str(e.digest))
        assert os.lstat(link).st_ino == made[e.key]  # the very link made before: renamed, not made again
        assert (link / "plugin.wasm").is_file()
    assert _hidden_links(tree) == []
    assert links.made == {}


def test_links_the_tree_already_serves_are_not_made_again(tmp_path: Path) -> None:
    tree, entries = _fresh(tmp_path)
    commit(tree, Lock.from_entries(entries), None)
    links = Links()
    links.prepare(tree, entries)
    assert links.made == {} and _hidden_links(tree) == []


def test_a_link_the_commit_does_not_serve_is_removed(tmp_path: Path) -> None:
    tree, entries = _fresh(tmp_path)
    links = Links()
    links.prepare(tree, entries)
    kept, dropped = entries[:-1], entries[-1]

    commit(tree, Lock.from_entries(kept), None, links=links)

    assert _hidden_links(tree) == []
    assert not tree.version_dir(dropped.name, dropped.version).exists()
    assert {(n, v) for n, v in tree.served()} == {e.key for e in kept}


def test_a_link_made_for_another_artifact_is_not_taken(tmp_path: Path) -> None:
    """The entry committed names another digest than the link was made for (the plan chose
    the other artifact): the commit links the one it serves."""
    tree, entries = _fresh(tmp_path)
    first = entries[0]
    links = Links()
    links.prepare(tree, [first])
    other = _pulled(tree, Module(first.name, ("9.9.9",), wasm_module(2048, seed=9)))[0]
    moved = replace(first, digest=other.digest)

    commit(tree, Lock.from_entries([moved]), None, links=links)

    assert os.readlink(tree.version_dir(first.name, first.version)) == tree.link_target(first.name, str(other.digest))
    assert _hidden_links(tree) == []


def test_a_commit_that_fails_leaves_no_link_behind(tmp_path: Path) -> None:
    tree, entries = _fresh(tmp_path)
    links = Links()
    links.prepare(tree, entries)
    tree.index_json.mkdir(parents=True)  # index.json cannot be written: the commit fails there

    with pytest.raises(OSError):
        commit(tree, Lock.from_entries(entries), None, links=links)
    assert _hidden_links(tree) == []


def test_a_pull_interrupted_after_some_downloads_leaves_no_link_behind(ws: Workspace) -> None:
    """Ctrl-C once three plugins are in (their links made ahead): the run stops before its
    commit, serves nothing new, and removes the links it made."""
    reg = ws.registry
    assert reg is not None
    for i in range(6):
        reg.push(f"plugins/p{i}", "1.0.0", artifact(4096, seed=i))
    ws.write_config({f"p{i}": {"tag": "1.0.0"} for i in range(6)})
    came: list[str] = []

    def outcome(result: PluginResult) -> None:
        came.append(result.name)
        if len(came) == 3:
            assert len(_hidden_links(Tree(ws.root))) == 3  # made ahead, one a plugin in so far
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_pull(Tree(ws.root), load_config(ws.config), Lock(), ws.lock_path,
                 PullOptions(jobs=2, processes=1, plain_http=True), on_outcome=outcome)
    assert _hidden_links(Tree(ws.root)) == []
    assert Tree(ws.root).served() == []
    assert not ws.lock_path.exists()
