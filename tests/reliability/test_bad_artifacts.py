"""Artifacts of the wrong shape, pushed to a real registry (or rewritten by the proxy) as
the update of a plugin already served: each fails that plugin with one clear line and
leaves the old module served."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path
from typing import Callable

import pytest

from sync.artifact import WASM_HEADER, WASM_LAYER
from sync.sample import TAR_GZIP, WASM_CONFIG, Artifact, build_artifact, tar_gz, wasm_module
from tests.reliability.bench import SIZE, Bench, custom_artifact, slug, tar_gz_members
from tests.reliability.record import Collector
from tests.support.faultproxy import FaultProxy, Fault
from tests.support.registry import Registry

AREA = "Bad artifacts"
MODULE = wasm_module(SIZE, 4242)


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info


def _link(name: str, target: str, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def _tar_layer(blob: bytes) -> list[tuple[str, bytes, str | None]]:
    return [(TAR_GZIP, blob, "plugin.tar.gz")]


BOMB_LIMIT = 1 << 20

CASES: dict[str, tuple[Callable[[], Artifact], tuple[str, ...]]] = {
    # name: (the artifact pushed as the update, words the failure line must hold)
    "two wasm layers (tar+gzip and raw)": (
        lambda: custom_artifact(_tar_layer(tar_gz({"plugin.wasm": MODULE})) + [(WASM_LAYER, MODULE, "plugin.wasm")]),
        ("more than one wasm layer",)),
    "two tar+gzip layers": (
        lambda: custom_artifact(_tar_layer(tar_gz({"plugin.wasm": MODULE})) + _tar_layer(tar_gz({"plugin.wasm": MODULE + b"x"}))),
        ("more than one wasm layer",)),
    "only layers of unknown media types": (
        lambda: custom_artifact([("application/x-unknown", MODULE, "plugin.wasm")]),
        ("no plugin layer", "application/x-unknown")),
    "tar with a ../ member": (
        lambda: custom_artifact(_tar_layer(tar_gz_members([_file("../../etc/plugin.wasm")], {"../../etc/plugin.wasm": MODULE}))),
        ("would leave the target directory",)),
    "tar with an absolute member": (
        lambda: custom_artifact(_tar_layer(tar_gz_members([_file("/tmp/plugin.wasm")], {"/tmp/plugin.wasm": MODULE}))),
        ("would leave the target directory",)),
    "tar with a symlink": (
        lambda: custom_artifact(_tar_layer(tar_gz_members([_link("plugin.wasm", "/etc/passwd")], {}))),
        ("is a link",)),
    "tar with a hard link": (
        lambda: custom_artifact(_tar_layer(tar_gz_members([_file("a.wasm"), _link("plugin.wasm", "a.wasm", hard=True)],
                                                  {"a.wasm": MODULE}))),
        ("is a link",)),
    "tar with two modules": (
        lambda: custom_artifact(_tar_layer(tar_gz({"plugin.wasm": MODULE, "other.wasm": MODULE}))),
        ("more than one .wasm",)),
    "tar with no module": (
        lambda: custom_artifact(_tar_layer(tar_gz({"README.md": b"# no module here\n"}))),
        ("holds no .wasm module",)),
    "decompression bomb: 64 MiB of zeros gzipped into a tar of 65 KiB (limit 1 MiB)": (
        lambda: custom_artifact(_tar_layer(tar_gz_members([_file("plugin.wasm")],
                                                          {"plugin.wasm": WASM_HEADER + bytes(64 << 20)}))),
        ("decompression bomb", str(BOMB_LIMIT))),
    "raw wasm layer larger than the limit (1 MiB)": (
        lambda: custom_artifact([(WASM_LAYER, WASM_HEADER + bytes(BOMB_LIMIT + 1), "plugin.wasm")], WASM_CONFIG),
        ("more than the limit", str(BOMB_LIMIT))),
    "layer that is not Wasm (an ELF file)": (
        lambda: build_artifact(b"\x7fELF\x02\x01\x01" + bytes(4000), "wasm-layer"),
        ("module is not WebAssembly", "ELF")),
    "tar+gzip whose plugin.wasm is text": (
        lambda: build_artifact(b"<html>not a module</html>\n" * 100, "tar+gzip"),
        ("module is not WebAssembly",)),
    "Wasm of an unsupported version": (
        lambda: build_artifact(b"\0asm\x02\0\0\0" + bytes(4000), "wasm-layer"),
        ("unsupported WebAssembly version",)),
    "layer that is not gzip": (
        lambda: custom_artifact(_tar_layer(b"PK\x03\x04 this is a zip, not a tar+gzip" * 50)),
        ("plugin.tar.gz is not gzip",)),
}



@pytest.mark.parametrize("case", list(CASES))
def test_bad_artifact_fails_and_keeps_the_old_module(tmp_path: Path, registry: Registry, proxy: FaultProxy,
                                                     reliability: Collector, monkeypatch: pytest.MonkeyPatch,
                                                     case: str) -> None:
    monkeypatch.setenv("PLUGIN_SYNC_MAX_MODULE_BYTES", str(BOMB_LIMIT))
    make, words = CASES[case]
    b = Bench.start(tmp_path, registry, proxy, slug(case), new=make())
    line = b.assert_kept(b.pull(), *words)
    # nothing was retried: a well-delivered bad artifact stays bad
    assert len(proxy.requests_to(b.manifest_path)) == 1
    reliability.record(AREA, case, 1, f"plugin failed: `{line.split(': ', 1)[1]}`; old module kept")


def _manifest_with(media_type: str) -> bytes:
    good = build_artifact(MODULE)
    doc = json.loads(good.manifest)
    doc["mediaType"] = media_type
    return json.dumps(doc).encode()


@pytest.mark.parametrize("media_type, words", [
    ("application/vnd.example.unknown.v1+json", ("unknown manifest media type", "vnd.example.unknown")),
    ("application/vnd.oci.image.index.v1+json", ("image index",)),
])
def test_manifest_of_an_unknown_media_type(tmp_path: Path, registry: Registry, proxy: FaultProxy,
                                          reliability: Collector, media_type: str, words: tuple[str, ...]) -> None:
    b = Bench.start(tmp_path, registry, proxy, "mediatype-" + hashlib.sha1(media_type.encode()).hexdigest()[:6])
    proxy.add(Fault.replace(_manifest_with(media_type), media_type, match=b.manifest_path))
    line = b.assert_kept(b.pull(), *words)
    b.assert_recovers()
    reliability.record(AREA, f"manifest of media type `{media_type}`", 1,
                       f"plugin failed: `{line.split(': ', 1)[1]}`; old module kept")
