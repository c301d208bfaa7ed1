"""What ``plugin-sync mirror`` copies, decided without I/O.

Every artifact the lock (or a snapshot build) pins is copied once, by manifest digest, into
the target repository ``NAMESPACE/<image>``: the source repository with its first path
segment (``plugins``) replaced by the namespace, as the console rewrites its plugin
references when ``HIGRESS_ADMIN_WASM_PLUGIN_IMAGE_NAMESPACE`` is set. Its tags are the source
tag and every version it is served as, so ``oci://HOST/NAMESPACE/<image>:<version>`` names
what ``/plugins/<name>/<version>/plugin.wasm`` serves.

A gateway loads an artifact from a registry with Istio's Wasm image fetcher
(``pkg/wasm/imagefetcher.go``), which accepts three layouts and nothing else
(``gateway_layout``); the plugin server unpacks more, so an artifact it serves may still be
one a gateway cannot load from the mirror (higress#4528: single-layer wasm images pushed for
2.2.4 left gateways unable to fetch their plugins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from sync.errors import ConfigError
from sync.oci.manifest import DOCKER_MANIFEST, Descriptor, Manifest
from sync.oci.reference import Source
from sync.snapshot.model import _TAG as OCI_TAG  # the OCI tag grammar, kept where snapshots are read

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm"


@dataclass(frozen=True)
class Pinned:
    """One served ``name/version`` and the artifact it is: read from ``source`` by ``digest``."""

    name: str
    version: str
    source: Source  # the repository read, its tag the one the lock or snapshot names
    digest: str


@dataclass(frozen=True)
class Copy:
    """One artifact to copy: its manifest, the target repository and every tag it gets."""

    source: Source
    digest: str
    repository: str
    tags: tuple[str, ...]
    served: tuple[str, ...]  # name/version, for the report

    @property
    def name(self) -> str:
        return self.served[0].split("/", 1)[0]


def target_repository(source_repository: str, namespace: str) -> str:
    """``plugins/basic-auth`` -> ``NAMESPACE/basic-auth``: the namespace replaces the first
    path segment (a repository of one segment goes under the namespace whole)."""
    _, sep, rest = source_repository.partition("/")
    return f"{namespace}/{rest if sep else source_repository}"


def copies(pinned: Iterable[Pinned], namespace: str | None) -> list[Copy]:
    """The copies, one per source repository and digest. ``namespace`` None keeps the source
    repositories (an OCI layout). Two artifacts claiming one target tag is a ConfigError
    naming both."""
    groups: dict[tuple[str, str], list[Pinned]] = {}
    for p in pinned:
        groups.setdefault((p.source.repository, p.digest), []).append(p)
    out: list[Copy] = []
    claimed: dict[tuple[str, str], tuple[str, str]] = {}  # (repository, tag) -> (digest, served)
    for (repo, digest), ps in sorted(groups.items()):
        target = target_repository(repo, namespace) if namespace else repo
        tags = list(dict.fromkeys(t for p in ps for t in (p.source.tag, p.version) if t))
        served = tuple(sorted({f"{p.name}/{p.version}" for p in ps}))
        for tag in tags:
            if not OCI_TAG.fullmatch(tag):
                who = next((f"{p.name}/{p.version}" for p in ps if p.version == tag), served[0])
                raise ConfigError(f"{who}: {tag!r} cannot be an OCI tag (letters, digits, '_', '.' and '-', "
                                  "not first '.' or '-', at most 128)")
        for tag in tags:
            other = claimed.setdefault((target, tag), (digest, served[0]))
            if other[0] != digest:
                raise ConfigError(f"{target}:{tag} would be both {other[1]} ({other[0][:19]}) and "
                                  f"{served[0]} ({digest[:19]})")
        out.append(Copy(ps[0].source, digest, target, tuple(tags), served))
    return out


def gateway_layout(manifest: Manifest) -> str | None:
    """Why a gateway cannot load this artifact from a registry, or None when it can.

    Istio's image fetcher reads an image manifest's layers (the config is not one) and tries,
    in order: a Docker manifest must end in a ``rootfs.diff.tar.gzip`` layer; an OCI manifest
    ending in an ``image.layer.v1.tar+gzip`` layer is the "compat" variant (doc and spec
    layers may come first); otherwise exactly two layers, one of them the raw module
    (``module.wasm.content.layer.v1+wasm``), the "oci" variant. A compat tar must also hold
    ``plugin.wasm`` (``compat_layer``, ``is_plugin_wasm``): that is read from the bytes."""
    layers = manifest.layers
    types = ", ".join(d.media_type for d in layers) or "no layers"
    if manifest.media_type == DOCKER_MANIFEST:
        if layers and layers[-1].media_type == DOCKER_LAYER:
            return None
        return f"a Docker image must end in a {DOCKER_LAYER} layer; its layers: {types}"
    if layers and layers[-1].media_type == OCI_LAYER:
        return None
    if len(layers) == 2 and any(d.media_type == WASM_LAYER for d in layers):
        return None
    if any(d.media_type == WASM_LAYER for d in layers):
        return (f"a wasm layer must come with exactly one other layer (the gateway's oci variant); "
                f"it has {len(layers)}: {types}")
    return f"neither a last {OCI_LAYER} layer nor a wasm layer pair; its layers: {types}"


def compat_layer(manifest: Manifest) -> Descriptor | None:
    """The tar.gz layer the gateway unpacks ``plugin.wasm`` from, when the artifact is the
    compat variant (its last layer; the config is not a layer)."""
    want = DOCKER_LAYER if manifest.media_type == DOCKER_MANIFEST else OCI_LAYER
    layers = manifest.layers
    return layers[-1] if layers and layers[-1].media_type == want else None


PLUGIN_WASM = "plugin.wasm"  # the one member name the gateway takes from a compat tar


def is_plugin_wasm(member: str) -> bool:
    """The gateway reads the first tar member whose base name is ``plugin.wasm``."""
    return member.rstrip("/").rsplit("/", 1)[-1] == PLUGIN_WASM


@dataclass(frozen=True)
class Step:
    """What to do for one blob at the target."""

    kind: str  # "present" | "mount" | "upload"
    blob: Descriptor
    mount_from: str | None = None


def blob_steps(blobs: Iterable[Descriptor], present: set[str], elsewhere: Mapping[str, str]) -> list[Step]:
    """Each blob once: nothing when the target repository has it, a mount from the target
    repository that has it (``elsewhere``: digest -> repository), else an upload."""
    out: list[Step] = []
    seen: set[str] = set()
    for d in blobs:
        if d.digest in seen:
            continue
        seen.add(d.digest)
        if d.digest in present:
            out.append(Step("present", d))
        elif d.digest in elsewhere:
            out.append(Step("mount", d, elsewhere[d.digest]))
        else:
            out.append(Step("upload", d))
    return out


def blobs_of(manifest: Manifest) -> list[Descriptor]:
    """The config, then the layers: every blob the manifest needs at the target, once (a
    layer may be the same bytes as the config)."""
    out: dict[str, Descriptor] = {}
    for d in ([manifest.config] if manifest.config else []) + list(manifest.layers):
        out.setdefault(d.digest, d)
    return list(out.values())


def tags_to_push(tags: Iterable[str], current: Mapping[str, str | None], digest: str) -> list[str]:
    """The tags that do not point at ``digest`` yet."""
    return [t for t in tags if current.get(t) != digest]
