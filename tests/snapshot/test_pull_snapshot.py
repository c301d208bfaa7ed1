"""pull --snapshot against the real registry: the real 2.2.4 snapshot, rewritten."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from sync.sample import build_artifact, wasm_module

from tests.support.procs import children
from tests.support.snapshot import SnapshotWorkspace
from tests.support.workspace import assert_no_traceback, sha256, tree_state


def test_serves_every_mapped_path_alias_and_unmanaged_plugin_byte_exact_and_nothing_else(sws: SnapshotWorkspace) -> None:
    r = sws.snapshot_pull("--json")
    assert r.code == 0, r.err
    built = sws.built
    assert built is not None
    served = {(n, v) for n in os.listdir(sws.root) if (sws.root / n).is_dir() for v in os.listdir(sws.root / n)
              if not v.startswith(".")}
    assert served == set(built.served)
    assert len(served) == 35 + 1 + 3  # 35 mapped entries, one alias, three unmanaged plugins
    for (name, version), digest in built.served.items():
        assert (sws.root / name / version / "plugin.wasm").read_bytes() == built.modules[digest], name
    # the alias serves json-converter's module, stored once
    jc = built.entry("json-converter")
    a, b = sws.root / "json-converter" / jc["version"] / "plugin.wasm", sws.root / "jsonrpc-converter" / jc["version"] / "plugin.wasm"
    assert os.stat(a).st_ino == os.stat(b).st_ino
    assert "Plugin Name: jsonrpc-converter" in (b.parent / "metadata.txt").read_text()
    report = json.loads(r.out)
    assert report["summary"]["failed"] == 0 and report["summary"]["added"] == 38  # one download per artifact


def test_inventory_in_upstreams_shape(sws: SnapshotWorkspace) -> None:
    assert sws.snapshot_pull().code == 0
    built = sws.built
    assert built is not None
    inv = json.loads((sws.root / "snapshot-inventory.json").read_text())
    keys = set()
    for p in built.snapshot["plugins"]:
        server = (p.get("consumers") or {}).get("pluginServer")
        if server:
            for k in [server["inventoryKey"], *server.get("aliases", [])]:
                keys.add(k)
                assert inv[k] == {"version": p["version"], "digest": p["digest"],
                                  "wasmSha256": sha256(built.modules[p["digest"]])}
    assert set(inv) == keys and {"mcp-server", "json-converter", "jsonrpc-converter"} <= keys
    assert "basic-auth" not in inv  # unmanaged plugins are not in upstream's inventory


def test_verify_passes_from_the_same_directory_and_index_lists_everything(sws: SnapshotWorkspace) -> None:
    assert sws.snapshot_pull("--gzip").code == 0
    # verify with only --root, run from the build directory, as the image build does
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "sync", "--root", "plugins", "verify"], cwd=sws.dir,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    index = json.loads((sws.root / "index.json").read_text())
    assert index["count"] == 39
    assert not sws.lock_path.exists()  # the repository's lock is not the snapshot's


def test_second_run_asks_the_registry_nothing(sws: SnapshotWorkspace) -> None:
    assert sws.snapshot_pull().code == 0
    before = tree_state(sws.root)
    r = sws.snapshot_pull("--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    # every artifact is held intact, by digest: no manifest, token or blob request at all
    assert report["blobBytes"] == 0 and report["registryRequests"] == 0 and report["summary"]["unchanged"] == 38
    assert tree_state(sws.root) == before


def _fails_and_keeps(sws: SnapshotWorkspace, plugin: str, why: str) -> None:
    r = sws.snapshot_pull()
    assert_no_traceback(r)
    assert r.code == 1, r.err
    assert plugin in r.err and why in r.err, r.err


def test_a_digest_the_registry_lacks_fails_and_leaves_the_tree_as_it_was(sws: SnapshotWorkspace) -> None:
    assert sws.snapshot_pull().code == 0
    before = tree_state(sws.root)
    built = sws.built
    assert built is not None
    # a new release: one plugin moves to a new artifact, another to a digest nobody pushed
    moved = built.entry("ai-proxy")
    assert sws.registry is not None
    moved["digest"] = sws.registry.push(moved["image"], "9.9.9", build_artifact(wasm_module(999, 77)))
    built.entry("cors")["digest"] = "sha256:" + "0" * 64
    _fails_and_keeps(sws, "cors", "not found")
    assert tree_state(sws.root) == before


def test_a_wrong_wasm_sha256_fails_and_leaves_the_tree_as_it_was(sws: SnapshotWorkspace) -> None:
    assert sws.built is not None
    sws.built.unmanaged["plugins"]["key-auth"]["wasmSha256"] = "ab" * 32
    before = tree_state(sws.root)
    _fails_and_keeps(sws, "key-auth", "wasmSha256")
    assert tree_state(sws.root) == before == {}


def test_bytes_that_differ_from_the_pinned_digest_fail_and_leave_the_tree_as_it_was(sws: SnapshotWorkspace) -> None:
    """The registry (here a proxy in front of it) flips a bit of waf's module layer."""
    from tests.support.faultproxy import Fault, FaultProxy

    assert sws.snapshot_pull().code == 0
    before = tree_state(sws.root)
    assert sws.built is not None and sws.registry is not None
    waf = sws.built.entry("waf")
    waf["digest"] = sws.registry.push(waf["image"], "2.0.9", build_artifact(wasm_module(4096, 5), "wasm-layer"))
    with FaultProxy(sws.registry.host) as proxy:
        proxy.add(Fault.flip(at=100, match=r"GET /v2/plugins/waf/blobs/", times=None))
        r = sws.snapshot_pull("--registry", proxy.host)
    assert_no_traceback(r)
    assert r.code == 1 and "waf" in r.err and "sha256" in r.err, r.err
    assert tree_state(sws.root) == before


