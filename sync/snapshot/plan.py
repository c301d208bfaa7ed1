"""What a snapshot build serves, decided without I/O. Standard library only.

``plan`` turns a snapshot and the unmanaged lock into targets: one per served
``name/version``, each fetched by manifest digest. A mapped snapshot entry is served under
its ``httpPath`` and again under its inventory key and every alias; entries without a
``consumers.pluginServer`` mapping are not served, unless plugins.yaml pins that very
artifact (same repository and manifest digest): then it is served under the configured name
(``adopted``). A served name/version whose plugins.yaml entry lists more ``versions`` is
served under those too, from the same artifact. ``check_unmanaged`` is upstream's
guard: every configured plugin the snapshot does not manage is in the unmanaged lock, with
the configured repository and tag, and nothing else is.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

from sync.errors import ConfigError
from sync.snapshot.model import ImageRef, Snapshot, SnapshotEntry, UnmanagedEntry


@dataclass(frozen=True)
class Target:
    """One served ``name/version``: the artifact ``image@digest``."""

    name: str
    version: str
    image: ImageRef
    tag: str
    digest: str
    owner: str  # the snapshot's logicalId or the unmanaged lock's logicalKey
    wasm_sha256: str | None = None  # the module's sha256, when the input pins it
    category: str | None = None

    @property
    def source(self) -> str:
        """The reference recorded in the tree's lock and index.json."""
        return f"oci://{self.image}:{self.tag}"


@dataclass(frozen=True)
class Plan:
    snapshot: Snapshot
    targets: tuple[Target, ...]

    def artifacts(self) -> dict[tuple[str, str], list[Target]]:
        """The targets grouped by (served name, digest): each group is one download or one link."""
        groups: dict[tuple[str, str], list[Target]] = {}
        for t in self.targets:
            groups.setdefault((t.name, t.digest), []).append(t)
        return groups


def plan(snapshot: Snapshot, unmanaged: tuple[UnmanagedEntry, ...] = (),
         categories: Mapping[str, str | None] | None = None,
         configured: Mapping[str, Configured] | None = None) -> Plan:
    """The targets of a snapshot build. Two inputs claiming one served name, inventory key
    or alias is a ConfigError naming both."""
    cats = categories or {}
    conf = configured or {}
    claimed: dict[str, str] = {}

    def claim(name: str, owner: str) -> None:
        other = claimed.setdefault(name, owner)
        if other != owner:
            raise ConfigError(f"plugins {other} and {owner} both claim the served name {name!r}")

    targets: list[Target] = []
    for e in snapshot.mapped:
        assert e.served is not None
        for name in e.served.names:
            claim(name, e.logical_id)
            targets.append(Target(name, e.version, e.image, e.tag, e.digest, e.logical_id,
                                  category=cats.get(name) or cats.get(e.logical_id)))
    for name, e in adopted(snapshot, conf).items():
        claim(name, e.logical_id)
        targets.append(Target(name, e.version, e.image, e.tag, e.digest, e.logical_id, category=cats.get(name)))
    for u in unmanaged:
        claim(u.served_path, f"{u.logical_key} (unmanaged)")
        targets.append(Target(u.served_path, u.served_version, u.image, u.tag, u.digest,
                              f"{u.logical_key} (unmanaged)", u.wasm_sha256, cats.get(u.logical_key)))
    targets += _more_versions(targets, conf)
    return Plan(snapshot, tuple(sorted(targets, key=lambda t: (t.name, t.version))))


def _more_versions(targets: list[Target], configured: Mapping[str, Configured]) -> list[Target]:
    """The same artifacts under the other ``versions`` plugins.yaml lists beside a served
    version (a console whose spec says 1.0.0 for the artifact tagged 2.0.0)."""
    more: list[Target] = []
    for t in targets:  # one target per served name (``claim``), so these versions are free
        c = configured.get(t.name)
        if c is not None and t.version in c.versions:
            more += [replace(t, version=v) for v in c.versions if v != t.version]
    return more


def adopted(snapshot: Snapshot, configured: Mapping[str, Configured]) -> dict[str, SnapshotEntry]:
    """Entries the snapshot records without a plugin-server mapping that plugins.yaml pins
    by the same repository and manifest digest, by configured name: the build serves them
    at the snapshot's version, fetched by that digest."""
    out: dict[str, SnapshotEntry] = {}
    for e in snapshot.entries:
        if e.served is not None:
            continue
        for c in configured.values():
            if c.digest == e.digest and c.image == e.image:
                out[c.name] = e
    return out


