"""pull against a real registry (docker-registry) seeded in both Higress formats."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import wasmtime

from sync.sample import wasm_module
from tests.support.workspace import Workspace, artifact, assert_no_traceback


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_both_formats_byte_exact_with_docs(ws: Workspace) -> None:
    reg = ws.registry
    assert reg
    m1, m2 = wasm_module(5000, 1), wasm_module(7000, 2)
    from sync.sample import build_artifact

    reg.push("plugins/basic-auth", "2.0.0", build_artifact(m1, "tar+gzip", spec="info:\n  version: 1.0.0\n",
                                                           readme="# basic\n", readme_en="# basic en\n"))
    reg.push("plugins/raw", "1.2.3", build_artifact(m2, "wasm-layer"))
    ws.write_config({"basic-auth": {"tag": "2.0.0", "versions": ["2.0.0", "1.0.0"], "category": "Auth"},
                     "raw": {"tag": "1.2.3"}})
    r = ws.pull()
    assert r.code == 0, r.err
    for v in ("2.0.0", "1.0.0"):
        d = ws.root / "basic-auth" / v
        assert (d / "plugin.wasm").read_bytes() == m1
        assert (d / "spec.yaml").read_text() == "info:\n  version: 1.0.0\n"
        assert (d / "README.md").read_text() == "# basic\n"
        assert (d / "README_EN.md").read_text() == "# basic en\n"
        assert (d / "plugin.wasm.sha256").read_text() == f"{sha(m1)}  plugin.wasm\n"
        meta = (d / "metadata.txt").read_text().splitlines()
        assert meta[0] == "Plugin Name: basic-auth"
        assert meta[1] == f"Size: {len(m1)} bytes"
        assert meta[4] == f"MD5: {hashlib.md5(m1).hexdigest()}"
        assert meta[5] == f"SHA256: {sha(m1)}"
        assert meta[2].startswith("Last Modified: ") and meta[3].startswith("Created: ")
    # the two versions share one copy of the bytes
    a = os.stat(ws.root / "basic-auth/2.0.0/plugin.wasm")
    b = os.stat(ws.root / "basic-auth/1.0.0/plugin.wasm")
    assert (a.st_ino, a.st_dev) == (b.st_ino, b.st_dev)
    assert (ws.root / "raw/1.2.3/plugin.wasm").read_bytes() == m2
    assert not (ws.root / "raw/1.2.3/README.md").exists()
    wasmtime.Module.validate(wasmtime.Store().engine, (ws.root / "raw/1.2.3/plugin.wasm").read_bytes())

    lock = ws.lock()
    e = lock.get("basic-auth", "1.0.0")
    assert e and e.format == "tar+gzip" and e.sha256 == sha(m1) and e.size == len(m1)
    assert e.source == f"oci://{reg.host}/plugins/basic-auth:2.0.0"
    assert e.md5 == hashlib.md5(m1).hexdigest()
    assert set(e.files) == {"spec.yaml", "README.md", "README_EN.md"}
    raw = lock.get("raw", "1.2.3")
    assert raw and raw.format == "wasm-layer"
    index = json.loads((ws.root / "index.json").read_text())
    paths = {p["path"]: p for p in index["plugins"]}
    assert set(paths) == {"/plugins/basic-auth/2.0.0/plugin.wasm", "/plugins/basic-auth/1.0.0/plugin.wasm",
                          "/plugins/raw/1.2.3/plugin.wasm"}
    p = paths["/plugins/raw/1.2.3/plugin.wasm"]
    assert p["sha256"] == sha(m2) and p["size"] == len(m2) and p["digest"] == raw.digest
    assert p["md5"] == hashlib.md5(m2).hexdigest() and p["source"] == raw.source

    v = ws.cli("verify")
    assert v.code == 0, v.out + v.err


def test_second_run_downloads_nothing_and_repush_changes_only_that_plugin(ws: Workspace) -> None:
    reg = ws.registry
    assert reg
    names = [f"p{i}" for i in range(6)]
    for i, n in enumerate(names):
        reg.push(f"plugins/{n}", "1.0.0", artifact(2000 + i, seed=i, fmt="tar+gzip" if i % 2 else "wasm-layer"))
    ws.write_config({n: {"tag": "1.0.0"} for n in names})
    first = ws.pull("--json")
    assert first.code == 0, first.err
    before = ws.lock_path.read_bytes()
    index_mtime = (ws.root / "index.json").stat().st_mtime_ns

    again = ws.pull("--json")
    report = json.loads(again.out)
    assert again.code == 0
    assert report["blobBytes"] == 0
    assert report["registryRequests"] == len(names)  # one manifest request per plugin
    assert report["summary"]["unchanged"] == len(names)
    assert ws.lock_path.read_bytes() == before
    assert (ws.root / "index.json").stat().st_mtime_ns == index_mtime

    new_module = wasm_module(3333, seed=99)
    from sync.sample import build_artifact

    reg.push("plugins/p3", "1.0.0", build_artifact(new_module, "tar+gzip"))
    third = ws.pull("--json")
    report = json.loads(third.out)
    status = {p["name"]: p["status"] for p in report["plugins"]}
    assert status == {n: ("updated" if n == "p3" else "unchanged") for n in names}
    assert (ws.root / "p3/1.0.0/plugin.wasm").read_bytes() == new_module
    old, new = json.loads(before), json.loads(ws.lock_path.read_text())
    changed = [n for n in names if old["plugins"][n] != new["plugins"][n]]
    assert changed == ["p3"]
    assert ws.cli("verify").code == 0
    # the old store directory of p3 was collected
    assert len(list((ws.root / "p3/.store").iterdir())) == 1


def test_missing_tag_fails_that_plugin_only(ws: Workspace) -> None:
    reg = ws.registry
    assert reg
    reg.push("plugins/good", "1.0.0", artifact(400))
    ws.write_config({"good": {"tag": "1.0.0"}, "ghost": {"tag": "9.9.9"}})
    r = ws.pull("--json")
    assert r.code == 1
    assert_no_traceback(r)
    report = json.loads(r.out)
    by = {p["name"]: p for p in report["plugins"]}
    assert by["good"]["status"] == "added"
    assert by["ghost"]["status"] == "failed" and by["ghost"]["missing"] is True
    assert "ghost" in r.err and "not found" in r.err
    line = [ln for ln in r.err.splitlines() if ln.startswith("failed")][0]
    assert "ghost" in line and "9.9.9" in line
    assert (ws.root / "good/1.0.0/plugin.wasm").exists()
    assert ws.lock().get("ghost", "9.9.9") is None


def test_failed_update_keeps_last_good_state(ws: Workspace) -> None:
    reg = ws.registry
    assert reg
    good = wasm_module(900, 5)
    from sync.sample import build_artifact

    reg.push("plugins/a", "1.0.0", build_artifact(good))
    ws.write_config({"a": {"tag": "1.0.0"}})
    assert ws.pull().code == 0
    lock_before = ws.lock_path.read_bytes()
    # the tag now points at something that is not Wasm
    bad = build_artifact(b"\x7fELF" + b"\0" * 200, "wasm-layer")
    reg.push("plugins/a", "1.0.0", bad)
    r = ws.pull()
    assert r.code == 1
    assert "a: module is not WebAssembly" in r.err
    assert (ws.root / "a/1.0.0/plugin.wasm").read_bytes() == good
    assert ws.lock_path.read_bytes() == lock_before
    assert ws.cli("verify").code == 0


def test_range_and_pinned_digest(ws: Workspace) -> None:
    reg = ws.registry
    assert reg
    for i, tag in enumerate(["1.0.0", "2.0.0", "2.0.3", "2.1.0-rc.1", "3.0.0", "latest"]):
        reg.push("plugins/r", tag, artifact(300 + i, seed=i))
    pinned = reg.push("plugins/pin", "1.0.0", artifact(512, seed=42))
    ws.write_config({"r": {"range": ">=2.0.0 <3"}, "pin": {"tag": "1.0.0", "digest": pinned}})
    r = ws.pull()
    assert r.code == 0, r.err
    assert (ws.root / "r/2.0.3/plugin.wasm").read_bytes() == wasm_module(302, 2)
    assert ws.lock().get("r", "2.0.3")
    assert ws.lock().get("pin", "1.0.0").digest == pinned  # type: ignore[union-attr]

    reg.push("plugins/pin", "1.0.0", artifact(512, seed=43))  # the tag moves: the pin holds
    r = ws.pull()
    assert r.code == 0 and "unchanged pin" in r.err
    assert (ws.root / "pin/1.0.0/plugin.wasm").read_bytes() == wasm_module(512, 42)

    ws.write_config({"r": {"range": ">=2.0.0 <3"}, "pin": {"tag": "1.0.0", "digest": "sha256:" + "0" * 64}})
    r = ws.pull()
    assert r.code == 1 and "failed    pin:" in r.err and "not found" in r.err
    assert (ws.root / "pin/1.0.0/plugin.wasm").read_bytes() == wasm_module(512, 42)


def test_locked_builds_exactly_the_lock_even_after_a_tag_moved(ws: Workspace, tmp_path: Path) -> None:
    reg = ws.registry
    assert reg
    reg.push("plugins/a", "1.0.0", artifact(1000, 1))
    reg.push("plugins/b", "2.0.0", artifact(1100, 2, fmt="wasm-layer"))
    ws.write_config({"a": {"tag": "1.0.0", "versions": ["1.0.0", "0.9.0"]}, "b": {"tag": "2.0.0"}})
    assert ws.pull().code == 0
    lock_text = ws.lock_path.read_text()
    shutil.rmtree(ws.root)
    ws.config.write_text("this: [is not read by --locked\n")
    r = ws.pull("--locked", "--gzip")
    assert r.code == 0, r.err
    assert ws.lock_path.read_text() == lock_text
    assert (ws.root / "a/0.9.0/plugin.wasm").read_bytes() == wasm_module(1000, 1)
    assert (ws.root / "a/0.9.0/plugin.wasm.gz").exists()
    assert ws.cli("verify").code == 0

    reg.push("plugins/b", "2.0.0", artifact(1100, 3))
    shutil.rmtree(ws.root)
    r = ws.pull("--locked")
    assert r.code == 0, r.err
    assert "warning   b: tag 2.0.0 now names sha256:" in r.err
    assert (ws.root / "b/2.0.0/plugin.wasm").read_bytes() == wasm_module(1100, 2)
    assert ws.lock_path.read_text() == lock_text


def test_tree_lock_serialises_two_pulls(ws: Workspace) -> None:
    reg = ws.registry
    assert reg
    for i in range(4):
        reg.push(f"plugins/c{i}", "1.0.0", artifact(200_000, i))
    ws.write_config({f"c{i}": {"tag": "1.0.0"} for i in range(4)})
    import sys

    base = [sys.executable, "-m", "sync", "--config", str(ws.config), "--root", str(ws.root), "--lock",
            str(ws.lock_path), "pull", "--plain-http", "--jobs", "1"]
    with open(os.devnull, "w"):
        a = subprocess.Popen(base, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        b = subprocess.Popen(base, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ra, rb = a.communicate(120), b.communicate(120)
    assert a.returncode == 0 and b.returncode == 0, (ra, rb)
    assert ws.cli("verify").code == 0
    # refusing instead of waiting
    from sync.tree import Tree
    from sync.tree.store import writer_lock

    with writer_lock(Tree(ws.root)):
        r = ws.pull("--wait", "0.2")
    assert r.code == 1 and "another plugin-sync is writing this tree" in r.err
    assert_no_traceback(r)


def test_cross_check_with_skopeo(ws: Workspace, tmp_path: Path) -> None:
    """A second, independent client copies the same artifact: same manifest digest and layer bytes."""
    reg = ws.registry
    assert reg
    module = wasm_module(4096, 7)
    from sync.sample import build_artifact

    digest = reg.push("plugins/x", "1.0.0", build_artifact(module, "wasm-layer"))
    ws.write_config({"x": {"tag": "1.0.0"}})
    assert ws.pull().code == 0
    layout = tmp_path / "skopeo-layout"
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{reg.host}/plugins/x:1.0.0",
                    f"oci:{layout}:x"], check=True, capture_output=True, timeout=120)
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["digest"] == digest == ws.lock().get("x", "1.0.0").digest  # type: ignore[union-attr]
    manifest = json.loads((layout / "blobs/sha256" / digest.split(":")[1]).read_bytes())
    layer = manifest["layers"][0]["digest"].split(":")[1]
    assert (layout / "blobs/sha256" / layer).read_bytes() == (ws.root / "x/1.0.0/plugin.wasm").read_bytes()
    # and our pull reads that skopeo-written layout as a source
    other = tmp_path / "other"
    other.mkdir()
    (other / "plugins.yaml").write_text(f"plugins:\n  x:\n    source: oci-layout:{layout}#x:x\n    versions: [1.0.0]\n")
    w2 = Workspace(other, None)
    r = w2.cli("pull")
    assert r.code == 0, r.err
    assert (other / "plugins/x/1.0.0/plugin.wasm").read_bytes() == module
