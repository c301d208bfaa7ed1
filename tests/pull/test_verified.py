"""The stamps of what a run checked (``sync.tree.verified``): a no-op reads no module it
checked before and no program wrote since, and whatever was written since (even with its
size and modification time put back) is read again and repaired."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from sync.lock import LockEntry, load_lock
from sync.tree import Tree, verified
from sync.tree.verified import Stamps, stamp
from tests.support.workspace import Workspace, artifact

NAMES = ("a", "b", "c")


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as settled at once (``SETTLE`` waits two seconds of real time)."""
    monkeypatch.setattr(verified, "SETTLE", 0.0)


@pytest.fixture
def module_reads() -> Iterator[list[str]]:
    """Every ``plugin.wasm`` this process opens for reading from now on."""
    seen: list[str] = []
    active = [True]

    def hook(event: str, args: tuple[object, ...]) -> None:
        if active[0] and event == "open" and str(args[0]).endswith("plugin.wasm") and "r" in str(args[1] or "r"):
            seen.append(str(args[0]))

    sys.addaudithook(hook)  # hooks cannot be removed: this one is switched off instead
    yield seen
    active[0] = False


def _pulled(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert ws.registry is not None
    for i, n in enumerate(NAMES):
        ws.registry.push(f"plugins/{n}", "1.0.0", artifact(3000, i + 1))
    ws.write_config({n: {"tag": "1.0.0"} for n in NAMES})
    r = ws.inproc(capsys, "pull", "--plain-http", "--processes", "1")
    assert r.code == 0, r.err


def _entry(ws: Workspace, name: str) -> LockEntry:
    got = load_lock(ws.lock_path).get(name, "1.0.0")
    assert got is not None
    return got


def test_a_noop_reads_no_module_it_checked_before(ws: Workspace, capsys: pytest.CaptureFixture[str], settled: None,
                                                  module_reads: list[str]) -> None:
    _pulled(ws, capsys)
    r = ws.inproc(capsys, "pull", "--plain-http", "--processes", "1")  # checks every store, stamps them
    assert r.code == 0, r.err
    module_reads.clear()
    r = ws.inproc(capsys, "pull", "--plain-http", "--processes", "1", "--json")
    assert r.code == 0, r.err
    assert module_reads == []
    assert all(p["status"] == "unchanged" for p in json.loads(r.out)["plugins"])
    assert ws.cli("verify").code == 0  # verify reads every byte, and the stamps file is no stray


def test_a_module_written_since_is_read_again_and_repaired_even_with_its_size_and_time_put_back(
        ws: Workspace, capsys: pytest.CaptureFixture[str], settled: None, module_reads: list[str]) -> None:
    _pulled(ws, capsys)
    assert ws.inproc(capsys, "pull", "--plain-http", "--processes", "1").code == 0
    wasm = ws.root / "b" / "1.0.0" / "plugin.wasm"
    good = wasm.read_bytes()
    st = os.stat(wasm)
    store_file = wasm.resolve()
    store_file.chmod(0o644)
    store_file.write_bytes(bytes(len(good)))  # the same size ...
    os.utime(store_file, ns=(st.st_atime_ns, st.st_mtime_ns))  # ... and modification time
    module_reads.clear()
    r = ws.inproc(capsys, "pull", "--plain-http", "--processes", "1", "--json")
    assert r.code == 0, r.err
    assert wasm.read_bytes() == good
    assert any("/b/" in p for p in module_reads) and not any("/a/" in p or "/c/" in p for p in module_reads)
    assert {p["name"]: p["downloaded"] for p in json.loads(r.out)["plugins"]} == {"a": False, "b": True, "c": False}


def test_a_damaged_stamps_file_is_ignored_and_made_again(ws: Workspace, capsys: pytest.CaptureFixture[str],
                                                        settled: None, module_reads: list[str]) -> None:
    _pulled(ws, capsys)
    stamps = ws.root / ".verified.json"
    for damage in (b"{not json", b'{"format": 1, "stores": []}', b'{"format": 99, "stores": {}}', b"[]"):
        stamps.write_bytes(damage)
        module_reads.clear()
        r = ws.inproc(capsys, "pull", "--plain-http", "--processes", "1")
        assert r.code == 0 and "Traceback" not in r.err, r.err
        assert len({p for p in module_reads}) == len(NAMES)  # every store read again
        assert set(json.loads(stamps.read_text())["stores"]) == {
            str(Path(n) / ".store" / (ws.root / n / "1.0.0").resolve().name) for n in NAMES}


def test_a_file_changed_within_the_settling_time_gets_no_stamp(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    _pulled(ws, capsys)
    entry = _entry(ws, "a")
    store = (ws.root / "a" / "1.0.0").resolve()
    changed = max(max(os.stat(p).st_mtime_ns, os.stat(p).st_ctime_ns) for p in store.iterdir()) / 1e9
    assert stamp(store, entry, now=changed + verified.SETTLE / 2) is None
    assert stamp(store, entry, now=changed + verified.SETTLE + 0.1) is not None
    # and a stamp is for one entry: another entry's expectations do not match it
    other = _entry(ws, "b")
    kept = Stamps(Tree(ws.root), {"a/.store/" + store.name: stamp(store, entry, now=time.time() + 10)})
    assert kept.stamps["a/.store/" + store.name] is not None
    assert not kept.fresh(store, other)