def test_a_worker_process_killed_mid_build_leaves_the_tree_as_it_was(sws: SnapshotWorkspace) -> None:
    """The build shares its artifacts among worker processes: a worker killed while it
    downloads fails the build, and everything the run stored, the other worker's new
    artifacts included, is removed."""
    from tests.support.faultproxy import Fault, FaultProxy

    assert sws.snapshot_pull().code == 0
    before = tree_state(sws.root)
    assert sws.built is not None and sws.registry is not None
    for logical, seed in (("waf", 5), ("ai-proxy", 6), ("ai-cache", 7)):  # three new artifacts to fetch
        e = sws.built.entry(logical)
        e["digest"] = sws.registry.push(e["image"], e["version"], build_artifact(wasm_module(4096, seed), "wasm-layer"))
    s, u = sws.built.write(sws.dir)
    with FaultProxy(sws.registry.host) as proxy:
        proxy.add(Fault.stall(at=100, seconds=30, match=r"GET /v2/plugins/waf/blobs/", times=None))
        cmd = [sys.executable, "-m", "sync", "--config", str(sws.config), "--root", str(sws.root), "--lock",
               str(sws.lock_path), "pull", "--plain-http", "--registry", proxy.host, "--snapshot", str(s),
               "--unmanaged-lock", str(u), "--processes", "2", "--jobs", "2", "--json"]
        build = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not any(h.fault == "stall" for h in list(proxy.hits)):
            assert time.monotonic() < deadline and build.poll() is None, "waf's blob was never asked for"
            time.sleep(0.02)
        workers = children(build.pid)
        assert workers  # the one stalled on waf, and the other unless it has run out of work
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        out, err = build.communicate(timeout=60)
    assert build.returncode == 1 and "Traceback" not in err, err
    failed = {p["name"]: p["error"] for p in json.loads(out)["plugins"] if p["status"] == "failed"}
    assert failed and set(failed.values()) <= {"the worker process running it ended (killed by signal 9)",
                                               "no worker process left to run it"}, failed
    assert tree_state(sws.root) == before  # nothing stored by the run is left, staging included
    assert sws.cli("verify").code == 0
