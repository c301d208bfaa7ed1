"""verify only reads: it works on a read-only mount (a mounted image, a ConfigMap), and reports
a commit a killed writer left unfinished without finishing it."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sync.lock import Lock
from tests.support.workspace import Result, Workspace, artifact
from tests.support.registry import Registry


def snapshot(top: Path) -> dict[str, object]:
    """Every path under ``top`` with its kind and content (links as links), and its mtime."""
    out: dict[str, object] = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = Path(d) / n
            rel = str(p.relative_to(top))
            st = os.lstat(p)
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", st.st_mtime_ns)
            else:
                out[rel] = ("file", p.read_bytes(), st.st_mtime_ns)
    return out


def _pulled(ws: Workspace, registry: Registry) -> None:
    registry.push("plugins/a", "1.0.0", artifact(2000, 1))
    registry.push("plugins/b", "1.0.0", artifact(2000, 2))
    ws.write_config({"a": {"tag": "1.0.0"}, "b": {"tag": "1.0.0"}})
    r = ws.pull()
    assert r.code == 0, r.err


def _interrupt_a_commit(ws: Workspace) -> None:
    """What a writer killed mid-commit leaves: the journal of the lock it was publishing."""
    lock = ws.lock()
    newer = Lock({k: v for k, v in lock.entries.items() if k[0] != "b"})
    (ws.root / ".journal.json").write_text(newer.dumps())


def _readonly_mount_works() -> str | None:
    """Why a read-only bind mount cannot be made here, or None when it can."""
    if not shutil.which("unshare") or not shutil.which("mount"):
        return "unshare or mount missing"
    with tempfile.TemporaryDirectory() as d:  # a directory of its own, as the tests mount
        q = shlex.quote(d)
        probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount --bind {q} {q} && mount -o remount,bind,ro {q}"],
                               capture_output=True, text=True)
    return None if probe.returncode == 0 else f"no mount namespace: {probe.stderr.strip()}"


def verify_on_readonly_mount(ws: Workspace) -> Result:
    """``plugin-sync verify`` with the whole workspace (config, lock, tree) bind-mounted read-only
    over itself, in a private mount namespace; the shell first proves that writing fails."""
    d = shlex.quote(str(ws.dir))
    cmd = " ".join(shlex.quote(a) for a in [
        sys.executable, "-m", "sync", "--config", str(ws.config), "--root", str(ws.root), "--lock", str(ws.lock_path),
        "verify"])
    script = (f"mount --bind {d} {d} && mount -o remount,bind,ro {d} && "
              f"if touch {d}/plugins/.probe 2>/dev/null; then echo writable >&2; exit 99; fi && exec {cmd}")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    p = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode != 99, "the mount is not read-only"
    return Result(p.returncode, p.stdout, p.stderr)


@pytest.fixture
def readonly_mount() -> None:
    why = _readonly_mount_works()
    if why:
        pytest.skip(why)


def test_verify_on_a_read_only_mount(ws: Workspace, registry: Registry, readonly_mount: None) -> None:
    _pulled(ws, registry)
    before = snapshot(ws.dir)
    r = verify_on_readonly_mount(ws)
    assert r.code == 0, r.err
    assert "internal error" not in r.err and "2 plugin version(s) OK" in r.err
    assert snapshot(ws.dir) == before


def test_verify_reports_an_unfinished_commit_on_a_read_only_mount(ws: Workspace, registry: Registry,
                                                                   readonly_mount: None) -> None:
    _pulled(ws, registry)
    _interrupt_a_commit(ws)
    before = snapshot(ws.dir)
    r = verify_on_readonly_mount(ws)
    assert r.code == 1, r.err
    assert ".journal.json: a commit was interrupted and is unfinished" in r.out
    assert "internal error" not in r.err
    assert snapshot(ws.dir) == before


def test_verify_does_not_finish_an_unfinished_commit(ws: Workspace, registry: Registry) -> None:
    _pulled(ws, registry)
    _interrupt_a_commit(ws)
    before = snapshot(ws.dir)
    r = ws.cli("verify")
    assert r.code == 1 and ".journal.json: a commit was interrupted" in r.out, r.out + r.err
    assert snapshot(ws.dir) == before  # not repaired, lock file not even created or touched
    # the next writer finishes the commit, and the tree then verifies
    assert ws.pull().code == 0
    assert not (ws.root / ".journal.json").exists()
    assert ws.cli("verify").code == 0


def test_verify_of_a_tree_never_locked_writes_nothing(ws: Workspace, registry: Registry) -> None:
    _pulled(ws, registry)
    (ws.root / ".lock").unlink()
    before = snapshot(ws.dir)
    assert ws.cli("verify").code == 0
    assert snapshot(ws.dir) == before
