"""Starting from a fresh clone (config and lock, no pulled stores) or from what a failed or
killed run left: one plugin that fails never wedges the tree. The lock keeps its entries
(the next pull retries it), the tree serves only what it holds intact, and a journal that
cannot be applied in full is applied as far as it can be and never fails a run twice.

These run offline, on the sample OCI layout of the README's demo (``samples/``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sync.sample import wasm_module
from tests.support.workspace import Result, Workspace, assert_no_traceback

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture
def demo(tmp_path: Path) -> Workspace:
    """The README's demo: a copy of samples/ (config and layout), pulled once."""
    shutil.copytree(SAMPLES, tmp_path, dirs_exist_ok=True)
    ws = Workspace(tmp_path, None)
    r = run(ws, "pull")
    assert r.code == 0, r.err
    return ws


def run(ws: Workspace, *args: str) -> Result:
    r = ws.cli(*args)
    assert_no_traceback(r)
    return r


def drop_tag(ws: Workspace, ref: str) -> None:
    """Remove ``ref`` (REPOSITORY:TAG) from the layout: that plugin's pull now fails."""
    index = ws.dir / "oci-layout" / "index.json"
    doc = json.loads(index.read_text())
    doc["manifests"] = [m for m in doc["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] != ref]
    index.write_text(json.dumps(doc))


def restore_layout(ws: Workspace) -> None:
    shutil.copy(SAMPLES / "oci-layout" / "index.json", ws.dir / "oci-layout" / "index.json")


def wasm_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob("*/*/plugin.wasm"))}


def test_a_failed_plugin_on_a_fresh_clone_does_not_wedge_the_next_pulls(demo: Workspace) -> None:
    """The README's demo repro: rm -rf the tree, key-auth's tag gone, pull, then pull basic-auth."""
    ws = demo
    lock_before = ws.lock_path.read_bytes()
    served_before = wasm_files(ws.root)
    shutil.rmtree(ws.root)
    drop_tag(ws, "plugins/key-auth:2.0.0")

    r = run(ws, "pull")
    assert r.code == 1 and "failed    key-auth: " in r.err, r.err
    assert not (ws.root / ".journal.json").exists()
    assert ws.lock_path.read_bytes() == lock_before  # key-auth's entries kept: nothing forgotten
    assert wasm_files(ws.root) == {k: v for k, v in served_before.items() if not k.startswith("key-auth/")}
    assert not (ws.root / "key-auth").exists()
    index = json.loads((ws.root / "index.json").read_text())
    assert {p["name"] for p in index["plugins"]} == {"basic-auth", "json-converter"}

    v = run(ws, "verify")  # the unserved version, and what to do about it
    assert v.code == 1 and v.out == "key-auth/2.0.0: missing: not served; 'plugin-sync pull' fetches it\n", v.out

    r = run(ws, "pull", "basic-auth")
    assert r.code == 0, r.err
    assert ws.lock_path.read_bytes() == lock_before

    restore_layout(ws)
    r = run(ws, "pull")
    assert r.code == 0, r.err
    assert wasm_files(ws.root) == served_before and ws.lock_path.read_bytes() == lock_before
    v = run(ws, "verify")
    assert v.code == 0, v.out


def test_a_pull_of_one_plugin_on_a_fresh_clone_serves_it_and_keeps_the_others_locked(demo: Workspace) -> None:
    ws = demo
    lock_before = ws.lock_path.read_bytes()
    shutil.rmtree(ws.root)
    r = run(ws, "pull", "key-auth")
    assert r.code == 0, r.err
    assert sorted(wasm_files(ws.root)) == ["key-auth/2.0.0/plugin.wasm"]
    assert ws.lock_path.read_bytes() == lock_before
    assert run(ws, "pull").code == 0 and run(ws, "verify").code == 0


