"""``plugin-sync mirror`` against real registries: Debian's docker-registry with htpasswd
Basic auth or behind the token service, skopeo as the independent client, and ``pull``
reading the mirror back."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from sync.oci.manifest import ACCEPT, OCI_MANIFEST
from sync.sample import EMPTY_CONFIG, TAR_GZIP, Artifact, tar_gz, wasm_module
from tests.support.faultproxy import Fault, FaultProxy
from tests.support.registry import Registry, running_registry
from tests.support.snapshot import Built, SnapshotWorkspace, rewrite
from tests.support.tokenserver import TokenService
from tests.support.workspace import Result, Workspace, artifact, assert_no_traceback, tree_state

USER, PASSWORD = "mirror-user", "mirror-pw"
UPLOADS = r"^(POST|PUT|PATCH) /v2/[^ ]*/blobs/"


@pytest.fixture
def target(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """A registry with htpasswd Basic auth; the environment's credentials are for it."""
    with running_registry(auth=(USER, PASSWORD)) as r:
        monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_USERNAME", USER)
        monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_PASSWORD", PASSWORD)
        yield r


@pytest.fixture
def sws(tmp_path: Path, source: Registry, built: Built) -> SnapshotWorkspace:
    w = SnapshotWorkspace(tmp_path, source, copy.deepcopy(built))
    w.configure_unmanaged()
    return w


def mirror(w: Workspace, *args: str) -> tuple[Result, dict[str, Any]]:
    r = w.cli("mirror", "--plain-http", "--to-plain-http", "--json", *args)
    assert_no_traceback(r)
    return r, (json.loads(r.out) if r.out.strip() else {})


def snapshot_args(w: SnapshotWorkspace) -> list[str]:
    assert w.built is not None
    s, u = w.built.write(w.dir)
    return ["--snapshot", str(s), "--unmanaged-lock", str(u)]


