"""The mirror's pure decisions: which layouts a gateway loads, target names and tags, and
what to do with each blob."""

from __future__ import annotations

import json

import pytest

from sync.errors import ConfigError
from sync.mirror.plan import (
    DOCKER_LAYER, OCI_LAYER, WASM_LAYER, Pinned, Step, blob_steps, blobs_of, compat_layer, copies,
    gateway_layout, is_plugin_wasm, tags_to_push, target_repository,
)
from sync.oci.manifest import DOCKER_MANIFEST, OCI_MANIFEST, Descriptor, Manifest
from sync.oci.reference import Source
from sync.sample import build_artifact, wasm_module

WASM_CONFIG = "application/vnd.module.wasm.config.v1+json"
SPEC = "application/vnd.module.wasm.spec.v1+yaml"
README = "application/vnd.module.wasm.doc.v1+markdown"
EMPTY = "application/vnd.oci.empty.v1+json"


def _manifest(media_type: str, layers: list[str]) -> Manifest:
    def desc(i: int, t: str) -> dict[str, object]:
        return {"mediaType": t, "digest": "sha256:" + f"{i:x}" * 64 if i < 16 else "", "size": 1}

    doc = {"schemaVersion": 2, "mediaType": media_type,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "f" * 64,
                      "size": 2},
           "layers": [desc(i, t) for i, t in enumerate(layers)]}
    return Manifest.parse(json.dumps(doc).encode())


# (manifest media type, layer media types, loads?) as Istio's imagefetcher.go decides
LAYOUTS = [
    # the compat variant: the last layer is the tar.gz holding plugin.wasm
    (OCI_MANIFEST, [OCI_LAYER], True),
    (OCI_MANIFEST, [README, README, SPEC, OCI_LAYER], True),  # Higress's oras push, docs first
    (OCI_MANIFEST, [OCI_LAYER, SPEC], False),  # the tar is not last
    (OCI_MANIFEST, [DOCKER_LAYER], False),  # an OCI manifest with Docker's layer type
    (DOCKER_MANIFEST, [DOCKER_LAYER], True),
    (DOCKER_MANIFEST, [SPEC, DOCKER_LAYER], True),
    (DOCKER_MANIFEST, [OCI_LAYER], False),  # a Docker manifest reads only Docker's layer type
    # the oci variant: exactly two layers, one of them the raw module
    (OCI_MANIFEST, [WASM_CONFIG, WASM_LAYER], True),
    (OCI_MANIFEST, [WASM_LAYER, SPEC], True),
    (OCI_MANIFEST, [WASM_LAYER], False),  # higress#4528: the single-layer wasm image
    (OCI_MANIFEST, [README, SPEC, WASM_LAYER], False),  # higress#4014: three layers
    (DOCKER_MANIFEST, [WASM_CONFIG, WASM_LAYER], False),  # a Docker manifest is never the oci variant
    (OCI_MANIFEST, [EMPTY], False),  # higress#2295
    (OCI_MANIFEST, [], False),
    (OCI_MANIFEST, [README, SPEC], False),
]


@pytest.mark.parametrize(("media_type", "layers", "loads"), LAYOUTS)
def test_gateway_layout(media_type: str, layers: list[str], loads: bool) -> None:
    why = gateway_layout(_manifest(media_type, layers))
    assert (why is None) == loads, why
    if why is not None:  # one line, naming what the artifact has
        assert "\n" not in why and (", ".join(layers) or "no layers") in why


@pytest.mark.parametrize(("fmt", "loads"), [("tar+gzip", True), ("wasm-pair", True), ("wasm-layer", False)])
def test_the_sample_formats(fmt: str, loads: bool) -> None:
    art = build_artifact(wasm_module(100), fmt)
    assert (gateway_layout(Manifest.parse(art.manifest)) is None) == loads


def test_target_repository() -> None:
    assert target_repository("plugins/basic-auth", "plugins") == "plugins/basic-auth"
    assert target_repository("plugins/jsonrpc-converter", "team/wasm") == "team/wasm/jsonrpc-converter"
    assert target_repository("mcp-server/all-in-one", "plugins") == "plugins/all-in-one"
    assert target_repository("solo", "ns") == "ns/solo"


