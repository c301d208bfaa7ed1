"""plugin-sync unmanaged-lock: the unmanaged lock derived from plugins.yaml and the rolling lock."""

from __future__ import annotations

import json
from pathlib import Path

from sync.sample import build_artifact, wasm_module
from tests.support.workspace import Workspace, assert_no_traceback


def _snapshot(ws: Workspace, digest: str) -> Path:
    assert ws.registry is not None
    d = ws.dir / "snapshots"
    d.mkdir()
    (d / "1.0.0.json").write_text("not the newest\n")
    snap = {"schemaVersion": 1, "gatewayVersion": "1.2.0", "sourceCommit": "b" * 40, "plugins": [
        {"logicalId": "ai-proxy", "image": "plugins/ai-proxy", "version": "2.0.1",
         "ociRef": f"{ws.registry.host}/plugins/ai-proxy:2.0.1", "digest": digest,
         "consumers": {"pluginServer": {"inventoryKey": "ai-proxy", "httpPath": "ai-proxy"}}}]}
    (d / "1.2.0.json").write_text(json.dumps(snap))
    return d / "1.2.0.json"


def test_pins_what_the_snapshot_does_not_manage_and_the_snapshot_build_accepts_it(ws: Workspace) -> None:
    assert ws.registry is not None
    host = ws.registry.host
    digest = ws.registry.push("plugins/ai-proxy", "2.0.1", build_artifact(wasm_module(300, 1)))
    ws.registry.push("plugins/key-auth", "2.0.0", build_artifact(wasm_module(400, 2)))
    ws.registry.push("plugins/basic-auth", "2.0.2", build_artifact(wasm_module(500, 3), "wasm-layer"))
    ws.write_config({"ai-proxy": {"source": f"oci://{host}/plugins/ai-proxy:2.0.1"},
                     "key-auth": {"source": f"oci://{host}/plugins/key-auth:2.0.0"},
                     "basic-auth": {"repository": "plugins/basic-auth", "range": "^2"}})
    snapshot = _snapshot(ws, digest)
    out = ws.dir / "unmanaged-plugins.lock.json"

    r = ws.cli("unmanaged-lock")
    assert_no_traceback(r)
    assert r.code == 2 and "not in plugins.lock.json yet: basic-auth, key-auth" in r.err, r.err
    assert not out.exists()

    assert ws.pull().code == 0
    r = ws.cli("unmanaged-lock")
    assert r.code == 0, r.err
    lock = json.loads(out.read_text())["plugins"]
    assert sorted(lock) == ["basic-auth", "key-auth"]  # ai-proxy is the snapshot's
    entry = ws.lock().get("basic-auth", "2.0.2")
    assert entry is not None
    assert lock["basic-auth"] == {"logicalKey": "basic-auth", "servedPath": "basic-auth", "servedVersion": "2.0.2",
                                  "repository": f"{host}/plugins/basic-auth", "tag": "2.0.2",
                                  "digest": entry.digest, "wasmSha256": entry.sha256}
    assert ws.cli("unmanaged-lock", "--check").code == 0

    r = ws.pull("--snapshot", str(snapshot), "--unmanaged-lock", str(out), "--json")
    assert r.code == 0, r.err
    assert {p["name"] for p in json.loads(r.out)["plugins"]} == {"ai-proxy", "basic-auth (unmanaged)", "key-auth (unmanaged)"}

    # plugins.yaml moves on: the committed lock is now stale, and --check says so
    ws.registry.push("plugins/key-auth", "2.0.1", build_artifact(wasm_module(401, 4)))
    ws.write_config({"ai-proxy": {"source": f"oci://{host}/plugins/ai-proxy:2.0.1"},
                     "key-auth": {"source": f"oci://{host}/plugins/key-auth:2.0.1"},
                     "basic-auth": {"repository": "plugins/basic-auth", "range": "^2"}})
    assert ws.pull().code == 0
    r = ws.cli("unmanaged-lock", "--check")
    assert r.code == 1 and "is not up to date" in r.err
    assert ws.cli("unmanaged-lock").code == 0
    assert json.loads(out.read_text())["plugins"]["key-auth"]["tag"] == "2.0.1"
