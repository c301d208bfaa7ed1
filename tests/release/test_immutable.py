"""Release tags are immutable: the decision over plain data, then ``plugin-sync tag-check``
against a real registry holding a multi-platform image index (with an attestation manifest, as
buildx pushes it) and a Helm-chart-like OCI artifact with annotations."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterator

import pytest

from sync.cli import main
from sync.release.immutable import Action, Held, Wanted, decide
from sync.sample import Artifact
from tests.support.registry import Registry, running_registry

REF = "registry.example/higress/plugin-server:1.2.3"
REV = "org.opencontainers.image.revision"
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


# -- the decision ------------------------------------------------------------------------------

def test_an_absent_tag_is_pushed() -> None:
    d = decide(REF, None, Wanted(labels={REV: "abc"}))
    assert d.action is Action.PUSH and d.ok and d.digest is None


def test_the_same_revision_is_skipped_and_keeps_its_digest() -> None:
    d = decide(REF, Held(A, {REV: "abc", "other": "x"}), Wanted(labels={REV: "abc"}))
    assert d.action is Action.SKIP and d.digest == A
    assert d.reason == f"{REF} already holds this content ({REV}=abc) as {A}"


def test_another_revision_is_refused() -> None:
    d = decide(REF, Held(A, {REV: "abc"}), Wanted(labels={REV: "def"}))
    assert d.action is Action.REFUSE and not d.ok
    assert f"{REV}: 'abc', not 'def'" in d.reason and "never moved" in d.reason


def test_a_missing_label_is_other_content() -> None:
    d = decide(REF, Held(A, {}), Wanted(labels={REV: "abc"}))
    assert d.action is Action.REFUSE and f"{REV}: no such label" in d.reason


def test_every_wanted_label_must_match() -> None:
    held = Held(A, {REV: "abc", "org.opencontainers.image.version": "1.2.3"})
    assert decide(REF, held, Wanted(labels={REV: "abc", "org.opencontainers.image.version": "1.2.3"})).action is Action.SKIP
    assert decide(REF, held, Wanted(labels={REV: "abc", "org.opencontainers.image.version": "1.2.4"})).action is Action.REFUSE


def test_a_known_digest_decides_alone() -> None:
    assert decide(REF, Held(A, {}), Wanted(digest=A)).action is Action.SKIP
    d = decide(REF, Held(A, {REV: "abc"}), Wanted(digest=B, labels={REV: "abc"}))
    assert d.action is Action.REFUSE and f"already holds {A}, not {B}" in d.reason


def test_nothing_to_compare_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        decide(REF, None, Wanted())


# -- plugin-sync tag-check against a registry ------------------------------------------------

@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    monkeypatch.setenv("PLUGIN_SYNC_RETRY_ATTEMPTS", "1")
    with running_registry() as r:
        yield r


def _blob(data: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def _desc(media_type: str, digest: str, data: bytes, **extra: object) -> dict[str, object]:
    return {"mediaType": media_type, "digest": digest, "size": len(data), **extra}


def push_image_index(reg: Registry, repo: str, tag: str, labels: dict[str, str]) -> str:
    """A two-platform image index with an attestation manifest first, as buildx pushes it."""
    blobs: dict[str, bytes] = {}
    layer_d, layer = _blob(b"layer")
    blobs[layer_d] = layer
    manifests = []
    att_d, att = _blob(b'{"_type": "https://in-toto.io/Statement/v0.1"}')
    blobs[att_d] = att
    att_cfg_d, att_cfg = _blob(b"{}")
    blobs[att_cfg_d] = att_cfg
    att_manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": _desc("application/vnd.oci.image.config.v1+json", att_cfg_d, att_cfg),
                               "layers": [_desc("application/vnd.in-toto+json", att_d, att)]}).encode()
    for arch in ("amd64", "arm64"):
        cfg = json.dumps({"architecture": arch, "os": "linux", "config": {"Labels": labels},
                          "rootfs": {"type": "layers", "diff_ids": [layer_d]}}).encode()
        cfg_d, _ = _blob(cfg)
        blobs[cfg_d] = cfg
        m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": _desc("application/vnd.oci.image.config.v1+json", cfg_d, cfg),
                        "layers": [_desc("application/vnd.oci.image.layer.v1.tar+gzip", layer_d, layer)]}).encode()
        m_d = reg.push(repo, _blob(m)[0], Artifact(m, dict(blobs)))
        manifests.append(_desc("application/vnd.oci.image.manifest.v1+json", m_d, m,
                               platform={"architecture": arch, "os": "linux"}))
    att_m_d = reg.push(repo, _blob(att_manifest)[0], Artifact(att_manifest, dict(blobs)))
    manifests.insert(0, _desc("application/vnd.oci.image.manifest.v1+json", att_m_d, att_manifest,
                              platform={"architecture": "unknown", "os": "unknown"},
                              annotations={"vnd.docker.reference.type": "attestation-manifest"}))
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": manifests}).encode()
    reg.push_raw_manifest(repo, tag, index, "application/vnd.oci.image.index.v1+json")
    return _blob(index)[0]


def push_chart(reg: Registry, repo: str, tag: str, annotations: dict[str, str]) -> str:
    """An OCI artifact shaped like a pushed Helm chart: annotations, no image config."""
    cfg_d, cfg = _blob(b'{"name": "higress-plugin-server", "version": "1.2.3"}')
    tgz_d, tgz = _blob(b"chart bytes")
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": _desc("application/vnd.cncf.helm.config.v1+json", cfg_d, cfg),
                    "layers": [_desc("application/vnd.cncf.helm.chart.content.v1.tar+gzip", tgz_d, tgz)],
                    "annotations": annotations}).encode()
    return reg.push(repo, tag, Artifact(m, {cfg_d: cfg, tgz_d: tgz}))


def tag_check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["tag-check", *argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_push_skip_refuse_for_an_image_index(registry: Registry, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ref = f"{registry.host}/higress/plugin-server:1.2.3"
    out_file = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out_file))
    code, out, _ = tag_check(capsys, ref, "--plain-http", "--label", f"{REV}=abc")
    assert code == 0 and out.startswith("push: ") and "does not exist yet" in out
    assert "action=push" in out_file.read_text()

    digest = push_image_index(registry, "higress/plugin-server", "1.2.3", {REV: "abc"})
    out_file.write_text("")
    code, out, _ = tag_check(capsys, ref, "--plain-http", "--label", f"{REV}=abc")
    assert code == 0 and out.startswith("skip: ") and digest in out
    assert out_file.read_text().splitlines() == ["action=skip", f"digest={digest}"]

    code, out, err = tag_check(capsys, ref, "--plain-http", "--label", f"{REV}=def")
    assert code == 1 and out == ""
    assert err.startswith("plugin-sync: error: ") and "'abc', not 'def'" in err and len(err.splitlines()) == 1
    assert "action=refuse" in out_file.read_text()

    code, _, _ = tag_check(capsys, ref, "--plain-http", "--digest", digest)
    assert code == 0


def test_cli_reads_the_annotations_of_an_artifact(registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    push_chart(registry, "charts/higress-plugin-server", "1.2.3", {REV: "abc", "org.opencontainers.image.version": "1.2.3"})
    ref = f"{registry.host}/charts/higress-plugin-server:1.2.3"
    assert tag_check(capsys, ref, "--plain-http", "--label", f"{REV}=abc")[0] == 0
    assert tag_check(capsys, ref, "--plain-http", "--label", f"{REV}=zzz")[0] == 1


@pytest.mark.parametrize("argv, says", [
    (["registry.example/a/b:1.0.0"], "give --label KEY=VALUE or --digest"),
    (["registry.example/a/b:1.0.0", "--label", "novalue"], "expected KEY=VALUE"),
    (["registry.example/a/b:1.0.0", "--digest", "sha256:12"], "expected sha256: and 64 hex digits"),
    (["registry.example/a/b@sha256:" + "a" * 64, "--label", "k=v"], "give REGISTRY/NAME:TAG"),
])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = tag_check(capsys, *argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and says in err
