"""Detection: which served plugins did upstream merges change since a position, and which
gateway release snapshots did they add.

The reader (git or API) supplies merges and file contents; everything else is pure. Each
merge's paths are mapped by the catalog in that merge's tree (``plugins/release/catalog.json``)
when it has one, and by the extension directory rule before the catalog existed.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Protocol

from sync.config import Config
from sync.errors import ConfigError
from sync.snapshot.model import parse_snapshot
from sync.upstream.catalog import Catalog
from sync.upstream.catalogread import parse_catalog
from sync.upstream.changes import after, build_changes, touched
from sync.upstream.model import Changes, Merge, PluginChange, Position, SinceRef, SnapshotAdded
from sync.upstream.paths import CATALOG_PATH, snapshot_version, version_of


class Reader(Protocol):
    upstream: str  # the canonical OWNER/REPO (after a move)

    def canonical(self, name: str) -> str: ...

    def resolve(self, ref: SinceRef) -> Position: ...

    def merges_after(self, position: Position | None) -> list[Merge]: ...

    def read_file(self, sha: str, path: str) -> bytes | None: ...


def read_catalogs(reader: Reader, merges: Iterable[Merge], warnings: list[str]) -> dict[str, Catalog]:
    """The catalog in the tree of each merge that has one (a broken one is skipped, with a warning)."""
    parsed: dict[bytes, Catalog | None] = {}
    out: dict[str, Catalog] = {}
    for m in merges:
        data = reader.read_file(m.sha, CATALOG_PATH)
        if data is None:
            continue
        key = hashlib.sha256(data).digest()
        if key not in parsed:
            try:
                parsed[key] = parse_catalog(data, f"{CATALOG_PATH} at {m.sha[:12]}: ")
            except ConfigError as e:
                warnings.append(f"{e}; merge #{m.number} is mapped by directories instead")
                parsed[key] = None
        catalog = parsed[key]
        if catalog is not None:
            out[m.sha] = catalog
    return out


def read_snapshots(reader: Reader, merges: Iterable[Merge], warnings: list[str]) -> list[SnapshotAdded]:
    """The release snapshots the merges wrote, each with the first merge that wrote it."""
    found: dict[str, SnapshotAdded] = {}
    for m in sorted(merges, key=lambda m: m.order):
        for path in m.paths:
            version = snapshot_version(path)
            if version is None:
                continue
            data = reader.read_file(m.sha, path)
            if data is None:  # deleted by this merge
                continue
            if path in found:
                if found[path].sha256 != hashlib.sha256(data).hexdigest():
                    warnings.append(f"{path} was changed again by #{m.number} after #{found[path].pr} added it "
                                    "(snapshots are meant to be immutable); the first version is reported")
                continue
            try:
                stated = parse_snapshot(data).gateway_version
            except ConfigError as e:
                warnings.append(f"{path} at {m.sha[:12]}: {e.message}; not reported")
                continue
            if stated != version:
                warnings.append(f"{path} at {m.sha[:12]} states gatewayVersion {stated}, not {version}; not reported")
                continue
            found[path] = SnapshotAdded(version, path, hashlib.sha256(data).hexdigest(), m.sha, m.number, m.merged)
    return list(found.values())


def detect(
    reader: Reader,
    since: Position | None,
    config: Config,
    *,
    have_config: bool,
    served_names: Iterable[str] = (),
    carried: Iterable[PluginChange] = (),
) -> Changes:
    """The plugins changed by merges after ``since``, with versions read from the merged tree."""
    served_names = tuple(served_names)
    merges = after(since, reader.merges_after(since))
    warnings: list[str] = []
    catalogs = read_catalogs(reader, merges, warnings)
    snapshots = read_snapshots(reader, merges, warnings)
    t = touched(merges, config, catalogs, served_names)
    versions: dict[str, str | None] = {}
    for name, ms in t.plugins.items():
        newest_sha = ms[-1].sha
        files: dict[str, bytes | None] = {}
        for d in sorted(t.dirs[name]):
            for path in d.version_files():
                files[path] = reader.read_file(newest_sha, path)
        versions[name] = version_of(files)
    return build_changes(
        reader.upstream,
        since,
        merges,
        config,
        versions,
        have_config=have_config,
        served_names=served_names,
        carried=carried,
        catalogs=catalogs,
        snapshots=snapshots,
        warnings=warnings,
        touched_paths=t,
    )
