"""A plugin-sync workspace for tests: a directory with plugins.yaml, the tree and the lock,
run through the CLI in a subprocess (as a user would) or in this process; a real registry;
and the tree's state, to show what a run changed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from sync.cli import main
from sync.filenames import CONFIG, LOCK
from sync.lock import Lock, load_lock
from sync.sample import Artifact, build_artifact, wasm_module
from tests.support.registry import Registry, running_registry


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGIN_SYNC_RETRY_BASE", "0.01")  # credentials and the rest: tests/conftest.py


@pytest.fixture
def registry() -> Iterator[Registry]:
    with running_registry() as r:
        yield r


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Workspace:
    dir: Path
    registry: Registry | None

    @property
    def config(self) -> Path:
        return self.dir / CONFIG

    @property
    def root(self) -> Path:
        return self.dir / "plugins"

    @property
    def lock_path(self) -> Path:
        return self.dir / LOCK

    def lock(self) -> Lock:
        return load_lock(self.lock_path)

    def write_config(self, plugins: dict[str, dict[str, object]], extra: str = "") -> None:
        assert self.registry is not None
        lines = [f"registry: {self.registry.host}", extra, "plugins:"]
        for name, spec in plugins.items():
            lines.append(f"  {name}:")
            for k, v in spec.items():
                lines.append(f"    {k}: {json.dumps(v)}")
        self.config.write_text("\n".join(lines) + "\n")

    def cli(self, *args: str, capsys: pytest.CaptureFixture[str] | None = None) -> Result:
        """Run plugin-sync in a subprocess, as a user would."""
        cmd = [sys.executable, "-m", "sync", "--config", str(self.config), "--root", str(self.root),
               "--lock", str(self.lock_path), *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ})
        return Result(p.returncode, p.stdout, p.stderr)

    def pull(self, *args: str) -> Result:
        return self.cli("pull", "--plain-http", *args)

    def inproc(self, capsys: pytest.CaptureFixture[str], *args: str) -> Result:
        """Run plugin-sync in this process (faster; same code path as the console script)."""
        code = main(["--config", str(self.config), "--root", str(self.root), "--lock", str(self.lock_path), *args])
        cap = capsys.readouterr()
        return Result(code, cap.out, cap.err)


@pytest.fixture
def ws(tmp_path: Path, registry: Registry) -> Workspace:
    return Workspace(tmp_path, registry)


def artifact(size: int = 256, seed: int = 0, fmt: str = "tar+gzip", **kw: str) -> Artifact:
    return build_artifact(wasm_module(size, seed), fmt, **kw)  # type: ignore[arg-type]


def assert_no_traceback(r: Result) -> None:
    assert "Traceback" not in r.err and "Traceback" not in r.out, r.err


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree_state(root: Path) -> dict[str, str]:
    """Every path under ``root`` with what it is: file bytes' sha256, link target, or dir.
    The writer's lock file (it holds the last writer's pid) and the stamps of what the last
    run checked (``.verified.json``, a cache no reader sees) are left out."""
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if rel in (".lock", ".verified.json"):
            continue
        if p.is_symlink():
            out[rel] = "-> " + str(p.readlink())
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = sha256(p.read_bytes())
    return out