def managed_names(snapshot: Snapshot, configured: Mapping[str, Configured] | None = None) -> set[str]:
    """Every name the snapshot serves: paths, inventory keys and aliases, and the names
    plugins.yaml adopts unmapped entries under."""
    return {n for e in snapshot.mapped if e.served for n in e.served.names} | set(adopted(snapshot, configured or {}))


@dataclass(frozen=True)
class Configured:
    """A plugin as plugins.yaml configures it, reduced to what the unmanaged check compares."""

    name: str
    image: ImageRef
    tag: str | None = None
    range: str | None = None
    digest: str | None = None
    accepts: Callable[[str], bool] | None = field(default=None, compare=False)  # a tag in ``range``
    versions: tuple[str, ...] = ()  # the version directories it is served under (empty: the tag)


def _drift(c: Configured, u: UnmanagedEntry) -> str | None:
    if u.served_path != u.logical_key:
        return f"servedPath {u.served_path!r} is not its key"
    if u.served_version != u.tag:
        return f"servedVersion {u.served_version!r} is not its tag {u.tag!r}"
    if u.image != c.image:
        return f"repository {u.image} differs from plugins.yaml's {c.image}"
    if c.digest is not None and u.digest != c.digest:
        return f"digest {u.digest[:19]} differs from plugins.yaml's {c.digest[:19]}"
    if c.tag is not None and u.tag != c.tag:
        return f"tag {u.tag!r} differs from plugins.yaml's {c.tag!r}"
    if c.range is not None and c.accepts is not None and not c.accepts(u.tag):
        return f"tag {u.tag!r} is outside plugins.yaml's range {c.range!r}"
    return None


def check_unmanaged(snapshot: Snapshot, unmanaged: tuple[UnmanagedEntry, ...],
                    configured: Mapping[str, Configured], where: str = "unmanaged lock") -> None:
    """Refuse (ConfigError, exit 2) an unmanaged lock that misses a configured plugin the
    snapshot does not manage, holds an extra one, or drifts from the configuration."""
    managed = managed_names(snapshot, configured)
    by_key = {u.logical_key: u for u in unmanaged}
    missing = sorted(n for n in configured if n not in managed and n not in by_key)
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}: configured, not managed by snapshot "
                          f"{snapshot.gateway_version}, so a gateway image would drop it")
    for u in unmanaged:
        if u.logical_key in managed:
            raise ConfigError(f"{where}: {u.logical_key} is managed by snapshot {snapshot.gateway_version}; remove it")
        c = configured.get(u.logical_key)
        if c is None:
            raise ConfigError(f"{where}: {u.logical_key} is not configured in plugins.yaml; remove it")
        problem = _drift(c, u)
        if problem:
            raise ConfigError(f"{where}: {u.logical_key}: {problem}")


def inventory(snapshot: Snapshot, wasm_sha256: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``snapshot-inventory.json``: every inventory key and alias of a mapped entry, with
    its version, manifest digest and module sha256 (``wasm_sha256`` by digest)."""
    out: dict[str, dict[str, str]] = {}
    for e in snapshot.mapped:
        assert e.served is not None
        for key in e.served.inventory_keys:
            out[key] = {"version": e.version, "digest": e.digest, "wasmSha256": wasm_sha256[e.digest]}
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class Pinned:
    """What the rolling lock knows of a pulled plugin: its resolved tag and artifact."""

    name: str
    image: ImageRef
    tag: str
    digest: str
    wasm_sha256: str


def unmanaged_from_lock(snapshot: Snapshot, configured: Mapping[str, Configured],
                        pinned: Mapping[str, Pinned]) -> tuple[UnmanagedEntry, ...]:
    """The unmanaged lock for ``configured``: every plugin the snapshot does not manage,
    pinned as the rolling lock (``pinned``, by name) resolved it. A plugin the lock does not
    hold yet is a ConfigError: pull it first."""
    managed = managed_names(snapshot, configured)
    out: list[UnmanagedEntry] = []
    missing: list[str] = []
    for name in sorted(configured):
        if name in managed:
            continue
        p = pinned.get(name)
        if p is None:
            missing.append(name)
            continue
        out.append(UnmanagedEntry(name, name, p.tag, p.image, p.tag, p.digest, p.wasm_sha256))
    if missing:
        raise ConfigError(f"not in plugins.lock.json yet: {', '.join(missing)} (run 'plugin-sync pull "
                          f"{' '.join(missing)}' first)")
    return tuple(out)
