"""What a registry tag holds now, for ``immutable.decide``: its digest, and the labels of the
image config (the first platform's, for a multi-platform index) merged with the annotations of
the manifest (an OCI artifact such as a Helm chart has annotations and no labels)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sync.errors import ArtifactError, IntegrityError, NotFound
from sync.oci.manifest import ACCEPT, DOCKER_LIST, OCI_INDEX, Descriptor
from sync.oci.reference import Source
from sync.oci.registry import RegistryClient
from sync.release.immutable import Held

MAX_DOCUMENT = 4 * 1024 * 1024
IMAGE_CONFIGS = ("application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json")


def _get_json(client: RegistryClient, src: Source, path: str, accept: str | None = None,
              expect: str | None = None) -> tuple[str, Any]:
    resp = client.request(src, "GET", path, headers={"Accept": accept} if accept else None)
    raw = resp.content
    if len(raw) > MAX_DOCUMENT:
        raise ArtifactError(f"{src.repository}: {path} is larger than {MAX_DOCUMENT} bytes")
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    said = resp.headers.get("Docker-Content-Digest")
    if path.startswith("/manifests/") and said and said != digest:
        raise IntegrityError(f"{src.repository}: manifest digest {digest[:19]} is not the registry's {said[:19]}")
    if expect is not None and digest != expect:
        raise IntegrityError(f"{src.repository}: {path} hashes to {digest[:19]}, not {expect[:19]}")
    try:
        return digest, json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ArtifactError(f"{src.repository}: {path} is not JSON") from None


def _annotations(doc: Any) -> dict[str, str]:
    ann = doc.get("annotations") if isinstance(doc, dict) else None
    return {str(k): str(v) for k, v in ann.items()} if isinstance(ann, dict) else {}


def _first_platform(index: Any) -> str | None:
    """The first image of an index; attestation manifests (platform unknown/unknown) are skipped."""
    for m in index.get("manifests") or []:
        platform = m.get("platform") or {}
        if isinstance(m, dict) and platform.get("os") not in (None, "unknown"):
            return str(m.get("digest"))
    return None


def read_tag(client: RegistryClient, src: Source, tag: str) -> Held | None:
    """What ``src`` holds under ``tag``; None when the tag does not exist."""
    try:
        digest, doc = _get_json(client, src, f"/manifests/{tag}", ACCEPT)
    except NotFound:
        return None
    if not isinstance(doc, dict):
        raise ArtifactError(f"{src.repository}:{tag}: the manifest is not a JSON object")
    labels = _annotations(doc)
    manifest = doc
    if doc.get("mediaType") in (OCI_INDEX, DOCKER_LIST) or "manifests" in doc:
        first = _first_platform(doc)
        if first is None:
            return Held(digest, labels)
        _, manifest = _get_json(client, src, f"/manifests/{first}", ACCEPT, expect=first)
        labels = {**_annotations(manifest), **labels}
    config = manifest.get("config") if isinstance(manifest, dict) else None
    if isinstance(config, dict) and config.get("mediaType") in IMAGE_CONFIGS:
        desc = Descriptor.parse(config)
        _, data = _get_json(client, src, f"/blobs/{desc.digest}", expect=desc.digest)
        found = ((data or {}).get("config") or {}).get("Labels") or {} if isinstance(data, dict) else {}
        labels = {**labels, **{str(k): str(v) for k, v in found.items()}}
    return Held(digest, labels)
