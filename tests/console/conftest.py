"""The console's plugin list (data/, copied from higress-console at b5ae4b23) against trees
built from this repository's snapshot 2.2.4, unmanaged lock and plugins.yaml, with every
artifact they pin replaced by a stand-in pushed to a real registry on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from sync.config import load_config
from sync.sample import build_artifact, wasm_module
from tests.support.registry import Registry, running_registry
from tests.support.workspace import Result, fast_retries, sha256  # noqa: F401 - fixture used here too

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
REAL_HOST = "higress-registry.cn-hangzhou.cr.aliyuncs.com"
CONSOLE_FILES = ("console-plugins.json", "plugin-snapshot.lock.json", "plugins.properties")


@dataclass
class World:
    """The repository's files rewritten to the test registry: ``snapshot.json``,
    ``unmanaged-plugins.lock.json``, ``plugins.yaml`` (now), ``plugins-before.yaml`` (before
    the console fix) and the console's list in ``console/``."""

    dir: Path
    registry: Registry
    replaced: dict[str, str] = field(default_factory=dict)  # real digest or sha256 -> the stand-in's
    modules: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (repository, tag) -> plugin.wasm

    def push(self, repository: str, tag: str) -> str:
        module = wasm_module(200 + len(self.modules), len(self.modules))
        digest = self.registry.push(repository, tag, build_artifact(module, "tar+gzip" if len(self.modules) % 2 else "wasm-layer"))
        self.modules[(repository, tag)] = module
        return digest

    def rewrite(self, text: str) -> str:
        for real, fake in self.replaced.items():
            text = text.replace(real, fake)
        return text.replace(REAL_HOST, self.registry.host)

    @property
    def console(self) -> Path:
        return self.dir / "console"

    def file(self, name: str) -> Path:
        return self.dir / name


def build_world(d: Path, registry: Registry) -> World:
    w = World(d, registry)
    snapshot = json.loads((REPO / "snapshots" / "2.2.4.json").read_text())
    for p in snapshot["plugins"]:
        w.replaced[p["digest"]] = w.push(p["image"], p["version"])
    unmanaged = json.loads((REPO / "unmanaged-plugins.lock.json").read_text())
    for u in unmanaged["plugins"].values():
        repo = u["repository"].split("/", 1)[1]
        w.replaced[u["digest"]] = w.push(repo, u["tag"])
        w.replaced[u["wasmSha256"]] = sha256(w.modules[(repo, u["tag"])])
    for config in (REPO / "plugins.yaml", DATA / "plugins-before.yaml"):
        for spec in load_config(config).plugins.values():
            for src in (spec.source, *(s for _, s in spec.sources)):
                if src.tag and (src.repository, src.tag) not in w.modules:
                    w.push(src.repository, src.tag)
    d.mkdir(parents=True, exist_ok=True)
    for src_path, name in ((REPO / "snapshots" / "2.2.4.json", "snapshot.json"),
                           (REPO / "unmanaged-plugins.lock.json", "unmanaged-plugins.lock.json"),
                           (REPO / "plugins.yaml", "plugins.yaml"), (DATA / "plugins-before.yaml", "plugins-before.yaml")):
        (d / name).write_text(w.rewrite(src_path.read_text()))
    w.console.mkdir()
    for name in CONSOLE_FILES:
        (w.console / name).write_text(w.rewrite((DATA / name).read_text()))
    return w


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_registry() as r:
        yield build_world(tmp_path_factory.mktemp("world"), r)


def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    import os

    p = subprocess.run([sys.executable, "-m", "sync", *args], capture_output=True, text=True, timeout=600,
                       env={**os.environ, **(env or {})})
    return Result(p.returncode, p.stdout, p.stderr)


def gateway_tree(w: World, config: str, root: Path) -> Path:
    """The gateway-version image's tree: snapshot 2.2.4 and the unmanaged lock, with ``config``."""
    r = cli("--config", str(w.file(config)), "--root", str(root), "pull", "--plain-http",
            "--snapshot", str(w.file("snapshot.json")), "--unmanaged-lock", str(w.file("unmanaged-plugins.lock.json")))
    assert r.code == 0, r.err
    return root


def rolling_tree(w: World, config: str, root: Path) -> Path:
    """The rolling image's tree: ``config`` pulled into its lock."""
    r = cli("--config", str(w.file(config)), "--root", str(root), "--lock", str(root.parent / "plugins.lock.json"),
            "pull", "--plain-http")
    assert r.code == 0, r.err
    return root


def coverage(w: World, config: str, root: Path, *args: str) -> Result:
    return cli("--config", str(w.file(config)), "--root", str(root), "--lock", str(root.parent / "plugins.lock.json"),
               "coverage", "--console", str(w.console), "--unmanaged-lock", str(w.file("unmanaged-plugins.lock.json")),
               *args)
