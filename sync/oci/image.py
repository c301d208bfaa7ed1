"""What a tag holds: its digest and, per platform, the labels of the image config and the
annotations of the manifest.

Reads an image index (or a single manifest) and each platform's config blob, checking every
digest. BuildKit's attestation manifests (``vnd.docker.reference.type: attestation-manifest``)
are counted, not read. An OCI artifact that is no image (a Helm chart) has annotations and no
labels. A tag the registry does not have is None. The one reader of tags for both release
tracks (``sync.release.published`` and ``sync.release.gateway``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from sync.errors import ArtifactError, IntegrityError, NotFound
from sync.oci.manifest import ACCEPT, MAX_MANIFEST, OCI_INDEX, DOCKER_LIST, Descriptor
from sync.oci.reference import Source
from sync.oci.registry import RegistryClient

MAX_CONFIG = 1024 * 1024
_REFERENCE_TYPE = "vnd.docker.reference.type"


IMAGE_CONFIGS = ("application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json")


@dataclass(frozen=True)
class PlatformImage:
    platform: str  # os/arch[/variant]; "" for a single-platform manifest without an index
    digest: str  # the platform manifest's digest
    labels: Mapping[str, str] = field(default_factory=dict)  # the image config's
    annotations: Mapping[str, str] = field(default_factory=dict)  # the manifest's


@dataclass(frozen=True)
class TaggedImage:
    reference: str  # host/repository:tag
    digest: str  # what the tag points at (index or manifest)
    platforms: tuple[PlatformImage, ...]
    attestations: int = 0
    annotations: Mapping[str, str] = field(default_factory=dict)  # the index's, for an index

    def label_values(self, label: str) -> set[str | None]:
        """The values ``label`` has across platforms (None where a platform lacks it)."""
        return {p.labels.get(label) for p in self.platforms}


def _json(raw: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ArtifactError(f"{what} is not JSON") from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{what} is not a JSON object")
    return data


def _get(client: RegistryClient, src: Source, ref: str) -> tuple[str, bytes]:
    resp = client.request(src, "GET", f"/manifests/{ref}", headers={"Accept": ACCEPT})
    raw = resp.content
    if len(raw) > MAX_MANIFEST:
        raise ArtifactError(f"{src.repository}:{ref}: manifest larger than {MAX_MANIFEST} bytes")
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    said = resp.headers.get("Docker-Content-Digest")
    if (said and said != digest) or (ref.startswith("sha256:") and ref != digest):
        raise IntegrityError(f"{src.repository}:{ref}: manifest bytes hash to {digest[:19]}")
    return digest, raw


def _annotations(doc: dict[str, Any]) -> dict[str, str]:
    ann = doc.get("annotations")
    return {str(k): str(v) for k, v in ann.items()} if isinstance(ann, dict) else {}


def _platform(client: RegistryClient, src: Source, digest: str, raw: bytes, platform: str) -> PlatformImage:
    data = _json(raw, f"{src.repository}@{digest[:19]}")
    config = data.get("config")
    if not isinstance(config, dict):
        raise ArtifactError(f"{src.repository}@{digest[:19]}: no config")
    desc = Descriptor.parse(config)
    if desc.media_type not in IMAGE_CONFIGS:  # an artifact (a Helm chart): annotations only
        return PlatformImage(platform, digest, {}, _annotations(data))
    if desc.size > MAX_CONFIG:
        raise ArtifactError(f"{src.repository}@{digest[:19]}: image config larger than {MAX_CONFIG} bytes")
    with client.blob(src, desc) as body:
        blob = body.read(desc.size + 1)
    if "sha256:" + hashlib.sha256(blob).hexdigest() != desc.digest:
        raise IntegrityError(f"{src.repository}: image config {desc.digest[:19]} does not match its digest")
    cfg = _json(blob, f"{src.repository}: image config")
    labels = (cfg.get("config") or {}).get("Labels") or {}
    if not isinstance(labels, dict):
        raise ArtifactError(f"{src.repository}: image config labels are not an object")
    return PlatformImage(platform, digest, {str(k): str(v) for k, v in labels.items()}, _annotations(data))


def read_image(client: RegistryClient, src: Source, tag: str) -> TaggedImage | None:
    """The image ``src``:``tag`` with each platform's config labels; None if there is no such tag."""
    try:
        digest, raw = _get(client, src, tag)
    except NotFound:
        return None
    reference = f"{src.host}/{src.repository}:{tag}"
    data = _json(raw, reference)
    if data.get("mediaType") not in (OCI_INDEX, DOCKER_LIST) and "manifests" not in data:
        return TaggedImage(reference, digest, (_platform(client, src, digest, raw, ""),))
    platforms: list[PlatformImage] = []
    attestations = 0
    for m in data.get("manifests") or []:
        if not isinstance(m, dict):
            raise ArtifactError(f"{reference}: malformed index entry")
        if (m.get("annotations") or {}).get(_REFERENCE_TYPE) == "attestation-manifest":
            attestations += 1
            continue
        p = m.get("platform") or {}
        name = "/".join(str(x) for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x)
        d = str(m.get("digest", ""))
        _, praw = _get(client, src, d)
        platforms.append(_platform(client, src, d, praw, name))
    return TaggedImage(reference, digest, tuple(platforms), attestations, _annotations(data))
