"""Manifests, image indexes and descriptors as plain data, the choice of a plugin's
manifest from an index, and the interface both sources implement.

A tag may point at an image index (or a Docker manifest list) rather than at a manifest:
``docker buildx`` pushes one by default, with a provenance attestation manifest (platform
``unknown/unknown``) beside the image, even for a ``FROM scratch`` plugin image. ``resolve``
then picks the one manifest of the index that holds a Wasm plugin (attestations are never
candidates); when several do, the ``linux/amd64`` one, as skopeo and go-containerregistry
(Istio's Wasm fetcher) choose by default. The manifest returned keeps the digest of what the
reference names, the index's: a lock and an ``@digest`` pin name the index, and fetching that
index again chooses the same manifest, since its bytes cannot change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from dataclasses import replace
from typing import Any, BinaryIO, Callable, ContextManager, Protocol, Union

from sync.errors import ArtifactError
from sync.names import is_digest
from sync.oci.reference import Source

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST))
MAX_MANIFEST = 4 * 1024 * 1024
MAX_INDEX_CANDIDATES = 16  # manifests of one index fetched to find the plugin
DEFAULT_PLATFORM = "linux/amd64"  # skopeo's and go-containerregistry's choice on an amd64 host
ATTESTATION = ("vnd.docker.reference.type", "attestation-manifest")  # BuildKit's annotation


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str | None:
        return self.annotations.get("org.opencontainers.image.title")

    @classmethod
    def parse(cls, raw: Any) -> "Descriptor":
        if not isinstance(raw, dict):
            raise ArtifactError("manifest has a malformed descriptor")
        digest, size = raw.get("digest"), raw.get("size")
        if not isinstance(digest, str) or not is_digest(digest):
            raise ArtifactError(f"unsupported descriptor digest {digest!r}")
        if not isinstance(size, int) or size < 0:
            raise ArtifactError(f"descriptor {digest} has no valid size")
        ann = raw.get("annotations") or {}
        return cls(str(raw.get("mediaType", "")), digest, size, {str(k): str(v) for k, v in ann.items()})


@dataclass(frozen=True)
class Manifest:
    digest: str  # sha256 of ``raw``
    media_type: str
    raw: bytes
    layers: tuple[Descriptor, ...]
    config: Descriptor | None
    annotations: dict[str, str]
    chosen: str | None = None  # the digest of the manifest chosen from the index ``digest`` names

    @classmethod
    def parse(cls, raw: bytes, content_type: str | None = None) -> "Manifest":
        digest, data, media = _load(raw, content_type)
        if media in (OCI_INDEX, DOCKER_LIST) or "manifests" in data:
            raise ArtifactError(f"found an image index ({media}), not a plugin artifact manifest")
        if media not in MANIFEST_TYPES:
            raise ArtifactError(f"unknown manifest media type {media!r}")
        if data.get("schemaVersion") != 2:
            raise ArtifactError(f"unsupported manifest schemaVersion {data.get('schemaVersion')!r}")
        layers = data.get("layers")
        if not isinstance(layers, list):
            raise ArtifactError("manifest has no layers list")
        config = Descriptor.parse(data["config"]) if isinstance(data.get("config"), dict) else None
        ann = data.get("annotations") or {}
        return cls(digest, media, raw, tuple(Descriptor.parse(x) for x in layers), config,
                   {str(k): str(v) for k, v in ann.items()} if isinstance(ann, dict) else {})


def _load(raw: bytes, content_type: str | None) -> tuple[str, dict[str, Any], str]:
    """(digest, JSON object, media type) of manifest or index bytes."""
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ArtifactError("manifest is not valid JSON") from None
    if not isinstance(data, dict):
        raise ArtifactError("manifest is not a JSON object")
    media = data.get("mediaType") or (content_type or "").split(";")[0].strip() or OCI_MANIFEST
    return digest, data, str(media)


@dataclass(frozen=True)
class IndexEntry:
    descriptor: Descriptor
    platform: str  # os/architecture[/variant], "" when the entry names none

    @property
    def attestation(self) -> bool:
        """BuildKit's provenance or SBOM manifest: annotated so, or of platform unknown/unknown."""
        return (self.descriptor.annotations.get(ATTESTATION[0]) == ATTESTATION[1]
                or self.platform == "unknown/unknown")


