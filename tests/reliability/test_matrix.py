"""The state-by-fault matrix (``matrix.py`` holds the table): every command, from every
starting state a real run leaves, under every fault that can reach it, against a real
registry behind a real token service, each through a fault proxy.

Each cell asserts the exit code the README's contract gives, that every plugin the fault
did not hit is served exactly (the registry's bytes) and the one it hit keeps what it
served before, that nothing printed a traceback, and that the next run without the fault
exits 0 and leaves a tree that ``verify`` passes. The registry, the states and the
snapshot are made once for the module; each cell runs on a copy of its state.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from sync.sample import Artifact, build_artifact, wasm_module
from tests.reliability import matrix
from tests.reliability.conftest import inproc
from tests.reliability.record import DOC
from tests.support.faultproxy import Fault, FaultProxy
from tests.support.registry import Registry, running_registry
from tests.support.tokenserver import TokenService
from tests.support.workspace import Result, Workspace

PLUGINS = ("alpha", "bravo", "victim")
TAGS = {"alpha": "1.0.0", "bravo": "2.0.0", "victim": "1.0.0"}
SNAPSHOT_224 = Path(__file__).resolve().parents[2] / "snapshots" / "2.2.4.json"
HAND_PLACED = ("my-filter", "0.1.0")
HAND_MODULE = wasm_module(128, 9)

Served = dict[str, dict[str, bytes]]  # plugin -> version -> plugin.wasm


@dataclass
class _ProxiedTokens(TokenService):
    """A token service whose realm, as the registry announces it, is a fault proxy in front."""

    via: str = ""

    @property
    def realm(self) -> str:
        return f"http://{self.via}/token"


@dataclass
class World:
    registry: Registry
    proxy: FaultProxy  # in front of the registry: every command reads through it
    tokens: FaultProxy  # in front of the token service
    arts: dict[str, Artifact]
    modules: dict[str, bytes]  # plugin.wasm of each artifact
    moved: Artifact  # victim's other bytes, for a moved tag
    moved_module: bytes
    states: dict[str, Path] = field(default_factory=dict)

    def args(self, command: str, ws: Workspace) -> list[str]:
        pulling = ["--registry", self.proxy.host, "--plain-http", "--processes", "1", "--jobs", "4"]
        return {
            "pull": ["pull", *pulling],
            "pull --locked": ["pull", "--locked", *pulling],
            "pull --snapshot": ["pull", "--snapshot", str(ws.dir / "snapshot.json"), *pulling],
            "metadata": ["metadata", str(ws.root.joinpath(*HAND_PLACED))],
            "serve --prepare-only": ["serve", "--prepare-only"],
            "verify": ["verify"],
        }[command]


def _write_snapshot(d: Path, registry: Registry, digests: dict[str, str]) -> None:
    """Higress 2.2.4's snapshot, its plugins replaced by the three of the matrix."""
    raw = json.loads(SNAPSHOT_224.read_text())
    template = raw["plugins"][0]
    raw["plugins"] = []
    for name in PLUGINS:
        e = json.loads(json.dumps(template))
        e.update(logicalId=name, image=f"plugins/{name}", version=TAGS[name], digest=digests[name],
                 ociRef=f"{registry.host}/plugins/{name}:{TAGS[name]}")
        e["consumers"]["pluginServer"] = {"inventoryKey": name, "httpPath": name}
        raw["plugins"].append(e)
    (d / "snapshot.json").write_text(json.dumps(raw, indent=2) + "\n")


def _copy(src: Path, dst: Path) -> Workspace:
    shutil.copytree(src, dst, symlinks=True)
    return Workspace(dst, None)


