"""The gateway release snapshots this repository commits: ``snapshots/X.Y.Z.json``, byte-exact
copies of upstream's ``plugins/release/snapshots/X.Y.Z.json``, and ``snapshots/SHA256SUMS``
(``sha256sum`` format: ``<hex>  X.Y.Z.json`` per line).

``parse_sums``, ``render_sums``, ``add_sum`` and ``plan_snapshot_pr`` (what the pull request
that commits an upstream snapshot here holds) are pure; ``read_snapshot`` and
``released_versions`` read the directory.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from sync.errors import ConfigError, SyncError, UsageError
from sync.filenames import SNAPSHOTS
from sync.github.model import FileChange, blob_sha
from sync.lock import Lock, diff_locks
from sync.propose.plan import MARKER, Publication, fingerprint
from sync.release.version import TAG_PREFIX, parse_version
from sync.snapshot.model import parse_snapshot
from sync.upstream.model import SnapshotAdded
from sync.versions import Version

SNAPSHOTS_DIR = SNAPSHOTS
SUMS_FILE = "SHA256SUMS"
_LINE = re.compile(r"([0-9a-f]{64}) [ *]([^\s/]+)")


def snapshot_name(version: str) -> str:
    return f"{version}.json"


def _version_of(name: str) -> Version | None:
    stem = name[: -len(".json")] if name.endswith(".json") else ""
    return parse_version(stem) if stem and not stem.startswith(TAG_PREFIX) else None


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
    def key(name: str) -> tuple[int, Version, str]:
        v = _version_of(name)
        return (0, v, name) if v is not None else (1, Version(0, 0, 0), name)

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
    if version.startswith(TAG_PREFIX) or parse_version(version) is None:
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
        snap = parse_snapshot(data, listed)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e.message}") from None
    if snap.gateway_version != version:
        raise ConfigError(f"{path}: gatewayVersion is {snap.gateway_version!r}, not {version}")
    commit = snap.source_commit
    return GatewaySnapshot(version, path, sha, commit)


def released_versions(directory: Path) -> list[Version]:
    """The gateway versions ``SHA256SUMS`` lists (the gateway track's releases)."""
    try:
        text = (directory / SUMS_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return sorted(v for v in (_version_of(n) for n in parse_sums(text)) if v is not None)


# ---------------------------------------------------------------------------- the snapshot pull request

BRANCH_PREFIX = "plugin-sync/snapshot-"


@dataclass(frozen=True)
class SnapshotProposal:
    """What proposing one upstream snapshot publishes: its own branch, files, title and body."""

    version: str
    branch: str
    publication: Publication  # empty: the snapshot is already committed here, byte-exact
    title: str
    body: str


def plan_snapshot_pr(
    snap: SnapshotAdded,
    data: bytes,
    upstream: str,
    web: str,
    base_files: Mapping[str, str],
    base_sums: str,
) -> SnapshotProposal:
    """Commit upstream's ``snap`` here as ``snapshots/X.Y.Z.json`` plus its ``SHA256SUMS`` line.

    ``data`` is the file as read at ``snap.commit``; ``base_files`` maps each path of our base
    branch to its blob id and ``base_sums`` is our ``SHA256SUMS``. A different file already
    committed under that name is an error: snapshots are immutable.
    """
    sha = hashlib.sha256(data).hexdigest()
    if sha != snap.sha256:
        raise SyncError(f"{upstream} {snap.path} at {snap.commit[:12]} has sha256 {sha}, "
                        f"but detect reported {snap.sha256}")
    path = f"{SNAPSHOTS_DIR}/{snapshot_name(snap.gateway_version)}"
    sums_path = f"{SNAPSHOTS_DIR}/{SUMS_FILE}"
    present = base_files.get(path)
    if present is not None and present != blob_sha(data):
        raise SyncError(f"{path} is already committed with other content (blob {present[:12]}, upstream's is "
                        f"{blob_sha(data)[:12]}): a snapshot is never replaced")
    files = [] if present is not None else [FileChange(path, data)]
    sums = add_sum(base_sums, snapshot_name(snap.gateway_version), sha)
    if sums != base_sums:
        files.append(FileChange(sums_path, sums.encode("utf-8")))
    files.sort(key=lambda f: f.path)
    pub = Publication(tuple(files), diff_locks(Lock(), Lock()), (), fingerprint(files, "", Lock()))
    title = f"plugin-sync: gateway {snap.gateway_version} plugin snapshot"
    try:
        source = parse_snapshot(data).source_commit
    except ConfigError as e:
        raise ConfigError(f"{upstream} {snap.path} at {snap.commit[:12]}: {e.message}") from None
    file_url = f"{web}/{upstream}/blob/{snap.commit}/{snap.path}"
    added_by = f"[#{snap.pr}]({web}/{upstream}/pull/{snap.pr})" if snap.pr else "a commit"
    lines = [
        f"<!-- {MARKER}={pub.fingerprint} -->", "",
        f"Opened by `plugin-sync propose-snapshot`: upstream `{upstream}` released the plugin set of gateway "
        f"**{snap.gateway_version}**. Merging this pull request builds and pushes the gateway image "
        f"`{snap.gateway_version}` from this snapshot (`.github/workflows/gateway-release.yml`); that tag is "
        "never overwritten.", "",
        "| | |", "|---|---|",
        f"| Upstream file | [`{snap.path}`]({file_url}) |",
        f"| Added by | {added_by} at `{snap.commit}`" + (f" (merged {snap.merged})" if snap.merged else "") + " |",
        f"| sha256 | `{sha}` |",
        f"| git blob | `{blob_sha(data)}`, the same as upstream's at that commit |",
        f"| Higress source commit | `{source}` |", "",
        "### Files", "",
    ]
    lines += [f"- `{f.path}`" for f in files]
    return SnapshotProposal(snap.gateway_version, BRANCH_PREFIX + snap.gateway_version, pub, title,
                            "\n".join(lines) + "\n")