@dataclass(frozen=True)
class Index:
    """An OCI image index or a Docker manifest list."""

    digest: str
    media_type: str
    raw: bytes
    manifests: tuple[IndexEntry, ...]
    annotations: dict[str, str]


def _platform(raw: Any) -> str:
    if not isinstance(raw, dict):
        return ""
    parts = [raw.get("os"), raw.get("architecture"), raw.get("variant")]
    return "/".join(str(p) for p in parts if p)


def parse_manifest(raw: bytes, content_type: str | None = None) -> Union[Manifest, Index]:
    """A manifest, or an index (by its media type, or by a ``manifests`` list)."""
    digest, data, media = _load(raw, content_type)
    if media not in (OCI_INDEX, DOCKER_LIST) and "manifests" not in data:
        return Manifest.parse(raw, content_type)
    if data.get("schemaVersion") != 2 or not isinstance(data.get("manifests"), list):
        raise ArtifactError(f"malformed image index {digest[:19]}")
    entries = tuple(IndexEntry(Descriptor.parse(m), _platform(m.get("platform")))
                    for m in data["manifests"] if isinstance(m, dict))
    ann = data.get("annotations") or {}
    return Index(digest, media, raw, entries, {str(k): str(v) for k, v in ann.items()} if isinstance(ann, dict) else {})


def resolve(top: Union[Manifest, Index], fetch: Callable[[str], Union[Manifest, Index]],
            is_plugin: Callable[[Manifest], bool]) -> Manifest:
    """The plugin manifest ``top`` stands for (see the module doc): ``top`` itself, or the
    manifest chosen from the index, fetched by digest with ``fetch``, carrying the index's
    digest and bytes, and the index's annotations under its own."""
    if isinstance(top, Manifest):
        return top
    candidates = [e for e in top.manifests if e.descriptor.media_type in MANIFEST_TYPES and not e.attestation]
    if len(candidates) > MAX_INDEX_CANDIDATES:
        raise ArtifactError(f"image index {top.digest[:19]} lists {len(candidates)} manifests, more than "
                            f"{MAX_INDEX_CANDIDATES}: pin the plugin's manifest by digest")
    found: list[tuple[IndexEntry, Manifest]] = []
    for e in candidates:
        m = fetch(e.descriptor.digest)
        if isinstance(m, Manifest) and is_plugin(m):
            found.append((e, m))
    if len(found) > 1:
        found = [(e, m) for e, m in found if e.platform == DEFAULT_PLATFORM] or found
    named = [e for e, _ in found] or candidates
    platforms = ", ".join(e.platform or e.descriptor.digest[:19] for e in named) or "none"
    if not found:
        raise ArtifactError(f"image index {top.digest[:19]} holds no Wasm plugin manifest (platforms: {platforms})")
    if len(found) > 1:
        raise ArtifactError(f"image index {top.digest[:19]} holds {len(found)} Wasm plugin manifests "
                            f"({platforms}): pin one by digest")
    chosen = found[0][1]
    return replace(chosen, digest=top.digest, media_type=top.media_type, raw=top.raw,
                   annotations={**top.annotations, **chosen.annotations}, chosen=chosen.digest)


class ArtifactSource(Protocol):
    """What pull needs from a registry or an OCI layout. Neither verifies blobs: the caller does."""

    def manifest(self, src: Source, ref: str) -> Manifest: ...

    def tags(self, src: Source) -> list[str]: ...

    def blob(self, src: Source, desc: Descriptor) -> ContextManager[BinaryIO]: ...
