"""The gateway release snapshots this repository commits: ``snapshots/X.Y.Z.json``, byte-exact
copies of upstream's ``plugins/release/snapshots/X.Y.Z.json``, and ``snapshots/SHA256SUMS``
(``sha256sum`` format: ``<hex>  X.Y.Z.json`` per line).

``parse_sums``, ``render_sums`` and ``add_sum`` are pure; ``read_snapshot`` and
``released_versions`` read the directory.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import semver

from sync.errors import ConfigError, UsageError

SNAPSHOTS_DIR = "snapshots"
SUMS_FILE = "SHA256SUMS"
_LINE = re.compile(r"([0-9a-f]{64}) [ *]([^\s/]+)")
_COMMIT = re.compile(r"[0-9a-f]{40}")


def snapshot_name(version: str) -> str:
    return f"{version}.json"


def _version_of(name: str) -> semver.Version | None:
    stem = name[: -len(".json")] if name.endswith(".json") else ""
    return semver.Version.parse(stem) if stem and semver.Version.is_valid(stem) else None


def parse_sums(text: str, where: str = SUMS_FILE) -> dict[str, str]:
    """File name -> sha256 hex. Blank lines are skipped; anything else malformed is an error."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.fullmatch(line.strip())
        if not m:
            raise ConfigError(f"{where}:{n}: expected '<sha256>  X.Y.Z.json'")
        if m.group(2) in out and out[m.group(2)] != m.group(1):
            raise ConfigError(f"{where}:{n}: {m.group(2)} is listed twice with different sums")
        out[m.group(2)] = m.group(1)
    return out


def render_sums(sums: Mapping[str, str]) -> str:
    """``sha256sum`` lines, ordered by gateway version (other names after, by name)."""
    def key(name: str) -> tuple[int, semver.Version, str]:
        v = _version_of(name)
        return (0, v, name) if v is not None else (1, semver.Version(0), name)

    return "".join(f"{sums[n]}  {n}\n" for n in sorted(sums, key=key))


def add_sum(text: str, name: str, sha256: str) -> str:
    """SHA256SUMS with ``name`` listed; an existing different sum for it is refused (immutable)."""
    sums = parse_sums(text)
    if sums.get(name, sha256) != sha256:
        raise ConfigError(f"{SUMS_FILE} lists {name} with sha256 {sums[name]}, not {sha256}: "
                          "a committed snapshot is never replaced")
    sums[name] = sha256
    return render_sums(sums)


@dataclass(frozen=True)
class GatewaySnapshot:
    version: str  # the gateway version X.Y.Z
    path: Path
    sha256: str
    source_commit: str  # upstream's commit the snapshot was cut from


def read_snapshot(directory: Path, version: str) -> GatewaySnapshot:
    """``directory/X.Y.Z.json``, checked against ``directory/SHA256SUMS`` and its own gateway version."""
    if not semver.Version.is_valid(version):
        raise UsageError(f"--gateway {version!r}: expected a gateway version X.Y.Z")
    path = directory / snapshot_name(version)
    try:
        data = path.read_bytes()
        sums_text = (directory / SUMS_FILE).read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise UsageError(f"{e.filename}: no such file") from None
    sha = hashlib.sha256(data).hexdigest()
    listed = parse_sums(sums_text, str(directory / SUMS_FILE)).get(path.name)
    if listed is None:
        raise ConfigError(f"{directory / SUMS_FILE} does not list {path.name}")
    if listed != sha:
        raise ConfigError(f"{path}: sha256 is {sha}, but {SUMS_FILE} says {listed}")
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"{path}: not JSON: {e}") from None
    if not isinstance(raw, dict) or raw.get("gatewayVersion") != version:
        raise ConfigError(f"{path}: gatewayVersion is {raw.get('gatewayVersion') if isinstance(raw, dict) else None!r},"
                          f" not {version}")
    commit = raw.get("sourceCommit")
    if not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
        raise ConfigError(f"{path}: sourceCommit {commit!r} is not a commit sha")
    return GatewaySnapshot(version, path, sha, commit)


def released_versions(directory: Path) -> list[semver.Version]:
    """The gateway versions ``SHA256SUMS`` lists (the gateway track's releases)."""
    try:
        text = (directory / SUMS_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return sorted(v for v in (_version_of(n) for n in parse_sums(text)) if v is not None)
