"""What a registry tag holds now, for ``immutable.decide``: its digest, and the labels of the
image config (the first platform's, for a multi-platform index) merged over the annotations of
the manifest and of the index (an OCI artifact such as a Helm chart has annotations and no
labels). Read by ``sync.oci.image.read_image``, the one reader of tags."""

from __future__ import annotations

from sync.oci.image import read_image
from sync.oci.reference import Source
from sync.oci.registry import RegistryClient
from sync.release.immutable import Held


def read_tag(client: RegistryClient, src: Source, tag: str) -> Held | None:
    """What ``src`` holds under ``tag``; None when the tag does not exist."""
    image = read_image(client, src, tag)
    if image is None:
        return None
    labels = dict(image.annotations)
    if image.platforms:
        first = image.platforms[0]
        labels = {**first.annotations, **labels, **first.labels}
    return Held(image.digest, labels)
