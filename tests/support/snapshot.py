"""A Higress release snapshot served by the test registry: the real 2.2.4 snapshot and this
repository's unmanaged lock, rewritten to point at artifacts pushed to a local registry."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.sample import build_artifact, wasm_module
from tests.support.registry import Registry
from tests.support.workspace import Result, Workspace, sha256

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT_224 = REPO / "snapshots" / "2.2.4.json"
UNMANAGED = REPO / "unmanaged-plugins.lock.json"


@dataclass
class Built:
    """A rewritten snapshot and unmanaged lock, with the modules they must serve."""

    snapshot: dict[str, Any]
    unmanaged: dict[str, Any]
    modules: dict[str, bytes] = field(default_factory=dict)  # manifest digest -> plugin.wasm
    served: dict[tuple[str, str], str] = field(default_factory=dict)  # (name, version) -> digest

    def write(self, d: Path) -> tuple[Path, Path]:
        s, u = d / "snapshot.json", d / "unmanaged-plugins.lock.json"
        s.write_text(json.dumps(self.snapshot, indent=2) + "\n")
        u.write_text(json.dumps(self.unmanaged, indent=2) + "\n")
        return s, u

    def entry(self, logical_id: str) -> dict[str, Any]:
        return next(p for p in self.snapshot["plugins"] if p["logicalId"] == logical_id)


def rewrite(registry: Registry, seed: int = 0, loadable: bool = False) -> Built:
    """Push one small artifact per mapped entry and per unmanaged plugin; point the real
    snapshot and lock at them. Unmapped entries get digests the registry does not hold, so
    fetching one would fail. Every other artifact is a single wasm layer, or with
    ``loadable`` the two-layer form a gateway loads from a registry."""
    raw = json.loads(SNAPSHOT_224.read_text())
    built = Built(raw, json.loads(UNMANAGED.read_text()))
    for i, p in enumerate(raw["plugins"]):
        repo = p["image"]
        p["ociRef"] = f"{registry.host}/{repo}:{p['version']}"
        server = (p.get("consumers") or {}).get("pluginServer")
        if not server:
            p["digest"] = "sha256:" + sha256(f"never pushed {i}".encode())
            continue
        module = wasm_module(200 + i, seed * 1000 + i)
        art = build_artifact(module, "tar+gzip" if i % 2 else "wasm-pair" if loadable else "wasm-layer", readme=f"# {p['logicalId']}\n" if i % 3 == 0 else None)
        p["digest"] = registry.push(repo, p["version"], art)
        built.modules[p["digest"]] = module
        for name in dict.fromkeys([server["httpPath"], server["inventoryKey"], *server.get("aliases", [])]):
            built.served[(name, p["version"])] = p["digest"]
    for j, (key, u) in enumerate(sorted(built.unmanaged["plugins"].items())):
        repo = u["repository"].split("/", 1)[1]
        module = wasm_module(300 + j, seed * 1000 + 500 + j)
        u["repository"] = f"{registry.host}/{repo}"
        u["digest"] = registry.push(repo, u["tag"], build_artifact(module, "tar+gzip"))
        u["wasmSha256"] = sha256(module)
        built.modules[u["digest"]] = module
        built.served[(u["servedPath"], u["servedVersion"])] = u["digest"]
    return built


@dataclass
class SnapshotWorkspace(Workspace):
    built: Built | None = None

    def configure_unmanaged(self, extra: dict[str, dict[str, object]] | None = None) -> None:
        """plugins.yaml naming the unmanaged plugins (and ``extra``) as the lock pins them."""
        assert self.built is not None
        plugins: dict[str, dict[str, object]] = {}
        for key, u in self.built.unmanaged["plugins"].items():
            plugins[key] = {"source": f"oci://{u['repository']}:{u['tag']}", "category": "Auth"}
        plugins.update(extra or {})
        self.write_config(plugins)

    def snapshot_pull(self, *args: str) -> Result:
        assert self.built is not None
        s, u = self.built.write(self.dir)
        return self.pull("--snapshot", str(s), "--unmanaged-lock", str(u), *args)
