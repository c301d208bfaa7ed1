"""Crash safety: ``plugin-sync pull`` of the console's 52 plugins killed with SIGKILL at
seeded random moments, and at the moment its commit journal appears (so the kill lands
between the swaps of version links). After every kill, what is served is complete and
correct (each module is the old or the new one, never a mix or a torn file), ``verify``
passes, and the next pull completes. Also: two pulls started together on one tree."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import pytest

from sync.config import Config, dump_config
from sync.properties import load_properties
from sync.sample import build_artifact, wasm_module
from tests.support.workspace import Workspace
from tests.reliability.conftest import HERE, assert_verified, inproc, served
from tests.reliability.record import Collector
from tests.support.procs import children
from tests.support.registry import Registry, running_registry

AREA = "Crash safety"
PROPERTIES = HERE.parents[1] / "samples" / "reference" / "higress-console.plugins.properties"
SEED = 20_26
FRESH_KILLS = 4  # kills of a pull into an empty tree
UPDATE_KILLS = 20  # kills of a pull that updates every plugin of a complete tree
ENDED = "ended before the kill"
EARLY = "killed before it created the tree"
IN_COMMIT = "killed while its commit journal existed"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Console:
    """The 52 plugins in two variants on a real registry: ``a`` under the listed tags, ``b``
    under ``<tag>-b``, both served as ``<tag>``: switching configs updates every plugin."""

    registry: Registry
    configs: dict[str, str]  # variant -> plugins.yaml text
    modules: dict[str, dict[str, str]]  # variant -> plugin -> sha256 of its module
    versions: dict[str, str]  # plugin -> served version


def _variant(cfg: Config, suffix: str) -> Config:
    plugins = {
        n: replace(s, source=replace(s.source, tag=f"{s.source.tag}{suffix}"), versions=(str(s.source.tag),))
        for n, s in cfg.plugins.items()
    }
    return replace(cfg, plugins=plugins)


@pytest.fixture(scope="module")
def console() -> Iterator[Console]:
    cfg = load_properties(PROPERTIES)
    assert len(cfg.plugins) == 52
    rng = random.Random(SEED)
    modules: dict[str, dict[str, str]] = {"a": {}, "b": {}}
    with running_registry() as reg:
        for i, spec in enumerate(cfg.plugins.values()):
            for variant, suffix in (("a", ""), ("b", "-b")):
                module = wasm_module(rng.randint(20_000, 200_000), rng.randrange(1 << 30))
                fmt = "wasm-layer" if i % 5 == 0 else "tar+gzip"
                reg.push(spec.source.repository, f"{spec.source.tag}{suffix}", build_artifact(module, fmt))
                modules[variant][spec.name] = sha(module)
        configs = {v: dump_config(_variant(cfg, s)) for v, s in (("a", ""), ("b", "-b"))}
        yield Console(reg, configs, modules, {n: str(s.source.tag) for n, s in cfg.plugins.items()})


def _command(ws: Workspace, registry: Registry, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sync", "--config", str(ws.config), "--root", str(ws.root),
            "--lock", str(ws.lock_path), "pull", "--plain-http", "--registry", registry.host, *extra]


def _start(ws: Workspace, registry: Registry, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(_command(ws, registry, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def check_served(root: Path, c: Console, allowed: tuple[str, ...]) -> dict[str, int]:
    """What a client would get right now, without any repair: every served module is whole
    and is one of the ``allowed`` variants, its .sha256 file agrees, index.json parses.
    Returns how many plugins serve each variant."""
    counts = {v: 0 for v in allowed}
    if not root.is_dir():
        return counts
    index = root / "index.json"
    if index.exists():
        json.loads(index.read_text())
    for name in sorted(os.listdir(root)):
        if name not in c.versions:
            continue
        version = root / name / c.versions[name]
        if not os.path.lexists(version):
            continue
        assert version.is_dir(), f"{name}: {version} is a dangling link"
        got = sha((version / "plugin.wasm").read_bytes())
        which = [v for v in allowed if c.modules[v][name] == got]
        assert which, f"{name}: served module {got[:12]} is none of {allowed}"
        assert (version / "plugin.wasm.sha256").read_text() == f"{got}  plugin.wasm\n", name
        assert (version / "metadata.txt").is_file(), name
        counts[which[0]] += 1
    return counts


def _kill_at_random(proc: subprocess.Popen[str], rng: random.Random) -> str:
    time.sleep(rng.uniform(0.2, 0.8))
    if proc.poll() is not None:
        return ENDED
    proc.send_signal(signal.SIGKILL)
    return "killed at a random moment"


def _kill_in_commit(proc: subprocess.Popen[str], journal: Path, rng: random.Random) -> str:
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if journal.exists():
            time.sleep(rng.uniform(0, 0.004))
            proc.send_signal(signal.SIGKILL)
            return IN_COMMIT
        time.sleep(0.0003)
    return ENDED


def test_sigkill_at_random_moments_never_serves_a_broken_module(tmp_path: Path, console: Console,
                                                               reliability: Collector) -> None:
    rng = random.Random(SEED)
    ws = Workspace(tmp_path, console.registry)
    moments: dict[str, int] = {}
    landed = {"fresh": 0, "update": 0}
    recovered = 0  # kills that left a commit unfinished: verify reports it, the next pull finishes it
    mixed = 0  # kills that left some plugins old and some new
    tries = 0
    while landed["fresh"] < FRESH_KILLS or landed["update"] < UPDATE_KILLS:
        tries += 1
        assert tries <= 3 * (FRESH_KILLS + UPDATE_KILLS), moments
        fresh = landed["fresh"] < FRESH_KILLS
        if fresh:
            shutil.rmtree(ws.root, ignore_errors=True)
            ws.lock_path.unlink(missing_ok=True)
            target, allowed = "a", ("a",)
        else:
            target = "b" if tries % 2 == 0 else "a"
            allowed = ("a", "b")
        ws.config.write_text(console.configs[target])
        proc = _start(ws, console.registry)
        if fresh or tries % 4 < 2:
            moment = _kill_at_random(proc, rng)
        else:
            moment = _kill_in_commit(proc, ws.root / ".journal.json", rng)
        proc.communicate(timeout=60)
        if fresh and not ws.root.exists():  # killed while the interpreter started: nothing to check
            assert not ws.lock_path.exists()
            moment = EARLY
        moments[moment] = moments.get(moment, 0) + 1
        if moment == EARLY:
            continue
        if moment != ENDED:
            landed["fresh" if fresh else "update"] += 1

        counts = check_served(ws.root, console, allowed)
        if not fresh and all(counts.values()):
            mixed += 1
        v = inproc(ws, "verify")
        if (ws.root / ".journal.json").exists():
            # verify reports the unfinished commit and leaves it to the next writer
            assert v.code == 1 and ".journal.json: a commit was interrupted" in v.out, (tries, moment, v.out)
            recovered += 1
        else:
            assert v.code == 0, (tries, moment, v.out, v.err)
        check_served(ws.root, console, allowed)

        done = inproc(ws, "pull", "--plain-http", "--registry", console.registry.host)
        assert done.code == 0, (tries, done.err)
        assert check_served(ws.root, console, (target,)) == {target: 52}
        assert_verified(ws)
    assert moments.get(IN_COMMIT, 0) >= 5, moments
    kills = landed["fresh"] + landed["update"]
    reliability.record(
        AREA, f"pull of the 52-plugin set killed with SIGKILL ({FRESH_KILLS} into an empty tree, "
              f"{UPDATE_KILLS} while updating every plugin of a full tree)",
        kills,
        f"{tries} pulls started: {', '.join(f'{n} {m}' for m, n in sorted(moments.items()))}; "
        f"{recovered} kills left a commit half done (reported by verify, finished by the next pull); {mixed} "
        "left old and new plugins side by side; every served module whole and old or new; verify passed "
        "after every other kill; every next pull completed and verified")


WORKER_KILLS = 6  # pulls whose worker processes were killed while they downloaded
LOST = ("the worker process running it ended (killed by signal 9)", "no worker process left to run it")


def test_worker_processes_killed_fail_only_their_plugins(tmp_path: Path, console: Console,
                                                        reliability: Collector) -> None:
    """The pull shares its plugins among a worker process per core. Killing one worker, or
    all of them, at a random moment fails the plugins they held or had not started, each
    with the reason; the pull itself commits the rest, every failed plugin serves what it
    served before, verify passes, and the next pull completes."""
    rng = random.Random(SEED + 1)
    ws = Workspace(tmp_path, console.registry)
    ws.config.write_text(console.configs["a"])
    assert inproc(ws, "pull", "--plain-http", "--registry", console.registry.host).code == 0
    landed = tries = failed_total = 0
    while landed < WORKER_KILLS:
        tries += 1
        assert tries <= 3 * WORKER_KILLS
        target = "b" if tries % 2 else "a"
        other = "a" if target == "b" else "b"
        ws.config.write_text(console.configs[target])
        # one download per worker at a time, so the workers live long enough to be caught
        proc = _start(ws, console.registry, "--json", "--processes", "2", "--jobs", "2")
        deadline = time.monotonic() + 30
        while not (victims := children(proc.pid)) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.2))
        if landed % 2 == 0:
            victims = victims[:1]  # one worker; else every worker
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        out, err = proc.communicate(timeout=60)
        assert "Traceback" not in err, err
        report = json.loads(out)
        failed = {p["name"]: p["error"] for p in report["plugins"] if p["status"] == "failed"}
        if not victims or not failed:  # the workers had ended before the kill
            assert proc.returncode == 0, err
            continue
        landed += 1
        failed_total += len(failed)
        assert proc.returncode == 1 and set(failed.values()) <= set(LOST), failed
        counts = check_served(ws.root, console, ("a", "b"))
        assert counts[target] == 52 - len(failed) and counts[other] == len(failed), (counts, failed)
        for name in failed:  # still what it served before, by the lock too
            got = sha((ws.root / name / console.versions[name] / "plugin.wasm").read_bytes())
            assert got == console.modules[other][name]
        assert_verified(ws)
        done = inproc(ws, "pull", "--plain-http", "--registry", console.registry.host)
        assert done.code == 0, done.err
        assert check_served(ws.root, console, (target,)) == {target: 52}
        assert not list(ws.root.glob("*/.store/.staging-*"))
        assert_verified(ws)
    reliability.record(
        AREA, "a pull's worker processes killed with SIGKILL while it updates every plugin (one worker, or all)",
        landed,
        f"{tries} pulls started; {failed_total} plugins failed in all, each with the reason "
        "(`the worker process running it ended (killed by signal 9)` or `no worker process left to run it`); "
        "the pull exited 1 and committed the others; every failed plugin still served its old module; verify "
        "passed; every next pull completed, leaving no staging directory")


def test_two_pulls_together_on_one_tree(tmp_path: Path, console: Console, reliability: Collector) -> None:
    ws = Workspace(tmp_path, console.registry)
    ws.config.write_text(console.configs["a"])
    first, second = _start(ws, console.registry, "--jobs", "1"), _start(ws, console.registry, "--jobs", "1")
    (_, err1), (_, err2) = first.communicate(timeout=120), second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    waited = ["waiting for another plugin-sync" in e for e in (err1, err2)]
    assert sum(waited) == 1, (err1, err2)
    assert "Traceback" not in err1 + err2
    assert check_served(ws.root, console, ("a",)) == {"a": 52}
    assert_verified(ws)
    lock = ws.lock_path.read_bytes()

    # one that will not wait refuses in one line, and changes nothing
    ws.config.write_text(console.configs["b"])
    before = served(ws.root)
    slow = _start(ws, console.registry, "--jobs", "1")
    deadline = time.monotonic() + 30
    while not any(ws.root.glob("*/.store/.staging-*")) and slow.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    slow.send_signal(signal.SIGSTOP)  # inside the writer lock, mid-download: hold it there
    try:
        refused = _start(ws, console.registry, "--wait", "0.2")
        _, err = refused.communicate(timeout=30)
        assert served(ws.root) == before
    finally:
        slow.send_signal(signal.SIGCONT)
    assert refused.returncode == 1, err
    lines = err.strip().splitlines()  # the note that it waits, then the refusal
    assert "Traceback" not in err and len(lines) <= 2, err
    assert lines[-1].startswith("plugin-sync: error: ") and "another plugin-sync is writing this tree" in lines[-1]
    _, slow_err = slow.communicate(timeout=120)
    assert slow.returncode == 0, slow_err
    assert check_served(ws.root, console, ("b",)) == {"b": 52}
    assert served(ws.root) != before and ws.lock_path.read_bytes() != lock
    assert_verified(ws)
    reliability.record(AREA, "two pulls started together on one tree", 1,
                       "the second waited for the first (said so in one line), both exit 0; tree verified")
    reliability.record(AREA, "a pull with `--wait 0.2` while another writes", 1,
                       f"refused after 0.2 s: `{lines[-1].replace(str(ws.root), '<tree>')}`, exit 1, nothing changed; the "
                       "running pull then completed; tree verified")
