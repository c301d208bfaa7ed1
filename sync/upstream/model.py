"""What detection works with and reports: merges, positions in the upstream history, and
the plugins they changed. Pure data and pure functions; readers fill them from git or the API.

A *position* marks the last merge already handled. Merges are ordered by merge time, then
by PR number, so two merges in the same second are still ordered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

from sync.config import Config
from sync.errors import ConfigError, UsageError
from sync.names import is_name, is_sha256
from sync.times import utc_iso
from sync.upstream.catalog import Catalog, CatalogPlugin
from sync.upstream.inputs import hits
from sync.upstream.paths import ExtensionDir, extension_dir

SCHEMA = 1
_PR_REF = re.compile(r"#?(\d{1,7})")
_SHA_REF = re.compile(r"[0-9a-fA-F]{7,40}")
_SUBJECT_PR = re.compile(r"\(#(\d+)\)\s*$")


def pr_of_subject(subject: str) -> int | None:
    """The PR number of a squash-merge subject ``Title (#123)``."""
    m = _SUBJECT_PR.search(subject)
    return int(m.group(1)) if m else None


def title_of_subject(subject: str) -> str:
    return _SUBJECT_PR.sub("", subject).rstrip()


@dataclass(frozen=True)
class SinceRef:
    """What ``--since`` named, before a reader resolves it."""

    kind: str  # time | pr | sha
    value: str

    def __str__(self) -> str:
        return f"#{self.value}" if self.kind == "pr" else self.value


def parse_since(text: str) -> SinceRef:
    """``#123``/``123`` (a PR), 7 to 40 hex digits (a commit), or an ISO 8601 time."""
    text = text.strip()
    if _PR_REF.fullmatch(text):
        return SinceRef("pr", text.lstrip("#"))
    if _SHA_REF.fullmatch(text) and not text.isdigit():
        return SinceRef("sha", text.lower())
    try:
        return SinceRef("time", utc_iso(text))
    except UsageError:
        raise UsageError(
            f"--since {text!r}: give a PR number (#123), a commit sha, or an ISO 8601 time"
        ) from None


@dataclass(frozen=True)
class Position:
    """The last merge handled: everything merged after it is new."""

    merged: str  # UTC ISO time
    pr: int | None = None
    sha: str | None = None

    def precedes(self, merged: str, number: int, sha: str | None = None) -> bool:
        """True if the merge (``merged``, ``number``, ``sha``) comes after this position."""
        if sha is not None and self.sha is not None and (sha.startswith(self.sha) or self.sha.startswith(sha)):
            return False
        if merged != self.merged:
            return merged > self.merged
        return self.pr is not None and number > self.pr

    def to_json(self) -> dict[str, Any]:
        return {"merged": self.merged, "pr": self.pr, "sha": self.sha}

    @classmethod
    def from_json(cls, raw: Any, where: str) -> "Position":
        if not isinstance(raw, dict) or not isinstance(raw.get("merged"), str):
            raise ConfigError(f"{where}expected an object with 'merged' (an ISO time)")
        pr, sha = raw.get("pr"), raw.get("sha")
        if pr is not None and (not isinstance(pr, int) or isinstance(pr, bool) or pr < 1):
            raise ConfigError(f"{where}'pr' must be a PR number")
        if sha is not None and (not isinstance(sha, str) or not _SHA_REF.fullmatch(sha)):
            raise ConfigError(f"{where}'sha' must be a commit sha")
        try:
            merged = utc_iso(raw["merged"])
        except UsageError as e:
            raise ConfigError(f"{where}{e}") from None
        return cls(merged, pr, sha)


@dataclass(frozen=True)
class Merge:
    """One PR merged into the upstream default branch."""

    number: int
    title: str
    url: str
    merged: str  # UTC ISO time
    sha: str  # the commit it made on the default branch
    paths: tuple[str, ...] = ()

    @property
    def order(self) -> tuple[str, int]:
        return (self.merged, self.number)

    @property
    def position(self) -> Position:
        return Position(self.merged, self.number, self.sha)


@dataclass(frozen=True)
class PrRef:
    number: int
    title: str
    url: str
    merged: str

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "title": self.title, "url": self.url, "merged": self.merged}

    @classmethod
    def of(cls, m: Merge) -> "PrRef":
        return cls(m.number, m.title, m.url, m.merged)

    @classmethod
    def from_json(cls, raw: Any, where: str) -> "PrRef":
        try:
            return cls(int(raw["number"]), str(raw["title"]), str(raw["url"]), utc_iso(str(raw["merged"])))
        except (KeyError, TypeError, ValueError, UsageError) as e:
            raise ConfigError(f"{where}bad PR entry: {e}") from None


