"""pull --locked: the locked digests are built, whatever the tags say now (a moved or deleted
tag is a warning); a plugin whose locked digest is gone fails and keeps exactly what it
served; the progress counts the downloads; a failure names its source."""

from __future__ import annotations

import io
import json
import sys

import pytest

from sync.cli import main
from tests.support.faultproxy import Fault, FaultProxy
from tests.support.workspace import Workspace, artifact, tree_state


def _two_plugins(ws: Workspace) -> None:
    assert ws.registry is not None
    ws.registry.push("plugins/a", "1.0.0", artifact(300, 1))
    ws.registry.push("plugins/b", "1.0.0", artifact(400, 2))
    ws.write_config({"a": {"tag": "1.0.0", "versions": ["1.0.0", "1.0.1"]}, "b": {"tag": "1.0.0"}})
    assert ws.pull().code == 0


def test_a_locked_pull_builds_the_locked_digest_after_the_tag_moved(ws: Workspace) -> None:
    """Upstream pushes a version tag again: the image build of the lock still builds the
    locked bytes (by digest), warns once naming both digests, and exits 0; only a locked
    digest gone from the registry fails that plugin."""
    _two_plugins(ws)
    assert ws.registry is not None
    locked = ws.lock().get("a", "1.0.0")
    assert locked is not None and locked.digest
    served_a = (ws.root / "a" / "1.0.0" / "plugin.wasm").read_bytes()
    moved = ws.registry.push("plugins/a", "1.0.0", artifact(300, 99))  # the tag moved after locking
    assert moved != locked.digest
    lock_before = ws.lock_path.read_bytes()

    fresh = ws.dir / "fresh"  # an image build: an empty tree
    r = ws.cli("--root", str(fresh), "pull", "--locked", "--plain-http", "--json")
    assert r.code == 0, r.err
    assert (fresh / "a" / "1.0.0" / "plugin.wasm").read_bytes() == served_a
    assert (fresh / "a" / "1.0.1" / "plugin.wasm").read_bytes() == served_a
    warnings = [ln for ln in r.err.splitlines() if ln.startswith("warning ")]
    assert warnings == [f"warning   a: tag 1.0.0 now names {moved}, not the locked {locked.digest}; built the "
                        "locked digest ('plugin-sync pull' moves the lock to the tag)"], r.err
    report = {p["name"]: p for p in json.loads(r.out)["plugins"]}
    assert report["a"]["status"] == "added" and moved in report["a"]["warning"]
    assert report["b"]["warning"] is None
    assert ws.lock_path.read_bytes() == lock_before
    assert ws.cli("--root", str(fresh), "verify").code == 0

    # the same on the tree that serves it already: nothing to download, the same warning
    r = ws.pull("--locked")
    assert r.code == 0 and f"now names {moved}" in r.err, r.err

    # the locked manifest deleted from the registry: that plugin fails, the other is built
    ws.registry.delete_manifest("plugins/a", str(locked.digest))
    fresh2 = ws.dir / "fresh2"
    r = ws.cli("--root", str(fresh2), "pull", "--locked", "--plain-http")
    assert r.code == 1, r.err
    failed = [ln for ln in r.err.splitlines() if ln.startswith("failed ")]
    assert failed == [f"failed    a: {ws.registry.host}/plugins/a: the locked digest {locked.digest} is gone "
                      "from the registry"], r.err
    assert (fresh2 / "b" / "1.0.0" / "plugin.wasm").is_file() and not (fresh2 / "a").exists()
    # on the tree that serves it: it keeps serving exactly what it served
    tree_before = tree_state(ws.root)
    r = ws.pull("--locked")
    assert r.code == 1 and "the locked digest" in r.err, r.err
    assert tree_state(ws.root) == tree_before and ws.lock_path.read_bytes() == lock_before
    assert ws.cli("verify").code == 0


@pytest.mark.parametrize("status, said", [(404, "tag 1.0.0 is gone from the registry"),
                                          (503, "tag 1.0.0 could not be checked (")])
def test_a_tag_that_is_gone_or_unreadable_is_only_a_warning(ws: Workspace, status: int, said: str) -> None:
    _two_plugins(ws)
    assert ws.registry is not None
    with FaultProxy(ws.registry.host) as proxy:  # the tag answers 404 (or 503 on every try)
        proxy.add(Fault.respond(status, match=r"/v2/plugins/b/manifests/1\.0\.0$", times=None))
        r = ws.cli("--root", str(ws.dir / "fresh"), "pull", "--locked", "--plain-http", "--registry", proxy.host)
        assert r.code == 0, r.err
        assert f"warning   b: {said}" in r.err and "built the locked digest sha256:" in r.err, r.err
        assert proxy.requests_to(r"plugins/b/manifests/1\.0\.0")[0].method == "HEAD"
    assert (ws.dir / "fresh" / "b" / "1.0.0" / "plugin.wasm").is_file()


def test_a_failed_locked_pull_on_a_fresh_tree_serves_the_others(ws: Workspace) -> None:
    _two_plugins(ws)
    assert ws.registry is not None
    ws.registry.delete_tag("plugins/a", "1.0.0")  # deletes the locked manifest
    fresh = ws.dir / "fresh"
    r = ws.cli("--root", str(fresh), "pull", "--locked", "--plain-http")
    assert r.code == 1, r.err
    assert (fresh / "b" / "1.0.0" / "plugin.wasm").is_file() and not (fresh / "a").exists()
    assert ws.cli("--root", str(fresh), "verify").code == 1  # a is locked and not served


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
