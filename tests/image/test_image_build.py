"""The Dockerfile, built for real with buildah and run: from a lock, from a release snapshot
as upstream's build-plugin-server-from-snapshot workflow builds it, and from the newest
committed snapshot when the lock is empty. The checks are those upstream's workflow makes
before it promotes an image."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import requests

from sync.sample import build_artifact, wasm_module
from tests.image.buildah import Buildah
from tests.image.conftest import build_context
from tests.support.snapshot import Built, rewrite
from tests.support.registry import Registry

HIGRESS_COMMIT = "7774663e4353652f5c3cecd7e98a1a43b05ee15c"
SERVER_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def module_in_oci(registry: Registry, repo: str, digest: str) -> bytes:
    """plugin.wasm as the registry holds it, read without plugin-sync: the raw wasm layer,
    or the one file of the tar+gzip layer."""
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    manifest = requests.get(f"{registry.url}/v2/{repo}/manifests/{digest}", headers=accept, timeout=10).json()
    for layer in manifest["layers"]:
        blob = requests.get(f"{registry.url}/v2/{repo}/blobs/{layer['digest']}", timeout=10).content
        assert sha256(blob) == layer["digest"].split(":")[1]
        if layer["mediaType"] == "application/vnd.module.wasm.content.layer.v1+wasm":
            return blob
        if layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip":
            with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as t:
                f = t.extractfile("plugin.wasm")
                assert f is not None
                return f.read()
    raise AssertionError(f"no module layer in {repo}@{digest}")


def snapshot_context(tmp: Path, registry: Registry, built: Built) -> Path:
    ctx = build_context(tmp / "ctx")
    built.write(ctx)  # snapshot.json and unmanaged-plugins.lock.json at the root, as upstream copies them
    lines = [f"registry: {registry.host}", "plugins:"]
    for key, u in built.unmanaged["plugins"].items():
        lines += [f"  {key}:", f"    source: oci://{u['repository']}:{u['tag']}"]
    (ctx / "plugins.yaml").write_text("\n".join(lines) + "\n")
    return ctx


def check_like_upstream(base: str, registry: Registry, built: Built) -> None:
    """What build-plugin-server-from-snapshot.yaml requires of the running image."""
    inv = requests.get(f"{base}/plugins/snapshot-inventory.json", timeout=5).json()
    assert isinstance(inv, dict) and {"mcp-server", "json-converter", "jsonrpc-converter"} <= set(inv)
    mcp = built.entry("mcp-server")
    http_path = mcp["consumers"]["pluginServer"]["httpPath"]
    served = requests.get(f"{base}/plugins/{http_path}/{mcp['version']}/plugin.wasm", timeout=5)
    assert served.status_code == 200 and served.content == module_in_oci(registry, mcp["image"], mcp["digest"])
    jc = built.entry("json-converter")
    alias = requests.get(f"{base}/plugins/jsonrpc-converter/{jc['version']}/plugin.wasm", timeout=5)
    assert alias.status_code == 200 and alias.content == module_in_oci(registry, jc["image"], jc["digest"])
    u = built.unmanaged["plugins"]["basic-auth"]
    got = requests.get(f"{base}/plugins/{u['servedPath']}/{u['servedVersion']}/plugin.wasm", timeout=5)
    assert got.status_code == 200 and sha256(got.content) == u["wasmSha256"]


def check_serves_exactly(base: str, built: Built) -> None:
    """Every mapped path, alias and unmanaged plugin byte-exact, and nothing else."""
    index = requests.get(f"{base}/plugins/index.json", timeout=5).json()
    assert {(p["name"], p["version"]) for p in index["plugins"]} == set(built.served)
    for (name, version), digest in built.served.items():
        r = requests.get(f"{base}/plugins/{name}/{version}/plugin.wasm", timeout=5)
        assert r.status_code == 200 and r.content == built.modules[digest], name


def check_runtime(b: Buildah, image: str, base_checks) -> None:  # type: ignore[no-untyped-def]
    cfg = b.config(image)
    assert cfg["User"] == "101"
    assert "8080/tcp" in cfg["ExposedPorts"]
    health = cfg["Healthcheck"]["Test"]
    assert health[0] == "CMD"
    with b.container(image) as c:
        # the unprivileged user reads the whole tree
        c.exec("sh", "-c", "find /srv/plugins -type f -exec cat {} + > /dev/null", user="101")
        with c.serving(cfg["Entrypoint"]) as base:
            base_checks(base)
            assert c.exec(*health[1:], check=False).returncode == 0  # the healthcheck command succeeds
            assert requests.get(f"{base}/plugins/.snapshot.json", timeout=5).status_code in (403, 404)


@pytest.fixture(scope="module")
def built(image_registry: Registry) -> Built:
    return rewrite(image_registry, seed=7)


def test_gateway_version_image_from_a_snapshot(tmp_path: Path, buildah: Buildah, image_registry: Registry,
                                               built: Built) -> None:
    ctx = snapshot_context(tmp_path, image_registry, built)
    snap_sha = sha256((ctx / "snapshot.json").read_bytes())
    buildah.build(ctx, "plugin-server-test:2.2.4", {
        "SNAPSHOT_SHA256": snap_sha, "HIGRESS_SOURCE_COMMIT": HIGRESS_COMMIT,
        "PLUGIN_SERVER_SOURCE_COMMIT": SERVER_COMMIT, "GATEWAY_VERSION": "2.2.4", "PLAIN_HTTP": "true",
    })
    labels = buildah.config("plugin-server-test:2.2.4")["Labels"]
    assert labels["org.opencontainers.image.revision"] == SERVER_COMMIT
    assert labels["io.higress.higress-source-commit"] == HIGRESS_COMMIT
    assert labels["io.higress.plugin-snapshot-sha256"] == snap_sha
    assert labels["io.higress.gateway-version"] == "2.2.4"

    def checks(base: str) -> None:
        check_like_upstream(base, image_registry, built)
        check_serves_exactly(base, built)
        assert requests.get(f"{base}/plugins/index.json", timeout=5).json()["server"] == "2.2.4"

    check_runtime(buildah, "plugin-server-test:2.2.4", checks)


def test_rolling_image_from_the_lock(tmp_path: Path, buildah: Buildah, image_registry: Registry) -> None:
    ctx = build_context(tmp_path / "ctx")
    modules = {"basic-auth": wasm_module(700, 1), "ai-proxy": wasm_module(900, 2)}
    lines = [f"registry: {image_registry.host}", "plugins:"]
    for name, module in modules.items():
        image_registry.push(f"plugins/{name}", "3.0.0", build_artifact(module, "tar+gzip", readme=f"# {name}\n"))
        lines += [f"  {name}:", f"    source: oci://{image_registry.host}/plugins/{name}:3.0.0"]
    (ctx / "plugins.yaml").write_text("\n".join(lines) + "\n")
    p = subprocess.run([sys.executable, "-m", "sync", "--root", str(tmp_path / "scratch"), "pull", "--plain-http"],
                       cwd=ctx, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    buildah.build(ctx, "plugin-server-test:rolling", {"PLAIN_HTTP": "true", "VCS_REF": SERVER_COMMIT,
                                                      "PLUGIN_SERVER_VERSION": "1.4.0"})
    labels = buildah.config("plugin-server-test:rolling")["Labels"]
    assert labels["org.opencontainers.image.revision"] == SERVER_COMMIT
    assert labels["org.opencontainers.image.version"] == "1.4.0"
    assert labels["io.higress.gateway-version"] == "" and labels["io.higress.plugin-snapshot-sha256"] == ""

    def checks(base: str) -> None:
        for name, module in modules.items():
            assert requests.get(f"{base}/plugins/{name}/3.0.0/plugin.wasm", timeout=5).content == module
        index = requests.get(f"{base}/plugins/index.json", timeout=5).json()
        assert index["count"] == 2 and index["server"] == "1.4.0"
        assert requests.get(f"{base}/plugins/snapshot-inventory.json", timeout=5).status_code == 404

    check_runtime(buildah, "plugin-server-test:rolling", checks)


def test_empty_lock_builds_the_newest_committed_snapshot(tmp_path: Path, buildah: Buildah,
                                                        image_registry: Registry, built: Built) -> None:
    """A plain build of a fresh clone (empty lock) serves the newest gateway release."""
    ctx = snapshot_context(tmp_path, image_registry, built)
    newest = (ctx / "snapshot.json").read_bytes()
    (ctx / "snapshot.json").unlink()
    (ctx / "snapshots" / "9.10.0.json").write_bytes(newest)  # newer than 2.2.4 and 9.9.0 by semver
    (ctx / "snapshots" / "9.9.0.json").write_text("not even JSON: must not be chosen\n")
    with open(ctx / "snapshots" / "SHA256SUMS", "a") as f:
        f.write(f"{sha256(newest)}  9.10.0.json\n")
    assert json.loads((ctx / "plugins.lock.json").read_text()).get("plugins", {}) == {}
    buildah.build(ctx, "plugin-server-test:default", {"PLAIN_HTTP": "true"})
    check_runtime(buildah, "plugin-server-test:default", lambda base: check_serves_exactly(base, built))


def test_a_build_with_nothing_to_serve_fails_clearly(tmp_path: Path, buildah: Buildah) -> None:
    ctx = build_context(tmp_path / "ctx")
    for f in (ctx / "snapshots").iterdir():
        f.unlink()
    p = buildah.build(ctx, "plugin-server-test:empty", check=False)
    assert p.returncode != 0
    assert "plugins.lock.json is empty and snapshots/ holds no snapshot: nothing to serve" in p.stderr + p.stdout


def test_two_builds_of_one_commit_give_one_digest(tmp_path: Path, buildah: Buildah, image_registry: Registry,
                                                  built: Built) -> None:
    """SOURCE_DATE_EPOCH (the commit's time) fixes every time the build writes: two builds
    from scratch, without the layer cache, give the same OCI image digest (what a registry
    stores; the release builds OCI images with BuildKit)."""
    ctx = snapshot_context(tmp_path, image_registry, built)
    args = {"SNAPSHOT_SHA256": sha256((ctx / "snapshot.json").read_bytes()), "GATEWAY_VERSION": "2.2.4",
            "HIGRESS_SOURCE_COMMIT": HIGRESS_COMMIT, "PLUGIN_SERVER_SOURCE_COMMIT": SERVER_COMMIT,
            "PLAIN_HTTP": "true", "SOURCE_DATE_EPOCH": "1764460800"}
    digests = []
    for n in (1, 2):
        buildah.build(ctx, f"plugin-server-test:repro{n}", args, extra=["--no-cache", "--timestamp", args["SOURCE_DATE_EPOCH"]],
                      fmt="oci", layers=False)
        digests.append(buildah.digest(f"plugin-server-test:repro{n}"))
    assert digests[0] == digests[1]
    with buildah.container("plugin-server-test:repro1") as c:
        meta = c.exec("cat", "/srv/plugins/basic-auth/2.0.0/metadata.txt").stdout
    assert "Last Modified: 2025-11-30T00:00:00Z" in meta  # the epoch, not the time of the build
