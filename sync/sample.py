"""Tiny valid Wasm modules and OCI artifacts in both Higress formats, made from scratch.

Used to build the sample OCI layout shipped in ``samples/`` (the README's offline demo),
and by the tests and the benchmark to seed real registries.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from sync.filenames import CONFIG, README, README_EN, SPEC
from sync.artifact import EXTRA_TYPES, WASM_HEADER, WASM_LAYER
from sync.oci.manifest import OCI_MANIFEST

TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
WASM_CONFIG = "application/vnd.module.wasm.config.v1+json"
EMPTY_CONFIG = "application/vnd.oci.image.config.v1+json"
TITLE = "org.opencontainers.image.title"
_TYPE_OF = {v: k for k, v in EXTRA_TYPES.items()}


def _leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def wasm_module(size: int = 64, seed: int = 0, compressible: float = 0.5) -> bytes:
    """A valid Wasm module of exactly ``size`` bytes (>= 48): one empty function and a
    custom section of seeded filler. ``compressible`` is the share of filler that is
    text-like (as real modules are), the rest random."""
    # type section: one type () -> (); function section: one function; code: empty body
    body = b"\x01\x04\x01\x60\x00\x00" + b"\x03\x02\x01\x00" + b"\x0a\x04\x01\x02\x00\x0b"
    head = WASM_HEADER + body
    name = b"plugin-sync.filler"
    rng = random.Random(seed)
    room = size - len(head) - 1 - len(name) - 1
    if room < 0:
        raise ValueError(f"a module needs at least {size - room} bytes")
    # section size = len(name-length byte) + len(name) + payload; its LEB128 length varies
    for width in range(1, 6):
        payload_len = room - width
        if payload_len >= 0 and len(_leb128(1 + len(name) + payload_len)) == width:
            break
    else:  # pragma: no cover
        raise ValueError("cannot size module")
    text_len = int(payload_len * compressible)
    words = [b"proxy", b"wasm", b"higress", b"filter", b"header", b"route", b"config", b"plugin"]
    text = bytearray()
    while len(text) < text_len:
        text += rng.choice(words) + b" "
    payload = bytes(text[:text_len]) + rng.randbytes(payload_len - text_len)
    section = b"\x00" + _leb128(1 + len(name) + payload_len) + bytes([len(name)]) + name + payload
    module = head + section
    assert len(module) == size, (len(module), size)
    return module


def tar_gz(files: dict[str, bytes], mtime: int = 0) -> bytes:
    """A deterministic gzip tar of ``files``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            tf.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=1, mtime=mtime)


@dataclass
class Artifact:
    """A manifest and its blobs, ready to push or to write into a layout."""

    manifest: bytes
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest -> bytes
    media_type: str = OCI_MANIFEST

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()


def _desc(media_type: str, data: bytes, title: str | None = None) -> dict[str, object]:
    d: dict[str, object] = {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}
    if title:
        d["annotations"] = {TITLE: title}
    return d


def build_artifact(
    module: bytes,
    fmt: str = "tar+gzip",
    spec: str | None = None,
    readme: str | None = None,
    readme_en: str | None = None,
    created: str | None = "2025-01-01T00:00:00Z",
) -> Artifact:
    """An artifact as Higress publishes it: ``tar+gzip`` (oras push of plugin.tar.gz and
    docs) or ``wasm-layer`` (one raw module layer with the wasm config type), or ``wasm-pair``
    (the wasm layer after a ``{}`` wasm config layer: the two-layer form a gateway loads
    from a registry, which the single layer is not)."""
    blobs: dict[str, bytes] = {}
    layers: list[dict[str, object]] = []

    def add(media_type: str, data: bytes, title: str | None) -> None:
        desc = _desc(media_type, data, title)
        blobs[str(desc["digest"])] = data
        layers.append(desc)

    if fmt == "tar+gzip":
        extras = {README_EN: readme_en, README: readme, SPEC: spec}
        for name, text in extras.items():
            if text is not None:
                add(_TYPE_OF[name], text.encode(), name)
        add(TAR_GZIP, tar_gz({"plugin.wasm": module}), "plugin.tar.gz")
        config = b"{}"
        config_type = EMPTY_CONFIG
    elif fmt in ("wasm-layer", "wasm-pair"):
        if fmt == "wasm-pair":  # the gateway's "oci variant": a wasm config layer, then the module
            add(WASM_CONFIG, b"{}", None)
        add(WASM_LAYER, module, "plugin.wasm")
        config = b"{}"
        config_type = WASM_CONFIG
    else:
        raise ValueError(f"unknown format {fmt!r}")
    cdesc = _desc(config_type, config)
    blobs[str(cdesc["digest"])] = config
    manifest: dict[str, object] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc, "layers": layers}
    if created:
        manifest["annotations"] = {"org.opencontainers.image.created": created}
    return Artifact(json.dumps(manifest, separators=(",", ":")).encode(), blobs)


def write_layout(path: Path, artifacts: dict[str, Artifact]) -> None:
    """Write an OCI image layout holding ``artifacts`` keyed by ``REPOSITORY:TAG``."""
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}) + "\n")
    manifests = []
    for ref, art in sorted(artifacts.items()):
        for digest, data in {**art.blobs, art.digest: art.manifest}.items():
            (blobs / digest.split(":", 1)[1]).write_bytes(data)
        manifests.append({"mediaType": art.media_type, "digest": art.digest, "size": len(art.manifest),
                          "annotations": {"org.opencontainers.image.ref.name": ref}})
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
    (path / "index.json").write_text(json.dumps(index, indent=2) + "\n")


SAMPLE_PLUGINS = {
    # served name: (repository, tag, format, size, category)
    "basic-auth": ("plugins/basic-auth", "2.0.0", "tar+gzip", 96, "Auth"),
    "key-auth": ("plugins/key-auth", "2.0.0", "tar+gzip", 128, "Auth"),
    "json-converter": ("plugins/jsonrpc-converter", "2.0.3", "wasm-layer", 80, "Transformation"),
}


def write_sample(dest: Path) -> None:
    """The sample shipped in ``samples/``: an OCI layout and a plugins.yaml that uses it."""
    arts = {}
    for i, (name, (repo, tag, fmt, size, _cat)) in enumerate(SAMPLE_PLUGINS.items()):
        spec = f"apiVersion: 1.0.0\ninfo:\n  name: {name}\n  version: {tag}\n  category: sample\n"
        readme = f"# {name}\n\nA sample module made by plugin-sync. It does nothing.\n"
        arts[f"{repo}:{tag}"] = build_artifact(wasm_module(size, seed=i), fmt, spec=spec, readme=readme,
                                               readme_en=readme if fmt == "tar+gzip" else None)
    write_layout(dest / "oci-layout", arts)
    lines = ["# The offline demo: plugins from the sample OCI layout beside this file.",
             "schemaVersion: 1", "plugins:"]
    for name, (repo, tag, _fmt, _size, cat) in SAMPLE_PLUGINS.items():
        versions = f"[{tag}, 1.0.0]" if name == "basic-auth" else f"[{tag}]"
        lines += [f"  {name}:", f"    category: {cat}", f"    source: oci-layout:oci-layout#{repo}:{tag}",
                  f"    versions: {versions}"]
    (dest / CONFIG).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":  # pragma: no cover
    import sys

    write_sample(Path(sys.argv[1] if len(sys.argv) > 1 else "samples"))
