"""Round trips a pull waits for, at a distance: tokens before the work (one request to learn a
registry's challenge, then one token request naming every repository, or, where the token
service grants one scope per request, one a repository; no request that waits for a 401
first), every manifest asked at once, and an artifact's layers asked together. Against the
real registry, through a proxy that records every request."""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import tarfile
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from sync import artifact as artifact_format
from sync.fsutil import CHUNK
from sync.oci.manifest import Descriptor, parse_manifest
from sync.oci.registry import token_repositories
from sync.sample import wasm_module
from tests.support.faultproxy import Fault, FaultProxy
from tests.support.registry import Registry, running_registry
from tests.support.tokenserver import TokenService
from tests.support.wanproxy import WanProxy
from tests.support.workspace import Workspace, artifact

NAMES = ("a", "b", "c", "d", "e")


@pytest.fixture(params=[True, False], ids=["several-scopes", "one-scope"])
def anonymous_registry(request: pytest.FixtureRequest) -> Iterator[tuple[Registry, TokenService, FaultProxy]]:
    with TokenService("registry-anon", anonymous=True, multi_scope=request.param) as ts:
        with running_registry(token_service=ts) as reg, FaultProxy(reg.host) as proxy:
            reg.bearer = ts.issue("seed", " ".join(f"repository:plugins/{n}:pull,push" for n in NAMES))
            for i, n in enumerate(NAMES):
                reg.push(f"plugins/{n}", "1.0.0", artifact(600, i + 1))
            ts.seen.clear()
            yield reg, ts, proxy


def _workspace(tmp_path: Path, reg: Registry, proxy: FaultProxy) -> Workspace:
    ws = Workspace(tmp_path, Registry(proxy.host, reg.root))
    ws.write_config({n: {"tag": "1.0.0"} for n in NAMES})
    return ws


def test_one_challenge_per_host_and_at_most_one_token_request_per_repository(
        tmp_path: Path, anonymous_registry: tuple[Registry, TokenService, FaultProxy]) -> None:
    reg, ts, proxy = anonymous_registry
    ws = _workspace(tmp_path, reg, proxy)
    for run in ("full", "no-op"):
        ts.seen.clear()
        proxy.clear()
        r = ws.pull()
        assert r.code == 0, r.err
        assert [h.status for h in proxy.hits if h.status == 401] == [401], (run, proxy.hits)
        assert [h.path for h in proxy.hits if h.status == 401] == ["/v2/"]
        scopes = [s.scope.split() for s in ts.seen]
        asked = sorted(x for s in scopes for x in s)
        if ts.multi_scope:
            assert len(ts.seen) == 1, scopes  # every repository in one request
        else:
            assert len(ts.seen) == len(NAMES), scopes  # the first one granted, then one each
        assert sorted(set(asked)) == sorted(f"repository:plugins/{n}:pull" for n in NAMES)
        assert len(asked) <= 2 * len(NAMES)
        manifests = [h for h in proxy.hits if "/manifests/" in h.path]
        assert len(manifests) == len(NAMES) and all(h.status == 200 for h in manifests)
    for i, n in enumerate(NAMES):
        assert (ws.root / n / "1.0.0" / "plugin.wasm").read_bytes() == wasm_module(600, i + 1)


def test_a_token_service_that_fails_is_asked_once_and_every_plugin_says_why(tmp_path: Path) -> None:
    with TokenService("registry-down", anonymous=True) as ts, running_registry(token_service=ts) as reg, \
            FaultProxy(reg.host) as proxy:
        reg.bearer = ts.issue("seed", "repository:plugins/a:pull,push repository:plugins/b:pull,push")
        reg.push("plugins/a", "1.0.0", artifact(600, 1))
        reg.push("plugins/b", "1.0.0", artifact(600, 2))
        ts.seen.clear()
        ts.faults = [403] * 10
        ws = Workspace(tmp_path, Registry(proxy.host, reg.root))
        ws.write_config({"a": {"tag": "1.0.0"}, "b": {"tag": "1.0.0"}})
        r = ws.pull()
        assert r.code == 1
        assert "Traceback" not in r.err
        assert r.err.count("authentication required by the token service (403)") == 2, r.err
        assert len(ts.seen) == 1  # the refusal is remembered, not asked again per plugin
        assert not [h for h in proxy.hits if "/manifests/" in h.path]


