"""The gateway track: image X.Y.Z from the committed snapshot, never overwritten. The decision
is pure; what a tag holds is read from a real registry (docker-registry) holding real indexes."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from sync.cli import main
from sync.errors import ConfigError, UsageError
from sync.oci.image import PlatformImage, TaggedImage, read_image
from sync.oci.reference import parse_source
from sync.oci.registry import RegistryClient
from sync.release.gateway import LABEL_GATEWAY_VERSION, LABEL_SNAPSHOT_SHA256, decide
from sync.release.snapshots import GatewaySnapshot, add_sum, parse_sums, read_snapshot, released_versions, render_sums
from tests.support.registry import Registry, running_registry

SNAPSHOT = Path(__file__).resolve().parents[2] / "snapshots" / "2.2.4.json"
SHA = hashlib.sha256(SNAPSHOT.read_bytes()).hexdigest()
OTHER = "f" * 64
COMMIT = "7774663e4353652f5c3cecd7e98a1a43b05ee15c"
SNAP = GatewaySnapshot("2.2.4", Path("snapshots/2.2.4.json"), SHA, COMMIT)
PLATFORMS = ("linux/amd64", "linux/arm64")


def tagged(*shas: str | None) -> TaggedImage:
    return TaggedImage("r/x:2.2.4", "sha256:" + "a" * 64, tuple(
        PlatformImage(p, "sha256:" + "b" * 64, {} if s is None else {LABEL_SNAPSHOT_SHA256: s})
        for p, s in zip(PLATFORMS, shas)))


def test_decide() -> None:
    assert decide("r/x", SNAP, None).action == "build"
    assert decide("r/x", SNAP, tagged(SHA, SHA)).action == "present"
    for existing in (tagged(OTHER, OTHER), tagged(SHA, OTHER), tagged(SHA, None), tagged()):
        d = decide("r/x", SNAP, existing)
        assert d.action == "conflict" and "never overwritten" in d.message and "\n" not in d.message
    assert "ffffffffffff" in decide("r/x", SNAP, tagged(OTHER, OTHER)).message
    assert "no snapshot label" in decide("r/x", SNAP, tagged(None, None)).message


def test_sums() -> None:
    text = add_sum("", "2.2.4.json", SHA)
    assert text == f"{SHA}  2.2.4.json\n" and parse_sums(text) == {"2.2.4.json": SHA}
    text = add_sum(add_sum(text, "2.10.0.json", OTHER), "2.2.3.json", "1" * 64)
    assert [line.split()[1] for line in text.splitlines()] == ["2.2.3.json", "2.2.4.json", "2.10.0.json"]
    assert add_sum(text, "2.2.4.json", SHA) == text  # listing it again changes nothing
    with pytest.raises(ConfigError, match="never replaced"):
        add_sum(text, "2.2.4.json", OTHER)
    with pytest.raises(ConfigError, match=":1: expected"):
        parse_sums("nonsense\n")
    assert render_sums({"b.json": OTHER, "2.0.0.json": SHA}).splitlines()[0].endswith("2.0.0.json")


@pytest.fixture
def snapshots(tmp_path: Path) -> Path:
    d = tmp_path / "snapshots"
    d.mkdir()
    shutil.copy(SNAPSHOT, d / "2.2.4.json")
    (d / "SHA256SUMS").write_text(f"{'1' * 64}  2.2.3.json\n{SHA}  2.2.4.json\n")
    return d


def test_read_snapshot(snapshots: Path) -> None:
    s = read_snapshot(snapshots, "2.2.4")
    assert (s.version, s.sha256, s.source_commit) == ("2.2.4", SHA, COMMIT)
    assert [str(v) for v in released_versions(snapshots)] == ["2.2.3", "2.2.4"]
    with pytest.raises(UsageError, match="no such file"):
        read_snapshot(snapshots, "2.2.5")
    with pytest.raises(UsageError, match="expected a gateway version"):
        read_snapshot(snapshots, "latest")
    (snapshots / "2.2.4.json").write_bytes(SNAPSHOT.read_bytes() + b" ")
    with pytest.raises(ConfigError, match="but SHA256SUMS says"):
        read_snapshot(snapshots, "2.2.4")
    (snapshots / "2.2.5.json").write_bytes(SNAPSHOT.read_bytes())
    (snapshots / "SHA256SUMS").write_text(f"{SHA}  2.2.5.json\n")
    with pytest.raises(ConfigError, match="gatewayVersion is '2.2.4', not 2.2.5"):
        read_snapshot(snapshots, "2.2.5")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    monkeypatch.setenv("PLUGIN_SYNC_RETRY_BASE", "0.01")
    with running_registry() as r:
        yield r


def labels(sha: str) -> dict[str, dict[str, str]]:
    return {p: {LABEL_SNAPSHOT_SHA256: sha, LABEL_GATEWAY_VERSION: "2.2.4"} for p in PLATFORMS}


def test_read_image_labels_from_a_real_registry(registry: Registry) -> None:
    digest = registry.push_image("higress/plugin-server", "2.2.4", labels(SHA))
    src = parse_source(f"{registry.host}/higress/plugin-server:2.2.4", "unused").redirect(None, True)
    image = read_image(RegistryClient(), src, "2.2.4")
    assert image is not None and image.digest == digest and image.attestations == 2
    assert [p.platform for p in image.platforms] == list(PLATFORMS)
    assert image.label_values(LABEL_SNAPSHOT_SHA256) == {SHA}
    assert read_image(RegistryClient(), src, "2.2.5") is None
    missing_repo = parse_source(f"{registry.host}/nobody/here:1", "unused").redirect(None, True)
    assert read_image(RegistryClient(), missing_repo, "1") is None


def release(capsys: pytest.CaptureFixture[str], registry: Registry, snapshots: Path,
            *extra: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    capsys.readouterr()
    rc = main(["release", "--gateway", "2.2.4", "--image", f"{registry.host}/higress/plugin-server",
               "--plain-http", "--snapshots", str(snapshots), "--revision", "c" * 40, "--json", *extra])
    out = capsys.readouterr()
    return rc, json.loads(out.out) if out.out else {}, out.err


def test_the_release_command_builds_once_then_pushes_nothing_then_refuses(
        registry: Registry, snapshots: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    rc, doc, err = release(capsys, registry, snapshots)
    assert rc == 0 and doc["track"] == "gateway" and doc["action"] == "build" and doc["existing"] is None
    assert doc["tags"] == ["2.2.4", "2.2", "2", "latest"]
    assert doc["images"][0] == f"{registry.host}/higress/plugin-server:2.2.4"
    assert doc["buildArgs"] == {"SNAPSHOT_SHA256": SHA, "HIGRESS_SOURCE_COMMIT": COMMIT,
                                "PLUGIN_SERVER_SOURCE_COMMIT": "c" * 40, "GATEWAY_VERSION": "2.2.4"}
    out = (tmp_path / "out").read_text()
    assert "action=build\n" in out and "track=gateway\n" in out and f"SNAPSHOT_SHA256={SHA}\n" in out
    # the image was built and pushed: a re-run pushes nothing
    registry.push_image("higress/plugin-server", "2.2.4", labels(SHA))
    rc, doc, err = release(capsys, registry, snapshots)
    assert rc == 0 and doc["action"] == "present" and doc["existing"].startswith("sha256:") and err == ""
    # the tag holds another snapshot's image: fail, in one line, pushing nothing
    registry.push_image("higress/plugin-server", "2.2.4", labels(OTHER))
    rc, doc, err = release(capsys, registry, snapshots)
    assert rc == 1 and doc["action"] == "conflict"
    assert err.count("\n") == 1 and "never overwritten" in err and "ffffffffffff" in err


def test_gateway_arguments(registry: Registry, snapshots: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = release(capsys, registry, snapshots, "--publish")
    assert rc == 2 and "--publish belong to the rolling release" in err and err.count("\n") == 1
    capsys.readouterr()
    assert main(["release", "--gateway", "2.2.4", "--snapshots", str(snapshots), "--revision", "c" * 40]) == 2
    assert "needs --image" in capsys.readouterr().err