@dataclass(frozen=True)
class PluginChange:
    """A served plugin touched by upstream merges (or still pending from an earlier run)."""

    name: str
    prs: tuple[PrRef, ...]
    version: str | None = None
    dirs: tuple[str, ...] = ()  # upstream directories, e.g. plugins/wasm-go/extensions/x
    served: bool | None = None  # in plugins.yaml / the lock; None without a plugins.yaml
    pending: bool = False  # only carried over from the cursor, no new merge this time

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "dirs": list(self.dirs),
            "served": self.served,
            "pending": self.pending,
            "prs": [p.to_json() for p in self.prs],
        }

    @classmethod
    def from_json(cls, name: str, raw: Any, where: str) -> "PluginChange":
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}{name}: expected an object")
        prs = raw.get("prs") or []
        if not isinstance(prs, list):
            raise ConfigError(f"{where}{name}: 'prs' must be a list")
        version = raw.get("version")
        served = raw.get("served")
        return cls(
            name=name,
            prs=tuple(PrRef.from_json(p, f"{where}{name}: ") for p in prs),
            version=str(version) if version is not None else None,
            dirs=tuple(str(d) for d in raw.get("dirs") or []),
            served=bool(served) if served is not None else None,
            pending=bool(raw.get("pending", False)),
        )


@dataclass(frozen=True)
class SnapshotAdded:
    """A gateway release snapshot (``plugins/release/snapshots/X.Y.Z.json``) an upstream merge added."""

    gateway_version: str
    path: str
    sha256: str  # of the file's bytes at ``commit``
    commit: str  # the merge commit that added it
    pr: int | None = None
    merged: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"gatewayVersion": self.gateway_version, "path": self.path, "sha256": self.sha256,
                "commit": self.commit, "pr": self.pr, "merged": self.merged}

    @classmethod
    def from_json(cls, raw: Any, where: str) -> "SnapshotAdded":
        try:
            out = cls(str(raw["gatewayVersion"]), str(raw["path"]), str(raw["sha256"]), str(raw["commit"]),
                      int(raw["pr"]) if raw.get("pr") is not None else None, str(raw.get("merged") or ""))
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{where}bad snapshot entry: {e}") from None
        if not is_sha256(out.sha256) or not _SHA_REF.fullmatch(out.commit):
            raise ConfigError(f"{where}snapshot {out.gateway_version}: bad sha256 or commit")
        return out


@dataclass(frozen=True)
class OtherPath:
    """A changed path that belongs to no plugin (docs, shared libraries, CI, ...)."""

    path: str
    prs: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "prs": list(self.prs)}


