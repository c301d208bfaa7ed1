"""Damage on disk, and trees rebuilt or extended later: verify names what is wrong, the
next pull puts it right, and the repaired tree verifies."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from sync.sample import build_artifact, wasm_module
from tests.support.workspace import Workspace
from tests.reliability.conftest import assert_verified, inproc, served
from tests.reliability.record import Collector
from tests.support.registry import Registry

AREA = "Damage and repair"
LATER = "2031-01-01T00:00:00Z"


def _later(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next pull runs at a later time than the first (the clock, not the code, moves:
    SOURCE_DATE_EPOCH is the time a pull stamps)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1924992000")  # LATER


def _setup(tmp_path: Path, registry: Registry, name: str, versions: list[str] | None = None) -> tuple[Workspace, bytes]:
    ws = Workspace(tmp_path, registry)
    module = wasm_module(30_000, len(name))
    registry.push(f"plugins/{name}", "1.0.0", build_artifact(module, spec="info:\n  version: 1.0.0\n"))
    ws.write_config({name: {"tag": "1.0.0", **({"versions": versions} if versions else {})}})
    r = inproc(ws, "pull", "--plain-http")
    assert r.code == 0, r.err
    return ws, module


@pytest.mark.parametrize("damage", ["flipped bit in plugin.wasm", "deleted spec.yaml", "deleted store directory",
                                    "truncated metadata.txt"])
def test_damage_is_found_and_the_next_pull_repairs_it(tmp_path: Path, registry: Registry, reliability: Collector,
                                                      monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    ws, module = _setup(tmp_path, registry, "damage-" + damage.split()[1].replace(".", "-"))
    name = next(iter(json.loads(ws.lock_path.read_text())["plugins"]))
    good = served(ws.root)
    version = ws.root / name / "1.0.0"
    store = version.resolve()
    if damage.startswith("flipped"):
        data = bytearray((store / "plugin.wasm").read_bytes())
        data[1000] ^= 0x01
        (store / "plugin.wasm").write_bytes(bytes(data))
    elif damage.startswith("deleted spec"):
        (store / "spec.yaml").unlink()
    elif damage.startswith("deleted store"):
        shutil.rmtree(store)
    else:
        (store / "metadata.txt").write_text("Plugin Name: x\n")
    v = inproc(ws, "verify")
    assert v.code == 1
    assert f"{name}/1.0.0" in v.out
    _later(monkeypatch)
    r = inproc(ws, "pull", "--plain-http")
    assert r.code == 0, r.err
    assert served(ws.root) == good
    assert (version / "plugin.wasm").read_bytes() == module
    assert_verified(ws)
    reliability.record(AREA, f"served artifact damaged on disk: {damage}", 1,
                       f"verify exit 1 naming `{v.out.splitlines()[0].split(':')[0]}`; the next pull fetched it "
                       "again; every served byte as before; verify passed")


def test_locked_rebuild_later_verifies(tmp_path: Path, registry: Registry, reliability: Collector,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    ws, module = _setup(tmp_path, registry, "locked-later", ["1.0.0", "0.9.0"])
    good = served(ws.root)
    shutil.rmtree(ws.root)
    _later(monkeypatch)
    r = inproc(ws, "pull", "--plain-http", "--locked")
    assert r.code == 0, r.err
    assert served(ws.root) == good
    assert_verified(ws)
    reliability.record(AREA, "`pull --locked` rebuilds a deleted tree at a later time", 1,
                       "byte-identical tree (modules, metadata.txt, index.json, lock); verify passed")


def test_version_added_later_to_a_served_artifact(tmp_path: Path, registry: Registry, reliability: Collector,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ws, module = _setup(tmp_path, registry, "version-later")
    ws.write_config({"version-later": {"tag": "1.0.0", "versions": ["1.0.0", "1.0"]}})
    _later(monkeypatch)
    r = inproc(ws, "pull", "--plain-http")
    assert r.code == 0, r.err
    assert (ws.root / "version-later/1.0/plugin.wasm").read_bytes() == module
    assert os.path.samefile(ws.root / "version-later/1.0", ws.root / "version-later/1.0.0")
    assert_verified(ws)
    reliability.record(AREA, "a second served version added later to an artifact already served", 1,
                       "both versions share one store directory and its metadata.txt; verify passed")
