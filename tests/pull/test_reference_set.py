"""The issue's acceptance run: the 52 plugins of the console's list, modules of 1 to 10 MB."""

from __future__ import annotations

import json
import random
from pathlib import Path

from sync.properties import load_properties
from sync.sample import build_artifact, wasm_module
from tests.support.workspace import Workspace

REFERENCE = Path(__file__).resolve().parents[2] / "samples" / "reference" / "higress-console.plugins.properties"


def test_console_set_pull_verify_noop_and_one_change(ws: Workspace) -> None:
    reg = ws.registry
    assert reg
    cfg = load_properties(REFERENCE)
    assert len(cfg.plugins) == 52
    rng = random.Random(52)
    for i, spec in enumerate(cfg.plugins.values()):
        size = rng.randint(1 << 20, 10 << 20)
        fmt = "wasm-layer" if i % 5 == 0 else "tar+gzip"
        reg.push(spec.source.repository, str(spec.source.tag), build_artifact(wasm_module(size, i, 0.7), fmt))
    r = ws.cli("import", str(REFERENCE), "-o", str(ws.config))
    assert r.code == 0
    first = ws.pull("--registry", reg.host, "--json")
    assert first.code == 0, first.err
    report = json.loads(first.out)
    assert report["summary"]["added"] == 52
    assert ws.cli("verify").code == 0
    assert (ws.root / "json-converter/2.0.3/plugin.wasm").is_file()

    second = json.loads(ws.pull("--registry", reg.host, "--json").out)
    assert second["blobBytes"] == 0 and second["summary"]["unchanged"] == 52
    assert second["registryRequests"] == 52 + 1  # a manifest per plugin, and the API root once (its challenge)

    reg.push("plugins/cors", "2.0.4", build_artifact(wasm_module(1 << 20, 999), "tar+gzip"))
    third = json.loads(ws.pull("--registry", reg.host, "--json").out)
    changed = [p["name"] for p in third["plugins"] if p["status"] != "unchanged"]
    assert changed == ["cors"]
    assert (ws.root / "cors/2.0.4/plugin.wasm").read_bytes() == wasm_module(1 << 20, 999)
    assert ws.cli("verify").code == 0
    # the lock records the configured source, not the mirror
    assert ws.lock().get("cors", "2.0.4").source.startswith("oci://higress-registry.cn-hangzhou.cr.aliyuncs.com/")  # type: ignore[union-attr]
