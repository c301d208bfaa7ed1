"""A ``digest:`` pin stays in the lock's recorded source, so that ``pull --locked`` on a fresh clone
(plugins.yaml and the lock, nothing pulled) rebuilds it, against a real registry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sync.sample import wasm_module
from tests.support.workspace import Workspace, artifact, sha256


def _clone(ws: Workspace, where: Path) -> Workspace:
    """What a fresh clone holds: the config and the lock, no tree."""
    where.mkdir()
    clone = Workspace(where, ws.registry)
    shutil.copy(ws.config, clone.config)
    shutil.copy(ws.lock_path, clone.lock_path)
    return clone


def test_a_digest_only_pin_rebuilds_with_pull_locked_on_a_clone(ws: Workspace, tmp_path: Path) -> None:
    assert ws.registry is not None
    pinned = artifact(300, 1)
    digest = ws.registry.push("plugins/a", "1.0.0", pinned)
    ws.registry.push("plugins/a", "1.0.0", artifact(300, 2))  # the tag moved on: only the digest reaches the pin
    ws.write_config({"a": {"digest": digest, "versions": ["1.0.0"]}})
    r = ws.pull()
    assert r.code == 0, r.err
    [e] = ws.lock().entries.values()
    assert e.source == f"oci://{ws.registry.host}/plugins/a@{digest}" and e.digest == digest

    clone = _clone(ws, tmp_path / "clone")
    r = clone.pull("--locked")
    assert r.code == 0, r.err
    served = clone.root / "a" / "1.0.0" / "plugin.wasm"
    assert sha256(served.read_bytes()) == sha256(wasm_module(300, 1)) == e.sha256
    assert clone.cli("verify").code == 0
    assert clone.lock_path.read_bytes() == ws.lock_path.read_bytes()


@pytest.mark.parametrize("pin", ["fields", "source"])
def test_a_tag_and_digest_pin_keeps_both_in_the_lock(ws: Workspace, tmp_path: Path, pin: str) -> None:
    assert ws.registry is not None
    digest = ws.registry.push("plugins/b", "2.0.0", artifact(400, 3))
    if pin == "fields":
        ws.write_config({"b": {"tag": "2.0.0", "digest": digest}})
    else:
        ws.write_config({"b": {"source": f"oci://{ws.registry.host}/plugins/b:2.0.0@{digest}"}})
    assert ws.pull().code == 0
    [e] = ws.lock().entries.values()
    assert (e.version, e.source) == ("2.0.0", f"oci://{ws.registry.host}/plugins/b:2.0.0@{digest}")

    clone = _clone(ws, tmp_path / "clone")
    r = clone.pull("--locked")
    assert r.code == 0, r.err
    assert sha256((clone.root / "b" / "2.0.0" / "plugin.wasm").read_bytes()) == e.sha256
    assert clone.cli("verify").code == 0


def test_a_pinned_plugin_already_locked_without_its_pin_is_relocked_with_it(ws: Workspace) -> None:
    """A lock written before the pin was recorded: the next pull records it, serving the same bytes."""
    assert ws.registry is not None
    digest = ws.registry.push("plugins/a", "1.0.0", artifact(300, 1))
    ws.write_config({"a": {"digest": digest, "versions": ["1.0.0"]}})
    assert ws.pull().code == 0
    text = ws.lock_path.read_text()
    ws.lock_path.write_text(text.replace(f"plugins/a@{digest}", "plugins/a"))
    r = ws.pull()
    assert r.code == 0 and "unchanged" in r.err + r.out, r.err
    [e] = ws.lock().entries.values()
    assert e.source.endswith(f"plugins/a@{digest}")