def _jwt(claims: object) -> str:
    def part(x: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(x).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


@pytest.mark.parametrize("token, expect", [
    (_jwt({"access": [{"type": "repository", "name": "plugins/a", "actions": ["pull"]},
                      {"type": "repository", "name": "plugins/b", "actions": ["push"]},
                      {"type": "registry", "name": "catalog", "actions": ["*"]}]}), {"plugins/a"}),
    (_jwt({"access": []}), set()),
    (_jwt({"sub": "x"}), None),  # no access claim: nothing to go by
    (_jwt(["not", "an", "object"]), None),
    ("opaque-token-without-dots", None),
    ("a.!!!.c", None),
])
def test_the_repositories_a_token_grants_are_read_from_its_claims_where_it_has_them(
        token: str, expect: set[str] | None) -> None:
    assert token_repositories(token) == expect


def test_every_manifest_and_blob_is_asked_at_once_however_few_jobs(tmp_path: Path) -> None:
    """A manifest is one round trip, and so is the answer to a blob's request: they all go
    out together, with ``--jobs 1`` too (what ``--jobs`` bounds, reading, is tested below)."""
    with running_registry() as reg, FaultProxy(reg.host) as proxy:
        names = [f"p{i}" for i in range(8)]
        for i, n in enumerate(names):
            reg.push(f"plugins/{n}", "1.0.0", artifact(2000, i + 1))
        ws = Workspace(tmp_path, Registry(proxy.host, reg.root))
        ws.write_config({n: {"tag": "1.0.0"} for n in names})
        proxy.add(Fault.delay(1.0, match="/manifests/", times=None), Fault.delay(0.5, match="/blobs/", times=None))
        r = ws.pull("--jobs", "1", "--processes", "1")
        assert r.code == 0, r.err
        manifests = [h.at for h in proxy.requests_to("/manifests/")]
        blobs = [h.at for h in proxy.requests_to("/blobs/")]
    assert len(manifests) == 8 and max(manifests) - min(manifests) < 1.0  # none waited for another's answer
    assert len(blobs) >= 8 and max(blobs) - min(blobs) < 0.5  # nor for another's download
    for i, n in enumerate(names):
        assert (ws.root / n / "1.0.0" / "plugin.wasm").read_bytes() == wasm_module(2000, i + 1)


def test_reading_modules_keeps_to_the_download_slots_and_asking_for_them_holds_none(tmp_path: Path) -> None:
    """``sync.artifact.fetch`` takes its slot once the blob's answer is there: eight fetches
    on two slots ask for their blobs together and read two at a time."""
    module = wasm_module(4 * CHUNK, 1)
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as tf:
        info = tarfile.TarInfo("plugin.wasm")
        info.size = len(module)
        tf.addfile(info, io.BytesIO(module))
    layer = gzip.compress(tar.getvalue())
    desc = Descriptor(artifact_format.TAR_GZIP[0], "sha256:" + hashlib.sha256(layer).hexdigest(), len(layer))
    slot = threading.BoundedSemaphore(2)
    lock = threading.Lock()
    answered: list[float] = []
    reading, peak = 0, 0

    class Body(io.BytesIO):
        started = False

        def read(self, n: int | None = -1) -> bytes:
            nonlocal reading, peak
            if not self.started:
                self.started = True
                with lock:
                    reading += 1
                    peak = max(peak, reading)
            time.sleep(0.01)
            return super().read(n)

    @contextlib.contextmanager
    def open_blob(d: Descriptor) -> Iterator[io.BytesIO]:
        nonlocal reading
        time.sleep(0.3)  # the request's round trip
        answered.append(time.monotonic())
        body = Body(layer)
        try:
            yield body
        finally:
            if body.started:
                with lock:
                    reading -= 1

    def one(i: int) -> None:
        dest = tmp_path / str(i)
        dest.mkdir()
        artifact_format.fetch(artifact_format.Plan("tar+gzip", desc, {}), open_blob, dest, slot=slot)
        assert (dest / "plugin.wasm").read_bytes() == module

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answered) == 8 and max(answered) - min(answered) < 0.3
    assert peak == 2


