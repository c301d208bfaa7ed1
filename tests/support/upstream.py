"""Upstream (higress-group/higress) as tests build it: its plugin directories, its real release
catalog and 2.2.4 snapshot, and a history of merges that touches them."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

GO = "plugins/wasm-go/extensions"
CPP = "plugins/wasm-cpp/extensions"
RUST = "plugins/wasm-rust/extensions"

DATA = Path(__file__).resolve().parents[1] / "upstream" / "data"
CATALOG = (DATA / "catalog.json").read_bytes()  # upstream's real plugins/release/catalog.json
# upstream's real 2.2.4 snapshot, as this repository commits it (byte-exact)
SNAPSHOT = (Path(__file__).resolve().parents[2] / "snapshots" / "2.2.4.json").read_bytes()
SNAPSHOT_PATH = "plugins/release/snapshots/2.2.4.json"


def release_history(merge: Callable[[int, str, dict[str, bytes | str | None], str], str]) -> dict[int, str]:
    """Upstream as it works now, one squash merge at a time: before the catalog, the catalog
    added, a shared input changed, the MCP library changed, a snapshot added, a Rust plugin
    and a plugin the plugin server does not serve. Returns PR number -> merge commit."""
    steps: list[tuple[int, str, dict[str, bytes | str | None]]] = [
        (201, "fix: basic-auth realm, go builder flags", {f"{GO}/basic-auth/main.go": "package main // 201\n",
                                                          "plugins/wasm-go/Makefile": "all:\n\tgo build\n"}),
        (202, "feat: release catalog; jsonrpc-converter fix", {"plugins/release/catalog.json": CATALOG,
                                                               f"{GO}/jsonrpc-converter/main.go": "package main\n",
                                                               f"{GO}/jsonrpc-converter/VERSION": "2.0.1\n"}),
        (203, "build: bump the go builder", {"plugins/wasm-go/Makefile": "all:\n\ttinygo build\n"}),
        (204, "fix(mcp): session handling", {"plugins/wasm-go/pkg/mcp/server.go": "package mcp\n"}),
        (205, "release: gateway 2.2.4 plugin snapshot", {SNAPSHOT_PATH: SNAPSHOT}),
        (206, "fix(rust): data masking", {f"{RUST}/ai-data-masking/src/lib.rs": "fn mask(){}\n"}),
        (207, "docs: hello world", {f"{GO}/hello-world/main.go": "package main // hi\n"}),
    ]
    out = {}
    for i, (number, title, files) in enumerate(steps):
        out[number] = merge(number, title, files, f"2026-07-{i + 1:02d}T00:00:00Z")
    return out