@dataclass(frozen=True)
class Changes:
    """The result of one detection: the document ``plugin-sync detect --json`` prints."""

    upstream: str
    since: Position | None
    last: Position | None  # the newest merge handled (the cursor moves here); None: nothing known
    plugins: tuple[PluginChange, ...] = ()
    other: tuple[OtherPath, ...] = ()
    merges: tuple[Merge, ...] = ()
    plugin_names: Mapping[int, tuple[str, ...]] = field(default_factory=dict)  # PR -> plugins
    rules: Mapping[int, str] = field(default_factory=dict)  # PR -> "catalog" | "directories"
    snapshots: tuple[SnapshotAdded, ...] = ()  # gateway release snapshots added upstream
    warnings: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.plugins)

    def plugin(self, name: str) -> PluginChange | None:
        return next((p for p in self.plugins if p.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA,
            "upstream": self.upstream,
            "since": self.since.to_json() if self.since else None,
            "last": self.last.to_json() if self.last else None,
            "changed": self.changed,
            "plugins": {p.name: p.to_json() for p in self.plugins},
            "other": [o.to_json() for o in self.other],
            "merges": [
                {
                    **PrRef.of(m).to_json(),
                    "sha": m.sha,
                    "plugins": list(self.plugin_names.get(m.number, ())),
                    "rule": self.rules.get(m.number, "directories"),
                }
                for m in self.merges
            ],
            "snapshots": [x.to_json() for x in self.snapshots],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, raw: Any, where: str = "") -> "Changes":
        """Read back a detect document (as far as ``propose`` needs it)."""
        if not isinstance(raw, dict) or raw.get("schemaVersion") != SCHEMA:
            raise ConfigError(f"{where}not a plugin-sync detect document (schemaVersion {SCHEMA})")
        plugins = raw.get("plugins") or {}
        if not isinstance(plugins, dict):
            raise ConfigError(f"{where}'plugins' must be an object")
        upstream = raw.get("upstream")
        if not isinstance(upstream, str):
            raise ConfigError(f"{where}'upstream' must be OWNER/REPO")
        return cls(
            upstream=upstream,
            since=Position.from_json(raw["since"], f"{where}since: ") if raw.get("since") else None,
            last=Position.from_json(raw["last"], f"{where}last: ") if raw.get("last") else None,
            plugins=tuple(PluginChange.from_json(n, p, where) for n, p in sorted(plugins.items())),
            snapshots=tuple(SnapshotAdded.from_json(x, f"{where}snapshots: ") for x in raw.get("snapshots") or []),
        )


def newest(merges: Iterable[Merge]) -> Merge | None:
    return max(merges, key=lambda m: m.order, default=None)


def after(position: Position | None, merges: Iterable[Merge]) -> list[Merge]:
    """The merges that come after ``position``, oldest first."""
    chosen = [m for m in merges if position is None or position.precedes(m.merged, m.number, m.sha)]
    return sorted(chosen, key=lambda m: m.order)


@dataclass(frozen=True)
class Touched:
    """Which plugins (and which other paths) a list of merges touched, before versions are read."""

    plugins: dict[str, list[Merge]]  # plugin name -> merges, oldest first
    dirs: dict[str, list[ExtensionDir]]  # plugin name -> upstream directories
    other: dict[str, list[int]]  # path -> PR numbers
    rules: dict[int, str] = field(default_factory=dict)  # PR -> "catalog" | "directories"


def catalog_names(plugin: CatalogPlugin, config: Config, known: Iterable[str] = ()) -> tuple[str, ...]:
    """The served names of a catalog plugin: its plugin-server path (or inventory key), plus
    each alias and our own name for its directory when this server serves them."""
    ext = extension_dir(plugin.source_dir + "/")
    own = config.name_for_upstream_dir(ext.name) if ext else plugin.logical_id
    if plugin.served is None:
        return (own,)
    known = set(known)
    primary, *others = plugin.served.names  # the served path first, then inventory key and aliases
    names = [primary]
    names += [n for n in (*others, own) if n not in names and n in known]
    return tuple(names)


def touched(merges: Iterable[Merge], config: Config, catalogs: Mapping[str, Catalog] | None = None,
            served_names: Iterable[str] = ()) -> Touched:
    """Map every changed path of every merge to served plugin names or to 'other'.

    ``catalogs`` maps a merge's sha to the catalog in its tree: such a merge's paths map by
    the catalog's inputs (shared groups included); a merge without one (history before the
    catalog) maps by the extension directory rule.
    """
    catalogs = catalogs or {}
    known = set(config.plugins) | set(served_names)
    plugins: dict[str, list[Merge]] = {}
    dirs: dict[str, list[ExtensionDir]] = {}
    other: dict[str, list[int]] = {}
    rules: dict[int, str] = {}

    def mark(name: str, m: Merge, ext: ExtensionDir | None) -> None:
        lst = plugins.setdefault(name, [])
        if m not in lst:
            lst.append(m)
        dl = dirs.setdefault(name, [])
        if ext is not None and ext not in dl:
            dl.append(ext)

    for m in sorted(merges, key=lambda m: m.order):
        catalog = catalogs.get(m.sha)
        rules[m.number] = "catalog" if catalog is not None else "directories"
        for path in m.paths:
            marked = False
            if catalog is not None:
                for hit in hits(catalog, path):
                    ext = extension_dir(hit.plugin.source_dir + "/")
                    for name in catalog_names(hit.plugin, config, known):
                        if is_name(name):
                            mark(name, m, ext)
                            marked = True
            else:
                ext = extension_dir(path)
                dir_name = config.name_for_upstream_dir(ext.name) if ext else None
                if ext is not None and dir_name is not None and is_name(dir_name):
                    mark(dir_name, m, ext)
                    marked = True
            if not marked:
                nums = other.setdefault(path, [])
                if m.number not in nums:
                    nums.append(m.number)
    return Touched(plugins, dirs, other, rules)


def is_served(name: str, config: Config, served_names: Iterable[str], have_config: bool) -> bool | None:
    if name in config.plugins or name in set(served_names):
        return True
    return False if have_config else None


def build_changes(
    upstream: str,
    since: Position | None,
    merges: list[Merge],
    config: Config,
    versions: Mapping[str, str | None],
    *,
    have_config: bool,
    served_names: Iterable[str] = (),
    carried: Iterable[PluginChange] = (),
    catalogs: Mapping[str, Catalog] | None = None,
    snapshots: Iterable[SnapshotAdded] = (),
    warnings: Iterable[str] = (),
) -> Changes:
    """Assemble the detection result.

    ``merges`` are the merges after ``since``; ``versions`` maps plugin name to the version
    read from the merged tree; ``carried`` are plugins still pending from the cursor;
    ``catalogs`` the catalog at each merge that had one (see ``touched``); ``snapshots`` the
    gateway release snapshots the merges added.
    """
    served_names = set(served_names)
    t = touched(merges, config, catalogs, served_names)
    out: dict[str, PluginChange] = {}
    for name, ms in t.plugins.items():
        out[name] = PluginChange(
            name=name,
            prs=tuple(PrRef.of(m) for m in ms),
            version=versions.get(name),
            dirs=tuple(d.path for d in sorted(t.dirs[name])),
            served=is_served(name, config, served_names, have_config),
        )
    for old in carried:
        new = out.get(old.name)
        if new is None:
            out[old.name] = replace(
                old, pending=True, served=is_served(old.name, config, served_names, have_config)
            )
        else:
            numbers = {p.number for p in new.prs}
            prs = tuple(sorted([*(p for p in old.prs if p.number not in numbers), *new.prs],
                               key=lambda p: (p.merged, p.number)))
            out[old.name] = replace(new, prs=prs, version=new.version or old.version)
    by_pr: dict[int, list[str]] = {}
    for name, ms in t.plugins.items():
        for m in ms:
            by_pr.setdefault(m.number, []).append(name)
    last_merge = newest(merges)
    return Changes(
        upstream=upstream,
        since=since,
        last=last_merge.position if last_merge else since,
        plugins=tuple(out[n] for n in sorted(out)),
        other=tuple(OtherPath(p, tuple(n)) for p, n in sorted(t.other.items())),
        merges=tuple(sorted(merges, key=lambda m: m.order)),
        plugin_names={k: tuple(sorted(v)) for k, v in by_pr.items()},
        rules=t.rules,
        snapshots=tuple(sorted(snapshots, key=lambda x: (x.merged, x.gateway_version))),
        warnings=tuple(warnings),
    )
