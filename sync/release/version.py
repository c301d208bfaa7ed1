"""Release versions: parsing ``vX.Y.Z`` tags, the bump rules, and ``--release-version`` checks. Pure.

Bump rules (``Level``): a served plugin version added is MINOR, an artifact whose content
changed is PATCH, a served version removed is MAJOR, any other shipped path (server config,
Dockerfile, chart, toolkit) is PATCH, and nothing shipped is NONE: no release.

- The first release (no ``vX.Y.Z`` tag yet) is 1.0.0 under ``--bump auto``; an explicit bump
  counts from 0.0.0 (``--bump minor`` gives 0.1.0).
- In 0.x a MAJOR-level change bumps the minor version under ``auto``: leaving 0.x is a decision
  (``--bump major`` or ``--release-version 1.0.0``), not a side effect of removing a plugin.
- After a pre-release the next release completes it when it covers the change, as npm does:
  1.3.0-rc.1 with a patch or minor change gives 1.3.0; 2.0.0-rc.1 gives 2.0.0 for any change;
  1.2.1-rc.1 with a minor change gives 1.3.0. The next pre-release is chosen with ``--release-version``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sync.errors import UsageError
from sync.versions import Version, parse

TAG_PREFIX = "v"
FIRST = Version(1, 0, 0)
# image tags: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
_MAX_TAG = 128


class Level(enum.IntEnum):
    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> "Level":
        try:
            level = cls[text.upper()]
        except KeyError:
            raise UsageError(f"unknown bump {text!r}: use auto, major, minor or patch") from None
        if level is cls.NONE:
            raise UsageError("unknown bump 'none': use auto, major, minor or patch")
        return level


def parse_version(text: str) -> Version | None:
    """``X.Y.Z`` or ``X.Y.Z-pre`` (a leading ``v`` allowed), else None: semver (``sync.versions``)
    without build metadata, since ``+`` cannot be in an image tag."""
    t = text.strip()
    if t.startswith(TAG_PREFIX):
        t = t[len(TAG_PREFIX):]
    v = parse(t)
    if v is None or v.build or len(t) > _MAX_TAG:
        return None
    return v


def tag_version(tag: str) -> Version | None:
    """The version of a release tag ``vX.Y.Z[-pre]``, or None if ``tag`` is not one."""
    if not tag.startswith(TAG_PREFIX):
        return None
    return parse_version(tag)


def tag_name(version: Version) -> str:
    return f"{TAG_PREFIX}{version}"


def bump(previous: Version | None, level: Level, explicit: bool) -> Version:
    """The version after ``previous`` for a change of ``level`` (which must not be NONE).

    ``explicit`` is True for ``--bump major|minor|patch``, False for a level found by ``auto``.
    """
    if level is Level.NONE:
        raise ValueError("no release for Level.NONE")
    if previous is None:
        if not explicit:
            return FIRST
        previous = Version(0, 0, 0)
    if previous.major == 0 and level is Level.MAJOR and not explicit:
        level = Level.MINOR
    base = previous.release()
    if previous.prerelease:
        # complete the pre-release when its final version already covers the change
        if level is Level.PATCH:
            return base
        if level is Level.MINOR and base.patch == 0:
            return base
        if level is Level.MAJOR and base.minor == 0 and base.patch == 0:
            return base
    if level is Level.MAJOR:
        return Version(base.major + 1, 0, 0)
    if level is Level.MINOR:
        return Version(base.major, base.minor + 1, 0)
    return Version(base.major, base.minor, base.patch + 1)


@dataclass(frozen=True)
class Release:
    """An existing release tag and the commit it points at."""

    version: Version
    commit: str

    @property
    def tag(self) -> str:
        return tag_name(self.version)


@dataclass(frozen=True)
class History:
    """The release tags of a repository, seen from HEAD."""

    head: str  # the commit being released
    merged: tuple[Release, ...] = ()  # release tags reachable from HEAD
    others: tuple[Release, ...] = ()  # release tags on other branches

    def find(self, version: Version) -> Release | None:
        return next((r for r in self.merged + self.others if r.version == version), None)

    def last(self, below: Version | None = None) -> Release | None:
        """The highest release reachable from HEAD (below ``below`` when given)."""
        candidates = [r for r in self.merged if below is None or r.version < below]
        return max(candidates, key=lambda r: r.version, default=None)

    def versions(self) -> list[Version]:
        return sorted({r.version for r in self.merged + self.others})


def check_override(text: str, history: History) -> Version:
    """Validate ``--release-version``: a valid release version above every release reachable from
    HEAD. The version of a tag already on HEAD is accepted again (publishing is idempotent).
    """
    version = parse_version(text)
    if version is None:
        raise UsageError(
            f"invalid --release-version {text!r}: use X.Y.Z or X.Y.Z-PRERELEASE (semver, no build metadata)"
        )
    existing = history.find(version)
    if existing is not None:
        if existing.commit == history.head:
            return version
        raise UsageError(
            f"--release-version {version}: tag {existing.tag} already exists at commit {existing.commit[:12]}, not at HEAD"
        )
    last = history.last()
    if last is not None and version <= last.version:
        raise UsageError(f"--release-version {version} does not increase on the last release {last.tag}")
    return version
