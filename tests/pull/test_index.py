"""A plugin tag that names an image index (what ``docker buildx`` pushes, with a provenance
attestation beside the image, even for ``FROM scratch``): the Wasm plugin's manifest is
chosen from it; the lock keeps the index's digest, and ``--locked`` rebuilds from it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sync.artifact import is_plugin
from sync.errors import ArtifactError
from sync.oci.manifest import Manifest, parse_manifest, resolve
from sync.sample import Artifact, wasm_module, write_layout
from tests.support.registry import Registry, buildx_index, scratch_image
from tests.support.workspace import Workspace, artifact, assert_no_traceback


def test_a_buildx_index_of_a_scratch_image_is_pulled_and_locked_by_its_digest(ws: Workspace, tmp_path: Path) -> None:
    assert ws.registry
    module = wasm_module(900, 7)
    image = scratch_image(module)
    index, manifests = buildx_index({"linux/amd64": image})
    digest = ws.registry.push_index("plugins/x", "1.0.0", index, manifests)
    ws.write_config({"x": {"tag": "1.0.0"}})
    r = ws.pull()
    assert r.code == 0, r.err
    assert (ws.root / "x/1.0.0/plugin.wasm").read_bytes() == module
    entry = ws.lock().get("x", "1.0.0")
    assert entry is not None and entry.digest == digest  # the index's digest, as `docker pull repo@digest` names it

    # skopeo, an independent client, picks the same manifest from the index (on this amd64 host)
    out = tmp_path / "skopeo"
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{ws.registry.host}/plugins/x:1.0.0",
                    f"dir:{out}"], check=True, capture_output=True, timeout=120)
    assert (out / "manifest.json").read_bytes() == image.manifest

    # a fresh clone builds the lock: the tag still names the index
    shutil.rmtree(ws.root)
    r = ws.pull("--locked")
    assert r.code == 0, r.err
    assert (ws.root / "x/1.0.0/plugin.wasm").read_bytes() == module
    assert ws.cli("verify").code == 0

    # a digest pin on the index
    ws.write_config({"x": {"digest": digest, "versions": ["1.0.0"]}})
    shutil.rmtree(ws.root)
    r = ws.pull()
    assert r.code == 0, r.err
    assert (ws.root / "x/1.0.0/plugin.wasm").read_bytes() == module


def test_of_several_wasm_platforms_linux_amd64_is_chosen(ws: Workspace) -> None:
    assert ws.registry
    images = {"linux/arm64": scratch_image(wasm_module(300, 1), "linux/arm64"),
              "linux/amd64": scratch_image(wasm_module(300, 2), "linux/amd64")}
    ws.registry.push_index("plugins/x", "1.0.0", *buildx_index(images))
    ws.write_config({"x": {"tag": "1.0.0"}})
    r = ws.pull()
    assert r.code == 0, r.err
    assert (ws.root / "x/1.0.0/plugin.wasm").read_bytes() == wasm_module(300, 2)


def _ordinary_image(platform: str) -> Artifact:
    """An image whose one layer is an uncompressed tar: not a plugin format."""
    image = scratch_image(b"not a wasm module", platform)
    doc = json.loads(image.manifest)
    doc["layers"][0]["mediaType"] = "application/vnd.oci.image.layer.v1.tar"
    image.manifest = json.dumps(doc).encode()
    return image


def test_the_one_wasm_artifact_of_an_index_is_chosen_whatever_its_platform(ws: Workspace) -> None:
    """An index holding a plugin artifact (as oras pushes it) beside an ordinary image."""
    assert ws.registry
    other = _ordinary_image("linux/amd64")
    plugin = artifact(400, 5, fmt="wasm-layer")
    ws.registry.push_index("plugins/x", "1.0.0", *buildx_index({"linux/amd64": other, "wasi/wasm": plugin}))
    ws.write_config({"x": {"tag": "1.0.0"}})
    r = ws.pull()
    assert r.code == 0, r.err
    assert (ws.root / "x/1.0.0/plugin.wasm").read_bytes() == wasm_module(400, 5)


def test_an_index_without_a_plugin_fails_in_one_line(ws: Workspace) -> None:
    assert ws.registry
    index, manifests = buildx_index({"linux/arm64": _ordinary_image("linux/arm64")})
    ws.registry.push_index("plugins/x", "1.0.0", index, manifests)
    ws.write_config({"x": {"tag": "1.0.0"}})
    r = ws.pull()
    assert r.code == 1
    assert_no_traceback(r)
    assert "failed    x:" in r.err and "holds no Wasm plugin manifest (platforms: linux/arm64)" in r.err, r.err
    assert not (ws.root / "x").exists()


def test_an_index_in_an_oci_layout(tmp_path: Path, registry: Registry) -> None:
    """``docker buildx build --output type=oci`` writes the index into the layout."""
    module = wasm_module(500, 9)
    index, _ = buildx_index({"linux/amd64": scratch_image(module)})
    layout = tmp_path / "layout"
    write_layout(layout, {"plugins/x:1.0.0": index})
    ws = Workspace(tmp_path / "ws", None)
    ws.dir.mkdir()
    ws.config.write_text(f"plugins:\n  x:\n    source: oci-layout:{layout}#plugins/x:1.0.0\n")
    r = ws.cli("pull")
    assert r.code == 0, r.err
    assert (ws.root / "x/1.0.0/plugin.wasm").read_bytes() == module
    assert ws.lock().get("x", "1.0.0").digest == index.digest  # type: ignore[union-attr]
    shutil.rmtree(ws.root)
    assert ws.cli("pull", "--locked").code == 0
    assert (ws.root / "x/1.0.0/plugin.wasm").read_bytes() == module


def test_a_docker_manifest_list(ws: Workspace) -> None:
    """The Docker schema 2 form: a manifest list of Docker v2 manifests."""
    assert ws.registry
    module = wasm_module(600, 4)
    index, manifests = buildx_index({"linux/arm64": scratch_image(wasm_module(600, 3), "linux/arm64", docker=True),
                                     "linux/amd64": scratch_image(module, docker=True)}, attestations=False)
    assert index.media_type == "application/vnd.docker.distribution.manifest.list.v2+json"
    digest = ws.registry.push_index("plugins/x", "1.0.0", index, manifests)
    ws.write_config({"x": {"tag": "1.0.0"}})
    r = ws.pull()
    assert r.code == 0, r.err
    assert (ws.root / "x/1.0.0/plugin.wasm").read_bytes() == module
    assert ws.lock().get("x", "1.0.0").digest == digest  # type: ignore[union-attr]


# --- the choice itself, without servers ---------------------------------------------------------

def _resolve(images: dict[str, Artifact], attestations: bool = True) -> Manifest:
    index, manifests = buildx_index(images, attestations)
    by_digest = {m.digest: m.manifest for m in manifests}
    return resolve(parse_manifest(index.manifest), lambda d: parse_manifest(by_digest[d]), is_plugin)


def test_the_choice_of_a_manifest() -> None:
    amd, arm = scratch_image(wasm_module(100, 1)), scratch_image(wasm_module(100, 2), "linux/arm64")
    got = _resolve({"linux/arm64": arm, "linux/amd64": amd})
    assert got.chosen == amd.digest and got.layers == parse_manifest(amd.manifest).layers  # type: ignore[union-attr]
    assert _resolve({"linux/arm64": arm}).chosen == arm.digest  # the one plugin, whatever its platform
    with pytest.raises(ArtifactError, match=r"holds 2 Wasm plugin manifests \(linux/arm64, linux/arm/v7\): pin one"):
        v7 = scratch_image(wasm_module(100, 3), "linux/arm")
        doc = json.loads(buildx_index({"linux/arm64": arm, "linux/arm": v7}, False)[0].manifest)
        doc["manifests"][1]["platform"]["variant"] = "v7"
        resolve(parse_manifest(json.dumps(doc).encode()),
                lambda d: parse_manifest({arm.digest: arm.manifest, v7.digest: v7.manifest}[d]), is_plugin)
    plain = scratch_image(wasm_module(100, 1))
    assert resolve(parse_manifest(plain.manifest), lambda d: pytest.fail("no index, nothing more to fetch"),
                   is_plugin).chosen is None


def test_an_index_entry_points_at_the_manifest_by_its_digest(tmp_path: Path) -> None:
    """A layout whose manifest blob was altered: the bytes do not hash to the digest named."""
    index, _ = buildx_index({"linux/amd64": scratch_image(wasm_module(200, 1))})
    layout = tmp_path / "layout"
    write_layout(layout, {"plugins/x:1.0.0": index})
    blob = layout / "blobs/sha256" / index.digest.split(":", 1)[1]
    blob.write_bytes(blob.read_bytes().replace(b'"linux"', b'"linux" '))
    ws = Workspace(tmp_path / "ws", None)
    ws.dir.mkdir()
    ws.config.write_text(f"plugins:\n  x:\n    source: oci-layout:{layout}#plugins/x:1.0.0\n")
    r = ws.cli("pull")
    assert r.code == 1
    assert_no_traceback(r)
    assert f"manifest {index.digest[:19]} hashes to sha256:" in r.err, r.err
