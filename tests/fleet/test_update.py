"""Updates under load: gateways read index.json and fetch every module it names, over and
over, while pulls publish a new version of one plugin and change another's artifact under
the same version. Every response is recorded: each module's body must hash to a sha256 the
lock held for that path at some moment of the run, each index.json must be one that a pull
wrote, and no module an index names may answer 404. Against nginx over the tree and against
`plugin-sync serve`.

Each server answers at least 10,000 responses while at least two pulls change the tree:
the pulls go on until then.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import requests

from sync.lock import load_lock
from sync.sample import build_artifact, wasm_module
from sync.tree.layout import url_path
from tests.support.fleet import Attempt, Background, Fetcher, watch_fleet
from tests.support.nginx import free_port, running_nginx
from tests.support.registry import Registry, running_registry
from tests.support.workspace import Workspace

WANTED = 10_000  # responses per server
MAX_ROUNDS = 30
GATEWAYS = 8
STEADY = 4


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    with running_registry() as r:
        yield r


class Site:
    """A workspace whose pulls change what is served: round k re-pushes `changing:1.0.0` with
    new bytes and publishes `growing` 1.k.0, served beside every earlier 1.j.0."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.round = 0
        self.allowed: dict[str, set[str]] = {}  # path -> every sha256 the lock held for it
        self.indexes: set[str] = set()  # sha256 of every index.json a pull wrote

    def push(self, name: str, tag: str, seed: int) -> None:
        assert self.ws.registry is not None
        size = 40_000 + (seed % 7) * 20_000
        self.ws.registry.push(f"plugins/{name}", tag, build_artifact(wasm_module(size, seed, compressible=0.6)))

    def pull(self) -> None:
        k = self.round
        self.push("changing", "1.0.0", 1000 + k)
        self.push("growing", f"1.{k}.0", 2000 + k)
        plugins: dict[str, dict[str, object]] = {f"steady-{i}": {"source": f"oci://{self.registry}/plugins/steady-{i}:1.0.0"}
                                                 for i in range(STEADY)}
        plugins["changing"] = {"source": f"oci://{self.registry}/plugins/changing:1.0.0"}
        plugins["growing"] = {"source": f"oci://{self.registry}/plugins/growing:1.{k}.0",
                              "versions": [f"1.{j}.0" for j in range(k + 1)]}
        self.ws.write_config(plugins)
        r = self.ws.pull("--gzip", "--registry", self.registry)
        assert r.code == 0, r.err
        self.remember()
        self.round += 1

    @property
    def registry(self) -> str:
        assert self.ws.registry is not None
        return self.ws.registry.host

    def remember(self) -> None:
        for e in load_lock(self.ws.lock_path).sorted():
            self.allowed.setdefault(url_path(e.name, e.version), set()).add(e.sha256)
        self.indexes.add(hashlib.sha256((self.ws.root / "index.json").read_bytes()).hexdigest())


@pytest.fixture
def site(tmp_path: Path, registry: Registry) -> Site:
    s = Site(Workspace(tmp_path, registry))
    for i in range(STEADY):
        s.push(f"steady-{i}", "1.0.0", 3000 + i)
    s.pull()
    return s


@contextmanager
def plugin_sync_serve(ws: Workspace) -> Iterator[tuple[str, int]]:
    port = free_port()
    err = open(ws.dir / "serve.err", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "sync", "--root", str(ws.root), "--lock", str(ws.lock_path),
                             "serve", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, (ws.dir / "serve.err").read_text()
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "plugin-sync serve did not come up"
            time.sleep(0.05)
        yield "127.0.0.1", port
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        err.close()
    assert proc.returncode == 0


@contextmanager
def nginx(ws: Workspace) -> Iterator[tuple[str, int]]:
    with running_nginx(ws.root, capture_access_log=False) as server:
        yield server.host, server.port


@pytest.mark.parametrize("server", [nginx, plugin_sync_serve], ids=["nginx", "plugin-sync-serve"])
def test_no_torn_or_mixed_body_and_no_index_404_while_pulls_change_the_tree(site: Site, server) -> None:  # type: ignore[no-untyped-def]
    """Half the gateways ask for gzip (nginx then sends the precompressed module, or gzips
    index.json on the fly), half do not."""
    stop = threading.Event()
    seen: list[Attempt] = []
    with server(site.ws) as (host, port):
        fleets = [Background(lambda gz=gz: watch_fleet(host, port, GATEWAYS // 2, stop,  # type: ignore[misc]
                                                        Fetcher(accept_gzip=gz), sink=seen))
                  for gz in (False, True)]
        for f in fleets:
            f.__enter__()
        try:
            time.sleep(0.5)
            while site.round < 3 or len(seen) < WANTED:
                assert site.round < MAX_ROUNDS, len(seen)
                site.pull()
        finally:
            stop.set()
            for f in fleets:
                f.__exit__()
    results = [f.result for f in fleets]
    assert all(r is not None for r in results)
    attempts = [a for r in results if r for a in r[0].attempts]
    indexes = [i for r in results if r for i in r[1]]
    responses = [a for a in attempts if not a.cause]
    problems = [a for a in attempts if a.cause]
    assert problems == [], problems[:5]  # no 404, no error, no short body
    torn = [a for a in responses if a.path != "/plugins/index.json" and a.sha256 not in site.allowed.get(a.path, ())]
    assert torn == [], torn[:5]
    assert {sha for sha, _ in indexes} <= site.indexes
    assert len(responses) >= WANTED
    gzipped = sum(1 for a in responses if a.encoding == "gzip" and a.path != "/plugins/index.json")
    assert gzipped > 0
    # the fleet saw the changes: more than one body of the changed artifact and new versions
    changing = {a.sha256 for a in responses if a.path == url_path("changing", "1.0.0")}
    growing = {a.path for a in responses if a.path.startswith("/plugins/growing/")}
    assert len(changing) >= 2 and len(growing) >= 2
    assert len({sha for sha, _ in indexes}) >= 2
    print(f"update under load: {len(responses)} responses ({len(indexes)} index.json, {gzipped} modules gzipped), "
          f"{site.round - 1} pulls, {len(changing)} bodies of changing/1.0.0, {len(growing)} versions of growing; "
          "0 torn or mixed, 0 404, 0 errors")
