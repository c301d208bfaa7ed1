"""Image tags, and which release track owns which. Pure.

Two tracks push to the same image repository (``higress/plugin-server``):

* **gateway**: the image built from Higress's release snapshot of gateway version X.Y.Z. It
  owns the bare version tags ``X.Y.Z``, ``X.Y``, ``X`` and ``latest``: the tags that repository
  has always carried for Higress versions, which the console and the Helm chart pin.
* **rolling**: the image built from ``plugins.yaml`` and the lock on each merge of a sync pull
  request, versioned by this repository's own semver (``vX.Y.Z`` git tags). Every one of its
  tags carries the prefix ``rolling-``: ``rolling-X.Y.Z``, ``rolling-X.Y``, ``rolling-X``,
  ``rolling-latest``. A gateway tag starts with a digit or is ``latest``, so no rolling tag can
  ever equal one, whatever the two version numbers are.

Within a track: ``X.Y.Z`` always; ``X.Y`` and ``X`` (not in 0.x, where X alone says nothing)
move to the highest release of their line; ``latest`` to the highest release of all. A
pre-release gets its own tag only: floating tags never point at a pre-release. A maintenance
release on an older line (1.4.3 after 2.0.0) moves ``1.4`` and ``1`` but leaves ``latest``.
"""

from __future__ import annotations

from typing import Iterable

from sync.versions import Version

GATEWAY = "gateway"
ROLLING = "rolling"
TRACKS = (GATEWAY, ROLLING)
ROLLING_PREFIX = "rolling-"


def version_tags(version: Version, existing: Iterable[Version] = ()) -> tuple[str, ...]:
    """The bare tags for ``version`` (X.Y.Z, X.Y, X, latest), given the versions already released."""
    tags = [str(version)]
    if version.prerelease or version.build:
        return tuple(tags)
    stable = [v for v in existing if not v.prerelease]

    def highest(line: list[Version]) -> bool:
        return all(version >= v for v in line)

    if highest([v for v in stable if (v.major, v.minor) == (version.major, version.minor)]):
        tags.append(f"{version.major}.{version.minor}")
        if version.major > 0 and highest([v for v in stable if v.major == version.major]):
            tags.append(str(version.major))
    if highest(stable):
        tags.append("latest")
    return tuple(tags)


def image_tags(version: Version, existing: Iterable[Version] = (),
               track: str = ROLLING) -> tuple[str, ...]:
    """The image tags to push for ``version`` of ``track``, given that track's earlier releases."""
    if track not in TRACKS:
        raise ValueError(f"unknown release track {track!r}")
    tags = version_tags(version, existing)
    if track == GATEWAY:
        return tags
    return tuple(ROLLING_PREFIX + t for t in tags)


def track_of(tag: str) -> str:
    """Which track a tag belongs to (by form alone)."""
    return ROLLING if tag.startswith(ROLLING_PREFIX) else GATEWAY


def image_refs(image: str, tags: Iterable[str]) -> tuple[str, ...]:
    """``image:tag`` for each tag (``image`` without a tag or digest)."""
    return tuple(f"{image}:{t}" for t in tags)
