"""The release decision over plain data: which version comes next and why. Pure.

    base, override = base_release(history, args.version)     # which release to compare with
    ... read the lock at base.tag and the paths changed since (gitrepo) ...
    plan = plan_release(history, base, diff_locks(old, new), changed_paths, rules, bump, override)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sync.errors import UsageError
from sync.lock import LockDiff
from sync.release.shipping import ShipRules
from sync.release.tags import ROLLING, ROLLING_PREFIX, image_tags
from sync.release.version import History, Level, Release, bump as bump_version, check_override, tag_name
from sync.versions import Version

BUMPS = ("auto", "major", "minor", "patch")
SHOW_PATHS = 5  # changed paths named in a "no release" message


@dataclass(frozen=True)
class Reason:
    level: Level
    text: str


@dataclass(frozen=True)
class Plan:
    base: Release | None  # the release compared with; None before the first release
    version: Version | None  # None: no release
    level: Level  # what the changes call for
    bump: str  # auto, major, minor, patch, or "version" for --release-version
    reasons: tuple[Reason, ...]
    diff: LockDiff
    paths: tuple[str, ...]  # shipped paths changed, the lock excepted
    tags: tuple[str, ...] = ()
    message: str = ""
    warnings: tuple[str, ...] = field(default=())

    @property
    def release(self) -> bool:
        return self.version is not None

    @property
    def prerelease(self) -> bool:
        return bool(self.version is not None and self.version.prerelease)

    @property
    def latest(self) -> bool:
        return f"{ROLLING_PREFIX}latest" in self.tags

    @property
    def tag(self) -> str | None:
        return tag_name(self.version) if self.version is not None else None


def base_release(history: History, override: str | None) -> tuple[Release | None, Version | None]:
    """The release to compare HEAD with, and the checked ``--release-version`` if one was given."""
    if override is None:
        return history.last(), None
    version = check_override(override, history)
    return history.last(below=version), version


def _entry_text(name: str, version: str) -> str:
    return f"{name} {version}"


def classify(diff: LockDiff, changed_paths: list[str] | tuple[str, ...], rules: ShipRules) -> tuple[list[Reason], list[str]]:
    """The reasons for a release, and the shipped paths changed other than the lock."""
    reasons: list[Reason] = []
    for e in diff.removed:
        reasons.append(Reason(Level.MAJOR, f"removed {_entry_text(e.name, e.version)}"))
    for e in diff.added:
        reasons.append(Reason(Level.MINOR, f"added {_entry_text(e.name, e.version)}"))
    for _, n in diff.changed:
        reasons.append(Reason(Level.PATCH, f"content changed {_entry_text(n.name, n.version)}"))
    shipped = rules.shipped(list(changed_paths))
    lock_changed = any(rules.is_lock(p) for p in shipped)
    if lock_changed and diff.empty:
        reasons.append(Reason(Level.PATCH, f"{rules.lock} changed (metadata only)"))
    others = [p for p in shipped if not rules.is_lock(p)]
    for p in others:
        reasons.append(Reason(Level.PATCH, f"{p} changed"))
    return reasons, others


def plan_release(
    history: History,
    base: Release | None,
    diff: LockDiff,
    changed_paths: list[str] | tuple[str, ...],
    rules: ShipRules,
    bump: str = "auto",
    override: Version | None = None,
) -> Plan:
    """Decide the release of HEAD against ``base`` (see ``base_release``)."""
    if bump not in BUMPS:
        raise UsageError(f"unknown bump {bump!r}: use {', '.join(BUMPS)}")
    if override is not None and bump != "auto":
        raise UsageError("use --bump or --release-version, not both")
    reasons, others = classify(diff, changed_paths, rules)
    level = max((r.level for r in reasons), default=Level.NONE)
    since = f"since {base.tag}" if base else "in the repository"
    common: dict[str, Any] = dict(base=base, level=level, reasons=tuple(reasons), diff=diff, paths=tuple(others))
    warnings: list[str] = []

    if override is not None:
        version, how = override, "version"
    elif bump != "auto":
        explicit = Level.parse(bump)
        if explicit < level:
            warnings.append(
                f"--bump {bump} is below what the changes call for ({level.label}: "
                f"{next(r.text for r in reasons if r.level == level)})"
            )
        version, how = bump_version(base.version if base else None, explicit, explicit=True), bump
    else:
        if base is not None and base.commit == history.head:
            return Plan(version=None, bump="auto", message=f"no release: HEAD is already released as {base.tag}", **common)
        if level is Level.NONE:
            detail = ""
            if changed_paths:
                shown = ", ".join(list(changed_paths)[:SHOW_PATHS])
                more = f" and {len(changed_paths) - SHOW_PATHS} more" if len(changed_paths) > SHOW_PATHS else ""
                detail = f" ({len(changed_paths)} changed, none ships: {shown}{more})"
            return Plan(version=None, bump="auto", message=f"no release: nothing that ships changed {since}{detail}",
                        **common)
        version, how = bump_version(base.version if base else None, level, explicit=False), "auto"

    clash = history.find(version)
    if clash is not None and not (override is not None and clash.commit == history.head):
        raise UsageError(
            f"version {version} is already tagged {clash.tag} at commit {clash.commit[:12]}: choose one with --release-version"
        )
    tags = image_tags(version, history.versions(), ROLLING)
    if base is None:
        why = "first release"
    elif how == "auto":
        why = f"{level.label}, after {base.tag}"
    elif how == "version":
        why = f"--release-version, after {base.tag}"
    else:
        why = f"--bump {how}, after {base.tag}"
    return Plan(version=version, bump=how, tags=tags, message=f"release {version} ({why})",
                warnings=tuple(warnings), **common)