def test_metadata_on_a_fresh_clone_then_pull(demo: Workspace) -> None:
    """The hand-placed workflow of docs/custom-builds.md on a clone that pulled nothing yet."""
    ws = demo
    shutil.rmtree(ws.root)
    custom = wasm_module(700, 5)
    d = ws.root / "my-plugin" / "1.0.0"
    d.mkdir(parents=True)
    (d / "plugin.wasm").write_bytes(custom)

    r = run(ws, "metadata", str(d))
    assert r.code == 0, r.err
    assert "local     my-plugin 1.0.0" in r.out
    assert "4 pulled plugin version(s) of the lock are not in the tree; 'plugin-sync pull' fetches them" in r.err
    assert not (ws.root / ".journal.json").exists()
    lock = ws.lock()
    assert lock.get("my-plugin", "1.0.0").is_local and len(lock.entries) == 5  # type: ignore[union-attr]
    index = json.loads((ws.root / "index.json").read_text())
    assert [(p["name"], p["version"]) for p in index["plugins"]] == [("my-plugin", "1.0.0")]

    r = run(ws, "pull")
    assert r.code == 0, r.err
    assert (d / "plugin.wasm").read_bytes() == custom
    assert len(wasm_files(ws.root)) == 5
    assert run(ws, "verify").code == 0


def test_a_journal_naming_a_missing_store_is_applied_as_far_as_it_can_be(demo: Workspace) -> None:
    """What a pull killed in its commit leaves, when a store it links has gone since: the
    next pull finishes the rest, names what it dropped, and exits 0."""
    ws = demo
    served_before = wasm_files(ws.root)
    lock = json.loads(ws.lock_path.read_text())
    # the commit in progress: json-converter's version 2.0.3 is also to be served as 2.0.4
    lock["plugins"]["json-converter"]["2.0.4"] = lock["plugins"]["json-converter"]["2.0.3"]
    (ws.root / ".journal.json").write_text(json.dumps(lock))
    key_auth_store = next((ws.root / "key-auth" / ".store").iterdir())
    shutil.rmtree(key_auth_store)

    r = run(ws, "pull", "basic-auth")
    assert r.code == 0, r.err
    dropped = [ln for ln in r.err.splitlines() if "not served" in ln]
    assert dropped == [f"plugin-sync: key-auth/2.0.0: not served: its store directory .store/{key_auth_store.name} "
                       "is missing; the next pull fetches it"], r.err
    assert not (ws.root / ".journal.json").exists()
    # the rest of the journal was applied: the new version is served and locked
    assert (ws.root / "json-converter" / "2.0.4" / "plugin.wasm").read_bytes() == served_before[
        "json-converter/2.0.3/plugin.wasm"]
    assert ws.lock().get("json-converter", "2.0.4") is not None
    assert ws.lock().get("key-auth", "2.0.0") is not None

    r = run(ws, "pull")
    assert r.code == 0, r.err
    assert wasm_files(ws.root) == {k: v for k, v in served_before.items()}  # 2.0.4 pruned: not configured
    assert run(ws, "verify").code == 0


def test_a_journal_that_cannot_be_applied_is_dropped_once(demo: Workspace) -> None:
    """A journal entry whose ``pulled`` is not a string cannot be rendered into index.json:
    the next pull says so in one line, drops it and commits its own state."""
    ws = demo
    lock = json.loads(ws.lock_path.read_text())
    lock["plugins"]["key-auth"]["2.0.0"]["pulled"] = 5
    (ws.root / ".journal.json").write_text(json.dumps(lock))
    r = run(ws, "pull")
    assert r.code == 0, r.err
    assert [ln for ln in r.err.splitlines() if ln.startswith("plugin-sync: .journal.json: dropped")], r.err
    assert not (ws.root / ".journal.json").exists()
    assert run(ws, "verify").code == 0


def test_a_lock_entry_that_cannot_be_rendered_never_leaves_a_journal(demo: Workspace) -> None:
    """A lock whose ``pulled`` is not a string fails the run (a bad lock) before the commit
    writes anything; once the lock is mended, the next pull succeeds."""
    ws = demo
    good = ws.lock_path.read_text()
    lock = json.loads(good)
    lock["plugins"]["key-auth"]["2.0.0"]["pulled"] = 5
    ws.lock_path.write_text(json.dumps(lock))
    for args in (("pull",), ("pull", "basic-auth"), ("metadata",)):
        r = run(ws, *args)
        assert r.code != 0 and len(r.err.strip().splitlines()) >= 1, (args, r.err)
        assert not (ws.root / ".journal.json").exists(), args
    ws.lock_path.write_text(good)
    assert run(ws, "pull").code == 0 and run(ws, "verify").code == 0