def raw_manifest(reg: Registry, repo: str, ref: str) -> bytes:
    r = requests.get(f"{reg.url}/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT}, auth=reg.auth, timeout=10)
    r.raise_for_status()
    return r.content


def tags_in(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(repository, tag, digest) of every tag the report says the mirror holds."""
    out = []
    for p in report["plugins"]:
        repo = p["target"].split("/", 3)[3]
        out += [(repo, t, p["digest"]) for t in p["tags"]]
    return out


def skopeo(*args: str) -> bytes:
    p = subprocess.run(["skopeo", *args], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout


def test_snapshot_into_a_registry_with_basic_auth(sws: SnapshotWorkspace, target: Registry, tmp_path: Path) -> None:
    """Every artifact of the 2.2.4 snapshot is copied with its digest; skopeo reads the same
    manifest and the same blobs; a second run uploads nothing."""
    assert sws.built is not None
    r, report = mirror(sws, *snapshot_args(sws), "--to", f"{target.host}/plugins")
    assert r.code == 0, r.err
    assert report["summary"] == {"copied": len(report["plugins"]), "present": 0, "failed": 0}
    assert {p["digest"] for p in report["plugins"]} == set(sws.built.modules)  # every pinned artifact
    tags = tags_in(report)
    for (name, version), digest in sws.built.served.items():  # every served version is a tag of its artifact
        assert any(t == version and d == digest for _, t, d in tags), (name, version)
    for repo, tag, digest in tags:  # the registry holds the source's bytes under every tag
        assert "sha256:" + hashlib.sha256(raw_manifest(target, repo, tag)).hexdigest() == digest
    assert report["blobs"]["mounted"] > 0  # the shared {} config went in once, then was mounted
    assert report["blobs"]["present"] == 0  # an empty target: each blob asked for once per repository

    creds = f"--creds={USER}:{PASSWORD}"
    for p in report["plugins"][:3]:
        repo, tag = p["target"].split("/", 3)[3], p["tags"][0]
        raw = skopeo("inspect", "--raw", "--tls-verify=false", creds, f"docker://{target.host}/{repo}:{tag}")
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == p["digest"]
        out = tmp_path / f"skopeo-{repo.replace('/', '_')}"
        skopeo("copy", "--src-tls-verify=false", f"--src-creds={USER}:{PASSWORD}",
               f"docker://{target.host}/{repo}:{tag}", f"dir:{out}")
        manifest = json.loads((out / "manifest.json").read_bytes())
        src_repo = repo  # namespace plugins: the source's repository
        for d in [manifest["config"], *manifest["layers"]]:
            hexd = d["digest"].split(":")[1]
            source_blob = requests.get(f"{sws.registry.url}/v2/{src_repo}/blobs/{d['digest']}", timeout=10)  # type: ignore[union-attr]
            assert (out / hexd).read_bytes() == source_blob.content

    with FaultProxy(target.host) as proxy:  # count what the second run asks of the registry
        r, again = mirror(sws, *snapshot_args(sws), "--to", f"{proxy.host}/plugins")
        assert r.code == 0, r.err
        assert again["summary"]["present"] == len(report["plugins"]) and again["summary"]["copied"] == 0
        assert again["blobs"] == {"present": 0, "mounted": 0, "uploaded": 0, "bytes": 0, "manifests": 0}
        assert proxy.requests_to(UPLOADS) == [] and proxy.requests_to(r"^PUT ") == []
        assert {h.method for h in proxy.hits} == {"HEAD"}


def test_refuses_what_a_gateway_cannot_load(tmp_path: Path, source: Registry, target: Registry) -> None:
    """A single-layer wasm artifact (higress#4528) is refused with one line naming it; the
    others are copied and the run exits 1."""
    source.push("plugins/good", "1.0.0", artifact(300, 1))
    source.push("plugins/bad", "1.0.0", artifact(300, 2, fmt="wasm-layer"))
    w = Workspace(tmp_path, source)
    w.write_config({"good": {"tag": "1.0.0"}, "bad": {"tag": "1.0.0"}})
    assert w.pull().code == 0  # the plugin server serves both
    r, report = mirror(w, "--to", f"{target.host}/plugins")
    assert r.code == 1
    line = next(ln for ln in r.err.splitlines() if ln.startswith("failed"))
    assert line.startswith("failed    bad: plugins/bad@sha256:") and "a gateway cannot load it" in line
    assert "application/vnd.module.wasm.content.layer.v1+wasm" in line
    assert report["summary"] == {"copied": 1, "present": 0, "failed": 1}
    assert requests.head(f"{target.url}/v2/plugins/bad/manifests/1.0.0", auth=target.auth, timeout=10).status_code == 404


def _tar_artifact(files: dict[str, bytes]) -> Artifact:
    """An oras-style compat artifact whose plugin.tar.gz holds ``files``."""
    layer, cfg = tar_gz(files), b"{}"

    def desc(media_type: str, data: bytes) -> dict[str, object]:
        return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}

    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": desc(EMPTY_CONFIG, cfg),
                "layers": [desc(TAR_GZIP, layer)]}
    blobs = {str(desc("", b)["digest"]): b for b in (cfg, layer)}
    return Artifact(json.dumps(manifest).encode(), blobs)


def test_the_compat_tar_must_hold_plugin_wasm(tmp_path: Path, source: Registry, target: Registry) -> None:
    """The gateway takes the member named plugin.wasm from a compat tar: a tar holding the
    module under another name is served by the plugin server but refused by the mirror, on
    every run, however far an earlier run got."""
    module = wasm_module(700, 9)
    source.push("plugins/named", "1.0.0", _tar_artifact({"build/plugin.wasm": module}))
    source.push("plugins/misnamed", "1.0.0", _tar_artifact({"main.wasm": module}))
    w = Workspace(tmp_path, source)
    w.write_config({"named": {"tag": "1.0.0"}, "misnamed": {"tag": "1.0.0"}})
    assert w.pull().code == 0
    for _ in range(2):
        r, report = mirror(w, "--to", f"{target.host}/plugins")
        assert r.code == 1
        assert report["summary"]["failed"] == 1
        line = next(ln for ln in r.err.splitlines() if ln.startswith("failed"))
        assert line.startswith("failed    misnamed: plugins/misnamed@sha256:")
        assert "holds no regular file named plugin.wasm" in line
        assert not _has_tag(target, "plugins/misnamed", "1.0.0")
    assert _has_tag(target, "plugins/named", "1.0.0")


def _locked_tree(tmp: Path, name: str, config: Path, lock: Path, *args: str) -> dict[str, str]:
    d = tmp / name
    d.mkdir()
    shutil.copy(config, d / "plugins.yaml")
    shutil.copy(lock, d / "plugins.lock.json")
    w = Workspace(d, None)
    r = w.cli("pull", "--locked", *args)
    assert r.code == 0, r.err
    return tree_state(w.root)


@pytest.fixture
def pulled(tmp_path: Path, source: Registry) -> Workspace:
    """A workspace whose lock pins three plugins (both gateway-loadable forms, one served
    under two versions), pulled from the source registry."""
    for i, fmt in enumerate(("tar+gzip", "wasm-pair", "tar+gzip")):
        source.push(f"plugins/p{i}", "2.0.0", artifact(4000 + i, 10 + i, fmt=fmt, readme=f"# p{i}\n"))
    w = Workspace(tmp_path / "ws", source)
    w.dir.mkdir()
    w.write_config({"p0": {"tag": "2.0.0", "versions": ["2.0.0", "1.0.0"]}, "p1": {"tag": "2.0.0"},
                    "p2": {"tag": "2.0.0"}})
    r = w.pull()
    assert r.code == 0, r.err
    return w


def test_pull_from_the_mirror_rebuilds_the_tree(pulled: Workspace, target: Registry, tmp_path: Path) -> None:
    """A fresh clone (plugins.yaml and the lock, nothing pulled) mirrors the lock; a locked
    pull from the mirror is the tree a locked pull from the source builds, byte for byte."""
    clone = Workspace(tmp_path / "clone", None)
    clone.dir.mkdir()
    shutil.copy(pulled.config, clone.config)
    shutil.copy(pulled.lock_path, clone.lock_path)
    r, report = mirror(clone, "--to", f"{target.host}/plugins")
    assert not clone.root.exists()
    assert r.code == 0, r.err
    assert sorted(tags_in(report))[:2] == [("plugins/p0", "1.0.0", report["plugins"][0]["digest"]),
                                           ("plugins/p0", "2.0.0", report["plugins"][0]["digest"])]
    expect = _locked_tree(tmp_path, "from-source", pulled.config, pulled.lock_path, "--plain-http")
    got = _locked_tree(tmp_path, "from-mirror", pulled.config, pulled.lock_path, "--plain-http",
                       "--registry", target.host)
    assert got == expect and any(k.endswith("plugin.wasm") for k in got)


def test_air_gapped_round_trip(pulled: Workspace, target: Registry, tmp_path: Path) -> None:
    """registry -> OCI layout -> registry -> pull gives the same tree, byte for byte; the
    layout is one `pull --registry oci-layout:` and skopeo read."""
    layout = tmp_path / "carry"
    r, first = mirror(pulled, "--to", f"oci-layout:{layout}")
    assert r.code == 0, r.err
    assert first["blobs"]["uploaded"] > 0
    index = json.loads((layout / "index.json").read_text())
    names = sorted(m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"])
    assert names == ["plugins/p0:1.0.0", "plugins/p0:2.0.0", "plugins/p1:2.0.0", "plugins/p2:2.0.0"]
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    for p in first["plugins"]:  # skopeo reads the layout: the same manifest bytes
        out = tmp_path / f"check-{p['name']}"
        skopeo("copy", "--preserve-digests", f"oci:{layout}:plugins/{p['name']}:2.0.0", f"dir:{out}")
        assert "sha256:" + hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest() == p["digest"]
    r, again = mirror(pulled, "--to", f"oci-layout:{layout}")
    assert r.code == 0 and again["blobs"]["uploaded"] == 0 and again["summary"]["present"] == 3

    # inside: the layout is the only source (the source registry is gone from this network)
    r, inside = mirror(pulled, "--registry", f"oci-layout:{layout}", "--to", f"{target.host}/plugins")
    assert r.code == 0, r.err
    assert {p["digest"] for p in inside["plugins"]} == {p["digest"] for p in first["plugins"]}
    assert _locked_tree(tmp_path, "inside", pulled.config, pulled.lock_path, "--plain-http", "--registry",
                        target.host) == _locked_tree(tmp_path, "outside", pulled.config, pulled.lock_path,
                                                     "--plain-http")


def test_token_flow_and_chunked_uploads(tmp_path: Path, source: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """A target behind the token service: a token with push scope per repository, the
    environment's credentials only for the target; a blob above the chunk size goes up in
    PATCH chunks."""
    big = artifact(3 * 1024 * 1024 + 17, 5, fmt="wasm-pair")  # a 3 MiB module: four 1 MiB chunks
    source.push("plugins/big", "1.0.0", big)
    source.push("plugins/small", "1.0.0", artifact(500, 6))
    w = Workspace(tmp_path, source)
    w.write_config({"big": {"tag": "1.0.0"}, "small": {"tag": "1.0.0"}})
    assert w.pull().code == 0
    with TokenService("mirror-target", users={"bob": "pw-b"}) as ts, running_registry(token_service=ts) as reg, \
            FaultProxy(reg.host) as proxy:
        monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_USERNAME", "bob")
        monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_PASSWORD", "pw-b")
        r, report = mirror(w, "--to", f"{proxy.host}/team", "--chunk-size", str(1 << 20))
        assert r.code == 0, r.err
        assert len(proxy.requests_to(r"^PATCH /v2/team/big/blobs/uploads/")) == 4
        pushes = {item.split(":")[1] for seen in ts.seen for item in seen.scope.split()
                  if set(item.rsplit(":", 1)[1].split(",")) == {"pull", "push"}}
        assert pushes == {"team/big", "team/small"}  # a push token per repository
        assert {seen.authorization for seen in ts.seen} == {_basic("bob", "pw-b")}
        reg.bearer = ts.issue("check", "repository:team/big:pull")
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {reg.bearer}"
        raw = s.get(f"{reg.url}/v2/team/big/manifests/1.0.0", headers={"Accept": ACCEPT}, timeout=10).content
        assert raw == big.manifest
        assert report["blobs"]["bytes"] >= 3 * 1024 * 1024


def test_kill_9_in_the_middle_then_the_next_run_completes(pulled: Workspace, target: Registry) -> None:
    """A mirror killed while it uploads (one artifact done, two with some blobs at the target
    and their module layers half sent) leaves no tag whose blobs are missing; the next run
    finds what is there and finishes the copy."""
    src = pulled.registry
    assert src
    manifests = {n: json.loads(raw_manifest(src, f"plugins/{n}", "2.0.0")) for n in ("p0", "p2")}
    readme = manifests["p0"]["layers"][0]["digest"]
    _kill_while_stalled(pulled, ["--to-plain-http", "--to", f"{target.host}/plugins"], lambda: (
        _has_tag(target, "plugins/p1", "2.0.0") and _has_blob(target, "plugins/p0", readme)))
    for n, m in manifests.items():  # stalled in a blob: the blob is not there, and no tag is
        assert not _has_blob(target, f"plugins/{n}", m["layers"][-1]["digest"])
        assert not _has_tag(target, f"plugins/{n}", "2.0.0")
    r, report = mirror(pulled, "--to", f"{target.host}/plugins")
    assert r.code == 0, r.err
    assert report["summary"] == {"copied": 2, "present": 1, "failed": 0}
    assert report["blobs"]["present"] >= 1  # what the killed run had uploaded is not sent again
    for repo, tag, digest in tags_in(report):
        assert "sha256:" + hashlib.sha256(raw_manifest(target, repo, tag)).hexdigest() == digest


def _kill_while_stalled(w: Workspace, args: list[str], ready: Callable[[], bool]) -> None:
    """Run a mirror of ``w``'s lock (p0, p1, p2) reading through a proxy that stalls the
    uploads of p0's and p2's module layers (their first reads, the plugin.wasm check, go
    through); once ``ready()``, kill it with SIGKILL."""
    src = w.registry
    assert src
    tars = "|".join(json.loads(raw_manifest(src, f"plugins/{n}", "2.0.0"))["layers"][-1]["digest"] for n in ("p0", "p2"))
    with FaultProxy(src.host) as slow:
        slow.add(Fault.stall(at=100, seconds=30, match=f"GET /v2/plugins/p[02]/blobs/({tars})", times=None, skip=2))
        cmd = [sys.executable, "-m", "sync", "--config", str(w.config), "mirror", "--plain-http",
               "--registry", slow.host, "--jobs", "3", *args]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
        try:
            deadline = time.monotonic() + 60
            while not (len(slow.requests_to(f"GET /v2/plugins/p[02]/blobs/({tars})")) >= 4 and ready()):
                assert time.monotonic() < deadline and p.poll() is None, "the mirror did not get to the stalled blobs"
                time.sleep(0.05)
            p.send_signal(signal.SIGKILL)
        finally:
            p.wait(30)
    assert p.returncode == -signal.SIGKILL


def _has_blob(reg: Registry, repo: str, digest: str) -> bool:
    return requests.head(f"{reg.url}/v2/{repo}/blobs/{digest}", auth=reg.auth, timeout=10).status_code == 200


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _has_tag(reg: Registry, repo: str, tag: str) -> bool:
    r = requests.head(f"{reg.url}/v2/{repo}/manifests/{tag}", headers={"Accept": ACCEPT}, auth=reg.auth, timeout=10)
    return r.status_code == 200


def test_bad_input_is_one_line_and_exit_2(pulled: Workspace, tmp_path: Path) -> None:
    for args, says in ((["--to", "no-namespace.example"], "use HOST[:PORT]/NAMESPACE"),
                       (["--to", "bad host/plugins"], "invalid registry host"),
                       (["--to", "r.example/plugins", "--unmanaged-lock", "x.json"], "go with --snapshot")):
        r, _ = mirror(pulled, *args)
        assert r.code == 2 and says in r.err and len(r.err.strip().splitlines()) == 1, r.err
    empty = Workspace(tmp_path / "empty", None)
    empty.dir.mkdir()
    r, _ = mirror(empty, "--to", "r.example/plugins")
    assert r.code == 2 and "nothing to mirror" in r.err


def test_a_snapshot_pull_from_the_layout_is_the_same_tree(sws: SnapshotWorkspace, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The two-hop transfer with the snapshot as the list: a layout written from the
    registry holds every artifact, and a snapshot pull from the layout is the same tree."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1750000000")  # both pulls stamp the same time
    layout = tmp_path / "layout"
    r, report = mirror(sws, *snapshot_args(sws), "--to", f"oci-layout:{layout}")
    assert r.code == 0, r.err
    direct = sws.snapshot_pull()
    assert direct.code == 0, direct.err
    expect = tree_state(sws.root)
    shutil.rmtree(sws.root)
    again = sws.snapshot_pull("--registry", f"oci-layout:{layout}")
    assert again.code == 0, again.err
    assert tree_state(sws.root) == expect


def test_rewrite_default_is_refused(tmp_path: Path) -> None:
    """The test snapshot in its default form has single-layer wasm artifacts: the mirror
    names each of them and copies the rest."""
    with running_registry() as src, running_registry() as dst:
        built = rewrite(src, seed=3)
        w = SnapshotWorkspace(tmp_path, src, built)
        w.configure_unmanaged()
        r, report = mirror(w, *snapshot_args(w), "--to", f"{dst.host}/plugins")
        assert r.code == 1
        failed = [p for p in report["plugins"] if p["status"] == "failed"]
        assert failed and all("a gateway cannot load it" in p["error"] for p in failed)
        assert len([ln for ln in r.err.splitlines() if ln.startswith("failed")]) == len(failed)
        assert report["summary"]["copied"] == len(report["plugins"]) - len(failed) > 0


def test_a_damaged_source_blob_is_never_pushed(pulled: Workspace, target: Registry) -> None:
    """A source that always sends one blob with a bit flipped: that artifact fails with one
    line, the blob is not at the target and no tag names its manifest; the others are copied."""
    src = pulled.registry
    assert src
    manifest = json.loads(raw_manifest(src, "plugins/p1", "2.0.0"))
    module_layer = manifest["layers"][-1]["digest"]
    with FaultProxy(src.host) as bad:
        bad.add(Fault.flip(at=50, match=f"GET /v2/plugins/p1/blobs/{module_layer}", times=None))
        r, report = mirror(pulled, "--registry", bad.host, "--to", f"{target.host}/plugins")
        assert r.code == 1
        assert len(bad.requests_to(f"GET /v2/plugins/p1/blobs/{module_layer}")) >= 2  # tried again
    line = next(ln for ln in r.err.splitlines() if ln.startswith("failed"))
    assert line.startswith("failed    p1:") and "digest mismatch" in line
    assert report["summary"] == {"copied": 2, "present": 0, "failed": 1}
    head = requests.head(f"{target.url}/v2/plugins/p1/blobs/{module_layer}", auth=target.auth, timeout=10)
    assert head.status_code == 404 and not _has_tag(target, "plugins/p1", "2.0.0")


def test_a_registry_failing_an_upload_gets_it_again(pulled: Workspace, target: Registry) -> None:
    """503 on an upload's closing PUT and on a session's POST: the blob is uploaded again
    from a new session, and the run completes with the source's digests."""
    with FaultProxy(target.host) as flaky:
        flaky.add(Fault.respond(503, match=r"^PUT /v2/plugins/p0/blobs/uploads/", times=1),
                  Fault.respond(503, match=r"^POST /v2/plugins/p2/blobs/uploads/", times=2))
        r, report = mirror(pulled, "--to", f"{flaky.host}/plugins")
        assert r.code == 0, r.err
        assert flaky.applied() == 3
    for repo, tag, digest in tags_in(report):
        assert "sha256:" + hashlib.sha256(raw_manifest(target, repo, tag)).hexdigest() == digest


def test_kill_9_while_writing_a_layout(pulled: Workspace, tmp_path: Path) -> None:
    """A layout written by a killed mirror names only complete manifests; the next run
    removes the half-written blobs and finishes."""
    layout = tmp_path / "carry"
    _kill_while_stalled(pulled, ["--to", f"oci-layout:{layout}"],
                        lambda: _half_written(layout) >= 2 and bool(_layout_names(layout)))
    assert _layout_names(layout) == {"plugins/p1:2.0.0"}
    for m in json.loads((layout / "index.json").read_text())["manifests"]:  # every named manifest is whole
        doc = json.loads((layout / "blobs/sha256" / m["digest"].split(":")[1]).read_bytes())
        for d in [doc["config"], *doc["layers"]]:
            assert (layout / "blobs/sha256" / d["digest"].split(":")[1]).stat().st_size == d["size"]
    r, report = mirror(pulled, "--to", f"oci-layout:{layout}")
    assert r.code == 0, r.err
    assert report["summary"] == {"copied": 2, "present": 1, "failed": 0}
    assert _half_written(layout) == 0
    assert _layout_names(layout) == {"plugins/p0:1.0.0", "plugins/p0:2.0.0", "plugins/p1:2.0.0", "plugins/p2:2.0.0"}


def _layout_names(layout: Path) -> set[str]:
    try:
        index = json.loads((layout / "index.json").read_text())
    except (OSError, ValueError):
        return set()
    return {m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]}


def _half_written(layout: Path) -> int:
    blobs = layout / "blobs" / "sha256"
    return sum(f.name.startswith(".") for f in blobs.iterdir()) if blobs.is_dir() else 0


def test_a_damaged_tar_is_a_digest_mismatch_not_a_refusal(pulled: Workspace, target: Registry) -> None:
    """Bytes damaged on the way make the compat tar unreadable too: the digest says which it
    is. Once, it is read again and copied; always, the artifact fails as damaged, not as a
    layout the gateway cannot load."""
    src = pulled.registry
    assert src
    tar = json.loads(raw_manifest(src, "plugins/p0", "2.0.0"))["layers"][-1]["digest"]
    with FaultProxy(src.host) as bad:
        bad.add(Fault.flip(at=20, match=f"GET /v2/plugins/p0/blobs/{tar}", times=1))
        r, report = mirror(pulled, "--registry", bad.host, "--to", f"{target.host}/plugins")
        assert r.code == 0, r.err
        assert bad.applied() == 1
    with running_registry() as other, FaultProxy(src.host) as bad:
        bad.add(Fault.flip(at=20, match=f"GET /v2/plugins/p0/blobs/{tar}", times=None))
        r, report = mirror(pulled, "--registry", bad.host, "--to", f"{other.host}/plugins")
        assert r.code == 1
        line = next(ln for ln in r.err.splitlines() if ln.startswith("failed"))
        assert line.startswith("failed    p0:") and "digest mismatch" in line and "refused" not in line


def test_each_host_gets_its_own_credentials(tmp_path: Path, target: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """The source (behind a token service, its credentials in the Docker config) and the
    target (Basic auth, the environment's credentials) differ: each host, and the token
    service the source names, gets only its own."""
    with TokenService("mirror-source", users={"carol": "pw-c"}) as ts, running_registry(token_service=ts) as src:
        src.bearer = ts.issue("seed", "repository:plugins/a:pull,push")
        src.push("plugins/a", "1.0.0", artifact(900, 21))
        ts.seen.clear()
        docker = tmp_path / "docker"
        docker.mkdir()
        (docker / "config.json").write_text(json.dumps({"auths": {src.host: {"auth": base64.b64encode(b"carol:pw-c").decode()}}}))
        monkeypatch.setenv("DOCKER_CONFIG", str(docker))
        w = Workspace(tmp_path / "ws", src)
        w.dir.mkdir()
        w.write_config({"a": {"tag": "1.0.0"}})
        monkeypatch.delenv("PLUGIN_SYNC_REGISTRY_USERNAME")  # a pull's would go to the config's registry
        assert w.pull().code == 0
        monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_USERNAME", USER)  # a mirror's go to the target
        ts.seen.clear()
        r, report = mirror(w, "--to", f"{target.host}/plugins")
        assert r.code == 0, r.err
        assert ts.seen and {s.authorization for s in ts.seen} == {_basic("carol", "pw-c")}
    digest = report["plugins"][0]["digest"]
    assert "sha256:" + hashlib.sha256(raw_manifest(target, "plugins/a", "1.0.0")).hexdigest() == digest


def test_a_token_refused_in_the_middle_of_an_upload(tmp_path: Path, source: Registry,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry refuses the token on an upload's streamed PUT (it expired): the body is
    spent, so the blob is uploaded again from a new session with a new token."""
    source.push("plugins/t", "1.0.0", artifact(2000, 31))
    w = Workspace(tmp_path, source)
    w.write_config({"t": {"tag": "1.0.0"}})
    assert w.pull().code == 0
    with TokenService("mirror-target", users={"bob": "pw-b"}) as ts, running_registry(token_service=ts) as reg, \
            FaultProxy(reg.host) as proxy:
        monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_USERNAME", "bob")
        monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_PASSWORD", "pw-b")
        challenge = f'Bearer realm="{ts.realm}",service="mirror-target",scope="repository:team/t:pull,push"'
        proxy.add(Fault.respond(401, match=r"^PUT /v2/team/t/blobs/uploads/.*digest=", times=1,
                                headers={"WWW-Authenticate": challenge}))
        r, report = mirror(w, "--to", f"{proxy.host}/team", "--timeout", "5")
        assert r.code == 0, r.err
        assert proxy.applied() == 1
        assert report["summary"]["copied"] == 1
        # the refused PUT, then one PUT per blob: the spent body was not sent again
        assert len(proxy.requests_to(r"^PUT /v2/team/t/blobs/uploads/.*digest=")) == 1 + len(_blobs(source, "plugins/t"))


def _blobs(reg: Registry, repo: str) -> set[str]:
    m = json.loads(raw_manifest(reg, repo, "1.0.0"))
    return {d["digest"] for d in [m["config"], *m["layers"]]}


def test_progress_on_a_terminal(pulled: Workspace, tmp_path: Path) -> None:
    """On a terminal, stderr shows a line per artifact and a bar; the summary ends it."""
    import pty

    main, secondary = pty.openpty()
    cmd = [sys.executable, "-m", "sync", "--config", str(pulled.config), "mirror", "--plain-http",
           "--to", f"oci-layout:{tmp_path / 'carry'}"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=secondary, env={**os.environ}, timeout=120)
    os.close(secondary)
    out = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal closed
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    text = out.decode()
    assert p.returncode == 0, text
    assert "[" + "#" * 10 in text and "3/3" in text
    assert sum(line.lstrip("\r\x1b[K").startswith("copied") for line in text.splitlines()) == 3
    assert "3 copied; blobs:" in text
