"""Semver tag ranges, resolved against a registry's tag list. Pure functions."""

from __future__ import annotations

import re

import semver

_CMP = re.compile(r"(>=|<=|==|!=|>|<|=|\^|~)?\s*v?([0-9][0-9A-Za-z.+-]*)")


def _coerce(text: str) -> semver.Version:
    """Parse ``1``, ``1.2`` or ``1.2.3[-pre][+build]`` (a leading ``v`` allowed)."""
    text = text.lstrip("v")
    parts = re.match(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?(.*)$", text)
    if not parts:
        raise ValueError(f"not a version: {text!r}")
    major, minor, patch, rest = parts.groups()
    return semver.Version.parse(f"{major}.{minor or 0}.{patch or 0}{rest}")


def parse_range(text: str) -> list[tuple[str, semver.Version]]:
    """Parse a range like ``>=2.0.0 <3``, ``^2.0.0``, ``~1.2`` or ``2.0.3`` into comparisons."""
    clauses: list[tuple[str, semver.Version]] = []
    items = [t for t in re.split(r"[,\s]+", text.strip()) if t]
    # allow ">= 2.0.0" with a space after the operator
    joined: list[str] = []
    for t in items:
        if joined and joined[-1] in (">=", "<=", "==", "!=", ">", "<", "=", "^", "~"):
            joined[-1] += t
        else:
            joined.append(t)
    if not joined:
        raise ValueError("empty range")
    for item in joined:
        m = _CMP.fullmatch(item)
        if not m:
            raise ValueError(f"cannot read {item!r}")
        op, ver = m.group(1) or "==", _coerce(m.group(2))
        if op == "=":
            op = "=="
        if op == "^":
            upper = ver.bump_major() if ver.major else (ver.bump_minor() if ver.minor else ver.bump_patch())
            clauses += [(">=", ver), ("<", upper)]
        elif op == "~":
            clauses += [(">=", ver), ("<", ver.bump_minor())]
        else:
            clauses.append((op, ver))
    return clauses


def _satisfies(v: semver.Version, clauses: list[tuple[str, semver.Version]]) -> bool:
    for op, bound in clauses:
        c = v.compare(bound)
        ok = {"==": c == 0, "!=": c != 0, ">": c > 0, ">=": c >= 0, "<": c < 0, "<=": c <= 0}[op]
        if not ok:
            return False
    return True


def best_tag(tags: list[str], range_text: str) -> str | None:
    """The highest tag that is a semver version inside the range.

    Pre-releases are taken only when the range itself names a pre-release.
    """
    clauses = parse_range(range_text)
    allow_pre = any(b.prerelease for _, b in clauses)
    best: tuple[semver.Version, str] | None = None
    for tag in tags:
        if not re.fullmatch(r"v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?", tag):
            continue
        try:
            v = semver.Version.parse(tag.lstrip("v"))
        except ValueError:
            continue
        if v.prerelease and not allow_pre:
            continue
        if _satisfies(v, clauses) and (best is None or v > best[0]):
            best = (v, tag)
    return best[1] if best else None
