"""pull --locked: a plugin whose registry digest no longer matches the lock fails, and keeps
exactly what it served; the progress counts the downloads; a failure names its source."""

from __future__ import annotations

import io
import json
import sys

import pytest

from sync.cli import main
from tests.support.workspace import Workspace, artifact, tree_state


def _two_plugins(ws: Workspace) -> None:
    assert ws.registry is not None
    ws.registry.push("plugins/a", "1.0.0", artifact(300, 1))
    ws.registry.push("plugins/b", "1.0.0", artifact(400, 2))
    ws.write_config({"a": {"tag": "1.0.0", "versions": ["1.0.0", "1.0.1"]}, "b": {"tag": "1.0.0"}})
    assert ws.pull().code == 0


def test_a_failed_locked_pull_keeps_the_plugins_served_files_and_lock(ws: Workspace) -> None:
    _two_plugins(ws)
    lock_before = ws.lock_path.read_bytes()
    tree_before = tree_state(ws.root)
    assert ws.registry is not None
    ws.registry.push("plugins/a", "1.0.0", artifact(300, 99))  # the tag moved after locking
    r = ws.pull("--locked")
    assert r.code == 1 and "a" in r.err and "differs from the lock" in r.err, r.err
    assert ws.lock_path.read_bytes() == lock_before
    assert tree_state(ws.root) == tree_before
    assert ws.cli("verify").code == 0


def test_a_failed_locked_pull_on_a_fresh_tree_serves_the_others(ws: Workspace) -> None:
    _two_plugins(ws)
    assert ws.registry is not None
    ws.registry.push("plugins/a", "1.0.0", artifact(300, 99))
    fresh = ws.dir / "fresh"
    r = ws.cli("--root", str(fresh), "pull", "--locked", "--plain-http")
    assert r.code == 1, r.err
    assert (fresh / "b" / "1.0.0" / "plugin.wasm").is_file() and not (fresh / "a").exists()


def test_the_locked_progress_counts_downloads_not_lock_entries(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three lock entries, two artifacts: the bar on a terminal reaches 2/2 and is cleared
    before the summary line."""
    _two_plugins(ws)
    assert len(ws.lock().entries) == 3

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    code = main(["--config", str(ws.config), "--root", str(ws.root), "--lock", str(ws.lock_path),
                 "pull", "--locked", "--plain-http"])
    assert code == 0
    text = err.getvalue()
    assert "] 2/2\r\033[K" in text and "/3" not in text
    assert text.endswith("\r\033[K2 unchanged; 0.0 MiB downloaded in " + text.rsplit(" in ", 1)[1])


def test_a_failed_plugin_reports_its_configured_source(ws: Workspace) -> None:
    assert ws.registry is not None
    ws.write_config({"gone": {"tag": "9.9.9"}})
    r = ws.pull("--json")
    assert r.code == 1
    [p] = json.loads(r.out)["plugins"]
    assert p["status"] == "failed" and p["source"] == f"oci://{ws.registry.host}/plugins/gone:9.9.9"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLUGIN_SYNC_REGISTRY_HOST", raising=False)
