"""pull --snapshot over a tree that is already served: by a plain pull, or by an earlier
snapshot build. A failed build changes nothing that is served; a successful one leaves a
tree that verifies, aliases included, however the store directories looked before."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.snapshot import SnapshotWorkspace
from tests.support.workspace import assert_no_traceback, tree_state

# two different stamps, so that a store directory rewritten by the build shows in its metadata.txt
PLAIN_EPOCH, BUILD_EPOCH = "1700000000", "1800000000"


def _stores(root: Path) -> dict[str, int]:
    """Every store directory, by path, with its inode: a replaced one gets a new inode."""
    return {str(d.relative_to(root)): d.stat().st_ino for d in root.glob("*/.store/*")}


def _plain_pull(sws: SnapshotWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", PLAIN_EPOCH)
    r = sws.pull()
    assert r.code == 0, r.err
    monkeypatch.setenv("SOURCE_DATE_EPOCH", BUILD_EPOCH)


@pytest.mark.parametrize("lock_known", [True, False], ids=["lock-beside", "lock-elsewhere"])
def test_a_failed_build_over_a_plain_pulled_tree_replaces_no_served_store(
        sws: SnapshotWorkspace, monkeypatch: pytest.MonkeyPatch, lock_known: bool) -> None:
    """Without the lock that pulled it (lock-elsewhere) the build cannot tell the stores are
    intact, so it rebuilds them beside the served ones; the failure removes those."""
    _plain_pull(sws, monkeypatch)  # the unmanaged plugins, pulled by tag: the same digests the build pins
    before, stores = tree_state(sws.root), _stores(sws.root)
    assert len(stores) == 3
    assert sws.built is not None
    sws.built.entry("cors")["digest"] = "sha256:" + "0" * 64  # one artifact the registry lacks
    aside = sws.dir / "elsewhere.lock.json"
    if not lock_known:
        sws.lock_path.rename(aside)
    r = sws.snapshot_pull("--jobs", "4")
    if not lock_known:
        aside.rename(sws.lock_path)
    assert_no_traceback(r)
    assert r.code == 1 and "cors" in r.err, r.err
    assert _stores(sws.root) == stores  # no served store directory deleted or replaced
    assert tree_state(sws.root) == before
    v = sws.cli("verify")
    assert v.code == 0, v.out + v.err


def test_a_build_over_a_plain_pulled_tree_keeps_its_intact_stores_and_verifies(
        sws: SnapshotWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    _plain_pull(sws, monkeypatch)
    stores = _stores(sws.root)
    r = sws.snapshot_pull()
    assert r.code == 0, r.err
    after = _stores(sws.root)
    assert {k: after.get(k) for k in stores} == stores  # reused as they are, never swapped out
    v = sws.cli("verify")
    assert v.code == 0, v.out + v.err


def test_an_alias_the_plain_pull_served_verifies_after_every_build(
        sws: SnapshotWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain pull served ``jsonrpc-converter``, which the snapshot serves as an alias of
    ``json-converter``'s artifact: its store directory, stamped by that pull, must not stay
    beside a lock that says otherwise."""
    assert sws.built is not None
    jc = sws.built.entry("json-converter")
    sws.configure_unmanaged({"jsonrpc-converter": {"source": f"oci://{jc['ociRef']}"}})
    _plain_pull(sws, monkeypatch)
    for _ in range(2):
        r = sws.snapshot_pull()
        assert r.code == 0, r.err
        v = sws.cli("verify")
        assert v.code == 0, v.out + v.err


def test_a_damaged_alias_store_is_repaired_by_the_next_build(sws: SnapshotWorkspace) -> None:
    assert sws.snapshot_pull().code == 0
    assert sws.built is not None
    version = sws.built.entry("json-converter")["version"]
    alias = sws.root / "jsonrpc-converter" / version
    damaged = alias / "metadata.txt"
    text = damaged.read_text()
    os.unlink(damaged)  # its own file: the module is shared with json-converter, metadata.txt is not
    damaged.write_text(text.replace("Plugin Name:", "Plugin  Name:"))
    assert sws.cli("verify").code == 1
    r = sws.snapshot_pull()
    assert r.code == 0, r.err
    v = sws.cli("verify")
    assert v.code == 0, v.out + v.err
    assert damaged.read_text() == text


def test_a_damaged_store_is_repaired_without_unlinking_what_is_served(sws: SnapshotWorkspace) -> None:
    """The repaired store directory is built beside the damaged one and swapped in with one
    rename: the version's link never points at nothing."""
    assert sws.snapshot_pull().code == 0
    wasm = sws.root / "basic-auth" / "2.0.0" / "plugin.wasm"
    good = wasm.read_bytes()
    os.unlink(wasm)
    wasm.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    assert sws.cli("verify").code == 1
    r = sws.snapshot_pull()
    assert r.code == 0, r.err
    assert wasm.read_bytes() == good
    assert sws.cli("verify").code == 0
    assert not list(sws.root.glob("*/.store/.*"))  # nothing left beside the store directories
