"""Manifests and descriptors as plain data, and the interface both sources implement."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ContextManager, Protocol

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

    @classmethod
    def parse(cls, raw: bytes, content_type: str | None = None) -> "Manifest":
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ArtifactError("manifest is not valid JSON") from None
        if not isinstance(data, dict):
            raise ArtifactError("manifest is not a JSON object")
        media = data.get("mediaType") or (content_type or "").split(";")[0].strip() or OCI_MANIFEST
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


class ArtifactSource(Protocol):
    """What pull needs from a registry or an OCI layout. Neither verifies blobs: the caller does."""

    def manifest(self, src: Source, ref: str) -> Manifest: ...

    def tags(self, src: Source) -> list[str]: ...

    def blob(self, src: Source, desc: Descriptor) -> ContextManager[BinaryIO]: ...
