"""The gateway track: image X.Y.Z built from the committed snapshot of gateway version X.Y.Z,
and never overwritten. Pure.

Before building, the workflow reads what the tag holds now (``sync.oci.image.read_image``):

* no such tag: **build** and push it;
* every platform's config carries ``io.higress.plugin-snapshot-sha256`` equal to this
  snapshot's sha256: **present**, push nothing (a re-run, or upstream built the same);
* anything else (another snapshot, no label, no platform): **conflict**, push nothing, fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sync.errors import UsageError
from sync.oci.image import TaggedImage
from sync.release.snapshots import GatewaySnapshot
from sync.release.tags import GATEWAY, image_tags
from sync.release.version import parse_version
from sync.versions import Version

# the labels upstream's build and the console check on every platform of a gateway image
LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_HIGRESS_COMMIT = "io.higress.higress-source-commit"
LABEL_SNAPSHOT_SHA256 = "io.higress.plugin-snapshot-sha256"
LABEL_GATEWAY_VERSION = "io.higress.gateway-version"
ACTIONS = ("build", "present", "conflict")


@dataclass(frozen=True)
class Decision:
    action: str  # build | present | conflict
    message: str


def decide(image: str, snapshot: GatewaySnapshot, existing: TaggedImage | None) -> Decision:
    """What to do with ``image``:X.Y.Z, given what the tag holds now."""
    ref = f"{image}:{snapshot.version}"
    if existing is None:
        return Decision("build", f"{ref} does not exist yet: build it from snapshot {snapshot.sha256[:12]}")
    values = existing.label_values(LABEL_SNAPSHOT_SHA256)
    if existing.platforms and values == {snapshot.sha256}:
        return Decision("present", f"{ref} already holds snapshot {snapshot.sha256[:12]} "
                                   f"({existing.digest[:19]}): nothing to push")
    found = ", ".join(sorted(v[:12] if v else "no snapshot label" for v in values)) or "no platform image"
    return Decision("conflict", f"{ref} already exists ({existing.digest[:19]}) built from {found}, not from "
                                f"snapshot {snapshot.sha256[:12]}: gateway images are never overwritten")


@dataclass(frozen=True)
class GatewayPlan:
    snapshot: GatewaySnapshot
    decision: Decision
    tags: tuple[str, ...]
    build_args: tuple[tuple[str, str], ...]
    existing: str | None  # the digest the tag holds now

    @property
    def action(self) -> str:
        return self.decision.action


def plan_gateway(image: str, snapshot: GatewaySnapshot, existing: TaggedImage | None,
                 released: Iterable[Version], plugin_server_commit: str) -> GatewayPlan:
    """The decision, the tags to push (X.Y.Z and the floating ones it moves) and the build args."""
    version = parse_version(snapshot.version)
    if version is None:
        raise UsageError(f"gateway version {snapshot.version!r} is not X.Y.Z")
    others = [v for v in released if v != version]
    args = (("SNAPSHOT_SHA256", snapshot.sha256), ("HIGRESS_SOURCE_COMMIT", snapshot.source_commit),
            ("PLUGIN_SERVER_SOURCE_COMMIT", plugin_server_commit), ("GATEWAY_VERSION", snapshot.version))
    return GatewayPlan(snapshot, decide(image, snapshot, existing), image_tags(version, others, GATEWAY), args,
                       existing.digest if existing else None)
