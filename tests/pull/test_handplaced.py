"""Hand-placed plugins: metadata, lock entries, never overwritten by pull; verify reports."""

from __future__ import annotations

import hashlib
import json

from sync.sample import wasm_module
from tests.support.workspace import Workspace, artifact, assert_no_traceback


def test_metadata_records_and_pull_keeps_hand_placed(ws: Workspace) -> None:
    assert ws.registry
    ws.registry.push("plugins/a", "1.0.0", artifact(500, 1))
    ws.write_config({"a": {"tag": "1.0.0"}})
    assert ws.pull().code == 0
    custom = wasm_module(1234, 77)
    d = ws.root / "custom" / "0.1.0"
    d.mkdir(parents=True)
    (d / "plugin.wasm").write_bytes(custom)
    # before metadata: verify reports the stray version
    v = ws.cli("verify")
    assert v.code == 1 and "custom: plugin not in the lock" in v.out

    r = ws.cli("metadata")
    assert r.code == 0, r.err
    assert "local     custom 0.1.0" in r.out
    assert (d / "plugin.wasm.sha256").read_text() == f"{hashlib.sha256(custom).hexdigest()}  plugin.wasm\n"
    meta = (d / "metadata.txt").read_text()
    assert "Plugin Name: custom" in meta and f"Size: {len(custom)} bytes" in meta
    assert f"MD5: {hashlib.md5(custom).hexdigest()}" in meta
    e = ws.lock().get("custom", "0.1.0")
    assert e and e.is_local and e.sha256 == hashlib.sha256(custom).hexdigest()
    index = json.loads((ws.root / "index.json").read_text())
    assert any(p["name"] == "custom" and p["source"] == "local" for p in index["plugins"])
    assert ws.cli("verify").code == 0

    # a later pull keeps it, even when the config now names the same plugin/version
    ws.registry.push("plugins/custom", "0.1.0", artifact(600, 2))
    ws.write_config({"a": {"tag": "1.0.0"}, "custom": {"tag": "0.1.0"}})
    r = ws.pull()
    assert r.code == 0, r.err
    assert (d / "plugin.wasm").read_bytes() == custom
    assert ws.lock().get("custom", "0.1.0").is_local  # type: ignore[union-attr]
    assert ws.cli("verify").code == 0


def test_unregistered_hand_placed_files_block_only_that_plugin(ws: Workspace) -> None:
    assert ws.registry
    ws.registry.push("plugins/a", "1.0.0", artifact(500, 1))
    ws.registry.push("plugins/b", "1.0.0", artifact(500, 2))
    d = ws.root / "b" / "1.0.0"
    d.mkdir(parents=True)
    (d / "plugin.wasm").write_bytes(wasm_module(100, 9))
    ws.write_config({"a": {"tag": "1.0.0"}, "b": {"tag": "1.0.0"}})
    r = ws.pull()
    assert r.code == 1
    assert "b/1.0.0 holds hand-placed files" in r.err
    assert (d / "plugin.wasm").read_bytes() == wasm_module(100, 9)
    assert (ws.root / "a/1.0.0/plugin.wasm").exists()


def test_metadata_refuses_paths_outside_and_non_wasm(ws: Workspace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ws.root.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "elsewhere" / "plugin.wasm"
    outside.parent.mkdir()
    outside.write_bytes(wasm_module(100))
    r = ws.cli("metadata", str(outside))
    assert r.code == 2 and "not inside the tree" in r.err
    assert_no_traceback(r)
    d = ws.root / "x" / "1.0.0"
    d.mkdir(parents=True)
    (d / "plugin.wasm").write_bytes(b"not wasm at all")
    r = ws.cli("metadata", "x/1.0.0")
    assert r.code == 2 and "not a WebAssembly module" in r.err
    assert not (d / "metadata.txt").exists()


def test_verify_reports_each_mismatch(ws: Workspace) -> None:
    assert ws.registry
    ws.registry.push("plugins/a", "1.0.0", artifact(500, 1))
    ws.registry.push("plugins/b", "1.0.0", artifact(500, 2))
    ws.write_config({"a": {"tag": "1.0.0"}, "b": {"tag": "1.0.0"}})
    assert ws.pull().code == 0
    wasm = ws.root / "a/1.0.0/plugin.wasm"
    data = bytearray(wasm.read_bytes())
    data[100] ^= 1
    wasm.write_bytes(bytes(data))
    (ws.root / "b/1.0.0/README.md").write_text("stray\n")
    (ws.root / "b/1.0.0/metadata.txt").unlink()
    (ws.root / "stray.txt").write_text("x")
    r = ws.cli("verify")
    assert r.code == 1
    lines = r.out.splitlines()
    assert any(ln.startswith("a/1.0.0/plugin.wasm: sha256") for ln in lines)
    assert any(ln.startswith("a/1.0.0/plugin.wasm: md5") for ln in lines)
    assert "b/1.0.0/README.md: stray file" in lines
    assert "b/1.0.0/metadata.txt: missing" in lines
    assert "stray.txt: unexpected file" in lines
    # the next pull notices the damaged copy and fetches it again
    r = ws.pull()
    assert r.code == 0, r.err
    assert (ws.root / "a/1.0.0/plugin.wasm").read_bytes() == wasm_module(500, 1)