def test_an_artifacts_module_goes_first_and_its_small_layers_together() -> None:
    """The module is asked for alone, first, so that it takes the connection its manifest came
    on; once it is answered its small layers (spec.yaml, the READMEs) go out at once, while it
    streams in: two round trips for an artifact's blobs, not one a layer."""
    import tempfile

    art = artifact(3000, 1, spec="info:\n  name: a\n", readme="# a\n", readme_en="# a\n")
    module = artifact_format.plan(parse_manifest(art.manifest, art.media_type)).module.digest
    with running_registry() as reg, FaultProxy(reg.host) as proxy, tempfile.TemporaryDirectory() as tmp:
        reg.push("plugins/a", "1.0.0", art)
        ws = Workspace(Path(tmp), Registry(proxy.host, reg.root))
        ws.write_config({"a": {"tag": "1.0.0"}})
        proxy.add(Fault.delay(1.0, match="/blobs/", times=None))
        r = ws.pull("--jobs", "1", "--processes", "1")
        assert r.code == 0, r.err
        blobs = proxy.requests_to("/blobs/")
    assert len(blobs) == 4 and blobs[0].path.endswith(module)
    extras = [h.at for h in blobs[1:]]
    assert min(extras) - blobs[0].at >= 0.9  # after the module's answer ...
    assert max(extras) - min(extras) < 1.0  # ... and none waited for another's


def test_no_module_pays_for_a_new_connection(tmp_path: Path) -> None:
    """At a distance every module's request goes out on a connection already open (the one its
    manifest came on), never on one that still has its handshake to pay."""
    rtt = 0.1
    with TokenService("registry-anon", anonymous=True) as ts, running_registry(token_service=ts) as reg:
        reg.bearer = ts.issue("seed", " ".join(f"repository:plugins/{n}:pull,push" for n in NAMES))
        modules = set()
        for i, n in enumerate(NAMES):
            art = artifact(600, i + 1, spec=f"info:\n  name: {n}\n", readme=f"# {n}\n")
            modules.add(artifact_format.plan(parse_manifest(art.manifest, art.media_type)).module.digest)
            reg.push(f"plugins/{n}", "1.0.0", art)
        with WanProxy(reg.host, rtt, handshake=2) as wan:
            ws = Workspace(tmp_path, Registry(wan.host, reg.root))
            ws.write_config({n: {"tag": "1.0.0"} for n in NAMES})
            r = ws.pull()
            assert r.code == 0, r.err
            requests = sorted(wan.requests, key=lambda q: q.at)
    first = {}
    for q in requests:
        first.setdefault(q.connection, q)
    sent = [q for q in requests if q.path.rsplit("/", 1)[-1] in modules]
    assert len(sent) == len(NAMES)
    assert [q.path for q in sent if first[q.connection] is q] == []  # each on a connection used before


@pytest.mark.parametrize("processes", ["1", "2"])
def test_the_manifests_go_out_on_connections_opened_while_the_tokens_came(tmp_path: Path, processes: str) -> None:
    """At a distance a new connection costs its handshake before its first request: the
    connections the manifests use are opened while the challenge and the token are on their
    way (in each worker process, for its own), so no manifest pays one."""
    rtt = 0.1
    with TokenService("registry-anon", anonymous=True) as ts, running_registry(token_service=ts) as reg:
        reg.bearer = ts.issue("seed", " ".join(f"repository:plugins/{n}:pull,push" for n in NAMES))
        for i, n in enumerate(NAMES):
            reg.push(f"plugins/{n}", "1.0.0", artifact(600, i + 1))
        with WanProxy(reg.host, rtt, handshake=2) as wan:
            ws = Workspace(tmp_path, Registry(wan.host, reg.root))
            ws.write_config({n: {"tag": "1.0.0"} for n in NAMES})
            r = ws.pull("--processes", processes)
            assert r.code == 0, r.err
            wan.reset()
            r = ws.pull("--processes", processes)  # the no-op
            assert r.code == 0, r.err
            manifests = [q for q in wan.requests if "/manifests/" in q.path]
    assert len(manifests) == len(NAMES) and all(q.status == 200 for q in manifests)
    # each connection was open for its handshake's two round trips before its manifest was sent
    assert all(q.at - q.opened >= 2 * rtt for q in manifests), [round(q.at - q.opened, 3) for q in manifests]
