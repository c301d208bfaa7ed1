"""Image tags for a release version. Pure.

``X.Y.Z`` always; ``X.Y`` and ``X`` (not in 0.x, where X alone says nothing) move to the
highest release of their line; ``latest`` to the highest release of all. A pre-release gets its
own tag only: floating tags never point at a pre-release. A maintenance release on an older
line (1.4.3 after 2.0.0) moves ``1.4`` and ``1`` but leaves ``latest`` where it is.
"""

from __future__ import annotations

from typing import Iterable

import semver


def image_tags(version: semver.Version, existing: Iterable[semver.Version] = ()) -> tuple[str, ...]:
    """The tags to push for ``version``, given the versions already released."""
    tags = [str(version)]
    if version.prerelease or version.build:
        return tuple(tags)
    stable = [v for v in existing if not v.prerelease]

    def highest(line: list[semver.Version]) -> bool:
        return all(version >= v for v in line)

    if highest([v for v in stable if (v.major, v.minor) == (version.major, version.minor)]):
        tags.append(f"{version.major}.{version.minor}")
        if version.major > 0 and highest([v for v in stable if v.major == version.major]):
            tags.append(str(version.major))
    if highest(stable):
        tags.append("latest")
    return tuple(tags)


def is_latest(version: semver.Version, existing: Iterable[semver.Version] = ()) -> bool:
    return "latest" in image_tags(version, existing)


def image_refs(image: str, tags: Iterable[str]) -> tuple[str, ...]:
    """``image:tag`` for each tag (``image`` without a tag or digest)."""
    return tuple(f"{image}:{t}" for t in tags)