def _src(repo: str, tag: str) -> Source:
    return Source("registry", "upstream.example", repo, tag)


D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def test_copies_group_by_artifact_and_tag_every_served_version() -> None:
    pinned = [
        Pinned("basic-auth", "2.0.0", _src("plugins/basic-auth", "2.0.0"), D1),
        Pinned("basic-auth", "1.0.0", _src("plugins/basic-auth", "2.0.0"), D1),
        Pinned("json-converter", "2.0.1", _src("plugins/jsonrpc-converter", "2.0.1"), D2),
        Pinned("jsonrpc-converter", "2.0.1", _src("plugins/jsonrpc-converter", "2.0.1"), D2),
    ]
    got = copies(pinned, "mirror")
    assert [(c.repository, c.tags, c.served) for c in got] == [
        ("mirror/basic-auth", ("2.0.0", "1.0.0"), ("basic-auth/1.0.0", "basic-auth/2.0.0")),
        ("mirror/jsonrpc-converter", ("2.0.1",), ("json-converter/2.0.1", "jsonrpc-converter/2.0.1")),
    ]
    assert [c.repository for c in copies(pinned, None)] == ["plugins/basic-auth", "plugins/jsonrpc-converter"]


def test_copies_refuse_one_tag_for_two_artifacts() -> None:
    pinned = [Pinned("a", "2.0.0", _src("plugins/a", "2.0.0"), D1),
              Pinned("a", "1.0.0", _src("plugins/a", "1.0.0"), D2),
              Pinned("a", "2.0.0", _src("plugins/a", "1.0.0"), D2)]  # served 2.0.0 from tag 1.0.0 too
    with pytest.raises(ConfigError, match="plugins/a:2.0.0 would be both"):
        copies(pinned, "plugins")


def test_blob_steps() -> None:
    a, b, c = (Descriptor("t", "sha256:" + ch * 64, 1) for ch in "abc")
    steps = blob_steps([a, b, c, a], present={a.digest}, elsewhere={b.digest: "ns/other"})
    assert steps == [Step("present", a), Step("mount", b, "ns/other"), Step("upload", c)]


def test_blobs_of_lists_the_config_first_and_each_blob_once() -> None:
    m = Manifest.parse(build_artifact(wasm_module(100), "tar+gzip", readme="# r\n").manifest)
    assert blobs_of(m) == [m.config, *m.layers]
    pair = Manifest.parse(build_artifact(wasm_module(100), "wasm-pair").manifest)
    assert blobs_of(pair) == [pair.config, pair.layers[1]]  # the {} config layer is the config's bytes


def test_tags_to_push() -> None:
    assert tags_to_push(["1", "2", "3"], {"1": D1, "2": D2, "3": None}, D1) == ["2", "3"]


@pytest.mark.parametrize(("media_type", "layers", "loads"), LAYOUTS)
def test_compat_layer_is_the_last_tar_of_a_loadable_layout(media_type: str, layers: list[str], loads: bool) -> None:
    m = _manifest(media_type, layers)
    tar = compat_layer(m)
    assert tar is None or (tar == m.layers[-1] and loads)
    assert (tar is not None) == (loads and layers[-1:] in ([OCI_LAYER], [DOCKER_LAYER]))


@pytest.mark.parametrize(("member", "taken"), [
    ("plugin.wasm", True), ("./plugin.wasm", True), ("out/build/plugin.wasm", True),
    ("main.wasm", False), ("plugin.wasm.gz", False), ("plugin.wasm/", True), ("Plugin.wasm", False),
])
def test_is_plugin_wasm(member: str, taken: bool) -> None:
    assert is_plugin_wasm(member) == taken


def test_copies_refuse_a_version_that_cannot_be_a_tag() -> None:
    with pytest.raises(ConfigError, match=r"a/1\.0\.0\+build: '1\.0\.0\+build' cannot be an OCI tag"):
        copies([Pinned("a", "1.0.0+build", _src("plugins/a", "1.0.0"), D1)], "plugins")
