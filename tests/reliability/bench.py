"""A plugin with a good version already served, about to be updated through the fault proxy.

    b = Bench.start(tmp_path, registry, proxy, "burst-503", new=artifact(...))
    proxy.add(Fault.respond(503, match=b.manifest_path, times=3))
    b.assert_updated(b.pull())       # the retry got through: the new module is served
    # or
    b.assert_kept(b.pull())          # one clear line naming the plugin; the old bytes stay
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from sync import artifact as artifacts
from sync.oci.manifest import OCI_MANIFEST, Manifest
from sync.sample import EMPTY_CONFIG, TITLE, Artifact, build_artifact, wasm_module
from tests.support.workspace import Result, Workspace
from tests.reliability.conftest import assert_verified, failure_line, inproc, served
from tests.support.faultproxy import FaultProxy
from tests.support.registry import Registry

TAG = "1.0.0"
SIZE = 40_000


def slug(text: str) -> str:
    """A plugin name made of a scenario's description."""
    return "".join(c if c.isalnum() else "-" for c in text.lower())[:40].strip("-")


def seed_of(name: str) -> int:
    return zlib.crc32(name.encode())


def module_layer(art: Artifact) -> str:
    """The digest of the layer holding the module."""
    return artifacts.plan(Manifest.parse(art.manifest)).module.digest


def custom_artifact(layers: list[tuple[str, bytes, str | None]], config_type: str = EMPTY_CONFIG,
                    media_type: str = OCI_MANIFEST) -> Artifact:
    """An artifact with exactly these (media type, bytes, title) layers, for shapes that
    ``sync.sample.build_artifact`` refuses to make."""
    blobs: dict[str, bytes] = {}

    def desc(mt: str, data: bytes, title: str | None) -> dict[str, object]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        d: dict[str, object] = {"mediaType": mt, "digest": digest, "size": len(data)}
        if title:
            d["annotations"] = {TITLE: title}
        return d

    manifest = {"schemaVersion": 2, "mediaType": media_type, "config": desc(config_type, b"{}", None),
                "layers": [desc(*layer) for layer in layers]}
    return Artifact(json.dumps(manifest, separators=(",", ":")).encode(), blobs, media_type)


def tar_gz_members(members: list[tarfile.TarInfo], data: dict[str, bytes]) -> bytes:
    """A gzip tar of hand-made members (links, odd names); ``data`` holds regular files' bytes."""
    import gzip

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for m in members:
            body = data.get(m.name)
            if body is not None:
                m.size = len(body)
            tf.addfile(m, io.BytesIO(body) if body is not None else None)
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


@dataclass
class Bench:
    ws: Workspace
    proxy: FaultProxy
    registry: Registry
    name: str
    old: bytes
    new: bytes | None
    before: dict[str, bytes]
    new_art: Artifact | None = None

    @classmethod
    def start(cls, tmp: Path, registry: Registry, proxy: FaultProxy, name: str,
              new: Artifact | None = None, fmt: str = "tar+gzip") -> "Bench":
        """Serve a good ``name`` 1.0.0 (pulled through the proxy without faults), then push
        ``new`` (default: a newer good module) under the same tag."""
        ws = Workspace(tmp, registry)
        old = wasm_module(SIZE, seed_of(name))
        registry.push(f"plugins/{name}", TAG, build_artifact(old, fmt))
        ws.write_config({name: {"tag": TAG}})
        b = cls(ws, proxy, registry, name, old, None, {})
        first = inproc(ws, "pull", "--plain-http", "--registry", proxy.host)
        assert first.code == 0, first.err
        assert b.module() == old
        b.before = served(ws.root)
        proxy.clear()
        if new is None:
            b.new = wasm_module(SIZE + 1000, seed_of(name) + 1)
            new = build_artifact(b.new, fmt)
        registry.push(f"plugins/{name}", TAG, new)
        b.new_art = new
        return b

    @property
    def repo(self) -> str:
        return f"plugins/{self.name}"

    @property
    def manifest_path(self) -> str:
        return f"GET /v2/{self.repo}/manifests/"

    @property
    def blob_path(self) -> str:
        """The GET of the new artifact's module layer."""
        assert self.new_art is not None
        return f"GET /v2/{self.repo}/blobs/{module_layer(self.new_art)}"

    def pull(self, *args: str) -> Result:
        return self.ws.pull("--registry", self.proxy.host, *args)

    def module(self) -> bytes:
        return (self.ws.root / self.name / TAG / "plugin.wasm").read_bytes()

    def tries(self, pattern: str) -> int:
        return len(self.proxy.requests_to(pattern))

    def assert_updated(self, r: Result) -> None:
        """The pull succeeded and serves the new module; the tree verifies."""
        assert r.code == 0, r.err
        assert "Traceback" not in r.err
        assert self.module() == self.new
        assert_verified(self.ws)

    def assert_kept(self, r: Result, *reason: str) -> str:
        """The pull failed with one line naming the plugin and ``reason``; everything served
        before is still served byte for byte, and the tree verifies. Returns the line."""
        line = failure_line(r, self.name)
        for part in reason:
            assert part in line, (part, line)
        assert served(self.ws.root) == self.before
        assert_verified(self.ws)
        return line

    def assert_recovers(self) -> None:
        """With the faults gone, the next pull serves the new module."""
        self.proxy.clear()
        self.assert_updated(self.pull())
