"""Versions: the one parser and the one order of semantic versions, for every reader. Pure.

A version is a semver 2.0.0 version: ``MAJOR.MINOR.PATCH``, numbers without leading zeros, an
optional pre-release (``-rc.1``: dot-separated identifiers, numeric ones without leading zeros)
and optional build metadata (``+build.5``). Versions are ordered by semver precedence: major,
minor and patch as numbers; a pre-release below its release (``2.3.0-rc.1 < 2.3.0``);
pre-release identifiers one by one, numeric ones as numbers and below alphanumeric ones, a
shorter list below a longer one with the same start; build metadata plays no part (two
versions that differ only in it are equal).

The readers keep their own meanings over this one parse and order:

- ``oci/versions.py``: tags and ``range:`` as npm reads them (one leading ``v``, surrounding
  whitespace, JavaScript's safe integers);
- ``release/version.py``: this repository's release versions (no build metadata: ``+`` is not
  allowed in an image tag; ``vX.Y.Z`` git tags; bumps);
- the gateway versions of the committed snapshots (``snapshots/X.Y.Z.json``): ``newest``, which
  ``plugin-sync newest-snapshot`` prints for the image build; ``snapshot/model.py`` and
  ``upstream/paths.py`` check a snapshot's version with ``parse``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from typing import Iterable, Union

Identifier = Union[int, str]

_NUM = r"0|[1-9][0-9]*"
_ID = rf"(?:{_NUM}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"({_NUM})\.({_NUM})\.({_NUM})"
    rf"(?:-({_ID}(?:\.{_ID})*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    """A semver version; ``==``, ``<``, ``hash`` and ``sorted`` follow precedence."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[Identifier, ...] = ()
    build: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> "Version":
        """``parse(text)``, or a ValueError when ``text`` is not a semver version."""
        v = parse(text)
        if v is None:
            raise ValueError(f"{text!r} is not a semver version")
        return v

    @property
    def base(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def release(self) -> "Version":
        """``X.Y.Z`` alone: no pre-release, no build metadata."""
        return Version(self.major, self.minor, self.patch)

    def without_build(self) -> "Version":
        return replace(self, build=())

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(map(str, self.prerelease))
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and compare(self, other) == 0

    def __lt__(self, other: "Version") -> bool:
        return compare(self, other) < 0

    def __hash__(self) -> int:
        return hash((self.base, tuple(str(i) for i in self.prerelease)))


def parse(text: str) -> Version | None:
    """``text`` as a semver version, or None when it is not exactly one (no ``v``, no spaces)."""
    m = _SEMVER.fullmatch(text)
    if not m:
        return None
    pre = tuple(int(i) if i.isdigit() else i for i in m[4].split(".")) if m[4] else ()
    build = tuple(m[5].split(".")) if m[5] else ()
    return Version(int(m[1]), int(m[2]), int(m[3]), pre, build)


def _compare_ids(a: Identifier, b: Identifier) -> int:
    anum, bnum = isinstance(a, int) or a.isdigit(), isinstance(b, int) or b.isdigit()
    if anum and bnum:
        x, y = int(a), int(b)
        return (x > y) - (x < y)
    if anum != bnum:
        return -1 if anum else 1
    return (str(a) > str(b)) - (str(a) < str(b))


def compare(a: Version, b: Version) -> int:
    """-1, 0 or 1 by semver precedence (build metadata plays no part)."""
    if a.base != b.base:
        return -1 if a.base < b.base else 1
    if not a.prerelease or not b.prerelease:  # a release is above its pre-releases
        return (not a.prerelease) - (not b.prerelease)
    for x, y in zip(a.prerelease, b.prerelease):
        c = _compare_ids(x, y)
        if c:
            return c
    return (len(a.prerelease) > len(b.prerelease)) - (len(a.prerelease) < len(b.prerelease))


def newest(names: Iterable[str]) -> str | None:
    """The name that is the highest version (names that are not versions are skipped; of equal
    versions the first listed), or None."""
    best: tuple[Version, str] | None = None
    for name in names:
        v = parse(name)
        if v is not None and (best is None or best[0] < v):
            best = (v, name)
    return best[1] if best else None
