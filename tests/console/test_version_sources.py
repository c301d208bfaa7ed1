"""One plugin under several versions from different artifacts (plugins.yaml ``sources``),
pulled from a real registry: the lock, a re-run, --locked, a failing part, unmanaged-lock."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.registry import Registry
from tests.support.workspace import Workspace, artifact, fast_retries, registry, sha256, ws  # noqa: F401 - fixtures


def _setup(ws: Workspace, registry: Registry) -> dict[str, str]:
    digests = {tag: registry.push("plugins/ai-agent", tag, artifact(300 + i, seed=i)) for i, tag in enumerate(("2.0.1", "2.0.3"))}
    ws.write_config({"ai-agent": {"source": f"oci://{registry.host}/plugins/ai-agent:2.0.3",
                                  "sources": {"2.0.1": f"oci://{registry.host}/plugins/ai-agent:2.0.1@{digests['2.0.1']}"}}})
    return digests


def test_each_version_is_served_from_its_own_artifact_and_a_rerun_changes_nothing(ws: Workspace, registry: Registry) -> None:
    digests = _setup(ws, registry)
    r = ws.pull("--json")
    assert r.code == 0, r.err
    lock = ws.lock()
    assert {v: lock.get("ai-agent", v).digest for v in ("2.0.1", "2.0.3")} == digests  # type: ignore[union-attr]
    # the pin stays in the lock: the tag and the digest the config gave
    assert lock.get("ai-agent", "2.0.1").source.endswith(f"ai-agent:2.0.1@{digests['2.0.1']}")  # type: ignore[union-attr]
    a, b = (ws.root / "ai-agent" / v / "plugin.wasm" for v in ("2.0.1", "2.0.3"))
    assert a.read_bytes() != b.read_bytes()
    assert sorted(p["status"] for p in json.loads(r.out)["plugins"]) == ["added", "added"]
    assert ws.cli("verify").code == 0
    again = ws.pull("--json")
    assert again.code == 0 and sorted(p["status"] for p in json.loads(again.out)["plugins"]) == ["unchanged", "unchanged"]
    # the lock alone rebuilds both in a fresh tree
    fresh = Workspace(ws.dir / "fresh", registry)
    fresh.dir.mkdir()
    fresh.config.write_text(ws.config.read_text())
    fresh.lock_path.write_text(ws.lock_path.read_text())
    assert fresh.pull("--locked").code == 0
    assert (fresh.root / "ai-agent" / "2.0.1" / "plugin.wasm").read_bytes() == a.read_bytes()
    assert (fresh.root / "ai-agent" / "2.0.3" / "plugin.wasm").read_bytes() == b.read_bytes()


def test_a_failing_part_keeps_what_it_served_and_names_itself(ws: Workspace, registry: Registry) -> None:
    digests = _setup(ws, registry)
    assert ws.pull().code == 0
    served = (ws.root / "ai-agent" / "2.0.1" / "plugin.wasm").read_bytes()
    other = "sha256:" + sha256(b"not in the registry")
    ws.write_config({"ai-agent": {"source": f"oci://{registry.host}/plugins/ai-agent:2.0.3",
                                  "sources": {"2.0.1": f"oci://{registry.host}/plugins/ai-agent:2.0.1@{other}"}}})
    r = ws.pull()
    assert r.code == 1 and "ai-agent" in r.err and "Traceback" not in r.err
    assert (ws.root / "ai-agent" / "2.0.1" / "plugin.wasm").read_bytes() == served
    assert ws.lock().get("ai-agent", "2.0.1").digest == digests["2.0.1"]  # type: ignore[union-attr]


def test_a_resolved_tag_that_is_also_in_sources_fails_in_one_line(ws: Workspace, registry: Registry) -> None:
    digests = _setup(ws, registry)
    ws.write_config({"ai-agent": {"registry": registry.host, "repository": "plugins/ai-agent", "range": ">=2.0.0 <2.0.2",
                                  "sources": {"2.0.1": f"oci://{registry.host}/plugins/ai-agent:2.0.1@{digests['2.0.1']}"}}})
    r = ws.pull()
    assert r.code == 1 and "ai-agent/2.0.1 is both resolved from" in r.err


def test_unmanaged_lock_pins_the_main_artifact_only(ws: Workspace, registry: Registry, tmp_path: Path) -> None:
    digests = _setup(ws, registry)
    assert ws.pull().code == 0
    snapshots = ws.dir / "snapshots"
    snapshots.mkdir()
    (snapshots / "9.9.9.json").write_text(json.dumps({"schemaVersion": 1, "gatewayVersion": "9.9.9",
                                                      "sourceCommit": "0" * 40, "plugins": []}))
    r = ws.cli("unmanaged-lock")
    assert r.code == 0, r.err
    pinned = json.loads((ws.dir / "unmanaged-plugins.lock.json").read_text())["plugins"]
    assert pinned["ai-agent"]["tag"] == pinned["ai-agent"]["servedVersion"] == "2.0.3"
    assert pinned["ai-agent"]["digest"] == digests["2.0.3"]
    assert ws.cli("unmanaged-lock", "--check").code == 0