def _kill_mid_pull(w: World, ws: Workspace) -> None:
    """A pull from a fresh clone, killed with SIGKILL while it downloads victim (stalled)
    after alpha and bravo are stored."""
    w.proxy.add(Fault.stall(at=64, seconds=60, match=r"GET /v2/plugins/victim/blobs/", times=None))
    cmd = [sys.executable, "-m", "sync", "--config", str(ws.config), "--root", str(ws.root), "--lock",
           str(ws.lock_path), *w.args("pull", ws)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (any(h.fault == "stall" for h in list(w.proxy.hits))
                   and all(any(not d.name.startswith(".") for d in ws.root.glob(f"{n}/.store/*")) for n in ("alpha", "bravo"))):
            assert time.monotonic() < deadline and proc.poll() is None, "the pull never reached victim's blob"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        w.proxy.clear()
    assert proc.returncode == -signal.SIGKILL


# the credentials the token service accepts, and retries made small (two tries, fast)
ENV = {"PLUGIN_SYNC_REGISTRY_USERNAME": "matrix", "PLUGIN_SYNC_REGISTRY_PASSWORD": "pw-matrix",
       "PLUGIN_SYNC_RETRY_ATTEMPTS": "2", "PLUGIN_SYNC_RETRY_BASE": "0.01"}


@pytest.fixture(autouse=True)
def matrix_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with ExitStack() as stack:
        with pytest.MonkeyPatch.context() as mp:
            for k, v in ENV.items():
                mp.setenv(k, v)
            w = _make_world(stack, tmp_path_factory.mktemp("matrix"))
        yield w


def _make_world(stack: ExitStack, base: Path) -> World:
    ts = stack.enter_context(_ProxiedTokens("matrix-registry", users={"matrix": "pw-matrix"}))
    tokens = stack.enter_context(FaultProxy(f"127.0.0.1:{ts.port}"))
    ts.via = tokens.host
    reg = stack.enter_context(running_registry(token_service=ts))
    reg.bearer = ts.issue("seed", " ".join(f"repository:plugins/{n}:pull,push" for n in PLUGINS))
    modules = {"alpha": wasm_module(256, 1), "bravo": wasm_module(300, 2), "victim": wasm_module(280, 3)}
    arts = {n: build_artifact(m, "wasm-layer" if n == "bravo" else "tar+gzip") for n, m in modules.items()}
    digests = {n: reg.push(f"plugins/{n}", TAGS[n], a) for n, a in arts.items()}
    proxy = stack.enter_context(FaultProxy(reg.host))
    moved = wasm_module(280, 4)
    w = World(reg, proxy, tokens, arts, modules, build_artifact(moved), moved)

    filled = Workspace(base / "filled", reg)
    filled.dir.mkdir()
    filled.write_config({n: {"source": f"oci://{reg.host}/plugins/{n}:{TAGS[n]}", "category": "Auth"}
                         | ({"versions": ["2.0.0", "2.0.1"]} if n == "bravo" else {}) for n in PLUGINS})
    _write_snapshot(filled.dir, reg, digests)
    r = inproc(filled, *w.args("pull", filled))
    assert r.code == 0, r.err
    w.states["filled"] = filled.dir

    fresh = _copy(filled.dir, base / "fresh")
    shutil.rmtree(fresh.root)
    w.states["fresh"] = fresh.dir

    killed = _copy(fresh.dir, base / "killed")
    _kill_mid_pull(w, killed)
    w.states["killed"] = killed.dir

    failed = _copy(fresh.dir, base / "failed")
    proxy.add(Fault.respond(404, match=r"/v2/plugins/victim/manifests/", times=None))
    r = inproc(failed, *w.args("pull", failed))
    proxy.clear()
    assert r.code == 1 and "Traceback" not in r.err, r.err
    w.states["failed"] = failed.dir
    return w


def _served(root: Path) -> Served:
    out: Served = {}
    for plugin in sorted(root.iterdir()) if root.is_dir() else []:
        if plugin.name.startswith(".") or not plugin.is_dir():
            continue
        for v in sorted(plugin.iterdir()):
            if not v.name.startswith(".") and (v / "plugin.wasm").is_file():
                out.setdefault(plugin.name, {})[v.name] = (v / "plugin.wasm").read_bytes()
    return out


def _target(w: World, command: str, fault: str) -> Served:
    """What ``command`` builds, plugin by plugin, when it succeeds."""
    module = dict(w.modules)
    if fault == "tag moved" and command == "pull":
        module["victim"] = w.moved_module  # a plain pull follows the tag
    out = {n: {TAGS[n]: module[n]} for n in PLUGINS}
    # plugins.yaml serves bravo under two versions; a snapshot build serves the versions
    # plugins.yaml lists beside the one the snapshot serves too
    out["bravo"]["2.0.1"] = module["bravo"]
    return out


@contextmanager
def _fault(w: World, fault: str) -> Iterator[None]:
    victim = r"/v2/plugins/victim/"
    faults = {
        "manifest 404": [Fault.respond(404, match=victim + "manifests/", times=None)],
        "manifest 5xx": [Fault.respond(503, match=victim + "manifests/", times=None)],
        "blob truncated": [Fault.truncate(at=40, match=victim + "blobs/", times=None)],
    }
    if fault == "token 503":
        w.tokens.add(Fault.respond(503, match=r"GET /token\?.*victim", times=1))
    w.proxy.add(*faults.get(fault, []))
    if fault == "tag moved":
        w.registry.push("plugins/victim", TAGS["victim"], w.moved)
    try:
        yield
    finally:
        w.proxy.clear()
        w.tokens.clear()


def _restore(w: World, fault: str) -> None:
    if fault == "tag moved":
        w.registry.push("plugins/victim", TAGS["victim"], w.arts["victim"])


def _check_served(after: Served, before: Served, target: Served, exp: matrix.Expect) -> None:
    for plugin in PLUGINS:
        how = exp.victim if plugin == "victim" else exp.others
        got, was, new = after.get(plugin, {}), before.get(plugin, {}), target[plugin]
        if how == matrix.NEW:
            assert got == new, f"{plugin}: serves {sorted(got)}, should serve what the command builds {sorted(new)}"
        elif how == matrix.KEPT:
            assert got == was, f"{plugin}: serves {sorted(got)}, should keep what it served {sorted(was)}"
        else:
            for v, data in got.items():
                assert data in (was.get(v), new.get(v)), f"{plugin}/{v}: serves bytes neither kept nor locked"
            assert set(was) <= set(got), f"{plugin}: stopped serving {sorted(set(was) - set(got))}"


def _check_said(w: World, r: Result, fault: str, command: str, exp: matrix.Expect) -> None:
    """A failed pull names victim alone, in one line; a moved tag under --locked is one
    warning naming victim and both digests."""
    lines = r.err.splitlines()
    if exp.code == 1 and command.startswith("pull"):
        failed = [ln for ln in lines if ln.startswith("failed ")]
        assert len(failed) == 1 and failed[0].split()[1] == "victim:", r.err
    if fault == "tag moved" and command == "pull --locked":
        warned = [ln for ln in lines if ln.startswith("warning ")]
        assert len(warned) == 1 and warned[0].split()[1] == "victim:", r.err
        assert w.arts["victim"].digest in warned[0] and w.moved.digest in warned[0], warned[0]
    if exp.code == 2:
        assert len(lines) == 1 and lines[0].startswith("plugin-sync: error: "), r.err


def _clean(r: Result) -> None:
    text = r.out + r.err
    assert "Traceback" not in text and "internal error" not in text, r.err


CELLS = [
    pytest.param(s, f, c, e, id=f"{s}-{c.replace(' ', '')}-{f.replace(' ', '')}",
                 marks=[pytest.mark.xfail(strict=True, reason="needs: " + "; ".join(matrix.FIXES[k] for k in sorted(e.missing)))]
                 if e.missing else [])
    for s, f, c, e in matrix.cells()
]


@pytest.mark.parametrize("state,fault,command,exp", CELLS)
def test_cell(world: World, tmp_path: Path, state: str, fault: str, command: str, exp: matrix.Expect) -> None:
    ws = _copy(world.states[state], tmp_path / "ws")
    if command == "metadata":
        d = ws.root.joinpath(*HAND_PLACED)
        d.mkdir(parents=True)
        (d / "plugin.wasm").write_bytes(HAND_MODULE)
    before = _served(ws.root)
    try:
        with _fault(world, fault):
            r = inproc(ws, *world.args(command, ws))
            met = world.proxy.applied() + world.tokens.applied()
        if fault in ("manifest 404", "manifest 5xx", "token 503") or (fault == "blob truncated" and exp.code):
            assert met, f"the command never met the fault {fault!r}"
        _clean(r)
        assert r.code == exp.code, f"exit {r.code}, expected {exp.code}: {r.err}"
        _check_said(world, r, fault, command, exp)
        after = _served(ws.root)
        if command == "metadata":
            assert after.pop(HAND_PLACED[0]) == {HAND_PLACED[1]: HAND_MODULE}
            before.pop(HAND_PLACED[0])
        _check_served(after, before, _target(world, command, fault), exp)
        # the next run without the fault converges
        again = inproc(ws, *world.args(command if command.startswith("pull") else "pull", ws))
        _clean(again)
        assert again.code == 0, again.err
        v = inproc(ws, "verify")
        assert v.code == 0, v.out + v.err
    finally:
        _restore(world, fault)


def test_the_reliability_page_shows_this_matrix() -> None:
    assert matrix.render() in DOC.read_text(encoding="utf-8"), (
        "docs/reliability.md does not hold the matrix of tests/reliability/matrix.py; "
        "run UPDATE_RELIABILITY_DOC=1 python -m pytest -q tests/reliability")


def test_every_state_fault_and_command_is_decided() -> None:
    """The table is total, and says why for every triple it leaves out."""
    for s in matrix.STATES:
        for f in matrix.FAULTS:
            for c in matrix.COMMANDS:
                e = matrix.expect(s, f, c)
                assert isinstance(e, matrix.Expect) or e, (s, f, c)
    assert len(matrix.cells()) >= 60
