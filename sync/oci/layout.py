"""An OCI image layout directory as an artifact source (``oci-layout:PATH``), and the writer
``mirror --to oci-layout:PATH`` fills one with.

Manifests are found through ``index.json`` by the annotation
``org.opencontainers.image.ref.name``: ``REPOSITORY:TAG`` (a layout holding a whole
set), or ``TAG`` alone (a layout holding one repository), or by digest. An entry may name an
image index (``docker buildx build --output type=oci`` writes one): the plugin's manifest is
chosen from it as from a registry's (``sync.oci.manifest.resolve``). Every manifest read is
checked against the digest it was found by. The writer names every manifest ``REPOSITORY:TAG``.
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from sync.errors import IntegrityError, NotFound, RegistryError
from sync.fsutil import CHUNK, fsync_dir, tmp_name, write_atomic
from sync.names import is_digest
from sync.oci.manifest import MAX_MANIFEST, Descriptor, Index, Manifest, parse_manifest, resolve
from sync.oci.reference import Source

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_VERSION = "1.0.0"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def blob_path(root: Path, digest: str) -> Path:
    """Where a layout keeps the blob ``digest`` (checked first: it becomes a path)."""
    algo, _, hexd = digest.partition(":")
    if not is_digest(digest):
        raise RegistryError(f"unsupported digest {digest!r}")
    return root / "blobs" / algo / hexd


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
        return blob_path(Path(src.host), digest)

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


class LayoutWriter:
    """Fills an OCI image layout: blobs written beside and renamed into place, ``index.json``
    replaced in one rename after the manifest's blobs are there. A run killed at any moment
    leaves a layout whose every name points at a complete manifest; its half-written blobs
    (hidden files beside the blobs) are removed by the next writer."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        blobs = root / "blobs" / "sha256"
        blobs.mkdir(parents=True, exist_ok=True)
        for stale in blobs.glob(".*"):
            stale.unlink(missing_ok=True)
        if not (root / "oci-layout").exists():
            write_atomic(root / "oci-layout", json.dumps({"imageLayoutVersion": LAYOUT_VERSION}) + "\n")
        if not (root / "index.json").exists():
            self._write_index([])

    def _write_index(self, manifests: list[dict[str, Any]]) -> None:
        doc = {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": manifests}
        write_atomic(self.root / "index.json", json.dumps(doc, indent=2) + "\n")

    def _manifests(self) -> list[dict[str, Any]]:
        try:
            index = json.loads((self.root / "index.json").read_text())
        except (OSError, ValueError) as e:
            raise RegistryError(f"{self.root}: unreadable index.json: {e}") from None
        return [m for m in index.get("manifests", []) if isinstance(m, dict)] if isinstance(index, dict) else []

    def has_blob(self, desc: Descriptor) -> bool:
        try:
            return blob_path(self.root, desc.digest).stat().st_size == desc.size
        except FileNotFoundError:
            return False

    def write_blob(self, desc: Descriptor, body: BinaryIO) -> None:
        """Copy ``desc.size`` bytes of ``body`` (which checks them) into place."""
        path = blob_path(self.root, desc.digest)
        tmp = tmp_name(path)
        try:
            with open(tmp, "wb") as f:
                while chunk := body.read(CHUNK):
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            if tmp.stat().st_size != desc.size:
                raise RegistryError(f"blob {desc.digest[:19]}: {tmp.stat().st_size} bytes written, not {desc.size}")
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(path.parent)

    def manifest_digest(self, repository: str, tag: str) -> str | None:
        name = f"{repository}:{tag}"
        with self._lock:
            for m in self._manifests():
                if (m.get("annotations") or {}).get(REF_NAME) == name:
                    return str(m.get("digest"))
        return None

    def put_manifest(self, repository: str, tags: list[str], raw: bytes, media_type: str, digest: str) -> None:
        """Store the manifest and point ``REPOSITORY:TAG`` at it for each tag, in one write
        of ``index.json``."""
        path = blob_path(self.root, digest)
        if not path.exists():
            write_atomic(path, raw)
        names = {f"{repository}:{t}" for t in tags}
        with self._lock:
            kept = [m for m in self._manifests() if (m.get("annotations") or {}).get(REF_NAME) not in names]
            new = [{"mediaType": media_type, "digest": digest, "size": len(raw), "annotations": {REF_NAME: n}}
                   for n in sorted(names)]
            self._write_index(sorted(kept + new, key=lambda m: str((m.get("annotations") or {}).get(REF_NAME, ""))))
