"""A pull shared among worker processes (one per core by default) against a real registry:
the same tree, lock and counts as a pull on threads in one process; a worker killed in the
middle of a download fails only the plugins it held, which keep what they served, and the
next pull finishes the work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.support.faultproxy import Fault, FaultProxy
from tests.support.procs import children
from tests.support.workspace import Workspace, artifact, assert_no_traceback, tree_state

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="worker processes are forked on Linux")

NAMES = [f"p{i}" for i in range(6)]


@pytest.fixture(autouse=True)
def reproducible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


def _publish(ws: Workspace, seed: int) -> None:
    assert ws.registry is not None
    for i, name in enumerate(NAMES):
        fmt = "wasm-layer" if i % 3 == 2 else "tar+gzip"
        ws.registry.push(f"plugins/{name}", "1.0.0", artifact(200_000 + 10_000 * i, seed + i, fmt))
    ws.write_config({name: {"tag": "1.0.0"} for name in NAMES})


def test_processes_build_what_threads_build_and_count_the_same(ws: Workspace) -> None:
    _publish(ws, 1)
    reports, trees, locks = [], [], []
    for n in ("2", "1"):
        r = ws.pull("--json", "--processes", n, "--jobs", "4")
        assert r.code == 0, r.err
        reports.append(json.loads(r.out))
        trees.append(tree_state(ws.root))
        locks.append(ws.lock_path.read_bytes())
        assert ws.cli("verify").code == 0
        for p in (ws.root, ws.lock_path):
            subprocess.run(["rm", "-rf", str(p)], check=True)
    two, one = reports
    assert (two["processes"], one["processes"]) == (2, 1)
    assert two["summary"] == one["summary"] == {"added": 6, "updated": 0, "unchanged": 0, "failed": 0}
    assert two["registryRequests"] == one["registryRequests"] > 0  # the workers' counts are summed
    assert two["blobBytes"] == one["blobBytes"] > 0
    assert trees[0] == trees[1] and locks[0] == locks[1]


def test_the_default_uses_a_process_per_core_but_never_more_than_the_jobs(ws: Workspace) -> None:
    _publish(ws, 1)
    r = ws.pull("--json")
    assert r.code == 0, r.err
    cores = len(os.sched_getaffinity(0))
    assert json.loads(r.out)["processes"] == min(cores, len(NAMES)) or cores == 1
    r = ws.pull("--json", "--jobs", "1")
    assert json.loads(r.out)["processes"] == 1


def test_a_worker_killed_mid_download_fails_only_its_plugins_and_they_keep_what_they_served(ws: Workspace) -> None:
    _publish(ws, 1)
    assert ws.pull().code == 0
    before = {name: (ws.root / name / "1.0.0" / "plugin.wasm").read_bytes() for name in NAMES}
    old_lock = dict(ws.lock().entries)
    _publish(ws, 100)  # new bytes under every tag
    assert ws.registry is not None
    with FaultProxy(ws.registry.host) as proxy:
        # p0's module blob stalls after 1000 bytes, long enough to kill its worker meanwhile
        proxy.add(Fault.stall(at=1000, seconds=30, match=r"GET /v2/plugins/p0/blobs/", times=None))
        cmd = [sys.executable, "-m", "sync", "--config", str(ws.config), "--root", str(ws.root), "--lock",
               str(ws.lock_path), "pull", "--plain-http", "--registry", proxy.host, "--json",
               "--processes", "2", "--jobs", "2"]
        pull = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not any(h.fault == "stall" for h in list(proxy.hits)):
            assert time.monotonic() < deadline and pull.poll() is None, "p0's blob was never asked for"
            time.sleep(0.02)
        for pid in children(pull.pid):
            os.kill(pid, signal.SIGKILL)
        out, err = pull.communicate(timeout=60)
    assert pull.returncode == 1, err
    assert "Traceback" not in err
    assert out, err
    report = {p["name"]: p for p in json.loads(out)["plugins"]}
    assert report["p0"]["status"] == "failed"
    assert report["p0"]["error"] == "the worker process running it ended (killed by signal 9)"
    failed = {n for n, p in report.items() if p["status"] == "failed"}
    assert all(report[n]["error"] in ("the worker process running it ended (killed by signal 9)",
                                      "no worker process left to run it") for n in failed)
    assert "failed    p0: the worker process running it ended (killed by signal 9)" in err
    lock = dict(ws.lock().entries)
    for name in NAMES:
        served = (ws.root / name / "1.0.0" / "plugin.wasm").read_bytes()
        if name in failed:  # the last good state: the old bytes and the old lock entry
            assert served == before[name] and lock[(name, "1.0.0")] == old_lock[(name, "1.0.0")]
        else:
            assert served != before[name] and report[name]["status"] == "updated"
    assert ws.cli("verify").code == 0
    # nothing half-written is left once the next pull has run, and it finishes the work
    r = ws.pull("--json")
    assert r.code == 0, r.err
    assert_no_traceback(r)
    assert all(p["status"] in ("updated", "unchanged") for p in json.loads(r.out)["plugins"])
    assert not any(".staging-" in str(p) for p in ws.root.rglob("*"))
    assert all((ws.root / n / "1.0.0" / "plugin.wasm").read_bytes() != before[n] for n in NAMES)
