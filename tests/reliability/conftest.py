"""Fixtures of the reliability suite: the real registry, the fault proxy, the collector
that writes ``docs/reliability.md``, and helpers to check that a tree stayed good."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Iterator

import pytest

from sync.cli import main
from sync.fsutil import write_atomic
from tests.support.workspace import Result, Workspace, assert_no_traceback
from tests.reliability.record import DOC, Collector, hand_written, render
from tests.support.faultproxy import FaultProxy
from tests.support.registry import Registry, running_registry

COLLECTOR = Collector()
HERE = Path(__file__).resolve().parent


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        COLLECTOR.passed.add(report.nodeid)


@pytest.fixture(scope="session")
def reliability(request: pytest.FixtureRequest) -> Iterator[Collector]:
    """The session's collector. At the end, with UPDATE_RELIABILITY_DOC=1 and every
    reliability test passed, rewrites docs/reliability.md from what was recorded."""
    yield COLLECTOR
    if os.environ.get("UPDATE_RELIABILITY_DOC") != "1":
        return
    ours = [i for i in request.session.items if Path(str(i.path)).is_relative_to(HERE)]
    every_module = {p.name for p in HERE.glob("test_*.py")} <= {Path(str(i.path)).name for i in ours}
    if every_module and all(i.nodeid in COLLECTOR.passed for i in ours) and request.session.testsfailed == 0:
        write_atomic(DOC, render(list(COLLECTOR.scenarios.values()), hand_written(DOC.read_text(encoding="utf-8"))))


@pytest.fixture(autouse=True)
def reliability_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGIN_SYNC_RETRY_BASE", "0.01")  # the rest is cleared by tests/conftest.py


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    """One real registry per test module; each scenario uses its own repositories."""
    with running_registry() as r:
        yield r


@pytest.fixture
def proxy(registry: Registry) -> Iterator[FaultProxy]:
    with FaultProxy(registry.host) as p:
        yield p


def served(root: Path) -> dict[str, bytes]:
    """Every file a client can fetch from the tree (following version links), plus the lock
    beside it: path -> bytes. The writer's lock file and the catalog page are left out."""
    out: dict[str, bytes] = {}
    if not root.is_dir():
        return out
    for name in sorted(os.listdir(root)):
        p = root / name
        if name.startswith(".") or name in ("index.html", "catalog.css", "catalog.js"):
            continue
        if p.is_file():
            out[name] = p.read_bytes()
            continue
        for version in sorted(os.listdir(p)):
            if version.startswith("."):
                continue
            for f in sorted(os.listdir(p / version)):
                out[f"{name}/{version}/{f}"] = (p / version / f).read_bytes()
    lock = root.parent / "plugins.lock.json"
    if lock.exists():
        out["../plugins.lock.json"] = lock.read_bytes()
    return out


def leftovers(root: Path) -> list[str]:
    """Staging directories and temporary files left in the tree."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            if n.startswith(".staging-") or ".tmp-" in n or ".link-" in n or n == ".journal.json":
                found.append(os.path.join(dirpath, n))
    return found


def failure_line(r: Result, plugin: str) -> str:
    """The one line that reports ``plugin`` failed; asserts the run failed cleanly."""
    assert r.code == 1, (r.code, r.err)
    assert_no_traceback(r)
    lines = [ln for ln in r.err.splitlines() if ln.startswith("failed ")]
    assert len(lines) == 1, r.err
    assert lines[0].startswith(f"failed    {plugin}: "), lines
    assert r.err.rstrip().endswith(f"failed: {plugin}"), r.err
    return lines[0]


def inproc(ws: Workspace, *args: str) -> Result:
    """Run plugin-sync in this process (no interpreter start-up), capturing its output."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--config", str(ws.config), "--root", str(ws.root), "--lock", str(ws.lock_path), *args])
    return Result(code, out.getvalue(), err.getvalue())


def assert_verified(ws: Workspace) -> None:
    v = inproc(ws, "verify")
    assert v.code == 0, v.out + v.err
    assert not leftovers(ws.root), leftovers(ws.root)
