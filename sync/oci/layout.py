"""An OCI image layout directory as an artifact source (``oci-layout:PATH``).

Manifests are found through ``index.json`` by the annotation
``org.opencontainers.image.ref.name``: ``REPOSITORY:TAG`` (a layout holding a whole
set), or ``TAG`` alone (a layout holding one repository), or by digest. An entry may name an
image index (``docker buildx build --output type=oci`` writes one): the plugin's manifest is
chosen from it as from a registry's (``sync.oci.manifest.resolve``). Every manifest read is
checked against the digest it was found by.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from sync.errors import IntegrityError, NotFound, RegistryError
from sync.names import is_digest
from sync.oci.manifest import MAX_MANIFEST, Descriptor, Index, Manifest, parse_manifest, resolve
from sync.oci.reference import Source

REF_NAME = "org.opencontainers.image.ref.name"


class LayoutSource:
    def __init__(self, is_plugin: Callable[[Manifest], bool] = lambda m: True) -> None:
        """``is_plugin``: which manifests of an image index hold a plugin (see
        ``sync.oci.manifest.resolve``)."""
        self.is_plugin = is_plugin
        self._index: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _entries(self, src: Source) -> list[dict[str, Any]]:
        with self._lock:
            if src.host not in self._index:
                root = Path(src.host)
                try:
                    layout = json.loads((root / "oci-layout").read_text())
                    index = json.loads((root / "index.json").read_text())
                except FileNotFoundError:
                    raise RegistryError(f"{root}: not an OCI image layout (oci-layout or index.json missing)") from None
                except (OSError, ValueError) as e:
                    raise RegistryError(f"{root}: unreadable OCI image layout: {e}") from None
                if not isinstance(layout, dict) or "imageLayoutVersion" not in layout:
                    raise RegistryError(f"{root}: oci-layout file has no imageLayoutVersion")
                self._index[src.host] = [m for m in index.get("manifests", []) if isinstance(m, dict)]
            return self._index[src.host]

    def _blob_path(self, src: Source, digest: str) -> Path:
        algo, _, hexd = digest.partition(":")
        if not is_digest(digest):
            raise RegistryError(f"unsupported digest {digest!r}")
        return Path(src.host) / "blobs" / algo / hexd

    def manifest(self, src: Source, ref: str) -> Manifest:
        """The plugin manifest ``ref`` names, chosen from an image index when it names one."""
        return resolve(self._manifest(src, ref), lambda digest: self._manifest(src, digest), self.is_plugin)

    def _manifest(self, src: Source, ref: str) -> Manifest | Index:
        digest = ref if ref.startswith("sha256:") else None
        if digest is None:
            names = (f"{src.repository}:{ref}", ref)
            for name in names:
                for m in self._entries(src):
                    if (m.get("annotations") or {}).get(REF_NAME) == name:
                        digest = str(m.get("digest"))
                        break
                if digest:
                    break
        if digest is None:
            raise NotFound(f"{src.host}: no {src.repository}:{ref} in the layout")
        path = self._blob_path(src, digest)
        try:
            if path.stat().st_size > MAX_MANIFEST:
                raise RegistryError(f"{path}: manifest too large")
            raw = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"{src.host}: manifest {digest} missing from the layout") from None
        manifest = parse_manifest(raw)
        if manifest.digest != digest:
            raise IntegrityError(f"{src.host}: manifest {digest[:19]} hashes to {manifest.digest[:19]}")
        return manifest

    def tags(self, src: Source) -> list[str]:
        out = []
        for m in self._entries(src):
            name = str((m.get("annotations") or {}).get(REF_NAME, ""))
            repo, sep, tag = name.rpartition(":")
            if sep and repo == src.repository:
                out.append(tag)
            elif not sep and name:
                out.append(name)
        return out

    @contextmanager
    def blob(self, src: Source, desc: Descriptor) -> Iterator[BinaryIO]:
        path = self._blob_path(src, desc.digest)
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise NotFound(f"{src.host}: blob {desc.digest} missing from the layout") from None
        with f:
            yield f
